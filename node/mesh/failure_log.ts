/**
 * Rate limits for log lines about failures from the network: a port
 * scanner or a peer with the wrong cluster secret must not fill the log,
 * and one address must not hide the others. The mesh logs failed
 * handshakes through {@linkcode FailureLog} (node/mesh/mesh.ts).
 *
 * @module
 */

/** Options of {@linkcode FailureLog}. */
export interface FailureLogOptions {
  /**
   * An address is logged at most once per this many milliseconds.
   *
   * @default {60000}
   */
  intervalMs?: number;
  /**
   * The most addresses remembered. When this many were logged within the
   * interval, further addresses are not logged but counted (see
   * {@linkcode FailureLog.takeSuppressed}): a flood from many addresses
   * yields at most this many lines per interval.
   *
   * @default {1024}
   */
  maxAddresses?: number;
  /**
   * The clock, in milliseconds.
   *
   * @default {Date.now}
   */
  now?: () => number;
}

/**
 * Answers "should I log this failure from this address now?": yes at most
 * once per address per interval, with memory bounded by `maxAddresses`.
 * Pass the remote host, not `host:port` (the port changes on every
 * connection).
 *
 * | operation | time | memory |
 * | --- | --- | --- |
 * | shouldLog | O(1) amortised | one entry per logged address, at most `maxAddresses` |
 *
 * @example
 * ```ts
 * import { FailureLog } from "./failure_log.ts";
 * import assert from "node:assert/strict";
 *
 * let now = 0;
 * const log = new FailureLog({ now: () => now });
 * assert.equal(log.shouldLog("203.0.113.9"), true);
 * assert.equal(log.shouldLog("203.0.113.9"), false);
 * now += 60_000;
 * assert.equal(log.shouldLog("203.0.113.9"), true);
 * ```
 */
export class FailureLog {
  #intervalMs: number;
  #maxAddresses: number;
  #now: () => number;
  /** Address → time it was logged; insertion order is time order. */
  #logged = new Map<string, number>();
  #suppressed = 0;

  /**
   * Makes an empty log.
   *
   * @param options Interval, capacity and clock.
   * @throws {RangeError} If `intervalMs` is not above 0 or `maxAddresses` is
   * not a whole number above 0.
   */
  constructor(options: FailureLogOptions = {}) {
    const { intervalMs = 60_000, maxAddresses = 1024, now = Date.now } = options;
    if (!(Number.isFinite(intervalMs) && intervalMs > 0)) {
      throw new RangeError(`Cannot create failure log: intervalMs ${intervalMs} must be above 0`);
    }
    if (!Number.isInteger(maxAddresses) || maxAddresses < 1) {
      throw new RangeError(
        `Cannot create failure log: maxAddresses ${maxAddresses} must be a whole number above 0`,
      );
    }
    this.#intervalMs = intervalMs;
    this.#maxAddresses = maxAddresses;
    this.#now = now;
  }

  /** How many addresses are remembered now. */
  get size(): number {
    return this.#logged.size;
  }

  /**
   * Says whether to log a failure from `address` now, and if so remembers
   * it for the interval.
   *
   * @param address The remote host.
   * @returns `true` at most once per address per interval (and never while
   * `maxAddresses` other addresses are remembered).
   */
  shouldLog(address: string): boolean {
    const now = this.#now();
    for (const [logged, at] of this.#logged) {
      if (now - at < this.#intervalMs) break;
      this.#logged.delete(logged);
    }
    if (this.#logged.has(address) || this.#logged.size >= this.#maxAddresses) {
      this.#suppressed++;
      return false;
    }
    this.#logged.set(address, now);
    return true;
  }

  /**
   * Returns how many failures were not logged since the last call, and
   * resets the count, e.g. for a periodic "N more handshake failures" line.
   *
   * @returns The count.
   */
  takeSuppressed(): number {
    const count = this.#suppressed;
    this.#suppressed = 0;
    return count;
  }
}
