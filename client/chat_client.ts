/**
 * The client side of protocol v1: hello, sending lines as `say` or `cmd`
 * frames, tracking acks, sealing lines for sealed rooms and opening what
 * arrives sealed, and passing every frame to a {@linkcode ChatView}. Both
 * terminal modes drive this one class.
 *
 * Two queues keep things in order. Outgoing lines go out one after the
 * other, each bound to the room that is current when its turn comes (a line
 * after `/join` waits for the join), so a line meant for a sealed room can
 * never leave in plain text for the previous one. Incoming frames are shown
 * in arrival order, each after its sealed events are opened (which may wait
 * for the room key).
 *
 * Sealed rooms fail closed: while a sealed room's key is being made its
 * lines wait; when there is no key (no passphrase, a wrong one, a failed
 * derivation) or its `/seal` failed, they are refused with the reason, and
 * only `/plain` (after a failed `/seal`) lets plain text go there again. In a
 * sealed room a `/`-line that names no node command is not sent, and a
 * `/quit` message (which the node shows everywhere in plain text) is dropped.
 *
 * Failover: when the node goes away (crash, shutdown, cut), the client
 * connects to the next server of its list (or the same one again), says
 * hello with the same nick, rejoins its rooms, and resends every message not
 * yet acknowledged with the same line id, which the cluster recognises: no
 * loss, no duplicates.
 *
 * @module
 */
import { normalizeRoom } from "../core/names.ts";
import type { MsgFrame, ServerFrame } from "../core/protocol.ts";
import { PROTOCOL_VERSION } from "../core/protocol.ts";
import type { ChatView, ViewLine } from "./chat_view.ts";
import { ConnectError, NodeConnection, WRONG_PORT_HINT } from "./node_connection.ts";
import type { LoginSigner } from "../core/login_proof.ts";
import { sayHello } from "./key_hello.ts";
import { isNodeCommand } from "./node_commands.ts";
import { type ClientCommandHelp, mergeHelp } from "./help_lines.ts";
import { PREFERENCE_HELP, type Preferences } from "./preferences.ts";
import { type Opening, SealedRooms } from "./sealed_rooms.ts";
import { localSearchLines, OpenedMessages } from "./local_search.ts";
import { parseSearch, type SearchQuery } from "../core/search_query.ts";

/**
 * One connection to a node as the client uses it: TCP for the terminal
 * client ({@linkcode NodeConnection}), a WebSocket for the web client.
 */
export interface NodeLink {
  /** The address connected to, as given. */
  readonly address: string;
  /** Sends one frame; rejects when the connection is gone. */
  send(frame: Record<string, unknown>): Promise<void>;
  /** Frames from the node until the connection ends. */
  frames(): AsyncGenerator<ServerFrame>;
  /** Closes the connection. */
  close(): void;
}

/** Options of {@linkcode ChatClient.start}. */
export interface ChatClientOptions {
  /** Servers to try in order, `host:port` (or whatever `connect` takes). */
  servers: readonly string[];
  /** Requested nick. */
  user: string;
  /** Room to start in. */
  room: string;
  /** Renders frames: what to print for each (a page may draw them itself and return none). */
  view: Pick<ChatView, "show">;
  /**
   * Opens a connection to one of `servers`.
   *
   * @throws {ConnectError} When the server cannot be reached.
   * @default {NodeConnection.open: TCP}
   */
  connect?: (server: string) => Promise<NodeLink>;
  /** Where lines to show go. */
  print: (lines: ViewLine[]) => void;
  /** Called after any change that may change the prompt (nick, room, seal, key). */
  onState?: () => void;
  /** Called with the sender of every event (for nick completion). */
  onNick?: (nick: string) => void;
  /**
   * Called once when the connection ends, before the last frames are shown
   * (a terminal cancels an open passphrase prompt here).
   */
  onEnd?: () => void;
  /**
   * Sealed rooms: passphrases, keys, sealing and opening.
   *
   * @default {a SealedRooms without passphrases: sealed rooms stay closed}
   */
  sealed?: SealedRooms;
  /** Clock for the send time sealed in each envelope. @default Date.now */
  now?: () => number;
  /**
   * Messages of history asked for on joining a room (0 to 500, 0 for none),
   * in the welcome and every later join.
   *
   * @default {the node's default}
   */
  history?: number;
  /**
   * The client's display commands (`/theme`, `/timestamp`, `/tz`, `/ignore`)
   * and the ignore list they keep.
   *
   * @default {none: those lines go to the node}
   */
  preferences?: Preferences;
  /** How long to look for another node after losing one (ms). @default 30000 */
  reconnectWindowMs?: number;
  /**
   * The client's key: each `hello` names it and proves it (client/key_hello.ts),
   * so the node admits the client as that identity. @default none: a guest
   */
  identity?: LoginSigner;
}

/** How long a rate-limited line waits before it is sent again (ms). */
const RATE_RETRY_MS = 300;

/** How often the client pings the node, well inside any sane idle timeout (ms). */
const KEEPALIVE_MS = 60_000;

/** How long the client keeps trying to reach another node after losing one (ms). */
const RECONNECT_WINDOW_MS = 30_000;

/** How long a node has to welcome the client's hello (ms). */
const WELCOME_TIMEOUT_MS = 5000;

/** Said when something other than a node's client port answered. */

/** Ids of messages already shown, so a failover's welcome history is not shown twice. */
const SEEN_IDS = 10_000;

/**
 * Longest text sent sealed, in UTF-8 bytes: its envelope and frame stay
 * under a node's default 16 KiB line limit.
 */
export const MAX_SEALED_TEXT_BYTES = 11 * 1024;

/** Commands after which the current room may change: later lines wait for them. */
const ROOM_COMMANDS = /^\/(join|j|leave|part)(\s|$)/i;

/** Commands the client handles itself, for `/help`. */
const CLIENT_HELP: readonly ClientCommandHelp[] = [
  { usage: "/seal [ROOM]", help: "seal a room end to end: asks for a new passphrase (twice)" },
  { usage: "/key [ROOM]", help: "enter a sealed room's passphrase again" },
  {
    usage: "/plain [ROOM]",
    help: "after a failed /seal: talk in ROOM unsealed (the nodes can read it)",
  },
];

/** A line sent and not yet acknowledged. */
interface Pending {
  readonly frame: Record<string, unknown>;
  /** Called with the error message, or nothing on ack. */
  done: (error?: string) => void;
}

/** A client connected and welcomed by a node. */
export class ChatClient {
  #conn: NodeLink;
  readonly #options: ChatClientOptions;
  readonly #sealed: SealedRooms;
  /** Sealed messages opened so far, for `/search` (the node cannot search them). */
  readonly #opened = new OpenedMessages();
  readonly #now: () => number;
  readonly #pending = new Map<string, Pending>();
  readonly #rooms = new Set<string>();
  readonly #hinted = new Set<string>();
  /** Line ids of `/quit` commands, which are never acknowledged. */
  readonly #quits = new Set<string>();
  readonly #closed: Promise<string>;
  #display: Promise<void> = Promise.resolve();
  #outgoing: Promise<void> = Promise.resolve();
  #nextCid = 1;
  #byeReason: string | undefined;
  #expelled = false;
  #nick = "";
  #current = "";
  /**
   * Line ids are unique per client run: a resent line is recognised, a new run's is not.
   * (`getRandomValues`, not `randomUUID`: a page served over plain HTTP has only the former.)
   */
  readonly #cidPrefix = Array.from(
    crypto.getRandomValues(new Uint8Array(4)),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
  readonly #seen = new Set<string>();
  /** Line ids refused by the rate limit (and those after them), resent in order. */
  readonly #throttled: string[] = [];
  #throttleTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #keepalive: ReturnType<typeof setInterval>;
  #quitRequested = false;
  /** False between losing a node and being welcomed by the next. */
  #connected = true;
  #ended: string | undefined;

  private constructor(
    conn: NodeLink,
    options: ChatClientOptions,
    welcome: ServerFrame,
    frames: AsyncGenerator<ServerFrame>,
  ) {
    this.#conn = conn;
    this.#options = options;
    this.#sealed = options.sealed ?? new SealedRooms();
    this.#now = options.now ?? Date.now;
    this.#accept(welcome);
    // A reader who types nothing still shows the node it is there (idle timeout).
    this.#keepalive = setInterval(
      () => this.#conn.send({ t: "ping" }).catch(() => {}),
      KEEPALIVE_MS,
    );
    this.#closed = this.#pump(frames);
  }

  /**
   * Connects to the first reachable server and says hello.
   *
   * @param options Servers, nick, room, view, output, sealed rooms.
   * @returns The welcomed client.
   * @throws {ConnectError} When no server is reachable, or the node refuses the hello.
   */
  static async start(options: ChatClientOptions): Promise<ChatClient> {
    let lastError: ConnectError | undefined;
    for (const server of options.servers) {
      let conn: NodeLink;
      try {
        conn = await (options.connect ?? NodeConnection.open)(server);
      } catch (error) {
        if (!(error instanceof ConnectError)) throw error;
        lastError = error;
        continue;
      }
      const frames = conn.frames();
      // A wrong port may hold the connection open and say nothing: give up on it, saying so.
      let silent = false;
      const timer = setTimeout(() => {
        silent = true;
        conn.close();
      }, WELCOME_TIMEOUT_MS);
      const hello = helloFrame(options.user, options.room, options.history);
      const first = await sayHello(conn, frames, hello, options.identity);
      clearTimeout(timer);
      if (first.done) {
        conn.close();
        lastError = new ConnectError(
          (silent
            ? `No answer from ${server} within ${WELCOME_TIMEOUT_MS / 1000} s`
            : `Connection to ${server} closed before welcome`) + `: ${WRONG_PORT_HINT}`,
        );
        continue;
      }
      if (first.value.t !== "welcome") {
        conn.close();
        const message = first.value.t === "error"
          ? first.value.message
          : `unexpected ${first.value.t} frame`;
        throw new ConnectError(`${server} refused to let you in: ${message}`);
      }
      return new ChatClient(conn, options, first.value, frames);
    }
    throw lastError ?? new ConnectError("No server given: use -server HOST:PORT");
  }

  /** The address connected to. */
  get address(): string {
    return this.#conn.address;
  }

  /**
   * Resolves when the connection ends and everything received was shown,
   * with a one-line reason; `"quit"` after `/quit`.
   */
  get closed(): Promise<string> {
    return this.#closed;
  }

  /** Why the connection ended, once it has (what {@linkcode ChatClient.closed} gives). */
  get ended(): string | undefined {
    return this.#ended;
  }

  /** Lines sent but not yet acknowledged. */
  get unacked(): number {
    let count = 0;
    for (const cid of this.#pending.keys()) if (!this.#quits.has(cid)) count++;
    return count;
  }

  /** The sealed rooms of this session. */
  get sealed(): SealedRooms {
    return this.#sealed;
  }

  /** The room plain lines go to now (`""` when none). */
  get currentRoom(): string {
    return this.#current;
  }

  /**
   * Sends what the person typed: `/command` lines as commands (in the
   * current room), anything else as a message to the current room, sealed
   * when that room is sealed. `/seal`, `/key` and the sealed part of `/search`
   * are handled here.
   *
   * @param line The line.
   * @returns Resolves when the node has acknowledged it (or refused it).
   */
  send(line: string): Promise<void> {
    const done = Promise.withResolvers<void>();
    this.#outgoing = this.#outgoing
      .then(() => this.#dispatch(line, () => done.resolve()))
      .catch((error) => {
        this.#notice(`error: ${(error as Error).message}`, true);
        done.resolve();
      });
    return done.promise;
  }

  /**
   * Waits until every line is sent and acknowledged, or the connection ends.
   *
   * @returns Resolves with the number still unacknowledged.
   */
  async settle(): Promise<number> {
    await Promise.race([this.#outgoing, this.#closed]);
    const acks = [...this.#pending].filter(([cid]) => !this.#quits.has(cid)).map(
      ([, entry]) =>
        new Promise<void>((resolve) => {
          const done = entry.done;
          entry.done = (error) => {
            done(error);
            resolve();
          };
        }),
    );
    await Promise.race([Promise.all(acks), this.#closed]);
    return this.unacked;
  }

  /**
   * Leaves the chat and waits for the node to close the connection.
   *
   * @param line The `/quit` line as typed; its message is dropped when a
   *   room of this session is sealed (the node would show it in plain text).
   * @returns Resolves when closed.
   */
  async quit(line = "/quit"): Promise<void> {
    this.#quitRequested = true;
    this.#quitting(line);
    const timer = setTimeout(() => this.#conn.close(), 2000);
    await this.#closed;
    clearTimeout(timer);
  }

  async #dispatch(line: string, done: () => void): Promise<void> {
    if (!line.startsWith("/") || line.startsWith("//")) {
      const text = line.startsWith("//") ? line.slice(1) : line;
      if (this.#sealed.isSealed(this.#current)) {
        await this.#saySealed(text, "message", done);
      } else {
        this.#request({ t: "say", text: line, ...this.#roomField() }, done);
      }
      return;
    }
    const [word = "", rest = ""] = /^(\S*)\s*(.*)$/s.exec(line)?.slice(1) ?? [];
    switch (word.toLowerCase()) {
      case "/seal":
        await this.#sealRoom(rest.trim());
        done();
        return;
      case "/key":
        await this.#rekey(rest.trim());
        done();
        return;
      case "/plain":
        this.#plain(rest.trim());
        done();
        return;
      case "/search":
        this.#search(line, rest, done);
        return;
      case "/me":
        if (this.#sealed.isSealed(this.#current) && rest.trim() !== "") {
          await this.#saySealed(rest, "action", done);
          return;
        }
        break;
      case "/quit":
      case "/exit":
      case "/bye":
        this.#quitRequested = true;
        this.#quitting(line);
        done();
        return;
    }
    const shown = this.#options.preferences?.run(line, this.#nick);
    if (shown !== undefined) {
      this.#display = this.#display.then(() => this.#options.print(shown));
      this.#options.onState?.();
      done();
      return;
    }
    if (this.#sealed.isSealed(this.#current) && !isNodeCommand(word)) {
      // The node would get this line in plain text; it is most likely a slip.
      this.#notice(
        `Not sent: ${word} is not a command, and #${this.#current} is sealed (a /-line reaches the node in plain text). Type /${line} to send it sealed as a message`,
        true,
      );
      done();
      return;
    }
    const acked = this.#command(line);
    acked.then(() => done());
    // Lines after a join or leave wait, so they go to the room it makes current.
    if (ROOM_COMMANDS.test(line)) await Promise.race([acked, this.#closed]);
  }

  /**
   * `/search`: the node searches the plain rooms, this client the sealed
   * messages it opened. A search that names a sealed room is answered here
   * alone: its words never reach the node.
   */
  #search(line: string, args: string, done: () => void): void {
    let query: SearchQuery | undefined;
    try {
      query = parseSearch(args);
    } catch {
      query = undefined; // the node says what is wrong with it
    }
    const named = query?.room;
    const sealed = [...this.#rooms].filter((room) =>
      this.#sealed.isSealed(room) && (named === undefined || room === named)
    );
    const searchHere = () => {
      if (query === undefined || sealed.length === 0) return;
      const hits = this.#opened.search(query, new Set(sealed));
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      const lines = localSearchLines(query, sealed, hits, zone).map((text) => ({ text }));
      this.#display = this.#display.then(() => this.#options.print(lines));
    };
    if (named !== undefined && sealed.length > 0) {
      searchHere();
      done();
      return;
    }
    this.#command(line).then((error) => {
      if (error === undefined) searchHere();
      done();
    });
  }

  async #saySealed(text: string, kind: "message" | "action", done: () => void): Promise<void> {
    const room = this.#current;
    if (text.trim() === "") {
      this.#notice("error: Cannot send an empty message", true);
      done();
      return;
    }
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > MAX_SEALED_TEXT_BYTES) {
      this.#notice(
        `error: Cannot send to sealed #${room}: the line is ${bytes} bytes, sealed lines have at most ${MAX_SEALED_TEXT_BYTES}; split it`,
        true,
      );
      done();
      return;
    }
    let envelope: string;
    try {
      envelope = await this.#sealed.seal(room, this.#nick, text, this.#now());
    } catch (error) {
      this.#notice(`error: ${(error as Error).message}`, true);
      this.#options.onState?.();
      done();
      return;
    }
    this.#request({
      t: "say",
      sealed: envelope,
      ...(kind === "action" ? { kind } : {}),
      room,
    }, done);
  }

  async #sealRoom(arg: string): Promise<void> {
    const room = this.#roomArgument(arg);
    if (room === undefined) return;
    if (room === "") {
      this.#notice("error: You are not in any room: /seal ROOM, or /join one first", true);
      return;
    }
    if (this.#sealed.isSealed(room) && !this.#sealed.isBlocked(room)) {
      this.#notice(`#${room} is already sealed`);
      return;
    }
    // Whatever stopped it, the person meant the room to be sealed: nothing
    // typed for it goes out in plain text until they seal it or say /plain.
    const failed = (reason: string) => {
      this.#sealed.block(room, `/seal of #${room} failed (${reason})`);
      this.#notice(
        `#${room} stays closed: nothing typed for it is sent until you type /seal to try again, or /plain to talk there unsealed`,
        true,
      );
      this.#options.onState?.();
    };
    const prepared = await this.#sealed.prepareSeal(room);
    if ("refusal" in prepared) {
      this.#notice(prepared.refusal, true);
      failed(prepared.refusal);
      return;
    }
    if (room !== this.#current || !this.#rooms.has(room)) {
      const refused = await Promise.race([this.#command(`/join ${room}`), this.#closed]);
      if (refused !== undefined) {
        failed(refused);
        return;
      }
    }
    const refused = await Promise.race([
      this.#command(`/seal ${JSON.stringify(prepared.params)}`, room),
      this.#closed,
    ]);
    if (refused !== undefined) {
      failed(refused);
      return;
    }
    this.#notice(
      `#${room} is sealed. Give its passphrase to the people you invite, not through this chat. ` +
        "SSH users cannot read it.",
    );
    this.#options.onState?.();
  }

  /** The room a `/seal` or `/key` names (default: current); undefined after telling why it is invalid. */
  #roomArgument(arg: string): string | undefined {
    try {
      return arg === "" ? this.#current : normalizeRoom(arg.split(/\s+/)[0]);
    } catch (error) {
      this.#notice(`error: ${(error as Error).message}`, true);
      return undefined;
    }
  }

  /** `/plain`: after a failed `/seal`, the person chooses to talk unsealed. */
  #plain(arg: string): void {
    const room = this.#roomArgument(arg);
    if (room === undefined) return;
    if (this.#sealed.allowPlain(room)) {
      this.#notice(`#${room} is not sealed: what you type there is readable by the nodes`);
    } else if (this.#sealed.isSealed(room)) {
      this.#notice(`error: #${room} is sealed: what you type there is sealed`, true);
    } else {
      this.#notice(`#${room || "(no room)"} is not sealed`);
    }
    this.#options.onState?.();
  }

  async #rekey(arg: string): Promise<void> {
    const room = this.#roomArgument(arg);
    if (room === undefined) return;
    if (!this.#sealed.isSealed(room)) {
      this.#notice(`error: #${room || "(no room)"} is not sealed`, true);
      return;
    }
    this.#hinted.delete(room);
    const key = await this.#sealed.rekey(room);
    this.#notice(
      key === undefined
        ? `error: No key for #${room}: ${this.#sealed.missing(room) ?? "no passphrase"}`
        : `Key for #${room} ready; /history shows its messages again`,
      key === undefined,
    );
    this.#options.onState?.();
  }

  /** Sends `/quit` (resent when rate-limited); the node closes the connection, no ack comes back. */
  #quitting(typed: string): void {
    let line = typed.trim();
    const [word = "/quit", message = ""] = /^(\S*)\s*(.*)$/s.exec(line)?.slice(1) ?? [];
    const sealed = [...this.#rooms].filter((room) => this.#sealed.isSealed(room));
    if (message !== "" && sealed.length > 0) {
      // The node shows a quit message in every room, in plain text.
      line = word;
      this.#notice(
        `Your quit message was not sent: the node would show it unsealed in #${sealed[0]}`,
        true,
      );
    }
    this.#quits.add(this.#request({ t: "cmd", line }, () => {}));
  }

  /** Sends a command and resolves with the node's error message, or undefined on ack. */
  #command(line: string, room = this.#current): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.#request({ t: "cmd", line, ...(room ? { room } : {}) }, resolve);
    });
  }

  #request(frame: Record<string, unknown>, done: (error?: string) => void): string {
    const cid = `${this.#cidPrefix}-${this.#nextCid++}`;
    const entry: Pending = { frame: { ...frame, cid }, done };
    this.#pending.set(cid, entry);
    if (!this.#connected && frame.t === "say") {
      this.#notice(`Not connected: ${describeLine(entry.frame)} waits to be resent`, true);
    }
    // While earlier lines wait out the rate limit, later ones queue behind them: order is kept.
    if (this.#throttled.length > 0) this.#throttled.push(cid);
    else this.#resend(cid);
    return cid;
  }

  /**
   * A line was refused by the rate limit: it and every later line go again
   * one at a time, in order, the next once the previous is acknowledged.
   */
  #throttle(cid: string): void {
    const order = (id: string) => Number(id.slice(id.lastIndexOf("-") + 1));
    if (!this.#throttled.includes(cid)) {
      this.#throttled.push(cid);
      this.#throttled.sort((a, b) => order(a) - order(b));
    }
    if (this.#throttleTimer !== undefined) return;
    this.#throttleTimer = setTimeout(() => {
      this.#throttleTimer = undefined;
      const head = this.#throttled[0];
      if (head !== undefined) this.#resend(head);
    }, RATE_RETRY_MS);
  }

  /** After an answer to the head of the throttled queue, sends the next one. */
  #throttleNext(cid: string): void {
    if (this.#throttled[0] !== cid) return;
    this.#throttled.shift();
    const next = this.#throttled[0];
    if (next !== undefined) this.#resend(next);
  }

  #resend(cid: string): void {
    const entry = this.#pending.get(cid);
    if (entry !== undefined) this.#conn.send(entry.frame).catch(() => {});
  }

  #roomField(): { room?: string } {
    return this.#current ? { room: this.#current } : {};
  }

  async #pump(frames: AsyncGenerator<ServerFrame>): Promise<string> {
    let ending: string | undefined;
    while (true) {
      for await (const frame of frames) this.#accept(frame);
      this.#conn.close();
      if (this.#quitRequested || this.#byeReason === "quit" || this.#expelled) break;
      const lost = this.#conn.address;
      const reason = this.#byeReason;
      const next = await this.#failover();
      if (next === undefined) {
        const unsent = this.unacked;
        ending = `Connection to ${lost} lost${reason ? ` (${reason})` : ""}: ` +
          `no node answered within ${Math.round(this.#reconnectWindow / 1000)} s` +
          (unsent > 0 ? `; ${countLines(unsent)} not sent` : "");
        break;
      }
      frames = next;
    }
    clearInterval(this.#keepalive);
    this.#options.onEnd?.();
    await this.#display;
    this.#ended = ending ?? this.#byeReason ?? `Connection to ${this.#conn.address} lost`;
    return this.#ended;
  }

  get #reconnectWindow(): number {
    return this.#options.reconnectWindowMs ?? RECONNECT_WINDOW_MS;
  }

  /**
   * Finds another node after the connection ended: the next servers of the
   * list in turn (the same one when there is only one), with backoff, for
   * up to {@linkcode RECONNECT_WINDOW_MS}. It says what happened, where it
   * tries, and which lines wait to be resent.
   *
   * @returns The new connection's frames, or undefined when none answered.
   */
  async #failover(): Promise<AsyncGenerator<ServerFrame> | undefined> {
    const lost = this.#conn.address;
    const servers = this.#options.servers;
    const start = Math.max(0, servers.indexOf(lost));
    const rooms = [...this.#rooms];
    const current = this.#current;
    this.#connected = false;
    const others = servers.length > 1 ? servers.join(", ") : lost;
    const waiting = [...this.#pending.values()].filter((entry) => entry.frame.t === "say");
    this.#notice([
      `Connection to ${lost} lost${this.#byeReason ? `: ${this.#byeReason}` : ""}`,
      `Reconnecting to ${others} for up to ${Math.round(this.#reconnectWindow / 1000)} s…`,
      ...(waiting.length === 0 ? [] : [
        `${countLines(waiting.length)} waiting to be resent:`,
        ...waiting.map((entry) => `  ${describeLine(entry.frame)}`),
      ]),
    ], true);
    const deadline = Date.now() + this.#reconnectWindow;
    for (let round = 0; Date.now() < deadline; round++) {
      for (let k = 1; k <= servers.length; k++) {
        const server = servers[(start + k) % servers.length]!;
        const frames = await this.#hello(server, current || this.#options.room);
        if (frames === undefined) continue;
        this.#connected = true;
        const resend = [...this.#pending.values()].filter((entry) => entry.frame.t === "say");
        this.#notice(
          `Reconnected to ${server}` +
            (resend.length > 0 ? `; resending ${countLines(resend.length)}` : ""),
        );
        for (const room of rooms) if (room !== this.#current) this.#command(`/join ${room}`);
        if (current && current !== this.#current) this.#command(`/join ${current}`);
        // Same line ids: the cluster acknowledges what it already has, once.
        for (const [cid, entry] of this.#pending) {
          if (entry.frame.t === "say") this.#resend(cid);
          else if (!this.#quits.has(cid)) {
            this.#settleCid(cid, "connection lost before the node answered");
          }
        }
        return frames;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(3000, 250 * 2 ** round)));
    }
    return undefined;
  }

  async #hello(server: string, room: string): Promise<AsyncGenerator<ServerFrame> | undefined> {
    let conn: NodeLink;
    try {
      conn = await (this.#options.connect ?? NodeConnection.open)(server);
    } catch {
      return undefined;
    }
    const frames = conn.frames();
    const timer = setTimeout(() => conn.close(), WELCOME_TIMEOUT_MS);
    const hello = helloFrame(this.#nick, room, this.#options.history);
    const first = await sayHello(conn, frames, hello, this.#options.identity);
    clearTimeout(timer);
    // nick_taken: the old node's session may linger until it is declared dead; try again.
    if (first.done || first.value.t !== "welcome") {
      conn.close();
      return undefined;
    }
    this.#conn = conn;
    this.#byeReason = undefined;
    this.#accept(first.value);
    return frames;
  }

  /** Takes one frame: state at once, display in order. */
  #accept(frame: ServerFrame): void {
    switch (frame.t) {
      case "ack":
        this.#settleCid(frame.cid);
        return;
      case "error":
        if (frame.cid !== undefined) {
          if (frame.code === "rate_limited" && this.#pending.has(frame.cid)) {
            // Paste-friendly: a rate-limited line waits and goes again, nothing is lost.
            this.#throttle(frame.cid);
            return;
          }
          this.#settleCid(frame.cid, frame.message);
        }
        break;
      case "welcome":
        this.#nick = frame.nick;
        this.#enterRoom(frame.room, frame.sealed);
        break;
      case "joined":
        this.#enterRoom(frame.room, frame.sealed);
        break;
      case "left":
        this.#rooms.delete(frame.room);
        this.#current = frame.current;
        break;
      case "sealed":
        this.#roomSeal(frame.room, frame.params);
        break;
      case "nick":
        this.#nick = frame.nick;
        break;
      case "bye":
        this.#byeReason = frame.reason;
        // Kicked or banned by an operator: reconnecting elsewhere would dodge it.
        if (frame.expelled === true) this.#expelled = true;
        // A node going away: the reconnect notice says so, in order, once. Your own /quit: your
        // leave lines say so, and "Disconnected: quit" would come before them.
        else if (frame.reason === "quit" || !this.#quitRequested) return;
        break;
      case "msg":
        this.#options.onNick?.(frame.from);
        break;
      case "info":
        // One table: the client's own commands replace the node's entries for SSH sessions.
        if (frame.cmd === "help") {
          const own = [...CLIENT_HELP, ...(this.#options.preferences ? PREFERENCE_HELP : [])];
          this.#show({ ...frame, lines: mergeHelp(frame.lines, own) });
          return;
        }
        break;
    }
    this.#show(frame);
  }

  #enterRoom(room: string, sealed: unknown): void {
    this.#rooms.add(room);
    this.#current = room;
    this.#roomSeal(room, sealed);
  }

  /** Takes a room's seal from the node's room metadata (never from a message). */
  #roomSeal(room: string, params: unknown): void {
    const update = this.#sealed.update(room, params);
    switch (update.kind) {
      case "sealed":
        if (update.changed) {
          this.#notice(
            `The seal of #${room} changed (an earlier seal from another node won): enter its passphrase`,
            true,
          );
        }
        // Ask for the passphrase now, not at the first message; a wrong one
        // shows at once (the key check).
        this.#sealed.key(room).then(() => {
          if (this.#sealed.status(room) === "wrong") {
            this.#notice(
              `Wrong passphrase for #${room}: it does not match the room's key check. Type /key to enter it again; nothing typed for #${room} is sent until then`,
              true,
            );
          }
          this.#options.onState?.();
        });
        break;
      case "refused":
        this.#notice(
          `error: #${room} is sealed with parameters this client refuses (${update.reason}); nothing will be sent there`,
          true,
        );
        break;
      case "downgrade":
        this.#notice(
          `warning: the node says #${room} is not sealed any more; this client keeps sealing what you send there`,
          true,
        );
        break;
    }
  }

  #show(received: ServerFrame): void {
    const frame = this.#unseen(received);
    if (frame === undefined) return;
    this.#display = this.#display.then(async () => {
      const openings = new Map<MsgFrame, Opening>();
      for (const msg of sealedEvents(frame)) {
        const opening = await this.#sealed.open(msg);
        openings.set(msg, opening);
        if (opening.ok) this.#opened.remember(msg, opening.text);
      }
      this.#options.print(this.#options.view.show(frame, openings));
      for (const [msg, opening] of openings) {
        if (!opening.ok && opening.reason === "wrong passphrase" && !this.#hinted.has(msg.room)) {
          this.#hinted.add(msg.room);
          this.#options.print([{
            text: `Messages in #${msg.room} do not open with your passphrase: /key enters it again`,
            error: true,
          }]);
          this.#options.onState?.();
        }
      }
      if (
        frame.t === "welcome" || frame.t === "joined" || frame.t === "left" ||
        frame.t === "nick" || frame.t === "sealed"
      ) {
        this.#options.onState?.();
      }
    }).catch((error) => {
      this.#options.print([{ text: `error: ${(error as Error).message}`, error: true }]);
    });
  }

  /** Drops events already shown (a failover replays recent history); undefined when nothing is left. */
  #unseen(frame: ServerFrame): ServerFrame | undefined {
    const fresh = (msg: MsgFrame) => {
      if (this.#seen.has(msg.id)) return false;
      this.#seen.add(msg.id);
      if (this.#seen.size > SEEN_IDS) this.#seen.delete(this.#seen.values().next().value!);
      return true;
    };
    const shown = (msg: MsgFrame) => !this.#options.preferences?.isIgnored(msg.from);
    switch (frame.t) {
      case "msg":
        return fresh(frame) && shown(frame) ? frame : undefined;
      case "welcome":
      case "joined":
        return { ...frame, history: frame.history.filter(fresh).filter(shown) };
      case "history":
        return { ...frame, history: frame.history.filter(shown) };
      default:
        return frame;
    }
  }

  #notice(text: string | string[], error = false): void {
    const lines = (typeof text === "string" ? [text] : text).map((line) => ({
      text: line,
      ...(error ? { error } : {}),
    }));
    this.#display = this.#display.then(() => this.#options.print(lines));
  }

  #settleCid(cid: string, error?: string): void {
    const entry = this.#pending.get(cid);
    if (entry === undefined) return;
    this.#pending.delete(cid);
    this.#throttleNext(cid);
    entry.done(error);
  }
}

/** The hello frame, with `history` only when asked for. */
function helloFrame(user: string, room: string, history: number | undefined) {
  return {
    t: "hello",
    v: PROTOCOL_VERSION,
    user,
    room,
    ...(history === undefined ? {} : { history }),
  };
}

/** `1 line`, `3 lines`. */
function countLines(count: number): string {
  return `${count} line${count === 1 ? "" : "s"}`;
}

/** A `say` frame waiting to be sent, as the person would recognise it: `#lobby "hi"`. */
function describeLine(frame: Record<string, unknown>): string {
  const room = typeof frame.room === "string" ? `#${frame.room} ` : "";
  if (typeof frame.sealed === "string") return `${room}(sealed message)`;
  const text = typeof frame.text === "string" ? frame.text : "";
  // JSON quoting shows control characters as escapes, never raw.
  return `${room}${JSON.stringify(text.length > 60 ? `${text.slice(0, 59)}…` : text)}`;
}

/** The sealed events a frame carries. */
function sealedEvents(frame: ServerFrame): MsgFrame[] {
  switch (frame.t) {
    case "msg":
      return frame.sealed === undefined ? [] : [frame];
    case "welcome":
    case "joined":
    case "history":
      return frame.history.filter((msg) => msg.sealed !== undefined);
    default:
      return [];
  }
}
