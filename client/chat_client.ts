/**
 * The client side of protocol v1: hello, sending lines as `say` or `cmd`
 * frames, tracking acks, and passing every frame to a {@linkcode ChatView}.
 * Both terminal modes drive this one class.
 *
 * @module
 */
import type { ServerFrame } from "../core/protocol.ts";
import { PROTOCOL_VERSION } from "../core/protocol.ts";
import { ChatView, type ViewLine } from "./chat_view.ts";
import { ConnectError, NodeConnection } from "./node_connection.ts";

/** Options of {@linkcode ChatClient.start}. */
export interface ChatClientOptions {
  /** Servers to try in order, `host:port`. */
  servers: readonly string[];
  /** Requested nick. */
  user: string;
  /** Room to start in. */
  room: string;
  /** Renders frames. */
  view: ChatView;
  /** Where lines to show go. */
  print: (lines: ViewLine[]) => void;
  /** Called after any frame that may change the prompt (nick, room). */
  onState?: () => void;
  /** Called with the sender of every event (for nick completion). */
  onNick?: (nick: string) => void;
}

/** How long a rate-limited line waits before it is sent again (ms). */
const RATE_RETRY_MS = 300;

/** A client connected and welcomed by a node. */
export class ChatClient {
  readonly #conn: NodeConnection;
  readonly #options: ChatClientOptions;
  readonly #pending = new Map<string, { text: string; room: string; done: () => void }>();
  readonly #closed: Promise<string>;
  #nextCid = 1;
  #byeReason: string | undefined;

  private constructor(
    conn: NodeConnection,
    options: ChatClientOptions,
    frames: AsyncGenerator<ServerFrame>,
  ) {
    this.#conn = conn;
    this.#options = options;
    this.#closed = this.#pump(frames);
  }

  /**
   * Connects to the first reachable server and says hello.
   *
   * @param options Servers, nick, room, view, output.
   * @returns The welcomed client.
   * @throws {ConnectError} When no server is reachable, or the node refuses the hello.
   */
  static async start(options: ChatClientOptions): Promise<ChatClient> {
    let lastError: ConnectError | undefined;
    for (const server of options.servers) {
      let conn: NodeConnection;
      try {
        conn = await NodeConnection.open(server);
      } catch (error) {
        if (!(error instanceof ConnectError)) throw error;
        lastError = error;
        continue;
      }
      const frames = conn.frames();
      await conn.send({ t: "hello", v: PROTOCOL_VERSION, user: options.user, room: options.room });
      const first = await frames.next();
      if (first.done) {
        conn.close();
        lastError = new ConnectError(`connection to ${server} closed before welcome`);
        continue;
      }
      if (first.value.t !== "welcome") {
        conn.close();
        const message = first.value.t === "error"
          ? first.value.message
          : `unexpected ${first.value.t} frame`;
        throw new ConnectError(`${server} refused to let you in: ${message}`);
      }
      options.print(options.view.show(first.value));
      options.onState?.();
      return new ChatClient(conn, options, frames);
    }
    throw lastError ?? new ConnectError("no server given: use -server HOST:PORT");
  }

  /** The address connected to. */
  get address(): string {
    return this.#conn.address;
  }

  /**
   * Resolves when the connection ends, with a one-line reason; `"quit"`
   * after `/quit`.
   */
  get closed(): Promise<string> {
    return this.#closed;
  }

  /** Lines sent but not yet acknowledged. */
  get unacked(): number {
    return this.#pending.size;
  }

  /**
   * Sends what the person typed: `/command` lines as commands (in the
   * current room), anything else as a message to the current room.
   *
   * @param line The line.
   * @returns Resolves when the node has acknowledged a message (immediately for commands).
   */
  send(line: string): Promise<void> {
    const room = this.#options.view.room;
    if (line.startsWith("/") && !line.startsWith("//")) {
      return this.#conn.send({ t: "cmd", line, ...(room ? { room } : {}) });
    }
    const cid = `c${this.#nextCid++}`;
    const acked = Promise.withResolvers<void>();
    this.#pending.set(cid, { text: line, room, done: acked.resolve });
    this.#say(cid).catch(() => {});
    return acked.promise;
  }

  /**
   * Waits until every sent message is acknowledged, or the connection ends.
   *
   * @returns Resolves with the number still unacknowledged.
   */
  async settle(): Promise<number> {
    const acks = [...this.#pending.values()].map(
      (entry) =>
        new Promise<void>((resolve) => {
          const done = entry.done;
          entry.done = () => {
            done();
            resolve();
          };
        }),
    );
    await Promise.race([Promise.all(acks), this.#closed]);
    return this.#pending.size;
  }

  /**
   * Leaves the chat and waits for the node to close the connection.
   *
   * @returns Resolves when closed.
   */
  async quit(): Promise<void> {
    try {
      await this.#conn.send({ t: "cmd", line: "/quit" });
    } catch {
      // the node is gone already
    }
    const timer = setTimeout(() => this.#conn.close(), 2000);
    await this.#closed;
    clearTimeout(timer);
  }

  #say(cid: string): Promise<void> {
    const entry = this.#pending.get(cid);
    if (entry === undefined) return Promise.resolve();
    return this.#conn.send({
      t: "say",
      text: entry.text,
      cid,
      ...(entry.room ? { room: entry.room } : {}),
    });
  }

  async #pump(frames: AsyncGenerator<ServerFrame>): Promise<string> {
    for await (const frame of frames) {
      if (frame.t === "ack") {
        this.#settleCid(frame.cid);
        continue;
      }
      if (frame.t === "error" && frame.cid !== undefined) {
        if (frame.code === "rate_limited") {
          // Paste-friendly: a rate-limited line waits and goes again, nothing is lost.
          setTimeout(() => this.#say(frame.cid!).catch(() => {}), RATE_RETRY_MS);
          continue;
        }
        this.#settleCid(frame.cid);
      }
      if (frame.t === "bye") this.#byeReason = frame.reason;
      if (frame.t === "msg") this.#options.onNick?.(frame.from);
      this.#options.print(this.#options.view.show(frame));
      if (frame.t === "nick" || frame.t === "joined" || frame.t === "left") {
        this.#options.onState?.();
      }
    }
    this.#conn.close();
    return this.#byeReason ?? `connection to ${this.#conn.address} lost`;
  }

  #settleCid(cid: string): void {
    const entry = this.#pending.get(cid);
    if (entry === undefined) return;
    this.#pending.delete(cid);
    entry.done();
  }
}
