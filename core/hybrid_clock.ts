// Copyright the meshchat authors. MIT license.
/**
 * A hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014):
 * stamps that stay close to wall-clock time yet respect causality, and give
 * one total order every node agrees on.
 *
 * @module
 */

/** The largest counter a stamp may carry: 2 ** 31 - 1. */
export const HLC_MAX_COUNTER = 2 ** 31 - 1;

/** A hybrid logical clock stamp. */
export interface HlcStamp {
  /** Wall-clock part, in milliseconds since the Unix epoch. */
  readonly wall: number;
  /** Logical counter that orders stamps with the same `wall`. */
  readonly counter: number;
  /** Id of the node that issued the stamp; breaks the last tie. */
  readonly node: string;
}

/** Options for {@linkcode HybridClock}. */
export interface HybridClockOptions {
  /**
   * The physical clock, in milliseconds since the Unix epoch. Fractions are
   * rounded down.
   *
   * @default {Date.now}
   */
  now?: () => number;
  /**
   * How far ahead of our physical clock a received stamp may pull our clock,
   * in milliseconds (fractions are rounded down).
   * A remote wall beyond `physical + maxForwardDriftMs` is treated as exactly
   * that for advancing our clock, so one peer with a fast clock cannot drag
   * the whole mesh into the future. Larger values tolerate worse clock skew;
   * smaller values bound how far any peer can push us.
   *
   * @default {60_000}
   */
  maxForwardDriftMs?: number;
}

/**
 * Compares two stamps: by wall, then counter, then node id (code-unit order).
 * This is a total order; it is 0 only for stamps with equal fields.
 *
 * @example Sorting events
 * ```ts
 * import { compareStamps } from "./hybrid_clock.ts";
 * import assert from "node:assert/strict";
 *
 * const a = { wall: 1000, counter: 1, node: "n1" };
 * const b = { wall: 1000, counter: 1, node: "n2" };
 * assert.deepEqual([b, a].sort(compareStamps), [a, b]);
 * ```
 *
 * @param a The first stamp.
 * @param b The second stamp.
 * @returns A negative number if `a` is earlier, a positive number if later,
 * 0 if equal.
 */
export function compareStamps(a: HlcStamp, b: HlcStamp): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return 0;
}

/**
 * A hybrid logical clock for one node.
 *
 * Every stamp from {@linkcode HybridClock.now} is strictly greater (by
 * {@linkcode compareStamps}) than every stamp this clock issued or received
 * before, even if the physical clock goes backwards. Creating a clock reads
 * no time; time comes only from the injected `now` option.
 *
 * @example Issuing and merging stamps
 * ```ts
 * import { compareStamps, HybridClock } from "./hybrid_clock.ts";
 * import assert from "node:assert/strict";
 *
 * let time = 1000;
 * const clock = new HybridClock("n1", { now: () => time });
 * const first = clock.now(); // { wall: 1000, counter: 0, node: "n1" }
 * const remote = { wall: 1500, counter: 3, node: "n2" };
 * const merged = clock.receive(remote); // { wall: 1500, counter: 4, ... }
 * assert.ok(compareStamps(merged, remote) > 0);
 * assert.ok(compareStamps(merged, first) > 0);
 * ```
 */
export class HybridClock {
  #node: string;
  #physical: () => number;
  #maxForwardDriftMs: number;
  #wall = 0;
  #counter = 0;

  /**
   * Creates a clock whose last stamp is `{ wall: 0, counter: 0, node }`.
   *
   * @param node This node's id, carried in every stamp.
   * @param options Clock source and drift bound.
   * @throws {TypeError} If `node` is not a non-empty string or `now` is not a
   * function.
   * @throws {RangeError} If `maxForwardDriftMs` is negative or not finite.
   */
  constructor(node: string, options: HybridClockOptions = {}) {
    const { now = Date.now, maxForwardDriftMs = 60_000 } = options;
    if (typeof node !== "string" || node.length === 0) {
      throw new TypeError(
        "Cannot create hybrid clock: node id must be a non-empty string",
      );
    }
    if (typeof now !== "function") {
      throw new TypeError("Cannot create hybrid clock: now must be a function");
    }
    if (!Number.isFinite(maxForwardDriftMs) || maxForwardDriftMs < 0) {
      throw new RangeError(
        `Cannot create hybrid clock: maxForwardDriftMs ${maxForwardDriftMs} is not a non-negative finite number`,
      );
    }
    this.#node = node;
    this.#physical = now;
    this.#maxForwardDriftMs = Math.floor(maxForwardDriftMs);
  }

  /**
   * The latest stamp this clock issued, received or was advanced to.
   *
   * @returns The last stamp, with this node's id.
   */
  get last(): HlcStamp {
    return { wall: this.#wall, counter: this.#counter, node: this.#node };
  }

  /**
   * How far a received stamp leads this node's physical clock, so that the
   * owner can refuse (for now) a stamp from too far in the future: such a
   * stamp sorts after every stamp this clock issues until the physical
   * clock catches up, so it would win every last-writer-wins race for that
   * long (a year-2255 stamp, forever). Once the physical clock has caught
   * up to within the owner's bound, the same stamp is accepted.
   *
   * @param stamp The received stamp.
   * @returns `stamp.wall` minus the physical time, in ms (negative when behind).
   * @throws {RangeError} If the physical clock returns a non-finite number.
   */
  leadOf(stamp: { wall: number }): number {
    return stamp.wall - this.#readPhysical();
  }

  /**
   * Issues a new stamp for a local event.
   *
   * @returns A stamp strictly greater than every stamp issued or received
   * before.
   * @throws {RangeError} If the physical clock returns a non-finite number, or
   * the counter would exceed {@linkcode HLC_MAX_COUNTER} (the physical clock
   * has not moved for 2 ** 31 stamps).
   */
  now(): HlcStamp {
    const physical = this.#readPhysical();
    if (physical > this.#wall) {
      this.#wall = physical;
      this.#counter = 0;
    } else {
      this.#counter = checkCounter(this.#counter + 1);
    }
    return this.last;
  }

  /**
   * Merges a stamp received from another node, so that later stamps from
   * this clock sort after it.
   *
   * A remote wall more than `maxForwardDriftMs` ahead of the physical clock
   * is clamped to `physical + maxForwardDriftMs` for advancing this clock; in
   * that case the returned stamp may sort before `remote`. The remote stamp
   * itself is left for the caller to keep as it is.
   *
   * @param remote The received stamp.
   * @returns The new local stamp, strictly greater than every stamp issued or
   * received before (and than `remote`, unless it was clamped).
   * @throws {TypeError} If `remote` does not have the shape of a stamp.
   * @throws {RangeError} If `remote` has a negative or non-integer wall or
   * counter, its counter exceeds {@linkcode HLC_MAX_COUNTER}, the physical
   * clock returns a non-finite number, or the merged counter would overflow.
   * The clock is unchanged when it throws.
   */
  receive(remote: HlcStamp): HlcStamp {
    validateStamp(remote, "receive stamp");
    if (typeof remote.node !== "string") {
      throw new TypeError("Cannot receive stamp: node must be a string");
    }
    const physical = this.#readPhysical();
    const remoteWall = Math.min(
      remote.wall,
      physical + this.#maxForwardDriftMs,
    );
    const wall = Math.max(this.#wall, remoteWall, physical);
    let counter: number;
    if (wall === this.#wall && wall === remoteWall) {
      counter = Math.max(this.#counter, remote.counter) + 1;
    } else if (wall === this.#wall) {
      counter = this.#counter + 1;
    } else if (wall === remoteWall) {
      counter = remote.counter + 1;
    } else {
      counter = 0;
    }
    this.#counter = checkCounter(counter);
    this.#wall = wall;
    return this.last;
  }

  /**
   * Moves the clock forward to at least `stamp`, for restoring from a
   * snapshot. The clock never goes backwards: an older stamp is ignored. The
   * drift bound does not apply.
   *
   * @param stamp The wall and counter to advance to.
   * @throws {TypeError} If `stamp` does not have the shape of a stamp.
   * @throws {RangeError} If `stamp` has a negative or non-integer wall or
   * counter, or a counter above {@linkcode HLC_MAX_COUNTER}.
   */
  advanceTo(stamp: { wall: number; counter: number }): void {
    validateStamp(stamp, "advance clock");
    if (
      stamp.wall > this.#wall ||
      (stamp.wall === this.#wall && stamp.counter > this.#counter)
    ) {
      this.#wall = stamp.wall;
      this.#counter = stamp.counter;
    }
  }

  #readPhysical(): number {
    const physical = this.#physical();
    if (!Number.isFinite(physical)) {
      throw new RangeError(
        `Cannot read clock: physical time ${physical} is not a finite number`,
      );
    }
    return Math.floor(physical);
  }
}

function checkCounter(counter: number): number {
  if (counter > HLC_MAX_COUNTER) {
    throw new RangeError(
      `Cannot advance hybrid clock: counter ${counter} exceeds maximum ${HLC_MAX_COUNTER}`,
    );
  }
  return counter;
}

function validateStamp(
  stamp: { wall: number; counter: number },
  action: string,
): void {
  if (
    typeof stamp !== "object" || stamp === null ||
    typeof stamp.wall !== "number" || typeof stamp.counter !== "number"
  ) {
    throw new TypeError(
      `Cannot ${action}: expected an object with numeric wall and counter`,
    );
  }
  if (!Number.isSafeInteger(stamp.wall) || stamp.wall < 0) {
    throw new RangeError(
      `Cannot ${action}: wall ${stamp.wall} is not a non-negative integer`,
    );
  }
  if (
    !Number.isInteger(stamp.counter) || stamp.counter < 0 ||
    stamp.counter > HLC_MAX_COUNTER
  ) {
    throw new RangeError(
      `Cannot ${action}: counter ${stamp.counter} is not an integer from 0 to ${HLC_MAX_COUNTER}`,
    );
  }
}
