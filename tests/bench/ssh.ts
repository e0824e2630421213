/**
 * SSH frontend benchmark against real node processes: handshakes per second
 * (connect, key exchange, public-key login, shell, welcome), fan-out to 100
 * SSH PTY sessions in one room, and what an open PTY session costs the node.
 * Clients run in this process (`npm:ssh2`), so the figures include their
 * share of the crypto on the same machine.
 *
 * The memory figure: {@linkcode MEMORY_SESSIONS} PTY sessions (a key each,
 * 120×40 `xterm-256color`) log in to one room of a fresh node, whose join
 * notices fill every screen's repaint history, and go quiet; the node's
 * resident set and live JavaScript heap after a forced full garbage
 * collection (through its inspector), minus the same before they logged in,
 * over their number.
 *
 * Run alone: `deno run -P=e2e-bench tests/bench/ssh.ts [--memory-only]
 * [--sessions N] [--heap-snapshot data/ssh.heapsnapshot]`; JSON in
 * `data/bench/ssh.json`.
 *
 * @module
 */
// @deno-types="@types/ssh2"
import type { ClientChannel } from "ssh2";
import { startNodeProcess } from "../helpers/node_process.ts";
import { generateKey, type SshStream, SshTestClient } from "../helpers/ssh_client.ts";
import { connect, Sender, writeLine } from "./fanout.ts";
import {
  type BenchSessions,
  formatMemoryChange,
  formatPerSession,
  measureSessionMemory,
  memoryBenchFlags,
  type MemoryBenchOptions,
  type SessionMemoryResult,
} from "./_node_memory.ts";

/** Figures of {@linkcode benchSsh}. */
export interface SshBenchResult {
  /** Handshakes (connect + login + shell + welcome) per second, one at a time. */
  readonly handshakesPerSecondSerial: number;
  /** The same with 8 in flight. */
  readonly handshakesPerSecondParallel: number;
  /** SSH PTY sessions in the fan-out room. */
  readonly sessions: number;
  /** Messages sent. */
  readonly messages: number;
  /** Message deliveries to SSH sessions per second. */
  readonly deliveriesPerSecond: number;
  /** Deliveries that did not arrive (must be 0). */
  readonly lost: number;
  /** What open PTY sessions cost the node. */
  readonly memory: SshMemoryResult;
}

/** What open SSH PTY sessions cost a node ({@linkcode benchSshMemory}). */
export type SshMemoryResult = SessionMemoryResult;

/** Options of {@linkcode benchSshMemory} (sessions: {@linkcode MEMORY_SESSIONS} unless given). */
export type SshMemoryOptions = MemoryBenchOptions;

const SESSIONS = 100;
const MESSAGES = 5_000;
const MARK = "\u00a4";
/** PTY sessions of the memory figure. */
const MEMORY_SESSIONS = 1_000;
/** Logins in flight at once (the node allows 16 per address before login). */
const LOGINS_IN_FLIGHT = 8;

async function handshake(port: number, username: string, key: ReturnType<typeof generateKey>) {
  const client = await SshTestClient.connect(port, { username, key });
  const shell = await client.shell(false);
  await shell.waitFor("Welcome");
  client.end();
}

async function handshakes(port: number, total: number, inFlight: number): Promise<number> {
  const key = generateKey();
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < total) await handshake(port, `hs${next++}`, key);
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return Math.round(total / ((performance.now() - started) / 1000));
}

/** Counts message marks arriving on one session. */
function countMarks(stream: SshStream): { count: () => number } {
  let count = 0;
  stream.channel.on("data", (data: Uint8Array) => {
    for (const byte of data) if (byte === 0xa4) count++; // second byte of U+00A4
  });
  return { count: () => count };
}

/** A PTY session that counts what it receives and types nothing. */
class IdlePty {
  received = 0;
  readonly client: SshTestClient;
  readonly prompted: Promise<void>;

  private constructor(client: SshTestClient, channel: ClientChannel) {
    this.client = client;
    const prompted = Promise.withResolvers<void>();
    this.prompted = prompted.promise;
    let head = "";
    channel.on("data", (data: Uint8Array) => {
      this.received += data.length;
      if (head.length > 4096) return;
      head += new TextDecoder().decode(data);
      if (head.includes("> ")) prompted.resolve();
    });
    channel.on("close", () => prompted.reject(new Error(`PTY closed before its prompt: ${head}`)));
  }

  static async open(port: number, username: string): Promise<IdlePty> {
    const client = await SshTestClient.connect(port, { username, key: generateKey() });
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      client.client.shell(
        { cols: 120, rows: 40, term: "xterm-256color" },
        (error, channel) => error ? reject(error) : resolve(channel),
      );
    });
    const pty = new IdlePty(client, channel);
    await pty.prompted;
    return pty;
  }
}

/** Logs in `count` PTY sessions, {@linkcode LOGINS_IN_FLIGHT} at a time. */
async function openPtys(port: number, count: number, prefix: string): Promise<IdlePty[]> {
  const ptys: IdlePty[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) ptys.push(await IdlePty.open(port, `${prefix}${next++}`));
  };
  await Promise.all(Array.from({ length: Math.min(LOGINS_IN_FLIGHT, count) }, worker));
  return ptys;
}

/** Idle PTY sessions, for {@linkcode measureSessionMemory}. */
const idlePtySessions: BenchSessions<IdlePty> = {
  open: (node, count, prefix) => openPtys(node.sshPort!, count, prefix),
  received: (ptys) => ptys.reduce((sum, pty) => sum + pty.received, 0),
  close: (pty) => pty.client.end(),
};

/**
 * Measures what open SSH PTY sessions cost a fresh node (see the module doc).
 *
 * @param options Sessions, heap snapshot.
 * @returns The figures.
 */
export function benchSshMemory(options: SshMemoryOptions = {}): Promise<SshMemoryResult> {
  return measureSessionMemory({
    id: "bench-ssh-memory",
    ssh: true,
    requested: options.sessions ?? MEMORY_SESSIONS,
    warmUp: 20,
    prefix: "p",
    kind: idlePtySessions,
    heapSnapshot: options.heapSnapshot,
  });
}

/**
 * Runs the SSH benchmark: handshakes and fan-out on one node, then
 * {@linkcode benchSshMemory} on another.
 *
 * @param memoryOptions Options of the memory figure.
 * @returns The figures.
 */
export async function benchSsh(memoryOptions: SshMemoryOptions = {}): Promise<SshBenchResult> {
  let fanout: Omit<SshBenchResult, "memory">;
  const dir = `./data/bench-ssh-${crypto.randomUUID().slice(0, 8)}`;
  const node = await startNodeProcess({
    id: "bench-ssh",
    ssh: true,
    args: [
      "--data",
      dir,
      "--burst",
      "0",
      "--max-queue",
      String(64 << 20),
      "--mesh-port",
      "0",
      // Many sessions from one address, a bulk sender: connection limits raised.
      "--max-conns-per-addr",
      "1000",
      "--max-bytes-per-conn",
      "0",
    ],
  });
  const port = node.sshPort!;
  const clients: SshTestClient[] = [];
  try {
    await handshakes(port, 10, 2); // warm-up: load the code paths
    const counters: { count: () => number }[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const client = await SshTestClient.connect(port, { username: `r${i}`, key: generateKey() });
      clients.push(client);
      const pty = await client.shell({ cols: 120, rows: 40, term: "xterm-256color" });
      await pty.waitFor("> ");
      pty.write("/join bench\r");
      await pty.waitFor("Now in #bench");
      counters.push(countMarks(pty));
    }

    const conn = await connect(node.port);
    await writeLine(conn, `{"t":"hello","v":1,"user":"sender","room":"bench"}\n`);
    const sender = new Sender(conn);
    const started = performance.now();
    let batch = "";
    for (let i = 0; i < MESSAGES; i++) {
      batch += `{"t":"say","room":"bench","text":"m${i} ${MARK} ${"x".repeat(60)}"}\n`;
      if (batch.length > 32_768) {
        await sender.write(batch);
        batch = "";
      }
    }
    await sender.write(batch);
    const expected = SESSIONS * MESSAGES;
    const deadline = Date.now() + 120_000;
    const total = () => counters.reduce((sum, c) => sum + c.count(), 0);
    while (total() < expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const seconds = (performance.now() - started) / 1000;
    const received = total();
    sender.close();
    for (const client of clients.splice(0)) client.end();
    const handshakesPerSecondSerial = await handshakes(port, 200, 1);
    const handshakesPerSecondParallel = await handshakes(port, 400, 8);
    fanout = {
      handshakesPerSecondSerial,
      handshakesPerSecondParallel,
      sessions: SESSIONS,
      messages: MESSAGES,
      deliveriesPerSecond: Math.round(received / seconds),
      lost: expected - received,
    };
  } finally {
    for (const client of clients) client.end();
    await node.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return { ...fanout, memory: await benchSshMemory(memoryOptions) };
}

/**
 * The figures as lines for the bench report.
 *
 * @param result From {@linkcode benchSsh}.
 * @returns Printable lines.
 */
export function formatSshResult(result: SshBenchResult): string[] {
  const fmt = (n: number) => n.toLocaleString("en-US");
  return [
    "ssh frontend (npm:ssh2 clients in the bench process, loopback)",
    `  handshakes/s (connect+login+shell), serial      ${fmt(result.handshakesPerSecondSerial)}`,
    `  handshakes/s, 8 in flight                       ${fmt(result.handshakesPerSecondParallel)}`,
    `  fan-out to ${result.sessions} PTY sessions, ${fmt(result.messages)} messages: ` +
    `${fmt(result.deliveriesPerSecond)} deliveries/s, lost ${result.lost}`,
    ...formatSshMemoryResult(result.memory),
  ];
}

/**
 * The memory figures as lines for the bench report.
 *
 * @param memory From {@linkcode benchSshMemory}.
 * @returns Printable lines.
 */
export function formatSshMemoryResult(memory: SshMemoryResult): string[] {
  const fmt = (n: number) => n.toLocaleString("en-US");
  const capped = memory.sessions < memory.requested
    ? ` (${fmt(memory.requested)} asked: capped by the open-file limit)`
    : "";
  return [
    `  ${fmt(memory.sessions)} PTY sessions${capped} in one room, logged in in ` +
    `${memory.openSeconds} s: ${formatMemoryChange(memory)}`,
    `  ${formatPerSession("SSH PTY session", memory)}`,
  ];
}

if (import.meta.main) {
  const memoryOptions = memoryBenchFlags(Deno.args);
  await Deno.mkdir("data/bench", { recursive: true });
  const date = new Date().toISOString();
  if (Deno.args.includes("--memory-only")) {
    const memory = await benchSshMemory(memoryOptions);
    console.log(["ssh frontend", ...formatSshMemoryResult(memory)].join("\n"));
    await Deno.writeTextFile(
      "data/bench/ssh.json",
      JSON.stringify({ date, memory }, null, 2) + "\n",
    );
  } else {
    const result = await benchSsh(memoryOptions);
    console.log(formatSshResult(result).join("\n"));
    await Deno.writeTextFile(
      "data/bench/ssh.json",
      JSON.stringify({ date, ...result }, null, 2) + "\n",
    );
    if (result.lost > 0) Deno.exit(1);
  }
}
