/**
 * Who owns which nick: the first SSH key (by its `SHA256:` fingerprint) that
 * uses a nick owns it, and nobody else — another key, a guest, a terminal
 * client — may use it afterwards.
 *
 * Claims merge the same way on every node (the earliest claim wins, ties
 * broken by fingerprint), so replicated registries converge whatever order
 * claims arrive in. The registry does no I/O: persistence and replication
 * listen with {@linkcode NickRegistry.onClaim}.
 *
 * A peer's claim is checked like a person's: a nick this registry has known
 * to be owned for longer than the race window (`raceWindowMs`) is settled,
 * and no claim from a peer takes it, however early it says it was made — a
 * peer can write any `since`, so "earliest wins" alone would let one forged
 * claim take any registered nick. Within the window, two keys that claimed
 * the same nick on different nodes at about the same time (or on both sides
 * of a short partition) still converge on the earliest. The cost: a
 * partition longer than the window in which two keys claim the same nick
 * leaves each side with its own owner until an operator sorts it out.
 *
 * @module
 */
import { NICK_PATTERN, nickKey } from "../../core/names.ts";
import type { NickGuard } from "./hub.ts";

/** One nick owned by one key. */
export interface NickClaim {
  /** The nick as first claimed (display case). */
  readonly nick: string;
  /** Owner's public key fingerprint, `SHA256:...`. */
  readonly fingerprint: string;
  /** When it was claimed (ms since the epoch). */
  readonly since: number;
}

/** What {@linkcode NickRegistry.claim} did. */
export type ClaimOutcome =
  /** The nick is now owned by the key. */
  | "claimed"
  /** The key already owned it. */
  | "owned"
  /** Another key owns it. */
  | "taken"
  /** The key owns as many nicks as it may. */
  | "quota"
  /** The registry is full. */
  | "full";

/** Options of {@linkcode NickRegistry}. */
export interface NickRegistryOptions {
  /** Nicks one key may own; stops one key from hoarding names. @default 8 */
  maxNicksPerKey?: number;
  /** Claims held in all; bounds memory against many throwaway keys. @default 100000 */
  maxClaims?: number;
  /** Clock (ms). @default Date.now */
  now?: () => number;
  /**
   * How long after this registry learned a claim a peer's earlier claim of
   * the same nick may still replace it (ms). Longer heals longer partitions
   * in which two keys claimed one nick; shorter narrows the time in which a
   * forged claim can take a new registration. @default 60000
   */
  raceWindowMs?: number;
  /** Most claims one replication message may carry. @default 1000 */
  maxClaimsPerMessage?: number;
}

/** Called with each claim that changed the registry. */
export type ClaimListener = (claim: NickClaim) => void;

/** Persisted and replicated form of a {@linkcode NickRegistry}. */
export interface NickRegistryJson {
  /** Format version. */
  readonly v: 1;
  /** Every claim. */
  readonly claims: readonly NickClaim[];
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * Nick ownership by key fingerprint.
 *
 * | Operation      | Cost |
 * | -------------- | ---- |
 * | `ownerOf`      | O(1) |
 * | `claim`/`merge`| O(k), k = nicks of that key (≤ `maxNicksPerKey`) |
 *
 * @example
 * ```ts
 * import { NickRegistry } from "./nick_registry.ts";
 * import assert from "node:assert/strict";
 *
 * const alice = "SHA256:" + "a".repeat(43);
 * const registry = new NickRegistry();
 * assert.equal(registry.claim("Alice", alice), "claimed");
 * assert.equal(registry.ownerOf("alice"), alice);
 * assert.equal(registry.claim("alice", "SHA256:" + "b".repeat(43)), "taken");
 * ```
 */
export class NickRegistry implements NickGuard {
  readonly #claims = new Map<string, NickClaim>();
  readonly #byKey = new Map<string, Set<string>>();
  readonly #listeners = new Set<ClaimListener>();
  readonly #maxNicksPerKey: number;
  readonly #maxClaims: number;
  readonly #now: () => number;
  readonly #raceWindowMs: number;
  readonly #maxClaimsPerMessage: number;
  /** When this registry learned each claim (by nick key); -Infinity: restored, settled. */
  readonly #learnedAt = new Map<string, number>();

  /**
   * @param options Limits and clock.
   * @throws {RangeError} When a limit is not a positive integer.
   */
  constructor(options: NickRegistryOptions = {}) {
    const {
      maxNicksPerKey = 8,
      maxClaims = 100_000,
      now = Date.now,
      raceWindowMs = 60_000,
      maxClaimsPerMessage = 1000,
    } = options;
    for (
      const [name, value] of [
        ["maxNicksPerKey", maxNicksPerKey],
        ["maxClaims", maxClaims],
        ["maxClaimsPerMessage", maxClaimsPerMessage],
      ]
    ) {
      if (!Number.isInteger(value) || (value as number) < 1) {
        throw new RangeError(`Invalid ${name} ${value}: must be a positive integer`);
      }
    }
    this.#maxNicksPerKey = maxNicksPerKey;
    this.#maxClaims = maxClaims;
    this.#now = now;
    if (!(raceWindowMs >= 0)) {
      throw new RangeError(`Invalid raceWindowMs ${raceWindowMs}: must be a non-negative number`);
    }
    this.#raceWindowMs = raceWindowMs;
    this.#maxClaimsPerMessage = maxClaimsPerMessage;
  }

  /** How many nicks are owned. */
  get size(): number {
    return this.#claims.size;
  }

  /**
   * The fingerprint owning a nick.
   *
   * @param nick Any case.
   * @returns The owner, or undefined when the nick is free.
   */
  ownerOf(nick: string): string | undefined {
    return this.#claims.get(nickKey(nick))?.fingerprint;
  }

  /**
   * The nicks a key owns.
   *
   * @param fingerprint The key.
   * @returns Nicks in display case, oldest claim first.
   */
  nicksOf(fingerprint: string): string[] {
    const keys = this.#byKey.get(fingerprint) ?? new Set<string>();
    return [...keys].map((key) => this.#claims.get(key)!)
      .sort((a, b) => a.since - b.since)
      .map((claim) => claim.nick);
  }

  /**
   * Claims a nick for a key if nobody owns it.
   *
   * @param nick A valid nick (the caller validates).
   * @param fingerprint The key's `SHA256:` fingerprint.
   * @returns What happened.
   * @throws {TypeError} When `fingerprint` is not a `SHA256:` fingerprint.
   */
  claim(nick: string, fingerprint: string): ClaimOutcome {
    checkFingerprint(fingerprint);
    const owner = this.ownerOf(nick);
    if (owner === fingerprint) return "owned";
    if (owner !== undefined) return "taken";
    if ((this.#byKey.get(fingerprint)?.size ?? 0) >= this.#maxNicksPerKey) return "quota";
    if (this.#claims.size >= this.#maxClaims) return "full";
    this.#set({ nick, fingerprint, since: this.#now() });
    return "claimed";
  }

  /**
   * Why someone may not use a nick: it is owned by another key (or, for a
   * person without a key, by any key). Changes nothing. Part of the hub's
   * `NickGuard`.
   *
   * @param nick A valid nick.
   * @param fingerprint The person's key, or undefined for a guest or a
   * terminal-client user (who may use free nicks but not own them).
   * @returns The reason, or undefined when the nick may be used.
   */
  check(nick: string, fingerprint: string | undefined): string | undefined {
    const owner = this.ownerOf(nick);
    if (owner === undefined || owner === fingerprint) return undefined;
    return fingerprint === undefined
      ? `Nick ${nick} is registered to an SSH key: choose another`
      : `Nick ${nick} is registered to another SSH key: choose another`;
  }

  /**
   * Records that a person uses a nick: a key claims it when it is free. A
   * key past its quota (or a full registry) keeps using the nick unowned.
   * Part of the hub's `NickGuard`.
   *
   * @param nick The nick.
   * @param fingerprint The person's key, or undefined (then nothing happens).
   */
  use(nick: string, fingerprint: string | undefined): void {
    if (fingerprint !== undefined) this.claim(nick, fingerprint);
  }

  /**
   * Applies a claim made elsewhere (replication, a snapshot). The earliest
   * claim of a nick wins, equal times going to the smaller fingerprint, but
   * only while the claim it would replace is within the race window; a
   * settled claim is kept (see the module notes). A new nick is refused
   * when the registry is full.
   *
   * @param claim The claim.
   * @returns Whether the registry changed.
   * @throws {TypeError} When the claim is malformed.
   */
  merge(claim: NickClaim): boolean {
    const valid = parseClaim(claim);
    const key = nickKey(valid.nick);
    const current = this.#claims.get(key);
    if (current !== undefined) {
      const wins = valid.since < current.since ||
        (valid.since === current.since && valid.fingerprint < current.fingerprint);
      if (!wins || current.fingerprint === valid.fingerprint) return false;
      const learned = this.#learnedAt.get(key) ?? -Infinity;
      if (this.#now() - learned > this.#raceWindowMs) return false;
      this.#delete(current);
    } else if (this.#claims.size >= this.#maxClaims) {
      return false;
    }
    this.#set(valid);
    return true;
  }

  /**
   * Applies the claims of one replication message from a peer: at most
   * `maxClaimsPerMessage` (a peer sends its registry in batches of that
   * size); a malformed claim is skipped, not fatal to the others.
   *
   * @param claims The message's claims, as received.
   * @returns How many changed the registry and how many were malformed.
   * @throws {TypeError} When `claims` is not an array.
   * @throws {RangeError} When it holds more than `maxClaimsPerMessage` (nothing is applied).
   */
  mergeClaims(claims: unknown): { merged: number; malformed: number } {
    if (!Array.isArray(claims)) throw new TypeError("Invalid nick claims: expected an array");
    if (claims.length > this.#maxClaimsPerMessage) {
      throw new RangeError(
        `Cannot merge nick claims: ${claims.length} in one message exceeds maximum ${this.#maxClaimsPerMessage}`,
      );
    }
    let merged = 0;
    let malformed = 0;
    for (const claim of claims) {
      try {
        if (this.merge(claim)) merged++;
      } catch {
        malformed++;
      }
    }
    return { merged, malformed };
  }

  /**
   * Listens to every change.
   *
   * @param listener Called synchronously after each claim or winning merge.
   * @returns A function that removes the listener.
   */
  onClaim(listener: ClaimListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Every claim, for persistence or replication.
   *
   * @returns The JSON form.
   */
  toJSON(): NickRegistryJson {
    return { v: 1, claims: [...this.#claims.values()] };
  }

  /**
   * Rebuilds a registry from {@linkcode NickRegistry.toJSON} output.
   *
   * @param value Parsed JSON.
   * @param options Limits and clock.
   * @returns The registry.
   * @throws {TypeError} When the value is not a registry.
   */
  static fromJSON(value: unknown, options: NickRegistryOptions = {}): NickRegistry {
    if (
      typeof value !== "object" || value === null || (value as { v?: unknown }).v !== 1 ||
      !Array.isArray((value as { claims?: unknown }).claims)
    ) {
      throw new TypeError("Cannot read nick registry: expected {v: 1, claims: [...]}");
    }
    const registry = new NickRegistry(options);
    for (const claim of (value as { claims: unknown[] }).claims) {
      registry.#load(parseClaim(claim));
    }
    return registry;
  }

  /** Loads without notifying (restoring); merges like replication. */
  #load(claim: NickClaim): void {
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    try {
      if (this.merge(claim)) this.#learnedAt.set(nickKey(claim.nick), -Infinity);
    } finally {
      for (const listener of listeners) this.#listeners.add(listener);
    }
  }

  #set(claim: NickClaim): void {
    const key = nickKey(claim.nick);
    this.#claims.set(key, claim);
    this.#learnedAt.set(key, this.#now());
    let keys = this.#byKey.get(claim.fingerprint);
    if (keys === undefined) {
      keys = new Set();
      this.#byKey.set(claim.fingerprint, keys);
    }
    keys.add(key);
    for (const listener of this.#listeners) listener(claim);
  }

  #delete(claim: NickClaim): void {
    const key = nickKey(claim.nick);
    this.#claims.delete(key);
    this.#learnedAt.delete(key);
    const keys = this.#byKey.get(claim.fingerprint);
    keys?.delete(key);
    if (keys?.size === 0) this.#byKey.delete(claim.fingerprint);
  }
}

function checkFingerprint(fingerprint: unknown): void {
  if (typeof fingerprint !== "string" || !FINGERPRINT.test(fingerprint)) {
    throw new TypeError(
      `Invalid key fingerprint ${JSON.stringify(String(fingerprint).slice(0, 60))}: ` +
        "expected SHA256: and 43 base64 characters",
    );
  }
}

function parseClaim(value: unknown): NickClaim {
  if (typeof value !== "object" || value === null) {
    throw new TypeError("Invalid nick claim: expected an object");
  }
  const { nick, fingerprint, since } = value as Record<string, unknown>;
  if (typeof nick !== "string" || !NICK_PATTERN.test(nick)) {
    throw new TypeError("Invalid nick claim: bad nick");
  }
  checkFingerprint(fingerprint);
  if (typeof since !== "number" || !Number.isFinite(since)) {
    throw new TypeError("Invalid nick claim: bad time");
  }
  return { nick, fingerprint: fingerprint as string, since };
}
