/**
 * Small fixtures the unit tests of node/chat share: a sink that records what
 * a member would see, a session in given rooms with a sink that drops
 * everything, the code of a refusal, and a logger that keeps its warnings.
 *
 * @module
 */
import type { TokenBucket } from "../../core/rate_limiter.ts";
import { type MsgFrame, ProtocolError, type ServerFrame } from "../../core/protocol.ts";
import { Session, type SessionSink } from "../../node/chat/session.ts";
import { type LogFields, type Logger, silentLogger } from "../../node/logger.ts";

/** Records what a member would see. */
export class RecordingSink implements SessionSink {
  readonly frames: ServerFrame[] = [];
  /** Why the session was closed, once it was. */
  closed: string | undefined;
  send(frame: ServerFrame): void {
    this.frames.push(frame);
  }
  close(reason: string): void {
    this.closed = reason;
  }
  /** Texts of the `msg` frames of a kind, oldest first. */
  texts(kind = "message"): string[] {
    return this.frames.flatMap((f) => f.t === "msg" && f.kind === kind ? [f.text] : []);
  }
  /** The `msg` frames of a room, oldest first. */
  msgs(room: string): MsgFrame[] {
    return this.frames.flatMap((f) => f.t === "msg" && f.room === room ? [f] : []);
  }
  /** Every line of every `info` frame, oldest first. */
  info(): string[] {
    return this.frames.flatMap((f) => f.t === "info" ? f.lines : []);
  }
  /**
   * The lines of the last `info` reply to a command.
   *
   * @param cmd The command, without its `/`.
   * @returns The lines.
   * @throws {Error} When there was no such reply.
   */
  reply(cmd: string): readonly string[] {
    const frame = this.frames.findLast((f) => f.t === "info" && f.cmd === cmd);
    if (frame?.t !== "info") throw new Error(`no ${cmd} reply`);
    return frame.lines;
  }
}

/**
 * Session 1, `ann` from 10.0.0.1, in `rooms`; what is sent to it is dropped.
 *
 * @param rooms Rooms it is in.
 * @param limiter Its rate limiter. @default none
 * @returns The session.
 */
export function sessionIn(rooms: readonly string[], limiter?: TokenBucket): Session {
  const sink = { send() {}, close() {} };
  const s = new Session(1, "ann", sink, { via: "test", address: "10.0.0.1:1" }, limiter, 0);
  for (const room of rooms) s.rooms.add(room);
  return s;
}

/**
 * The code of the {@linkcode ProtocolError} that `fn` throws.
 *
 * @param fn The action.
 * @returns The code; undefined when `fn` returns.
 * @throws {unknown} What `fn` throws that is not a ProtocolError.
 */
export function refusalCode(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return error.code;
  }
}

/**
 * A logger that keeps each warning as `message {fields as JSON}` and drops the rest.
 *
 * @returns The logger and its warnings so far.
 */
export function warningLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger = {
    ...silentLogger,
    warn(message: string, fields?: LogFields) {
      warnings.push(`${message} ${JSON.stringify(fields ?? {})}`);
    },
  } as Logger;
  return { logger, warnings };
}
