/**
 * Waits for the end of the current event-loop turn: what the replicator and
 * the outbound queues batch per turn (pushes, acks, writes) has gone out.
 *
 * @module
 */
import { setImmediate } from "node:timers";

/**
 * Resolves after everything scheduled for the end of this turn has run.
 *
 * @returns A promise.
 */
export function turnEnd(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
