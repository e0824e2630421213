/**
 * The transport-free half of one client protocol v1 connection, shared by
 * the TCP port (tcp/client_listener.ts) and the WebSocket
 * (web/ws_frontend.ts): `hello`, each frame to the one input path
 * ({@linkcode handleLine}), acknowledgements through the ack gate, and the
 * limits of a connection — the hello deadline, the idle timeout, bytes per
 * minute, offences counted in {@linkcode ConnectionLimits} — and the
 * slow-reader drop. The hub's sink for the session is the
 * {@linkcode ProtocolConnection} itself.
 *
 * A transport keeps only its socket and framing:
 *
 * ```ts
 * const connection = new ProtocolConnection(hub, output, { via: "tcp", remote, logger, options });
 * connection.start();                       // arms the hello deadline
 * // for each chunk or message read:
 * if (!connection.received(byteCount)) return;  // over its bytes per minute: dropped
 * await connection.handle(value);           // each decoded frame
 * connection.refuseFrame(error);            // each frame that could not be decoded
 * // when the socket is gone:
 * connection.ended();
 * ```
 *
 * and a {@linkcode FrameOutput}: a bounded queue of encoded frames, and a
 * close that says why.
 *
 * @module
 */
import type { ChatEvent } from "../../core/event.ts";
import { encodeFrameText, type FrameError } from "../../core/ndjson.ts";
import { utf8Length } from "../../core/event_size.ts";
import { TokenBucket } from "../../core/rate_limiter.ts";
import {
  type ClientFrame,
  type ErrorCode,
  parseClientFrame,
  ProtocolError,
  type ServerFrame,
} from "../../core/protocol.ts";
import type { Hub } from "../chat/hub.ts";
import { replyBudgetOf } from "../chat/reply_budget.ts";
import type { Session, SessionSink } from "../chat/session.ts";
import type { Logger } from "../logger.ts";
import { ConnectionLimits } from "./connection_limits.ts";
import { type ErrorFrame, errorFrame, handleLine, type InputLine } from "./handle_line.ts";
import { type HelloFrame, KeyLogin } from "./key_login.ts";

/** Limits and hooks of a client protocol connection, the same on every transport. */
export interface ProtocolOptions {
  /** Longest accepted line (TCP) or message (WebSocket) in bytes. @default 16384 */
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
 * Fills in the defaults of {@linkcode ProtocolOptions} and checks them.
 *
 * @param options What the caller set.
 * @returns Every option.
 * @throws {RangeError} When `maxBytesPerMinute` is neither 0 nor at least 65536.
 */
export function protocolOptions(options: ProtocolOptions = {}): Required<ProtocolOptions> {
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
  return {
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

/** The write side of a connection, as its transport provides it. */
export interface FrameOutput {
  /**
   * Queues one frame.
   *
   * @returns `false` when the frame would take the queue past its limit (nothing was queued).
   */
  enqueue(frame: ServerFrame): boolean;
  /**
   * Queues the last frame of a reader being dropped, past the limit, after
   * dropping what is not yet being written where the transport can.
   *
   * @returns How many queued frames were dropped for it.
   */
  enqueueLast(frame: ServerFrame): number;
  /** Bytes queued and not yet written. */
  readonly queuedBytes: number;
  /**
   * Ends the connection once what is queued is out (within the close grace
   * period, where the transport can bound it).
   *
   * @param reason An error code (`flood`, `overflow`, …), `quit`,
   *   `shutdown`, or the hub's words (a kick).
   */
  close(reason: string): void;
}

/** Who a {@linkcode ProtocolConnection} serves, and how. */
export interface ProtocolConnectionInit {
  /** The frontend's name in the session's origin (`tcp`, `web`). */
  readonly via: string;
  /** The peer's address. */
  readonly remote: { readonly hostname: string; readonly port: number };
  /**
   * The SSH key the connection proved (a web sign-in credential), as a
   * `SHA256:` fingerprint: its session's origin carries it, as an SSH
   * session's does. @default none: a guest
   */
  readonly fingerprint?: string;
  /** Logger. */
  readonly logger: Logger;
  /** Limits, with their defaults filled in ({@linkcode protocolOptions}). */
  readonly options: Required<ProtocolOptions>;
}

/**
 * Rate-limited lines in a row that make a flood (a transport that can stop
 * reading pauses it); fewer, such as the tail of a pasted block, are only
 * answered `rate_limited`.
 */
export const FLOOD_STREAK = 20;

/** A line a person sent: a `say` or a `cmd` frame. */
type LineFrame = Extract<ClientFrame, { t: "say" | "cmd" }>;

/** One client connection's protocol state; the hub's sink for its session. */
export class ProtocolConnection implements SessionSink {
  readonly #hub: Hub;
  readonly #output: FrameOutput;
  readonly #via: string;
  readonly #fingerprint: string | undefined;
  readonly #hostname: string;
  readonly #address: string;
  readonly #logger: Logger;
  readonly #options: Required<ProtocolOptions>;
  readonly #bytes: TokenBucket | undefined;
  #lastReceived = Date.now();
  /** Rate-limited lines in a row. */
  #limitedStreak = 0;
  #session: Session | undefined;
  #closing = false;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;
  /** A `hello` with a key waits here for its `auth` (made at the first such hello). */
  #keyLogin: KeyLogin | undefined;

  /**
   * @param hub The hub to serve.
   * @param output Where frames go.
   * @param init The frontend, the peer, logger and limits.
   */
  constructor(hub: Hub, output: FrameOutput, init: ProtocolConnectionInit) {
    const { via, remote, fingerprint, logger, options } = init;
    this.#hub = hub;
    this.#output = output;
    this.#via = via;
    this.#fingerprint = fingerprint;
    this.#hostname = remote.hostname;
    this.#address = `${remote.hostname}:${remote.port}`;
    this.#logger = logger;
    this.#options = options;
    this.#bytes = options.maxBytesPerMinute === 0 ? undefined : new TokenBucket({
      capacity: options.maxBytesPerMinute,
      refillPerSecond: options.maxBytesPerMinute / 60,
      now: Date.now,
    });
  }

  /** The peer's `host:port`, for logs. */
  get address(): string {
    return this.#address;
  }

  /** Whether the connection is ending: read no more. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Rate-limited lines in a row (see {@linkcode FLOOD_STREAK}). */
  get limitedStreak(): number {
    return this.#limitedStreak;
  }

  /** Arms the hello deadline: no `hello` in time is an offence (`no_hello`). */
  start(): void {
    this.#helloTimer = setTimeout(() => {
      if (this.#session === undefined) {
        this.drop("no_hello", "Timed out waiting for hello", true);
      }
    }, this.#options.helloTimeoutMs);
  }

  /** The socket is gone: the session (if any) leaves, and nothing more is sent. */
  ended(): void {
    clearTimeout(this.#helloTimer);
    if (this.#session) this.#hub.disconnect(this.#session, "connection closed");
    this.#closing = true;
  }

  send(frame: ServerFrame): void {
    if (this.#closing) {
      this.#hub.counters.framesDropped++;
      return;
    }
    if (this.#output.enqueue(frame)) return;
    this.#hub.counters.framesDropped++;
    this.overflowed();
  }

  /**
   * The reader is too far behind: tells it why, has the hub drop its
   * session, and closes. This may be in the middle of a fan-out: the hub
   * ends the session once that is over. A transport calls it when its
   * queue turns out to be over the limit later than `enqueue` could tell.
   */
  overflowed(): void {
    if (this.#closing) return;
    this.#hub.counters.framesDropped += this.#output.enqueueLast({
      t: "error",
      code: "overflow",
      message: "Disconnected: you are not reading fast enough",
    });
    this.#logger.warn("slow reader dropped", {
      addr: this.#address,
      via: this.#via,
      nick: this.#session?.nick,
    });
    if (this.#session) this.#hub.dropSlowReader(this.#session);
    this.close("overflow");
  }

  replyBudget(): number {
    return replyBudgetOf(this.#options.maxQueueBytes, this.#output.queuedBytes);
  }

  queuedBytes(): number {
    return this.#output.queuedBytes;
  }

  close(reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#output.close(reason);
  }

  /**
   * Counts bytes read from the peer: it is not idle, and they come out of
   * its bytes per minute; over them it is told `flood` and dropped.
   *
   * @param byteCount Bytes just read.
   * @param linger On a flood, leave the transport open (it sends what is
   *   queued and discards input before closing, see the TCP port).
   * @returns `false` when the connection was dropped for it.
   */
  received(byteCount: number, linger = false): boolean {
    this.#lastReceived = Date.now();
    if (this.#bytes === undefined || this.#bytes.tryTake(byteCount)) return true;
    const limit = this.#options.maxBytesPerMinute;
    this.drop("flood", `Disconnected: more than ${limit} bytes sent per minute`, true, linger);
    return false;
  }

  /**
   * Drops the connection when it has sent nothing for the idle timeout.
   *
   * @param now The time (ms).
   */
  checkIdle(now: number): void {
    if (this.#closing || now - this.#lastReceived < this.#options.idleTimeoutMs) return;
    const seconds = Math.round(this.#options.idleTimeoutMs / 1000);
    this.drop(
      "idle_timeout",
      `Disconnected: nothing received for ${seconds} s (send a ping to stay connected)`,
      false,
    );
  }

  /**
   * Tells the peer why, counts an offence if it is one, ends the session and
   * closes (unless `linger`: the transport then closes when it is done).
   *
   * @param code The `error` frame's code, and the close reason.
   * @param message What the peer is told.
   * @param offence Whether it counts against the address (see {@linkcode ConnectionLimits.offend}).
   * @param linger Leave the transport open.
   */
  drop(code: ErrorCode, message: string, offence: boolean, linger = false): void {
    if (this.#closing) return;
    this.send({ t: "error", code, message });
    const refused = offence && this.#options.limits.offend(this.#hostname);
    this.#logger.info("connection dropped", { addr: this.#address, via: this.#via, code, refused });
    if (this.#session) this.#hub.disconnect(this.#session, code.replaceAll("_", " "));
    if (linger) this.#closing = true;
    else this.close(code);
  }

  /**
   * Answers a frame that could not be decoded (the connection carries on).
   *
   * @param error The decoder's reason.
   */
  refuseFrame(error: FrameError): void {
    this.send({ t: "error", code: error.code, message: error.message });
  }

  /**
   * Serves one decoded frame: `hello`, `ping`, or a line for the input path.
   * Whatever the peer did wrong is answered with an `error` frame.
   *
   * @param value The frame as decoded from JSON.
   */
  async handle(value: unknown): Promise<void> {
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

  /** Admits the person a `hello` names, as the key it proved (if any). */
  #connect(hello: HelloFrame, fingerprint: string | undefined): void {
    this.#session = this.#hub.connect(this, hello, {
      via: this.#via,
      address: this.#address,
      ...(fingerprint === undefined ? {} : { fingerprint }),
    });
    // The deadline is met: its timer (and the closure it holds) can go now.
    clearTimeout(this.#helloTimer);
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
    if (frame.t === "hello" || frame.t === "auth") {
      if (this.#session) {
        throw new ProtocolError("already_hello", `Already joined as ${this.#session.nick}`);
      }
      this.#keyLogin ??= new KeyLogin(this.#hub.nodeId);
      if (frame.t === "hello" && frame.key !== undefined) {
        this.send(this.#keyLogin.challenge({ ...frame, key: frame.key }));
        return;
      }
      // A key proven in `auth` speaks for the session; else a web sign-in's, if any.
      const { hello, fingerprint } = frame.t === "auth"
        ? await this.#keyLogin.answer(frame.signature)
        : { hello: frame, fingerprint: this.#fingerprint };
      this.#connect(hello, fingerprint);
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
}

/**
 * Checks a frontend's connections for the idle timeout, all in one timer:
 * cheaper than a timer per socket.
 *
 * @param idleTimeoutMs The idle timeout (ms); 0 = never (no timer).
 * @param connections The connections open now, asked at every sweep.
 * @returns The timer (for `clearInterval`), or undefined when there is none.
 */
export function startIdleSweep(
  idleTimeoutMs: number,
  connections: () => Iterable<{ checkIdle(now: number): void }>,
): ReturnType<typeof setInterval> | undefined {
  if (idleTimeoutMs <= 0) return undefined;
  const every = Math.min(30_000, Math.max(250, Math.floor(idleTimeoutMs / 10)));
  return setInterval(() => {
    const now = Date.now();
    for (const connection of connections()) connection.checkIdle(now);
  }, every);
}

/**
 * Frames fanned out to many sessions are encoded once, not once per reader:
 * wraps an encoder so that a `msg` frame (the fanned-out kind) is encoded at
 * most once per encoder.
 *
 * @param encode The transport's encoding of a frame.
 * @returns The same encoding, remembered per `msg` frame object.
 */
export function encodedOncePerFrame<T>(
  encode: (frame: ServerFrame) => T,
): (frame: ServerFrame) => T {
  const encoded = new WeakMap<object, T>();
  // A fan-out asks for one frame a hundred times in a row: the last one answers without the map.
  let lastFrame: ServerFrame | undefined;
  let lastValue: T;
  return (frame) => {
    if (frame === lastFrame) return lastValue;
    if (frame.t !== "msg") return encode(frame);
    let value = encoded.get(frame);
    if (value === undefined) {
      value = encode(frame);
      encoded.set(frame, value);
    }
    lastFrame = frame;
    lastValue = value;
    return value;
  };
}

/** A frame as one NDJSON line, and its size in UTF-8. */
export interface FrameLine {
  /** The JSON text, ending in `\n`. */
  readonly text: string;
  /** Its size in UTF-8. */
  readonly bytes: number;
}

/**
 * A frame as one NDJSON line, worked out once per fanned-out frame for every
 * transport: a room with terminal, browser and batched-browser readers
 * encodes each message's JSON once, not once per kind of reader.
 */
export const frameLine: (frame: ServerFrame) => FrameLine = encodedOncePerFrame((frame) => {
  const text = encodeFrameText(frame);
  return { text, bytes: utf8Length(text) };
});

const encoder = new TextEncoder();

/**
 * A frame's NDJSON line as UTF-8 bytes, encoded once per fanned-out frame
 * and shared by every reader that writes bytes (TCP, WebSocket).
 */
export const frameBytes: (frame: ServerFrame) => Uint8Array = encodedOncePerFrame((frame) =>
  encoder.encode(frameLine(frame).text)
);

/** The line a `say` or `cmd` frame carries (a `cmd` line may leave out its `/`). */
function lineOf(frame: LineFrame): InputLine {
  if (frame.t === "cmd") return frame.line.startsWith("/") ? frame.line : `/${frame.line}`;
  return frame.sealed === undefined
    ? frame.text
    : { sealed: frame.sealed, kind: frame.kind ?? "message" };
}
