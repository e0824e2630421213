/**
 * The TCP frontend for the terminal client: protocol v1 (NDJSON) over
 * `Deno.listen`. A thin adapter — it decodes frames, hands them to the hub
 * and command table, and encodes what the hub sends back. Bad input gets an
 * `error` frame; the connection and everyone else carry on.
 *
 * @module
 */
import type { ChatEvent } from "../core/event.ts";
import { encodeFrame, FrameDecoder } from "../core/ndjson.ts";
import { type CommandContext, handleInput, handleSealed } from "./commands.ts";
import type { Hub, Session, SessionSink } from "./hub.ts";
import type { Logger } from "./logger.ts";
import { OutboundQueue } from "./outbound_queue.ts";
import {
  type ClientFrame,
  parseClientFrame,
  ProtocolError,
  type ServerFrame,
} from "../core/protocol.ts";

/** Options of {@linkcode ClientListener}. */
export interface ClientListenerOptions {
  /** Longest accepted line in bytes. @default 16384 */
  maxLineBytes?: number;
  /** Output bytes a slow reader may have waiting before it is dropped. @default 1048576 */
  maxQueueBytes?: number;
  /** Time a new connection has to say hello (ms). @default 10000 */
  helloTimeoutMs?: number;
  /** Time a dropped connection gets to receive its last frames (ms). @default 2000 */
  closeGraceMs?: number;
  /**
   * Resolves when an accepted message may be acknowledged (the mesh waits
   * for a peer to hold it). @default resolves at once
   */
  ackGate?: (event: ChatEvent) => Promise<void>;
}

/** Frames fanned out to many sessions are encoded once, not once per reader. */
const encodedFrames = new WeakMap<object, Uint8Array>();

function encodeShared(frame: ServerFrame): Uint8Array {
  if (frame.t !== "msg") return encodeFrame(frame);
  let bytes = encodedFrames.get(frame);
  if (bytes === undefined) {
    bytes = encodeFrame(frame);
    encodedFrames.set(frame, bytes);
  }
  return bytes;
}

/** Accepts terminal-client connections and serves each one. */
export class ClientListener {
  readonly #hub: Hub;
  readonly #listener: Deno.TcpListener;
  readonly #logger: Logger;
  readonly #options: Required<ClientListenerOptions>;
  readonly #connections = new Map<ClientConnection, Promise<void>>();

  /**
   * @param hub The hub to serve.
   * @param listener A bound TCP listener.
   * @param logger Logger.
   * @param options Limits.
   */
  constructor(
    hub: Hub,
    listener: Deno.TcpListener,
    logger: Logger,
    options: ClientListenerOptions = {},
  ) {
    const {
      maxLineBytes = 16384,
      maxQueueBytes = 1 << 20,
      helloTimeoutMs = 10_000,
      closeGraceMs = 2000,
      ackGate = () => Promise.resolve(),
    } = options;
    this.#hub = hub;
    this.#listener = listener;
    this.#logger = logger;
    this.#options = { maxLineBytes, maxQueueBytes, helloTimeoutMs, closeGraceMs, ackGate };
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /**
   * Accepts connections until {@linkcode ClientListener.close} is called.
   *
   * @returns Resolves when the listener is closed.
   */
  async serve(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const connection = new ClientConnection(this.#hub, conn, this.#logger, this.#options);
        const running = connection.run().finally(() => this.#connections.delete(connection));
        this.#connections.set(connection, running);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }

  /**
   * Stops accepting, closes every connection (after its queued output, within
   * the grace period) and waits for them to end.
   *
   * @returns Resolves when all connections are closed.
   */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const connection of this.#connections.keys()) connection.close("shutdown");
    await Promise.all(this.#connections.values());
  }
}

/** One terminal-client connection. */
class ClientConnection implements SessionSink {
  readonly #hub: Hub;
  readonly #conn: Deno.TcpConn;
  readonly #logger: Logger;
  readonly #options: Required<ClientListenerOptions>;
  readonly #queue: OutboundQueue;
  readonly #decoder: FrameDecoder;
  readonly #address: string;
  #session: Session | undefined;
  #closing = false;

  constructor(
    hub: Hub,
    conn: Deno.TcpConn,
    logger: Logger,
    options: Required<ClientListenerOptions>,
  ) {
    this.#hub = hub;
    this.#conn = conn;
    this.#logger = logger;
    this.#options = options;
    this.#queue = new OutboundQueue(conn, { maxBytes: options.maxQueueBytes });
    this.#decoder = new FrameDecoder({ maxLineBytes: options.maxLineBytes });
    const addr = conn.remoteAddr;
    this.#address = `${addr.hostname}:${addr.port}`;
    try {
      conn.setNoDelay(true);
    } catch {
      // not fatal: only latency
    }
  }

  send(frame: ServerFrame): void {
    if (this.#closing) return;
    if (this.#queue.enqueue(encodeShared(frame))) return;
    // The reader is too far behind: tell it why, then drop it.
    this.#queue.discardPending();
    this.#queue.enqueue(
      encodeFrame({
        t: "error",
        code: "overflow",
        message: "Disconnected: you are not reading fast enough",
      }),
      true,
    );
    this.#logger.warn("slow reader dropped", { addr: this.#address, nick: this.#session?.nick });
    if (this.#session) this.#hub.disconnect(this.#session, "too slow");
    this.close("overflow");
  }

  close(_reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    const timer = setTimeout(() => this.#shut(), this.#options.closeGraceMs);
    this.#queue.drained().then(() => {
      clearTimeout(timer);
      this.#shut();
    });
  }

  async run(): Promise<void> {
    const helloTimer = setTimeout(() => {
      if (this.#session === undefined) {
        this.#sendError(new ProtocolError("no_hello", "Timed out waiting for hello"));
        this.close("hello timeout");
      }
    }, this.#options.helloTimeoutMs);
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (!this.#closing) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        for (const line of this.#decoder.push(buffer.subarray(0, n))) {
          if (this.#closing) break;
          if (line.ok) {
            await this.#handle(line.value);
          } else {
            this.#sendError(new ProtocolError(line.error.code, line.error.message));
          }
        }
      }
    } catch (error) {
      if (!this.#closing && !isConnectionError(error)) {
        this.#logger.warn("connection failed", { addr: this.#address, error: String(error) });
      }
    } finally {
      clearTimeout(helloTimer);
      if (this.#session) this.#hub.disconnect(this.#session, "connection closed");
      this.#closing = true;
      this.#queue.drained().then(() => this.#shut());
    }
  }

  async #handle(value: unknown): Promise<void> {
    let cid: string | undefined;
    try {
      const frame = parseClientFrame(value);
      if (frame.t === "say" || frame.t === "cmd") cid = frame.cid;
      await this.#dispatch(frame);
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.#sendError(error, cid);
      } else {
        this.#logger.error("request failed", { addr: this.#address, error: String(error) });
        this.#sendError(
          new ProtocolError("server_error", "Internal error: request not processed"),
          cid,
        );
      }
    }
  }

  async #dispatch(frame: ClientFrame): Promise<void> {
    if (frame.t === "ping") {
      this.send({ t: "pong" });
      return;
    }
    if (frame.t === "hello") {
      if (this.#session) {
        throw new ProtocolError("already_hello", `Already joined as ${this.#session.nick}`);
      }
      this.#session = this.#hub.connect(this, frame, { via: "tcp", address: this.#address });
      return;
    }
    const session = this.#session;
    if (session === undefined || !session.open) {
      throw new ProtocolError("no_hello", `Say hello first: {"t":"hello","v":1,"user":"NICK"}`);
    }
    const ctx: CommandContext = {
      hub: this.#hub,
      session,
      room: frame.room,
      reply: (cmd, lines, data) =>
        this.send(data === undefined ? { t: "info", cmd, lines } : { t: "info", cmd, lines, data }),
    };
    if (frame.t === "cmd") {
      await handleInput(ctx, frame.line.startsWith("/") ? frame.line : `/${frame.line}`);
      if (frame.cid !== undefined) this.send({ t: "ack", cid: frame.cid });
      return;
    }
    const event = frame.sealed === undefined
      ? await handleInput(ctx, frame.text, frame.cid)
      : handleSealed(ctx, frame.sealed, frame.kind ?? "message", frame.cid);
    const cid = frame.cid;
    if (cid === undefined) return;
    if (event === undefined) {
      this.send({ t: "ack", cid });
      return;
    }
    // Not awaited: the connection goes on reading while the mesh replicates.
    this.#options.ackGate(event).then(() =>
      this.send({ t: "ack", cid, id: `${event.origin}:${event.seq}` })
    );
  }

  #sendError(error: ProtocolError, cid?: string): void {
    this.send({
      t: "error",
      code: error.code,
      message: error.message,
      ...(cid === undefined ? {} : { cid }),
    });
  }

  #shut(): void {
    this.#queue.close();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

function isConnectionError(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.Interrupted;
}
