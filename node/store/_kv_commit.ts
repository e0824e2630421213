/**
 * Writing to Deno KV within its limits: mutations grouped into atomic
 * commits (at most 1,000 mutations and 800 KiB each), values split into
 * parts below 64 KiB, and a yield to the event loop between commits.
 *
 * @module
 */

/** Largest value part, below Deno KV's 64 KiB per value. */
const PART_BYTES = 60_000;
/** Deno KV's limits per atomic commit. */
const KV_MAX_MUTATIONS = 1000;
export const KV_MAX_COMMIT_BYTES = 800 * 1024;
/**
 * Work done between two commits before yielding (ms): a commit is sent early
 * when preparing it takes this long, so a slow machine makes smaller commits
 * rather than longer pauses.
 */
export const STEP_BUDGET_MS = 2;
export interface Mutation {
  readonly key: Deno.KvKey;
  /** Absent for a delete. */
  readonly value?: unknown;
  /** Approximate size, key included. */
  readonly bytes: number;
}

/** Groups mutations into atomic commits within Deno KV's limits. */
export class CommitBatcher {
  readonly #kv: Deno.Kv;
  readonly #maxBytes: number;
  #op: Deno.AtomicOperation;
  #mutations = 0;
  #pending = 0;
  #resumedAt: number;
  commits = 0;
  bytes = 0;
  longestStepMs = 0;

  constructor(kv: Deno.Kv, maxBytes: number, startedAt: number) {
    this.#kv = kv;
    this.#maxBytes = maxBytes;
    this.#op = kv.atomic();
    this.#resumedAt = startedAt;
  }

  /** Whether the pending commit should be sent before more is added. */
  full(): boolean {
    return this.#pending >= this.#maxBytes - 64 * 1024 || this.#mutations >= KV_MAX_MUTATIONS / 2;
  }

  /**
   * Whether mutations fit in the pending commit, with room for `reserve`
   * small ones. Anything fits in an empty commit.
   */
  fits(mutations: readonly Mutation[], reserve = 0): boolean {
    if (this.#mutations === 0) return true;
    const bytes = mutations.reduce((sum, m) => sum + m.bytes, 0) + reserve * 128;
    return this.#pending + bytes <= this.#maxBytes &&
      this.#mutations + mutations.length + reserve <= KV_MAX_MUTATIONS / 2;
  }

  /** Time since the last commit returned (ms). */
  stepMs(): number {
    return performance.now() - this.#resumedAt;
  }

  /** Adds mutations to the pending commit. */
  push(mutations: readonly Mutation[]): void {
    for (const mutation of mutations) {
      if (mutation.value === undefined) this.#op.delete(mutation.key);
      else this.#op.set(mutation.key, mutation.value);
      this.#pending += mutation.bytes;
    }
    this.#mutations += mutations.length;
  }

  /** Adds mutations that must land in the same commit, committing first when full. */
  async add(mutations: readonly Mutation[]): Promise<void> {
    if (!this.fits(mutations) || this.stepMs() > STEP_BUDGET_MS) await this.flush();
    this.push(mutations);
  }

  /** Commits what is pending, with `extra` mutations in the same commit. */
  async flush(extra: readonly Mutation[] = []): Promise<void> {
    this.push(extra);
    if (this.#mutations === 0) return;
    const op = this.#op;
    this.#op = this.#kv.atomic();
    this.bytes += this.#pending;
    this.#mutations = 0;
    this.#pending = 0;
    const committing = commitOrThrow(op);
    this.longestStepMs = Math.max(this.longestStepMs, this.stepMs());
    await committing;
    this.#resumedAt = performance.now();
    this.commits++;
  }
}

export function vvMutation(origin: string, seq: number): Mutation {
  return { key: ["vv", origin], value: seq, bytes: origin.length + 24 };
}

export async function commitOrThrow(op: Deno.AtomicOperation): Promise<void> {
  const result = await op.commit();
  if (!result.ok) throw new Error("Cannot commit snapshot: Deno KV rejected the commit");
}

export function splitParts(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length <= PART_BYTES) return [bytes];
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += PART_BYTES) {
    parts.push(bytes.subarray(offset, offset + PART_BYTES));
  }
  return parts;
}

export function partMutations(prefix: Deno.KvKeyPart[], parts: Uint8Array[]): Mutation[] {
  const keyBytes = 32 + prefix.reduce<number>(
    (sum, part) => sum + (typeof part === "string" ? part.length * 3 : 9),
    0,
  );
  return parts.map((value, part) => ({
    key: [...prefix, part],
    value,
    bytes: keyBytes + value.length,
  }));
}
