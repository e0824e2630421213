/**
 * The TCP frontend for the terminal client: protocol v1 (NDJSON) over
 * `Deno.listen`. A thin adapter — it decodes frames, hands `say` and `cmd`
 * lines to the one input path ({@linkcode handleLine}), and encodes what
 * the hub sends back. Bad input gets an `error` frame ({@linkcode errorFrame});
 * the connection and everyone else carry on.
 *
 * Limits ({@linkcode ConnectionLimits} and the options below): connections
 * per address and in total, bytes per minute, a hello deadline, an idle
 * timeout; an offender is told why in an `error` frame before it is closed.
 * A connection flooding rate-limited lines is read slowly, so the flood
 * waits in its own TCP buffers rather than in the node's event loop.
 *
 * @module
 */
import type { ChatEvent } from "../../../core/event.ts";
import { encodeFrame, FrameDecoder } from "../../../core/ndjson.ts";
import { TokenBucket } from "../../../core/rate_limiter.ts";
import { ConnectionLimits } from "../connection_limits.ts";
import { type ErrorFrame, errorFrame, handleLine, type InputLine } from "../handle_line.ts";
import type { Hub, Session, SessionSink } from "../../chat/hub.ts";
import type { Logger } from "../../logger.ts";
import { holdWrites, OutboundQueue, releaseWrites } from "./outbound_queue.ts";
import { replyBudgetOf } from "../../chat/reply_budget.ts";
import {
  type ClientFrame,
  type ErrorCode,
  parseClientFrame,
  ProtocolError,
  type ServerFrame,
} from "../../../core/protocol.ts";

/** A line a person sent: a `say` or a `cmd` frame. */
type LineFrame = Extract<ClientFrame, { t: "say" | "cmd" }>;

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
   * Connection counts per address and in total, and repeat-offender refusal
   * (share one with the other frontends). @default a new ConnectionLimits()
   */
  limits?: ConnectionLimits;
  /**
   * A session that sends no bytes for this long is told `idle_timeout` and
   * dropped (ms); 0 = never. @default 1800000
   */
  idleTimeoutMs?: number;
  /**
   * Bytes a connection may send per minute (a token bucket that holds one
   * minute's worth); over it, it is told `flood` and dropped; 0 = no limit.
   * @default 1048576
   */
  maxBytesPerMinute?: number;
  /**
   * Resolves when an accepted message may be acknowledged (the mesh waits
   * for a peer to hold it). @default resolves at once
   */
  ackGate?: (event: ChatEvent) => Promise<void>;
}

/**
 * Largest read per connection (bytes); reads start at 4 KiB and grow when
 * full. A read's lines are handled in one go, so this also bounds how long
 * one flooding connection holds the event loop before others get a turn.
 */
const MAX_READ_BYTES = 16 * 1024;

/** A flooding connection (see FLOOD_STREAK) is not read for this long (ms). */
const RATE_LIMITED_PAUSE_MS = 200;

/**
 * Rate-limited lines in a row that make a flood (and the pause above); fewer,
 * such as the tail of a pasted block, are only answered `rate_limited`.
 */
const FLOOD_STREAK = 20;

/** Read size of a connection that was rate-limited recently (bytes). */
const LIMITED_READ_BYTES = 1024;

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
  #idleSweep: ReturnType<typeof setInterval> | undefined;

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
      limits = new ConnectionLimits(),
      idleTimeoutMs = 1_800_000,
      maxBytesPerMinute = 1 << 20,
    } = options;
    if (maxBytesPerMinute !== 0 && maxBytesPerMinute < 65536) {
      throw new RangeError(
        `Invalid maxBytesPerMinute ${maxBytesPerMinute}: use 0 (no limit) or at least 65536`,
      );
    }
    this.#hub = hub;
    this.#listener = listener;
    this.#logger = logger;
    this.#options = {
      maxLineBytes,
      maxQueueBytes,
      helloTimeoutMs,
      closeGraceMs,
      ackGate,
      limits,
      idleTimeoutMs,
      maxBytesPerMinute,
    };
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
    const idleMs = this.#options.idleTimeoutMs;
    if (idleMs > 0) {
      // One sweep for every connection: cheaper than a timer per socket.
      const every = Math.min(30_000, Math.max(250, Math.floor(idleMs / 10)));
      this.#idleSweep = setInterval(() => {
        const now = Date.now();
        for (const connection of this.#connections.keys()) connection.checkIdle(now);
      }, every);
    }
    try {
      for await (const conn of this.#listener) {
        const admission = this.#options.limits.admit(conn.remoteAddr.hostname);
        if (!admission.ok) {
          refuse(conn, admission.refusal.code, admission.refusal.message);
          this.#logger.debug("connection refused", {
            addr: conn.remoteAddr.hostname,
            code: admission.refusal.code,
          });
          continue;
        }
        const connection = new ClientConnection(this.#hub, conn, this.#logger, this.#options);
        const running = connection.run().finally(() => {
          admission.release();
          this.#connections.delete(connection);
        });
        this.#connections.set(connection, running);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    } finally {
      clearInterval(this.#idleSweep);
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
    clearInterval(this.#idleSweep);
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
  readonly #bytes: TokenBucket | undefined;
  #lastReceived = Date.now();
  /** Rate-limited lines in a row. */
  #limitedStreak = 0;
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
    this.#bytes = options.maxBytesPerMinute === 0 ? undefined : new TokenBucket({
      capacity: options.maxBytesPerMinute,
      refillPerSecond: options.maxBytesPerMinute / 60,
      now: Date.now,
    });
    try {
      conn.setNoDelay(true);
    } catch {
      // not fatal: only latency
    }
  }

  send(frame: ServerFrame): void {
    if (this.#closing) return;
    if (this.#queue.enqueue(encodeShared(frame))) return;
    // The reader is too far behind: tell it why and close. This may be in the
    // middle of a fan-out: the hub ends the session once that is over.
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
    if (this.#session) this.#hub.dropSlowReader(this.#session);
    this.close("overflow");
  }

  replyBudget(): number {
    return replyBudgetOf(this.#options.maxQueueBytes, this.#queue.queuedBytes);
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

  /**
   * Drops the connection when it has sent nothing for the idle timeout.
   *
   * @param now The time (ms).
   */
  checkIdle(now: number): void {
    if (this.#closing || now - this.#lastReceived < this.#options.idleTimeoutMs) return;
    const seconds = Math.round(this.#options.idleTimeoutMs / 1000);
    this.#drop(
      "idle_timeout",
      `Disconnected: nothing received for ${seconds} s (send a ping to stay connected)`,
      false,
    );
  }

  /**
   * Tells the peer why, counts an offence if it is one, and closes (unless
   * `linger`: the read loop then closes after {@linkcode #linger}).
   */
  #drop(code: ErrorCode, message: string, offence: boolean, linger = false): void {
    if (this.#closing) return;
    this.send({ t: "error", code, message });
    const host = this.#conn.remoteAddr.hostname;
    const refused = offence && this.#options.limits.offend(host);
    this.#logger.info("connection dropped", { addr: this.#address, code, refused });
    if (this.#session) this.#hub.disconnect(this.#session, code.replaceAll("_", " "));
    if (linger) this.#closing = true;
    else this.close(code);
  }

  async run(): Promise<void> {
    const helloTimer = setTimeout(() => {
      if (this.#session === undefined) {
        this.#drop("no_hello", "Timed out waiting for hello", true);
      }
    }, this.#options.helloTimeoutMs);
    // Small while idle (5,000 idle sockets cost 20 MiB, not 320), grown for bulk senders.
    let buffer = new Uint8Array(4096);
    /** Reads left at the small size after the connection was rate-limited. */
    let slowReads = 0;
    let flooded = false;
    try {
      while (!this.#closing) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        const chunk = buffer.subarray(0, n);
        if (slowReads > 0) slowReads--;
        else if (n === buffer.length && n < MAX_READ_BYTES) buffer = new Uint8Array(MAX_READ_BYTES);
        this.#lastReceived = Date.now();
        if (this.#bytes !== undefined && !this.#bytes.tryTake(n)) {
          const limit = this.#options.maxBytesPerMinute;
          this.#drop("flood", `Disconnected: more than ${limit} bytes sent per minute`, true, true);
          flooded = true;
          break;
        }
        // The output of the whole read leaves in one write per reader.
        holdWrites();
        try {
          for (const line of this.#decoder.push(chunk)) {
            if (this.#closing) break;
            if (line.ok) {
              await this.#handle(line.value);
            } else {
              this.send({ t: "error", code: line.error.code, message: line.error.message });
            }
          }
        } finally {
          releaseWrites();
        }
        if (this.#limitedStreak >= FLOOD_STREAK && !this.#closing) {
          // Over its message rate: read no more for a while, so a flood waits
          // in the sender's TCP buffers instead of costing the node CPU.
          // Small reads meanwhile: each costs the event loop a few lines, not hundreds.
          if (buffer.length > LIMITED_READ_BYTES) buffer = new Uint8Array(LIMITED_READ_BYTES);
          slowReads = 20;
          await new Promise((resolve) => setTimeout(resolve, RATE_LIMITED_PAUSE_MS));
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
      if (flooded) await this.#linger(buffer);
      this.#queue.drained().then(() => this.#shut());
    }
  }

  /**
   * Sends what is queued and a FIN, then discards input for up to the close
   * grace period: closing with unread input would send a reset, and a reset
   * can destroy the error frame that says why.
   */
  async #linger(buffer: Uint8Array): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#options.closeGraceMs);
    });
    const drain = async () => {
      await this.#queue.drained();
      await this.#conn.closeWrite();
      while ((await this.#conn.read(buffer)) !== null) {
        // discarded
      }
    };
    await Promise.race([drain().catch(() => {}), deadline]);
    clearTimeout(timer);
  }

  async #handle(value: unknown): Promise<void> {
    let cid: string | undefined;
    let refusal: ErrorFrame | undefined;
    try {
      const frame = parseClientFrame(value);
      if (frame.t === "say" || frame.t === "cmd") cid = frame.cid;
      refusal = await this.#dispatch(frame);
    } catch (error) {
      refusal = errorFrame(error, { logger: this.#logger, address: this.#address, cid });
      this.send(refusal);
    }
    if (refusal === undefined) this.#limitedStreak = 0;
    else if (refusal.code === "rate_limited") this.#limitedStreak++;
  }

  /**
   * Serves one frame.
   *
   * @returns The `error` frame a line was refused with (already sent), if it was.
   * @throws {ProtocolError} For a frame refused before it reached the input path.
   */
  async #dispatch(frame: ClientFrame): Promise<ErrorFrame | undefined> {
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
    const { cid } = frame;
    const outcome = await handleLine(session, lineOf(frame), {
      hub: this.#hub,
      logger: this.#logger,
      room: frame.room,
      cid,
    });
    if (!outcome.ok) return outcome.error;
    if (cid === undefined) return;
    const { event } = outcome;
    if (event === undefined || frame.t === "cmd") {
      this.send({ t: "ack", cid });
      return;
    }
    // Not awaited: the connection goes on reading while the mesh replicates.
    this.#options.ackGate(event).then(() =>
      this.send({ t: "ack", cid, id: `${event.origin}:${event.seq}` })
    );
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

/** The line a `say` or `cmd` frame carries (a `cmd` line may leave out its `/`). */
function lineOf(frame: LineFrame): InputLine {
  if (frame.t === "cmd") return frame.line.startsWith("/") ? frame.line : `/${frame.line}`;
  return frame.sealed === undefined
    ? frame.text
    : { sealed: frame.sealed, kind: frame.kind ?? "message" };
}

/** Tells a refused connection why, without waiting on it, and closes it. */
function refuse(conn: Deno.TcpConn, code: ErrorCode, message: string): void {
  const close = () => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  // One small frame fits any socket buffer; never wait long on a refused peer.
  const timer = setTimeout(close, 1000);
  conn.write(encodeFrame({ t: "error", code, message })).catch(() => {}).finally(() => {
    clearTimeout(timer);
    close();
  });
}

function isConnectionError(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.Interrupted;
}
