/**
 * Small fixtures the unit tests of node/chat share: a session in given rooms
 * with a sink that drops everything, the code of a refusal, and a logger
 * that keeps its warnings.
 *
 * @module
 */
import type { TokenBucket } from "../../core/rate_limiter.ts";
import { ProtocolError } from "../../core/protocol.ts";
import { Session } from "../../node/chat/session.ts";
import { type LogFields, type Logger, silentLogger } from "../../node/logger.ts";

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
