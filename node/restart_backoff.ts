/**
 * When the local cluster runner starts a node again after it exited: soon
 * after a node that had been running a while, later and later after one that
 * keeps dying quickly, and never again after one that cannot even start
 * (a port in use, a bad host key): restarting that only repeats the error.
 *
 * Pure: the owner measures how long the node ran and whether it got as far
 * as listening, and keeps the timer.
 *
 * ```ts
 * const backoff = new RestartBackoff();
 * const delay = backoff.next({ ranMs: 400, started: false }); // 1000
 * ```
 *
 * @module
 */

/** Options of {@linkcode RestartBackoff}. */
export interface RestartBackoffOptions {
  /** Delay before the first restart, and after a node that ran a while (ms). @default 1000 */
  initialMs?: number;
  /** Longest delay: a node dying quickly doubles the delay up to this (ms). @default 10000 */
  maxMs?: number;
  /** A node that ran this long counts as healthy: the delay starts over (ms). @default 30000 */
  healthyAfterMs?: number;
  /** Give up after this many starts in a row that exited before listening. @default 3 */
  maxFailedStarts?: number;
}

/** How one run of a node ended, as {@linkcode RestartBackoff.next} needs it. */
export interface NodeRun {
  /** How long the process ran (ms). */
  ranMs: number;
  /** Whether it got as far as listening for clients. */
  started: boolean;
}

/** The restart delays of one node. */
export class RestartBackoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #healthyAfterMs: number;
  readonly #maxFailedStarts: number;
  #nextMs: number;
  #failedStarts = 0;

  /**
   * @param options Delays and the give-up count.
   * @throws {RangeError} On a delay below 0, a maximum below the initial delay, or a count below 1.
   */
  constructor(options: RestartBackoffOptions = {}) {
    const { initialMs = 1000, maxMs = 10_000, healthyAfterMs = 30_000, maxFailedStarts = 3 } =
      options;
    if (!(initialMs >= 0) || !(maxMs >= initialMs) || !(healthyAfterMs >= 0)) {
      throw new RangeError(
        `Cannot use restart delays: initial ${initialMs} ms, maximum ${maxMs} ms, healthy after ${healthyAfterMs} ms`,
      );
    }
    if (!Number.isInteger(maxFailedStarts) || maxFailedStarts < 1) {
      throw new RangeError(`Cannot give up after ${maxFailedStarts} failed starts: use 1 or more`);
    }
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#healthyAfterMs = healthyAfterMs;
    this.#maxFailedStarts = maxFailedStarts;
    this.#nextMs = initialMs;
  }

  /** How many starts in a row exited before listening. */
  get failedStarts(): number {
    return this.#failedStarts;
  }

  /**
   * Records that the node exited and says when to start it again.
   *
   * @param run How long it ran and whether it started.
   * @returns The delay before the restart (ms), or `undefined` to give up.
   */
  next(run: NodeRun): number | undefined {
    this.#failedStarts = run.started ? 0 : this.#failedStarts + 1;
    if (this.#failedStarts >= this.#maxFailedStarts) return undefined;
    if (run.ranMs >= this.#healthyAfterMs) this.#nextMs = this.#initialMs;
    const delay = this.#nextMs;
    this.#nextMs = Math.min(this.#maxMs, Math.max(1, delay * 2));
    return delay;
  }
}
