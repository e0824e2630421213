// Copyright meshchat authors. All rights reserved.

/**
 * Replay and reordering detection for per-stream sequence numbers, with a
 * sliding window like IPsec's (RFC 4303 §3.4.3, RFC 6479's ring bitmap).
 *
 * @module
 */

/**
 * What {@linkcode ReplayGuard} says about a (stream, seq):
 *
 * - `"ok"`: newer than anything seen on the stream;
 * - `"reordered"`: older than the newest, inside the window, not seen yet
 *   (accepted, but it arrived late);
 * - `"replay"`: seen already;
 * - `"too_old"`: older than the window, so it cannot be told apart from a
 *   replay and is refused.
 */
export type ReplayVerdict = "ok" | "reordered" | "replay" | "too_old";

/** Options of {@linkcode ReplayGuard}. */
export interface ReplayGuardOptions {
  /**
   * How many sequence numbers below the newest are still accepted out of
   * order. A power of two, at least 32. Memory per stream is `window / 8`
   * bytes.
   *
   * @default {1024}
   */
  window?: number;
  /**
   * How many streams are remembered. Past this, the least recently accepted
   * stream is forgotten; a replay of a forgotten stream's messages would be
   * accepted again, so keep this above the number of live sender sessions.
   *
   * @default {4096}
   */
  maxStreams?: number;
}

interface Stream {
  highest: number;
  bits: Uint32Array;
}

/**
 * Remembers, per stream (for sealed messages: per sender session), the
 * highest sequence number accepted and which of the `window` numbers below
 * it were seen.
 *
 * Call {@linkcode ReplayGuard.accept} only for messages that were
 * authenticated first; otherwise a forger could burn sequence numbers and get
 * real messages refused. {@linkcode openMessage} does this for you.
 *
 * A fresh guard has seen nothing: when a client loads history after live
 * messages, older history may come back `"too_old"`. Use a separate guard
 * for a history batch, or open history before live traffic.
 *
 * | operation | time | memory |
 * | --- | --- | --- |
 * | check | O(1) | – |
 * | accept | O(1) amortised (O(window / 32) on a jump) | window / 8 bytes per new stream |
 *
 * @example
 * ```ts
 * import { ReplayGuard } from "./replay_guard.ts";
 * const guard = new ReplayGuard();
 * guard.accept("alice/s1", 2); // "ok"
 * guard.accept("alice/s1", 1); // "reordered"
 * guard.accept("alice/s1", 2); // "replay"
 * ```
 */
export class ReplayGuard {
  #window: number;
  #maxStreams: number;
  #streams = new Map<string, Stream>();

  /**
   * Makes an empty guard.
   *
   * @param options Window size and stream cap.
   * @throws {RangeError} If the window is not a power of two ≥ 32 or the cap
   * is not a positive integer.
   */
  constructor(options: ReplayGuardOptions = {}) {
    const { window = 1024, maxStreams = 4096 } = options;
    if (
      !Number.isSafeInteger(window) || window < 32 ||
      (window & (window - 1)) !== 0 || window > 1 << 24
    ) {
      throw new RangeError(
        `Cannot create replay guard: window ${window} is not a power of two in 32..16777216`,
      );
    }
    if (!Number.isSafeInteger(maxStreams) || maxStreams < 1) {
      throw new RangeError(
        `Cannot create replay guard: maxStreams ${maxStreams} is not a positive integer`,
      );
    }
    this.#window = window;
    this.#maxStreams = maxStreams;
  }

  /**
   * The number of streams remembered.
   *
   * @returns The stream count, at most `maxStreams`.
   */
  get size(): number {
    return this.#streams.size;
  }

  /**
   * Says what {@linkcode ReplayGuard.accept} would say, without recording.
   *
   * @param stream The stream id.
   * @param seq A sequence number, 1 to 2^53 − 1.
   * @returns The verdict.
   * @throws {RangeError} If `seq` is not a positive safe integer.
   *
   * @example
   * ```ts
   * import { ReplayGuard } from "./replay_guard.ts";
   * new ReplayGuard().check("s", 7); // "ok"
   * ```
   */
  check(stream: string, seq: number): ReplayVerdict {
    checkSeq(seq);
    const state = this.#streams.get(stream);
    return state === undefined ? "ok" : this.#verdict(state, seq);
  }

  /**
   * Checks a sequence number and, if it is `"ok"` or `"reordered"`, records
   * it as seen.
   *
   * @param stream The stream id.
   * @param seq A sequence number, 1 to 2^53 − 1.
   * @returns The verdict; only `"ok"` and `"reordered"` were recorded.
   * @throws {RangeError} If `seq` is not a positive safe integer.
   *
   * @example
   * ```ts
   * import { ReplayGuard } from "./replay_guard.ts";
   * const guard = new ReplayGuard({ window: 32 });
   * guard.accept("s", 100); // "ok"
   * guard.accept("s", 68); // "too_old"
   * ```
   */
  accept(stream: string, seq: number): ReplayVerdict {
    checkSeq(seq);
    let state = this.#streams.get(stream);
    if (state === undefined) {
      state = { highest: 0, bits: new Uint32Array(this.#window >>> 5) };
      if (this.#streams.size >= this.#maxStreams) {
        const oldest = this.#streams.keys().next().value;
        if (oldest !== undefined) this.#streams.delete(oldest);
      }
    } else {
      this.#streams.delete(stream); // re-inserted below: most recent last
    }
    this.#streams.set(stream, state);

    const verdict = this.#verdict(state, seq);
    if (verdict === "ok") {
      this.#advance(state, seq);
    } else if (verdict === "reordered") {
      this.#mark(state, seq);
    }
    return verdict;
  }

  /** Forgets every stream. */
  clear(): void {
    this.#streams.clear();
  }

  #verdict(state: Stream, seq: number): ReplayVerdict {
    if (seq > state.highest) return "ok";
    if (seq <= state.highest - this.#window) return "too_old";
    const bit = seq % this.#window;
    return (state.bits[bit >>> 5]! & (1 << (bit & 31))) !== 0 ? "replay" : "reordered";
  }

  #advance(state: Stream, seq: number): void {
    if (seq - state.highest >= this.#window) {
      state.bits.fill(0);
    } else {
      for (let s = state.highest + 1; s < seq; s++) {
        const bit = s % this.#window;
        state.bits[bit >>> 5]! &= ~(1 << (bit & 31));
      }
    }
    state.highest = seq;
    this.#mark(state, seq);
  }

  #mark(state: Stream, seq: number): void {
    const bit = seq % this.#window;
    state.bits[bit >>> 5]! |= 1 << (bit & 31);
  }
}

function checkSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 1) {
    throw new RangeError(
      `Cannot check sequence number: ${seq} is not an integer in 1..2^53-1`,
    );
  }
}
