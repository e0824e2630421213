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
 * | `retireBelow` | O(origins) |
 *
 * ## Retired origins
 *
 * A node killed without a clean stop continues under a new origin
 * `<id>.<epoch>` (epoch 0 is the bare `<id>`), so its former origins never
 * grow again. Once every member holds such an origin complete, the
 * replicator retires it: {@linkcode VersionVector.retireBelow} drops every
 * origin of that node below an epoch and keeps one number per node id, the
 * watermark. Anything from a retired origin is then a duplicate: `has` says
 * yes, `add` says not new. So the vector holds about one origin per node,
 * however often nodes crash, plus one watermark per node id ever retired.
 *
 * @module
 */
import { nodeOf } from "./event.ts";

/** Serialisable form of a {@linkcode VersionVector}: origin → contiguous seq. */
export type VersionVectorJson = Record<string, number>;

/**
 * Serialisable retirement watermarks: node id → epoch below which every
 * origin of that node is retired (complete everywhere).
 */
export type RetiredJson = Record<string, number>;

/**
 * The boot epoch of an origin: 0 for `n1`, 3 for `n1.3`, `NaN` when the part
 * after the dot is not a non-negative safe integer (never retired).
 *
 * @param origin An event origin.
 * @returns The epoch.
 */
export function epochOf(origin: string): number {
  const dot = origin.indexOf(".");
  if (dot === -1) return 0;
  const tail = origin.slice(dot + 1);
  return /^(0|[1-9][0-9]{0,15})$/.test(tail) && Number.isSafeInteger(Number(tail))
    ? Number(tail)
    : NaN;
}

interface OriginState {
  contiguous: number;
  ahead: Set<number>;
}

/** Per-origin record of the sequence numbers a node holds. */
export class VersionVector {
  #origins = new Map<string, OriginState>();
  /** Node id → epoch below which all its origins are retired. */
  #retired = new Map<string, number>();

  /**
   * Whether `origin` is retired: an older epoch of a node than its watermark.
   *
   * @param origin Event origin.
   * @returns `true` when everything from it counts as held.
   */
  isRetired(origin: string): boolean {
    const below = this.#retired.get(nodeOf(origin));
    return below !== undefined && epochOf(origin) < below;
  }

  /**
   * Whether `(origin, seq)` was already added.
   *
   * @param origin Node id.
   * @param seq Sequence number (≥ 1).
   * @returns `true` when seen.
   */
  has(origin: string, seq: number): boolean {
    const state = this.#origins.get(origin);
    if (state === undefined) return this.isRetired(origin);
    return seq <= state.contiguous || state.ahead.has(seq);
  }

  /**
   * Records `(origin, seq)`.
   *
   * @param origin Node id.
   * @param seq Sequence number (≥ 1).
   * @returns `false` when it was already recorded (or its origin is retired), `true` when new.
   * @throws {RangeError} When `seq` is not a positive safe integer.
   */
  add(origin: string, seq: number): boolean {
    if (!Number.isSafeInteger(seq) || seq < 1) {
      throw new RangeError(`Cannot add to version vector: invalid seq ${seq}`);
    }
    let state = this.#origins.get(origin);
    if (state === undefined) {
      if (this.isRetired(origin)) return false;
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

  /** The origins this vector knows, in insertion order (retired ones not included). */
  origins(): string[] {
    return [...this.#origins.keys()];
  }

  /**
   * Seqs held beyond a gap, over every origin: the out-of-order entries the
   * vector keeps until the gaps fill. O(origins).
   *
   * @returns The count.
   */
  outOfOrderCount(): number {
    let count = 0;
    for (const state of this.#origins.values()) count += state.ahead.size;
    return count;
  }

  /**
   * Whether nothing beyond the contiguous seq of `origin` is held (no gap).
   *
   * @param origin Event origin.
   * @returns `true` when `contiguous(origin)` is all there is.
   */
  isGapFree(origin: string): boolean {
    return (this.#origins.get(origin)?.ahead.size ?? 0) === 0;
  }

  /**
   * Retires every origin of `nodeId` with an epoch below `epoch`: drops them
   * and raises the node's watermark, so anything from them is a duplicate
   * from now on. Call only once every member holds those origins complete.
   * A lower watermark than the current one changes nothing.
   *
   * @param nodeId Node id (no epoch).
   * @param epoch The watermark: origins of epoch `< epoch` are retired.
   * @returns The origins dropped, with the contiguous seq each had.
   * @throws {RangeError} When `epoch` is not a non-negative safe integer.
   */
  retireBelow(nodeId: string, epoch: number): Map<string, number> {
    if (!Number.isSafeInteger(epoch) || epoch < 0) {
      throw new RangeError(`Cannot retire origins of ${nodeId}: invalid epoch ${epoch}`);
    }
    const dropped = new Map<string, number>();
    if (epoch <= (this.#retired.get(nodeId) ?? 0)) return dropped;
    this.#retired.set(nodeId, epoch);
    for (const [origin, state] of this.#origins) {
      if (nodeOf(origin) === nodeId && epochOf(origin) < epoch) {
        dropped.set(origin, state.contiguous);
        this.#origins.delete(origin);
      }
    }
    return dropped;
  }

  /**
   * The retirement watermarks, for exchange with peers and for snapshots.
   *
   * @returns node id → epoch below which its origins are retired.
   */
  retiredJSON(): RetiredJson {
    return Object.fromEntries(this.#retired);
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
   * peer's vector), keeping what this vector already holds beyond it; retired
   * origins are skipped. Costs
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
        if (this.isRetired(origin)) continue;
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
