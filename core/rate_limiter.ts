// Copyright the meshchat authors. MIT license.
/**
 * Token-bucket rate limiting with an injected clock.
 *
 * @module
 */

/**
 * Slack for floating-point rounding: a take succeeds when the bucket is
 * short by at most this many tokens, so waiting exactly
 * {@linkcode TokenBucket.msUntilAvailable} milliseconds is always enough.
 */
const EPSILON = 1e-9;

/** Options for {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /**
   * The most tokens the bucket holds: the largest burst allowed after a
   * quiet period. The bucket starts full.
   */
  capacity: number;
  /**
   * Tokens added per second, up to `capacity`: the sustained rate. 0 makes
   * a bucket that never refills.
   */
  refillPerSecond: number;
  /** The clock, in milliseconds (e.g. `Date.now` or `performance.now`). */
  now: () => number;
}

/**
 * A token bucket: allows bursts of up to `capacity` actions and a sustained
 * `refillPerSecond`. Tokens are refilled lazily from the injected clock on
 * each call, so the bucket needs no timer. If the clock goes backwards, no
 * tokens are added until it passes its previous reading.
 *
 * @example Limiting chat lines
 * ```ts
 * import { TokenBucket } from "./rate_limiter.ts";
 * import assert from "node:assert/strict";
 *
 * let time = 0;
 * const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 1, now: () => time });
 * assert.equal(bucket.tryTake(), true);
 * assert.equal(bucket.tryTake(), true);
 * assert.equal(bucket.tryTake(), false);
 * assert.equal(bucket.msUntilAvailable(), 1000);
 * time += 1000;
 * assert.equal(bucket.tryTake(), true);
 * ```
 */
export class TokenBucket {
  #capacity: number;
  #refillPerMs: number;
  #now: () => number;
  #tokens: number;
  #last: number;

  /**
   * Creates a full bucket. Reads the clock once.
   *
   * @param options Capacity, refill rate and clock.
   * @throws {TypeError} If `now` is not a function.
   * @throws {RangeError} If `capacity` is not a positive finite number,
   * `refillPerSecond` is not a non-negative finite number, or the clock
   * returns a non-finite number.
   */
  constructor(options: TokenBucketOptions) {
    const { capacity, refillPerSecond, now } = options;
    if (typeof now !== "function") {
      throw new TypeError("Cannot create token bucket: now must be a function");
    }
    if (typeof capacity !== "number" || !Number.isFinite(capacity) || capacity <= 0) {
      throw new RangeError(
        `Cannot create token bucket: capacity ${capacity} is not a positive finite number`,
      );
    }
    if (
      typeof refillPerSecond !== "number" || !Number.isFinite(refillPerSecond) ||
      refillPerSecond < 0
    ) {
      throw new RangeError(
        `Cannot create token bucket: refillPerSecond ${refillPerSecond} is not a non-negative finite number`,
      );
    }
    this.#capacity = capacity;
    this.#refillPerMs = refillPerSecond / 1000;
    this.#now = now;
    this.#tokens = capacity;
    this.#last = this.#readClock();
  }

  /**
   * The tokens available now (possibly fractional).
   *
   * @returns A number from 0 to `capacity`.
   * @throws {RangeError} If the clock returns a non-finite number.
   */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  /**
   * Takes `count` tokens if that many are available; otherwise takes none.
   *
   * @param count How many tokens the action costs.
   * @returns Whether the tokens were taken (the action is allowed).
   * @throws {RangeError} If `count` is negative or not finite, or the clock
   * returns a non-finite number.
   */
  tryTake(count = 1): boolean {
    checkCount(count);
    this.#refill();
    if (this.#tokens + EPSILON < count) return false;
    this.#tokens = Math.max(0, this.#tokens - count);
    return true;
  }

  /**
   * How long until `count` tokens are available, if nothing else takes any.
   *
   * @param count How many tokens are wanted.
   * @returns Milliseconds, rounded up: 0 if available now, `Infinity` if
   * never (more than `capacity`, or no refill).
   * @throws {RangeError} If `count` is negative or not finite, or the clock
   * returns a non-finite number.
   */
  msUntilAvailable(count = 1): number {
    checkCount(count);
    this.#refill();
    const missing = count - this.#tokens;
    if (missing <= EPSILON) return 0;
    if (count > this.#capacity || this.#refillPerMs === 0) return Infinity;
    return Math.ceil((missing - EPSILON) / this.#refillPerMs);
  }

  #refill(): void {
    const now = this.#readClock();
    if (now <= this.#last) return;
    this.#tokens = Math.min(
      this.#capacity,
      this.#tokens + (now - this.#last) * this.#refillPerMs,
    );
    this.#last = now;
  }

  #readClock(): number {
    const now = this.#now();
    if (!Number.isFinite(now)) {
      throw new RangeError(`Cannot read clock: time ${now} is not a finite number`);
    }
    return now;
  }
}

function checkCount(count: number): void {
  if (typeof count !== "number" || !Number.isFinite(count) || count < 0) {
    throw new RangeError(`Cannot take tokens: count ${count} is not a non-negative finite number`);
  }
}
