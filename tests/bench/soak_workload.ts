/**
 * The soak benchmark's traffic: client slots that churn through sessions
 * and nicks (short and long lines, private messages, `/join` spam, `/nick`,
 * room switches), and SSH sessions that come and go.
 *
 * What is sent is deterministic: each slot draws its actions from its own
 * seeded generator and paces them at a fixed interval, so two runs with the
 * same seed send the same lines in the same order per slot (only the
 * interleaving between slots and the timing depend on the machine). Every
 * wait is bounded and every loop stops at `stop()` or the deadline.
 *
 * @module
 */
import { type Frame, RawClient } from "../helpers/raw_client.ts";
import { SshTestClient } from "../helpers/ssh_client.ts";

/** Counters of what the workload did. */
export interface WorkloadCounters {
  /** Client sessions opened (welcomed). */
  sessions: number;
  /** Distinct nicks used (at hello and by `/nick`). */
  nicks: number;
  /** Room lines acknowledged with an id. */
  messages: number;
  /** Of which long lines. */
  longLines: number;
  /** Private messages accepted. */
  privates: number;
  /** Rooms joined and left without a word (`/join` spam). */
  spamJoins: number;
  /** `/nick` changes accepted. */
  nickChanges: number;
  /** SSH sessions that logged in, spoke and left. */
  sshSessions: number;
  /** Error answers (`no_such_user` while presence spreads, ...). */
  errors: number;
  /** Waits that ran out, connections that failed or ended (the killed node). */
  failures: number;
}

/** Options of {@linkcode Workload}. */
export interface WorkloadOptions {
  /** Client slots running at once. @default 60 */
  clients?: number;
  /** Actions per second of each slot. @default 2 */
  actionsPerSecond?: number;
  /** Actions of one session before it quits and a new one starts. @default 40 */
  actionsPerSession?: number;
  /** Rooms people talk in. @default 16 */
  rooms?: number;
  /** Characters of a long line (the protocol allows 4,000). @default 3000 */
  longLineChars?: number;
  /** Seconds between SSH sessions (one at a time); 0: none. @default 2 */
  sshEverySeconds?: number;
  /** Seed of every slot's generator. @default 1 */
  seed?: number;
  /** Longest wait for any answer (ms). @default 5000 */
  waitMs?: number;
}

/** Where the workload can connect now (ports change when a node restarts). */
export interface WorkloadTargets {
  /** Client ports of the nodes that are up. */
  clientPorts(): number[];
  /** SSH ports of the nodes that are up. */
  sshPorts(): number[];
}

/** A small seeded generator (mulberry32). */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Churning clients and SSH sessions against a cluster. */
export class Workload {
  /** What happened so far. */
  readonly counters: WorkloadCounters = {
    sessions: 0,
    nicks: 0,
    messages: 0,
    longLines: 0,
    privates: 0,
    spamJoins: 0,
    nickChanges: 0,
    sshSessions: 0,
    errors: 0,
    failures: 0,
  };
  /** Room lines acknowledged per talk room. */
  readonly perRoom: number[];
  readonly #options: Required<WorkloadOptions>;
  readonly #targets: WorkloadTargets;
  readonly #nicks: (string | undefined)[];
  readonly #open = new Set<RawClient>();
  #stopped = false;
  #loops: Promise<void>[] = [];

  /**
   * Prepares the workload; nothing runs before `start()`.
   *
   * @param targets Where to connect.
   * @param options Size and pace.
   */
  constructor(targets: WorkloadTargets, options: WorkloadOptions = {}) {
    const {
      clients = 60,
      actionsPerSecond = 2,
      actionsPerSession = 40,
      rooms = 16,
      longLineChars = 3000,
      sshEverySeconds = 2,
      seed = 1,
      waitMs = 5000,
    } = options;
    if (clients < 1 || rooms < 1 || actionsPerSecond <= 0 || actionsPerSession < 1) {
      throw new RangeError(
        `Cannot build the workload: clients, rooms, pace and session length must be positive`,
      );
    }
    this.#options = {
      clients,
      actionsPerSecond,
      actionsPerSession,
      rooms,
      longLineChars,
      sshEverySeconds,
      seed,
      waitMs,
    };
    this.#targets = targets;
    this.#nicks = new Array(clients).fill(undefined);
    this.perRoom = new Array(rooms).fill(0);
  }

  /** Starts every slot and the SSH loop. */
  start(): void {
    for (let slot = 0; slot < this.#options.clients; slot++) {
      this.#loops.push(this.#slot(slot));
    }
    if (this.#options.sshEverySeconds > 0) this.#loops.push(this.#sshLoop());
  }

  /** Stops every loop, closes every connection, and waits for the loops to end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const client of this.#open) client.close();
    await Promise.all(this.#loops);
  }

  async #slot(slot: number): Promise<void> {
    const { seed, actionsPerSecond, actionsPerSession } = this.#options;
    const random = generator(seed * 1_000_003 + slot);
    const pause = 1000 / actionsPerSecond;
    // Slots start spread over one interval, not all at once.
    await sleep(pause * (slot / this.#options.clients));
    for (let generation = 0; !this.#stopped; generation++) {
      const ports = this.#targets.clientPorts();
      if (ports.length === 0) {
        await sleep(pause);
        continue;
      }
      const port = ports[(slot + generation) % ports.length]!;
      const nick = `u${slot}g${generation}`;
      const home = Math.floor(random() * this.#options.rooms);
      let client: RawClient | undefined;
      try {
        client = await this.#join(port, nick, `talk${home}`);
      } catch {
        this.counters.failures++;
        await sleep(pause);
        continue;
      }
      this.#open.add(client);
      this.counters.sessions++;
      this.counters.nicks++;
      this.#nicks[slot] = nick;
      const session = { client, nick, room: home, spam: 0, renames: 0 };
      try {
        for (let k = 0; k < actionsPerSession && !this.#stopped && !client.isEnded; k++) {
          await sleep(pause);
          await this.#act(slot, session, random);
        }
      } catch {
        this.counters.failures++;
      } finally {
        this.#nicks[slot] = undefined;
        this.#open.delete(client);
        client.close();
      }
    }
  }

  async #join(port: number, nick: string, room: string): Promise<RawClient> {
    const client = await RawClient.connect(port);
    try {
      await client.send({ t: "hello", v: 1, user: nick, room, history: 20 });
      const answer = await client.next(
        (f) => f.t === "welcome" || f.t === "error",
        this.#options.waitMs,
      );
      if (answer.t !== "welcome") throw new Error(`Hello refused: ${answer.code}`);
      return client;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  /** One action: 50 % a short line, 10 % each a long line, a private message, `/join` spam, `/nick`, a room switch. */
  async #act(
    slot: number,
    session: { client: RawClient; nick: string; room: number; spam: number; renames: number },
    random: () => number,
  ): Promise<void> {
    const { client } = session;
    const roll = random();
    const pick = random();
    if (roll < 0.6) {
      const long = roll >= 0.5;
      const body = long
        ? `long ${"abcdefghij".repeat(Math.ceil(this.#options.longLineChars / 10))}`.slice(
          0,
          this.#options.longLineChars,
        )
        : `line ${Math.floor(pick * 1e6)} from ${session.nick}`;
      const answer = await this.#ask(client, { t: "say", text: body, room: `talk${session.room}` });
      if (answer?.t === "ack" && typeof answer.id === "string") {
        this.counters.messages++;
        if (long) this.counters.longLines++;
        this.perRoom[session.room]!++;
      }
    } else if (roll < 0.7) {
      const other = this.#nicks[Math.floor(pick * this.#nicks.length)];
      if (other === undefined || other === session.nick) return;
      const answer = await this.#ask(client, { t: "cmd", line: `/msg ${other} psst ${slot}` });
      if (answer?.t === "ack") this.counters.privates++;
    } else if (roll < 0.8) {
      const name = `spam${slot}x${session.spam++}`;
      const joined = await this.#ask(client, { t: "cmd", line: `/join ${name}` });
      const left = await this.#ask(client, { t: "cmd", line: `/leave ${name}` });
      if (joined?.t === "ack" && left?.t === "ack") this.counters.spamJoins++;
    } else if (roll < 0.9) {
      const nick = `${session.nick.split("n")[0]}n${++session.renames}`;
      const answer = await this.#ask(client, { t: "cmd", line: `/nick ${nick}` });
      if (answer?.t === "ack") {
        this.counters.nickChanges++;
        this.counters.nicks++;
        session.nick = nick;
        this.#nicks[slot] = nick;
      }
    } else {
      const next = Math.floor(pick * this.#options.rooms);
      if (next === session.room) return;
      const joined = await this.#ask(client, { t: "cmd", line: `/join talk${next}` });
      if (joined?.t !== "ack") return;
      await this.#ask(client, { t: "cmd", line: `/leave talk${session.room}` });
      session.room = next;
    }
  }

  /** Sends a frame with a fresh `cid` and waits for the answer carrying it (ack or error). */
  async #ask(client: RawClient, frame: Record<string, unknown>): Promise<Frame | undefined> {
    const cid = crypto.randomUUID().slice(0, 12);
    try {
      await client.send({ ...frame, cid });
      const answer = await client.next((f) => f.cid === cid, this.#options.waitMs);
      if (answer.t === "error") this.counters.errors++;
      return answer;
    } catch {
      if (!this.#stopped) this.counters.failures++;
      return undefined;
    }
  }

  async #sshLoop(): Promise<void> {
    const every = this.#options.sshEverySeconds * 1000;
    for (let n = 0; !this.#stopped; n++) {
      await sleep(every);
      const ports = this.#targets.sshPorts();
      if (this.#stopped || ports.length === 0) continue;
      let ssh: SshTestClient | undefined;
      try {
        const username = `ssh${n}`;
        ssh = await SshTestClient.connect(ports[n % ports.length]!, {
          username,
          waitMs: this.#options.waitMs,
        });
        const shell = await ssh.shell(false);
        shell.write(`hello from ${username}\n`);
        await shell.waitFor(`hello from ${username}`, this.#options.waitMs);
        shell.write("/quit\n");
        await shell.waitClosed(this.#options.waitMs);
        this.counters.sshSessions++;
      } catch {
        if (!this.#stopped) this.counters.failures++;
      } finally {
        ssh?.end();
      }
    }
  }
}
