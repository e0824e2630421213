/**
 * Which events a node holds, per origin: the highest contiguous sequence
 * number, plus the few seen beyond a gap (events can arrive out of order from
 * the mesh). It answers "have I seen (origin, seq)?" for deduplication and
 * "what am I missing?" for anti-entropy.
 *
 * | operation | cost |
 * | --- | --- |
 * | `has`, `add` | O(1) amortised |
 * | `contiguous` | O(1) |
 * | `toJSON` | O(origins + out-of-order seqs) |
 *
 * @module
 */

/** Serialisable form of a {@linkcode VersionVector}: origin → contiguous seq. */
export type VersionVectorJson = Record<string, number>;

interface OriginState {
  contiguous: number;
  ahead: Set<number>;
}

/** Per-origin record of the sequence numbers a node holds. */
export class VersionVector {
  #origins = new Map<string, OriginState>();

  /**
   * Whether `(origin, seq)` was already added.
   *
   * @param origin Node id.
   * @param seq Sequence number (≥ 1).
   * @returns `true` when seen.
   */
  has(origin: string, seq: number): boolean {
    const state = this.#origins.get(origin);
    if (state === undefined) return false;
    return seq <= state.contiguous || state.ahead.has(seq);
  }

  /**
   * Records `(origin, seq)`.
   *
   * @param origin Node id.
   * @param seq Sequence number (≥ 1).
   * @returns `false` when it was already recorded, `true` when new.
   * @throws {RangeError} When `seq` is not a positive safe integer.
   */
  add(origin: string, seq: number): boolean {
    if (!Number.isSafeInteger(seq) || seq < 1) {
      throw new RangeError(`Cannot add to version vector: invalid seq ${seq}`);
    }
    let state = this.#origins.get(origin);
    if (state === undefined) {
      state = { contiguous: 0, ahead: new Set() };
      this.#origins.set(origin, state);
    }
    if (seq <= state.contiguous || state.ahead.has(seq)) return false;
    if (seq !== state.contiguous + 1) {
      state.ahead.add(seq);
      return true;
    }
    state.contiguous = seq;
    while (state.ahead.delete(state.contiguous + 1)) state.contiguous++;
    return true;
  }

  /**
   * The highest sequence number up to which nothing is missing.
   *
   * @param origin Node id.
   * @returns 0 when nothing from `origin` was seen.
   */
  contiguous(origin: string): number {
    return this.#origins.get(origin)?.contiguous ?? 0;
  }

  /** The origins this vector knows, in insertion order. */
  origins(): string[] {
    return [...this.#origins.keys()];
  }

  /**
   * The contiguous part, for exchange with peers and for snapshots.
   *
   * @returns origin → highest contiguous seq.
   */
  toJSON(): VersionVectorJson {
    const out: VersionVectorJson = {};
    for (const [origin, state] of this.#origins) out[origin] = state.contiguous;
    return out;
  }

  /**
   * Records everything up to each contiguous seq of `json` (a snapshot's or a
   * peer's vector), keeping what this vector already holds beyond it. Costs
   * O(origins + seqs held beyond a gap), not O(seq).
   *
   * @param json As produced by {@linkcode VersionVector.toJSON}.
   * @throws {RangeError} When a value is not a non-negative safe integer.
   */
  merge(json: VersionVectorJson): void {
    for (const [origin, seq] of Object.entries(json)) {
      if (!Number.isSafeInteger(seq) || seq < 0) {
        throw new RangeError(`Cannot merge version vector: invalid seq ${seq} for ${origin}`);
      }
      let state = this.#origins.get(origin);
      if (state === undefined) {
        state = { contiguous: 0, ahead: new Set() };
        this.#origins.set(origin, state);
      }
      if (seq <= state.contiguous) continue;
      state.contiguous = seq;
      for (const ahead of state.ahead) if (ahead <= seq) state.ahead.delete(ahead);
      while (state.ahead.delete(state.contiguous + 1)) state.contiguous++;
    }
  }

  /**
   * Builds a vector that holds everything up to each contiguous seq.
   *
   * @param json As produced by {@linkcode VersionVector.toJSON}.
   * @returns The vector.
   * @throws {RangeError} When a value is not a non-negative safe integer.
   */
  static fromJSON(json: VersionVectorJson): VersionVector {
    const vector = new VersionVector();
    for (const [origin, seq] of Object.entries(json)) {
      if (!Number.isSafeInteger(seq) || seq < 0) {
        throw new RangeError(
          `Cannot restore version vector: invalid seq ${seq} for ${origin}`,
        );
      }
      vector.#origins.set(origin, { contiguous: seq, ahead: new Set() });
    }
    return vector;
  }
}

/**
 * Validates a version vector from outside this process (a peer): an object
 * whose own keys map to non-negative safe integers, copied key by key.
 *
 * @param value Parsed JSON.
 * @returns The vector's JSON form.
 * @throws {TypeError} When the value or any entry is malformed.
 */
export function parseVersionVector(value: unknown): VersionVectorJson {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("Invalid version vector: expected an object");
  }
  const out: VersionVectorJson = {};
  for (const [origin, seq] of Object.entries(value)) {
    if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0 || origin.length > 64) {
      throw new TypeError(`Invalid version vector: bad entry for "${origin.slice(0, 64)}"`);
    }
    Object.defineProperty(out, origin, {
      value: seq,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
