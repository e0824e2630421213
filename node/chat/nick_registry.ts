/**
 * Who owns which nick: the first key (by its `SHA256:` fingerprint) that
 * uses a nick owns it — an SSH key, the terminal client's key, a key signed
 * in on the web — and nobody else, another key or a guest, may use it
 * afterwards; except the keys linked to it (`/keys add`, linked_keys.ts,
 * held here), which own it too ({@linkcode NickRegistry.owns}).
 *
 * A claim is an event like any other (kind `claim`, room `""`, `from` the
 * nick, `text` the fingerprint), so it is replicated, snapshotted and
 * restored with the rest of the log. The registry is derived from those
 * events and the event log (event_log.ts) is its only writer: it applies
 * each claim it accepts, this node's and its peers', through
 * {@linkcode NickRegistry.apply}. Claiming a nick here
 * ({@linkcode NickRegistry.claim}) appends a claim event to the log, which
 * applies it like one from a peer.
 *
 * The registry retains one claim event per nick (the log's nick log, at most
 * `maxClaims`, outside the history budget). A claim that loses is dropped
 * as it arrives; one that is replaced is dropped then. Claims merge the same
 * way on every node: the earliest in the log's total order (hybrid-clock
 * stamp, then origin node) wins, so registries converge whatever order
 * claims arrive in.
 *
 * A peer's claim is checked like a person's: a nick this registry has known
 * to be owned for longer than the race window (`raceWindowMs`) is settled,
 * and no claim from a peer takes it for another key, however early its
 * stamp — a peer can stamp any past time, so "earliest wins" alone would let
 * one forged claim take any registered nick. Within the window, two keys that
 * claimed the same nick on different nodes at about the same time (or on
 * both sides of a short partition) still converge on the earliest. The cost:
 * a partition longer than the window in which two keys claim the same nick
 * leaves each side with its own owner until an operator sorts it out.
 * Claims restored from a snapshot are settled.
 *
 * @module
 */
import { type ChatEvent, compareEvents } from "../../core/event.ts";
import { nickKey } from "../../core/names.ts";
import { LinkedKeys } from "./linked_keys.ts";
import type { NickGuard } from "./nick_policy.ts";

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

/** Limits of a {@linkcode NickRegistry}. */
export interface NickRegistryOptions {
  /** Nicks one key may own; stops one key from hoarding names. @default 8 */
  maxNicksPerKey?: number;
  /** Claims held in all; bounds memory against many throwaway keys. @default 100000 */
  maxClaims?: number;
  /**
   * How long after this registry learned a claim a peer's earlier claim of
   * the same nick for another key may still replace it (ms). Longer heals
   * longer partitions in which two keys claimed one nick; shorter narrows
   * the time in which a forged claim can take a new registration.
   * @default 60000
   */
  raceWindowMs?: number;
  /** Clock (ms), for the race window. @default Date.now */
  now?: () => number;
}

/**
 * Appends a claim event for a nick and key to the event log (which then
 * applies it here).
 */
export type AppendClaim = (nick: string, fingerprint: string) => void;

/** The registry as its readers see it: they may claim (through the log), not apply. */
export type NickRegistryView = Pick<
  NickRegistry,
  "size" | "ownerOf" | "owns" | "keysOf" | "nicksOf" | "claim" | "check" | "use" | "claims"
>;

/**
 * Nick ownership by key fingerprint, derived from `claim` events.
 *
 * | Operation       | Cost |
 * | --------------- | ---- |
 * | `ownerOf`       | O(1) |
 * | `claim`/`apply` | O(1) amortised |
 * | `nicksOf`       | O(k log k), k = nicks of that key (≤ `maxNicksPerKey` for its own claims) |
 *
 * @example
 * ```ts
 * import { EventLog } from "./event_log.ts";
 * import assert from "node:assert/strict";
 *
 * const alice = "SHA256:" + "a".repeat(43);
 * const log = new EventLog({ origin: "n1" });
 * assert.equal(log.nicks.claim("Alice", alice), "claimed"); // appends a claim event
 * assert.equal(log.nicks.ownerOf("alice"), alice);
 * assert.equal(log.nicks.claim("alice", "SHA256:" + "b".repeat(43)), "taken");
 * ```
 */
export class NickRegistry implements NickGuard {
  /** The live claim event of each nick, by nick key. */
  readonly #claims = new Map<string, ChatEvent>();
  /** Nick keys by owner fingerprint. */
  readonly #byKey = new Map<string, Set<string>>();
  /** When this registry learned each live claim (by nick key); -Infinity: restored, settled. */
  readonly #learnedAt = new Map<string, number>();
  /** Other keys that own a nick beside its claiming key (`link` events). */
  readonly #links = new LinkedKeys();
  readonly #append: AppendClaim;
  readonly #maxNicksPerKey: number;
  readonly #maxClaims: number;
  readonly #raceWindowMs: number;
  readonly #now: () => number;

  /**
   * Made by the event log, which owns the registry.
   *
   * @param append Appends a claim event to the log.
   * @param options Limits and clock.
   * @throws {RangeError} When a limit is not a positive integer or the window is negative.
   */
  constructor(append: AppendClaim, options: NickRegistryOptions = {}) {
    const { maxNicksPerKey = 8, maxClaims = 100_000, raceWindowMs = 60_000, now = Date.now } =
      options;
    for (const [name, value] of [["maxNicksPerKey", maxNicksPerKey], ["maxClaims", maxClaims]]) {
      if (!Number.isInteger(value) || (value as number) < 1) {
        throw new RangeError(`Invalid ${name} ${value}: must be a positive integer`);
      }
    }
    if (!(raceWindowMs >= 0)) {
      throw new RangeError(`Invalid raceWindowMs ${raceWindowMs}: must be a non-negative number`);
    }
    this.#append = append;
    this.#maxNicksPerKey = maxNicksPerKey;
    this.#maxClaims = maxClaims;
    this.#raceWindowMs = raceWindowMs;
    this.#now = now;
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
    return this.#claims.get(nickKey(nick))?.text;
  }

  /**
   * Whether a key owns a nick. Part of the hub's `NickGuard`.
   *
   * @param nick Any case.
   * @param fingerprint A key fingerprint, undefined without a key (then false).
   * @returns True when that key owns the nick.
   */
  owns(nick: string, fingerprint: string | undefined): boolean {
    if (fingerprint === undefined) return false;
    const owner = this.ownerOf(nick);
    // A link counts only while the nick is claimed: it adds keys to an owner, it is not one.
    return owner === fingerprint ||
      (owner !== undefined && this.#links.isLinked(nick, fingerprint));
  }

  /**
   * The keys that own a nick: the claiming key, then the linked ones.
   *
   * @param nick Any case.
   * @returns Fingerprints; empty when nobody owns the nick.
   */
  keysOf(nick: string): string[] {
    const owner = this.ownerOf(nick);
    if (owner === undefined) return [];
    return [owner, ...this.#links.keysOf(nick).filter((key) => key !== owner)];
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
      .sort(compareEvents)
      .map((claim) => claim.from);
  }

  /**
   * Claims a nick for a key if nobody owns it: appends a claim event to the
   * log, which applies it here and replicates it.
   *
   * @param nick A valid nick (the caller validates).
   * @param fingerprint The key's `SHA256:` fingerprint.
   * @returns What happened.
   * @throws {EventRuleError} When the nick or fingerprint breaks the claim rules
   *   (core/event_rules.ts); nothing is claimed.
   */
  claim(nick: string, fingerprint: string): ClaimOutcome {
    const owner = this.ownerOf(nick);
    if (this.owns(nick, fingerprint)) return "owned";
    if (owner !== undefined) return "taken";
    if ((this.#byKey.get(fingerprint)?.size ?? 0) >= this.#maxNicksPerKey) return "quota";
    if (this.#claims.size >= this.#maxClaims) return "full";
    this.#append(nick, fingerprint);
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
    if (this.ownerOf(nick) === undefined || this.owns(nick, fingerprint)) return undefined;
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

  /** The live claim event of every owned nick (the nick log, for replication and snapshots). */
  claims(): IterableIterator<ChatEvent> {
    return this.#claims.values();
  }

  /** Every `link` event held (for replication and snapshots). */
  links(): IterableIterator<ChatEvent> {
    return this.#links.events();
  }

  /**
   * Applies a `link` event the log accepted (for the event log only): see
   * node/chat/linked_keys.ts.
   *
   * @param link A `link` event that passed core/event_rules.ts.
   * @returns The event no longer retained, if any.
   */
  applyLink(link: ChatEvent): ChatEvent | undefined {
    return this.#links.apply(link);
  }

  /**
   * Applies a claim event the log accepted (for the event log only: nothing
   * else writes the registry). The earliest claim of a nick wins; for
   * another key, only while the claim it would replace is within the race
   * window (or while restoring). A new nick is dropped when the registry is
   * full.
   *
   * @param claim A `claim` event that passed core/event_rules.ts.
   * @param live False while restoring a snapshot: the claim is settled at once.
   * @returns The claim event no longer retained: the one replaced, or
   *   `claim` itself when it lost; undefined when nothing was dropped.
   */
  apply(claim: ChatEvent, live: boolean): ChatEvent | undefined {
    const key = nickKey(claim.from);
    const current = this.#claims.get(key);
    let learnedAt = live ? this.#now() : -Infinity;
    if (current === undefined) {
      if (this.#claims.size >= this.#maxClaims) return claim;
    } else {
      if (compareEvents(claim, current) >= 0) return claim;
      const learned = this.#learnedAt.get(key)!;
      if (current.text === claim.text) {
        learnedAt = learned; // the same owner, as settled as before
      } else if (live && this.#now() - learned > this.#raceWindowMs) {
        return claim;
      }
      this.#remove(current);
    }
    this.#claims.set(key, claim);
    this.#learnedAt.set(key, learnedAt);
    let keys = this.#byKey.get(claim.text);
    if (keys === undefined) {
      keys = new Set();
      this.#byKey.set(claim.text, keys);
    }
    keys.add(key);
    return current;
  }

  #remove(claim: ChatEvent): void {
    const key = nickKey(claim.from);
    this.#claims.delete(key);
    this.#learnedAt.delete(key);
    const keys = this.#byKey.get(claim.text);
    keys?.delete(key);
    if (keys?.size === 0) this.#byKey.delete(claim.text);
  }
}
