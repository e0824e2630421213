/**
 * Moderation state (operators, bans, mutes, the message of the day) derived
 * from `mod` events, the same way on every node.
 *
 * A moderation change is an ordinary {@linkcode ChatEvent} of kind `mod` in
 * room `""`, from the operator's nick, whose `text` is the JSON of one
 * {@linkcode ModAction}:
 *
 * | action | text |
 * | --- | --- |
 * | grant op to a key | `{"a":"op","fp":"SHA256:..."}` |
 * | take it back | `{"a":"deop","fp":"SHA256:..."}` |
 * | ban | `{"a":"ban","target":{"nick":"bob"},"until":1700000000000}` (`fp` or `addr` instead of `nick`; `until` null = permanent) |
 * | lift a ban | `{"a":"unban","target":{"nick":"bob"}}` |
 * | mute | `{"a":"mute","nick":"bob","until":null,"fp":"SHA256:..."}` (`addr` instead of `fp` for a person without a key; neither when unknown) |
 * | unmute | `{"a":"unmute","nick":"bob"}` |
 * | kick | `{"a":"kick","nick":"bob","reason":"spam"}` |
 * | message of the day | `{"a":"motd","text":"be nice"}` |
 * | take a room's seal away | `{"a":"unseal","room":"secret"}` |
 *
 * Every body also names its issuer: `"by"`, the operator's key fingerprint,
 * and `"root":true` when the node that accepted the command lists that key
 * in its ops file (`--ops`).
 *
 * ## Who may moderate: decided by the log alone
 *
 * A `mod` event takes effect only if its issuer is an operator **at that
 * point of the log order** ({@linkcode compareEvents}): either `root` (the
 * origin node's ops file vouches for the key; that file is the node's
 * configuration, the one thing a node is trusted with), or the key holds an
 * `op` grant from an earlier event that itself took effect, not taken back
 * by a later `deop`. The answer depends only on the set of `mod` events, so
 * every node reaches the same one whatever order events arrive in: an event
 * that arrives out of order makes the state be replayed from the log. An
 * event without an issuer, or from someone who was not an operator then,
 * is kept (peers may ask for it by id) but changes nothing — including the
 * issuer-less events of versions before this rule: re-issue those bans.
 *
 * Without per-node signatures a compromised node can still write `root`
 * events: the rule stops a buggy node, forged grants and stale authority
 * (a deopped operator's later bans), not a node that lies on purpose.
 *
 * The state is last-writer-wins per target (an op grant per fingerprint, a
 * ban per nick / fingerprint / host, a mute per nick, the one motd, an
 * unseal per room) among the events that took effect, in the events' total
 * order, so applying the same events in any order gives the same state.
 * Expiry times are absolute (ms since 1970, computed by the node that issued
 * the event) and compared with a clock passed in, never read here.
 *
 * Entries that change nothing any more (a ban or mute past its `until`, an
 * `unban`, `unmute` or `deop`) are forgotten by
 * {@linkcode Moderation.purgeExpired}, which the hub calls as `mod` events
 * arrive, so a month of short bans does not accumulate. No older event can
 * resurrect what was purged: the log still holds the purged entry's event
 * (a late event is placed before it on replay) or else the entry was folded
 * and every event older than the fold is refused.
 *
 * A mute names a nick and, when the issuing node knows them, the person's
 * key fingerprint or else their host: a muted person stays muted under
 * another nick.
 *
 * @module
 */
import { type ChatEvent, compareEvents } from "../../core/event.ts";
import { nickKey, ROOM_PATTERN } from "../../core/names.ts";
import { addressKey } from "../../core/address_key.ts";

/** What a ban applies to. */
export type BanTarget =
  | { readonly type: "nick"; readonly value: string }
  | { readonly type: "fp"; readonly value: string }
  | { readonly type: "addr"; readonly value: string };

/** One moderation change, the body of a `mod` event. */
export type ModAction =
  | { readonly a: "op"; readonly fp: string }
  | { readonly a: "deop"; readonly fp: string }
  | { readonly a: "ban"; readonly target: BanTarget; readonly until: number | null }
  | { readonly a: "unban"; readonly target: BanTarget }
  | {
    readonly a: "mute";
    readonly nick: string;
    readonly until: number | null;
    /** The muted person's key fingerprint, when known. */
    readonly fp?: string;
    /** The muted person's host, when known and they have no key. */
    readonly addr?: string;
  }
  | { readonly a: "unmute"; readonly nick: string }
  | { readonly a: "kick"; readonly nick: string; readonly reason: string }
  | { readonly a: "motd"; readonly text: string }
  | { readonly a: "unseal"; readonly room: string };

/** Who issued a moderation change, as its event says. */
export interface ModIssuer {
  /** The operator's key fingerprint, `SHA256:...`. */
  readonly fp: string;
  /**
   * True when the origin node's ops file lists the key; false when the
   * authority rests on an `op` grant in the log.
   */
  readonly root: boolean;
}

/** A person as a mute or ban matches them; any field may be absent. */
export interface Person {
  /** Nick. */
  readonly nick?: string | undefined;
  /** Key fingerprint. */
  readonly fingerprint?: string | undefined;
  /** Address, `host:port`. */
  readonly address?: string | undefined;
}

/** An active ban, for `/banned`. */
export interface Ban {
  /** What is banned. */
  readonly target: BanTarget;
  /** When it ends (ms since 1970), null when permanent. */
  readonly until: number | null;
  /** Nick of the operator who banned. */
  readonly by: string;
}

/** Longest fingerprint, nick, address or motd carried by an action. */
const MAX_FIELD = 64;
const MAX_MOTD = 500;

const isText = (v: unknown, max = MAX_FIELD): v is string =>
  typeof v === "string" && v.length > 0 && v.length <= max;
const isUntil = (v: unknown): v is number | null =>
  v === null || (Number.isSafeInteger(v) && (v as number) >= 0);

/**
 * Parses the body of a `mod` event.
 *
 * @param text The event's `text`.
 * @returns The action.
 * @throws {TypeError} When the text is not JSON of a known, well-formed action.
 */
export function parseModAction(text: string): ModAction {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TypeError("Invalid moderation action: not JSON", { cause: error });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("Invalid moderation action: expected an object");
  }
  const r = value as Record<string, unknown>;
  const bad = (field: string) =>
    new TypeError(`Invalid moderation action ${String(r.a).slice(0, 16)}: bad field "${field}"`);
  switch (r.a) {
    case "op":
    case "deop":
      if (!isText(r.fp)) throw bad("fp");
      return { a: r.a, fp: r.fp };
    case "ban":
    case "unban": {
      const target = parseTarget(r.target);
      if (target === undefined) throw bad("target");
      if (r.a === "unban") return { a: "unban", target };
      const until = r.until ?? null;
      if (!isUntil(until)) throw bad("until");
      return { a: "ban", target, until };
    }
    case "mute": {
      if (!isText(r.nick)) throw bad("nick");
      const until = r.until ?? null;
      if (!isUntil(until)) throw bad("until");
      if (r.fp !== undefined && !isText(r.fp)) throw bad("fp");
      if (r.addr !== undefined && !isText(r.addr)) throw bad("addr");
      return {
        a: "mute",
        nick: r.nick,
        until,
        ...(r.fp === undefined ? {} : { fp: r.fp as string }),
        ...(r.addr === undefined ? {} : { addr: normalizeHost(r.addr as string) }),
      };
    }
    case "unseal":
      if (typeof r.room !== "string" || !ROOM_PATTERN.test(r.room)) throw bad("room");
      return { a: "unseal", room: r.room };
    case "unmute":
      if (!isText(r.nick)) throw bad("nick");
      return { a: "unmute", nick: r.nick };
    case "kick":
      if (!isText(r.nick)) throw bad("nick");
      if (typeof r.reason !== "string" || r.reason.length > 300) throw bad("reason");
      return { a: "kick", nick: r.nick, reason: r.reason };
    case "motd":
      if (typeof r.text !== "string" || r.text.length > MAX_MOTD) throw bad("text");
      return { a: "motd", text: r.text };
    default:
      throw new TypeError(`Invalid moderation action: unknown action ${String(r.a).slice(0, 16)}`);
  }
}

function parseTarget(value: unknown): BanTarget | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const keys = Object.keys(r);
  if (keys.length !== 1) return undefined;
  for (const type of ["nick", "fp", "addr"] as const) {
    if (keys[0] === type && isText(r[type])) return { type, value: r[type] as string };
  }
  return undefined;
}

/**
 * The issuer a `mod` event's body names.
 *
 * @param text The event's `text` (a valid action, see {@linkcode parseModAction}).
 * @returns The issuer, or undefined when the body names none (such an event
 *   changes nothing).
 */
export function parseModIssuer(text: string): ModIssuer | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = value as Record<string, unknown> | null;
  if (typeof r !== "object" || r === null || !isText(r.by)) return undefined;
  return { fp: r.by, root: r.root === true };
}

/**
 * The JSON body of a `mod` event for an action (the inverse of
 * {@linkcode parseModAction} and {@linkcode parseModIssuer}).
 *
 * @param action The action.
 * @param issuer Who issues it; without one the event will change nothing.
 * @returns The text.
 */
export function formatModAction(action: ModAction, issuer?: ModIssuer): string {
  const by = issuer === undefined ? {} : { by: issuer.fp, ...(issuer.root ? { root: true } : {}) };
  if (action.a === "ban" || action.a === "unban") {
    const target = { [action.target.type]: action.target.value };
    return JSON.stringify(
      action.a === "ban"
        ? { a: "ban", target, until: action.until, ...by }
        : { a: "unban", target, ...by },
    );
  }
  return JSON.stringify({ ...action, ...by });
}

/**
 * The host part of a session address (`host:port`, as the listeners write
 * it): `10.0.0.1:5000` → `10.0.0.1`, `[::1]:5000` and `::1:5000` → `::1`,
 * and an IPv4-mapped IPv6 host `::ffff:10.0.0.1` → `10.0.0.1`.
 *
 * @param address `host:port`.
 * @returns The host, lowercase.
 */
export function hostOf(address: string): string {
  const bracket = /^\[([^\]]*)\](?::\d+)?$/.exec(address);
  const host = bracket ? bracket[1]! : address.replace(/:\d+$/, "");
  return normalizeHost(host);
}

/**
 * A host as bans compare it: lowercase, IPv4-mapped IPv6 as plain IPv4,
 * brackets removed.
 *
 * @param host A host as typed.
 * @returns The normalised host.
 */
export function normalizeHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, "$1").toLowerCase().replace(
    /^::ffff:(\d+\.\d+\.\d+\.\d+)$/,
    "$1",
  );
}

/**
 * Parses a duration like `30s`, `10m`, `2h`, `1d` or `1w`.
 *
 * @param text The duration.
 * @returns Milliseconds.
 * @throws {RangeError} When the text is not a positive duration (at most 10 years).
 */
export function parseDuration(text: string): number {
  const match = /^(\d{1,6})([smhdw])$/i.exec(text);
  const units: Record<string, number> = {
    s: 1000,
    m: 60_000,
    h: 3_600_000,
    d: 86_400_000,
    w: 604_800_000,
  };
  const ms = match ? Number(match[1]) * units[match[2]!.toLowerCase()]! : NaN;
  if (!(ms > 0) || ms > 3650 * 86_400_000) {
    throw new RangeError(
      `Invalid duration "${text.slice(0, 16)}": use a number and s, m, h, d or w, like 10m`,
    );
  }
  return ms;
}

/**
 * How long something lasts, for people: `permanently`, `for 45s`, `for 10m`,
 * `for 2h`, `for 3d` (rounded to the largest unit).
 *
 * @param until When it ends (ms since 1970), null for never.
 * @param now The current time (ms).
 * @returns The text.
 */
export function formatUntil(until: number | null, now: number): string {
  if (until === null) return "permanently";
  const s = Math.max(1, Math.ceil((until - now) / 1000));
  // A unit once at least ~99 % of one is left, so a fresh "1d" reads "for 1d".
  for (const [unit, size] of [["d", 86_400], ["h", 3600], ["m", 60]] as const) {
    if (s >= size * 0.99) return `for ${Math.round(s / size)}${unit}`;
  }
  return `for ${s}s`;
}

function targetKey(target: BanTarget): string {
  const value = target.type === "nick"
    ? nickKey(target.value)
    : target.type === "addr"
    ? normalizeHost(target.value)
    : target.value;
  return `ban\u0000${target.type}\u0000${value}`;
}

/** A newest event for one target. */
interface Entry {
  readonly event: ChatEvent;
  readonly action: ModAction;
}

/** One `mod` event in the log, parsed once. */
interface LogItem extends Entry {
  readonly issuer: ModIssuer | undefined;
}

/** Options of {@linkcode Moderation}. */
export interface ModerationOptions {
  /**
   * `mod` events kept to replay the state when one arrives out of order.
   * Past this, the oldest half is folded into a base state; a late event
   * older than the fold changes nothing. Bounds memory against a flood of
   * moderation events.
   *
   * @default {65536}
   */
  maxEvents?: number;
}

/**
 * Moderation state without its writers: what the hub and commands read
 * (only the event log applies `mod` events).
 */
export type ModerationView = Pick<
  Moderation,
  "isOp" | "ops" | "banOf" | "bans" | "muted" | "size" | "motd" | "unsealOf"
>;

/**
 * Moderation state derived from `mod` events. Pure: no clock, no I/O.
 *
 * | Operation | Cost |
 * | --- | --- |
 * | `apply` of an event newer than all others | O(log n) |
 * | `apply` of an event out of order | O(n): the log is replayed |
 * | `isOp`, `banOf` | O(1) |
 * | `muted` by fingerprint or address | O(mutes) |
 *
 * @example
 * ```ts
 * import { Moderation, formatModAction } from "./moderation.ts";
 * import assert from "node:assert/strict";
 *
 * const mod = new Moderation();
 * mod.apply({
 *   origin: "n1", seq: 1, hlc: { wall: 1, counter: 0, node: "n1" }, room: "",
 *   kind: "mod", from: "alice",
 *   text: formatModAction(
 *     { a: "mute", nick: "bob", until: 100 },
 *     { fp: "SHA256:" + "A".repeat(43), root: true },
 *   ),
 * });
 * assert.equal(mod.muted("bob", 50)?.until, 100);
 * assert.equal(mod.muted("bob", 100), undefined);
 * ```
 */
export class Moderation {
  /** Every retained `mod` event in total order. */
  readonly #log: LogItem[] = [];
  readonly #ids = new Set<string>();
  /** State of the events folded out of `#log`. */
  #base = new Map<string, Entry>();
  /** State of `#base` plus `#log`. */
  #entries = new Map<string, Entry>();
  /** The newest event folded into `#base`. */
  #foldedUpTo: ChatEvent | undefined;
  readonly #maxEvents: number;
  /** Size of the state at which {@linkcode Moderation.purgeExpired} sweeps next. */
  #sweepAt = PURGE_MIN_ENTRIES;

  /**
   * @param options Memory bound.
   * @throws {RangeError} When `maxEvents` is not an integer of at least 2.
   */
  constructor(options: ModerationOptions = {}) {
    const { maxEvents = 65_536 } = options;
    if (!Number.isInteger(maxEvents) || maxEvents < 2) {
      throw new RangeError(`Invalid maxEvents ${maxEvents}: must be an integer of at least 2`);
    }
    this.#maxEvents = maxEvents;
  }

  /**
   * Takes one `mod` event into the state.
   *
   * @param event A `mod` event (any order, duplicates harmless).
   * @returns The action; `authorised`: whether its issuer was an operator
   *   at that point of the log order; `current`: whether it took effect and
   *   is now the newest for its target (for a kick, which is not state:
   *   whether it took effect).
   * @throws {TypeError} When the event's text is not a valid action.
   */
  apply(event: ChatEvent): { action: ModAction; current: boolean; authorised: boolean } {
    const action = parseModAction(event.text);
    const id = `${event.origin}:${event.seq}`;
    if (this.#ids.has(id)) return { action, current: false, authorised: false };
    const item: LogItem = { event, action, issuer: parseModIssuer(event.text) };
    if (this.#foldedUpTo !== undefined && compareEvents(event, this.#foldedUpTo) < 0) {
      // Older than the folded history: its place in the order is gone.
      return { action, current: false, authorised: false };
    }
    const at = this.#insertionPoint(event);
    this.#ids.add(id);
    this.#log.splice(at, 0, item);
    let took: boolean;
    if (at === this.#log.length - 1) {
      took = step(this.#entries, item);
    } else {
      // Out of order: who was an operator at each later event may change.
      took = this.#replay(item);
    }
    if (this.#log.length > this.#maxEvents) this.#fold();
    const key = entryKey(action);
    const current = key === undefined ? took : this.#entries.get(key)?.event === event;
    return { action, current, authorised: took };
  }

  /**
   * Whether a key fingerprint holds an operator grant (`/op`, not taken back).
   *
   * @param fingerprint `SHA256:...`.
   * @returns True for an operator.
   */
  isOp(fingerprint: string): boolean {
    return this.#entries.get(`op\u0000${fingerprint}`)?.action.a === "op";
  }

  /** Fingerprints made operators by `/op`, sorted. */
  ops(): string[] {
    const out: string[] = [];
    for (const { action } of this.#entries.values()) {
      if (action.a === "op") out.push(action.fp);
    }
    return out.sort();
  }

  /**
   * The ban, if any, that applies to a person.
   *
   * @param who Nick, key fingerprint and address (`host:port`) of the person; any may be absent.
   * @param now The current time (ms).
   * @returns The ban in force, or undefined.
   */
  banOf(who: Person, now: number): Ban | undefined {
    const targets: BanTarget[] = [];
    if (who.nick !== undefined) targets.push({ type: "nick", value: who.nick });
    if (who.fingerprint !== undefined) targets.push({ type: "fp", value: who.fingerprint });
    if (who.address !== undefined) targets.push({ type: "addr", value: hostOf(who.address) });
    for (const target of targets) {
      const entry = this.#entries.get(targetKey(target));
      if (entry?.action.a !== "ban") continue;
      if (entry.action.until !== null && entry.action.until <= now) continue;
      return { target: entry.action.target, until: entry.action.until, by: entry.event.from };
    }
    return undefined;
  }

  /**
   * Every ban in force, sorted by target.
   *
   * @param now The current time (ms).
   * @returns The bans.
   */
  bans(now: number): Ban[] {
    const out: Ban[] = [];
    for (const { event, action } of this.#entries.values()) {
      if (action.a !== "ban" || (action.until !== null && action.until <= now)) continue;
      out.push({ target: action.target, until: action.until, by: event.from });
    }
    return out.sort((a, b) =>
      `${a.target.type}:${a.target.value}`.localeCompare(`${b.target.type}:${b.target.value}`)
    );
  }

  /**
   * The mute in force on a person: on their nick, or on their key or host
   * when the mute named those.
   *
   * @param who A nick, or the person (nick, key fingerprint, address).
   * @param now The current time (ms).
   * @returns When it ends (null: never) and who muted, or undefined when not muted.
   */
  muted(who: string | Person, now: number): { until: number | null; by: string } | undefined {
    const person: Person = typeof who === "string" ? { nick: who } : who;
    const inForce = (entry: Entry | undefined) =>
      entry?.action.a === "mute" && (entry.action.until === null || entry.action.until > now)
        ? { until: entry.action.until, by: entry.event.from }
        : undefined;
    const byNick = person.nick === undefined
      ? undefined
      : inForce(this.#entries.get(`mute\u0000${nickKey(person.nick)}`));
    if (byNick !== undefined || (person.fingerprint ?? person.address) === undefined) {
      return byNick;
    }
    // An IPv6 host is one of its /64 (as connection limits count it): else a
    // new address of the same network, a new nick, and the mute is gone.
    let host: string | undefined | null = null; // null: not worked out yet (most lines meet no mute)
    for (const entry of this.#entries.values()) {
      if (entry.action.a !== "mute") continue;
      if (host === null) {
        host = person.address === undefined ? undefined : addressKey(hostOf(person.address));
      }
      const { fp, addr } = entry.action;
      // A host stands for people without a key only: a key says who someone is.
      const match = (fp !== undefined && fp === person.fingerprint) ||
        (addr !== undefined && addressKey(addr) === host && person.fingerprint === undefined);
      if (match) {
        const mute = inForce(entry);
        if (mute !== undefined) return mute;
      }
    }
    return undefined;
  }

  /** Targets the state holds an entry for (ops, bans, mutes, unseals, motd, lifted ones). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Forgets entries that no longer change anything: bans and mutes whose
   * `until` has passed, and lifted ones (`unban`, `unmute`, `deop`). To keep
   * it amortised O(1) per event it sweeps only once the state has doubled
   * since the last sweep (and holds at least 1,024 entries), unless `force`.
   *
   * Safe against resurrection: an entry whose event is still in the log is
   * rebuilt by the replay a late, older event triggers, so it still outranks
   * that event; one folded into the base outranks every event a late one
   * could be, because events older than the fold are refused.
   *
   * @param now The current time (ms).
   * @param options `force`: sweep whatever the size.
   * @returns How many entries were forgotten.
   */
  purgeExpired(now: number, options: { force?: boolean } = {}): number {
    if (!options.force && this.#entries.size < this.#sweepAt) return 0;
    let purged = 0;
    for (const [key, entry] of this.#entries) {
      if (isSpent(entry.action, now)) {
        this.#entries.delete(key);
        purged++;
      }
    }
    for (const [key, entry] of this.#base) {
      if (isSpent(entry.action, now)) this.#base.delete(key);
    }
    this.#sweepAt = Math.max(PURGE_MIN_ENTRIES, 2 * this.#entries.size);
    return purged;
  }

  /** The message of the day, `""` when none. */
  get motd(): string {
    const entry = this.#entries.get("motd");
    return entry?.action.a === "motd" ? entry.action.text : "";
  }

  /**
   * The operator's unseal of a room in force, if any: seals of the room
   * ordered before this event no longer count.
   *
   * @param room Normalised room name.
   * @returns The `mod` event that unsealed the room, or undefined.
   */
  unsealOf(room: string): ChatEvent | undefined {
    return this.#entries.get(`unseal\u0000${room}`)?.event;
  }

  #insertionPoint(event: ChatEvent): number {
    let lo = 0;
    let hi = this.#log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareEvents(this.#log[mid]!.event, event) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Rebuilds the state from the base and the log; returns whether `target` took effect. */
  #replay(target: LogItem): boolean {
    const entries = new Map(this.#base);
    let took = false;
    for (const item of this.#log) {
      const ok = step(entries, item);
      if (item === target) took = ok;
    }
    this.#entries = entries;
    return took;
  }

  /** Folds the oldest half of the log into the base state. */
  #fold(): void {
    const folded = this.#log.splice(0, this.#log.length >> 1);
    for (const item of folded) {
      step(this.#base, item);
      this.#ids.delete(`${item.event.origin}:${item.event.seq}`);
      this.#foldedUpTo = item.event;
    }
  }
}

/** State entries below which {@linkcode Moderation.purgeExpired} does not sweep. */
const PURGE_MIN_ENTRIES = 1024;

/** Whether an entry changes nothing any more: expired, or a lifted ban, mute or grant. */
function isSpent(action: ModAction, now: number): boolean {
  switch (action.a) {
    case "ban":
    case "mute":
      return action.until !== null && action.until <= now;
    case "unban":
    case "unmute":
    case "deop":
      return true;
    default:
      return false;
  }
}

/**
 * Applies one event to a state if its issuer is an operator in that state
 * (the state of every earlier event): root, or holding an `op` grant.
 *
 * @returns Whether the event took effect.
 */
function step(entries: Map<string, Entry>, item: LogItem): boolean {
  const issuer = item.issuer;
  if (
    issuer === undefined ||
    !(issuer.root || entries.get(`op\u0000${issuer.fp}`)?.action.a === "op")
  ) {
    return false;
  }
  const key = entryKey(item.action);
  if (key !== undefined) entries.set(key, { event: item.event, action: item.action });
  return true;
}

function entryKey(action: ModAction): string | undefined {
  switch (action.a) {
    case "op":
    case "deop":
      return `op\u0000${action.fp}`;
    case "ban":
    case "unban":
      return targetKey(action.target);
    case "mute":
    case "unmute":
      return `mute\u0000${nickKey(action.nick)}`;
    case "motd":
      return "motd";
    case "unseal":
      return `unseal\u0000${action.room}`;
    case "kick":
      return undefined;
  }
}

/**
 * Parses an ops file (`--ops FILE`): one `SHA256:...` key fingerprint per
 * line; blank lines and text after `#` are ignored.
 *
 * @param text The file's text.
 * @returns The fingerprints.
 * @throws {SyntaxError} For a line that is not a fingerprint, naming its number.
 */
export function parseOpsFile(text: string): string[] {
  const out: string[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") continue;
    if (!/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(line)) {
      throw new SyntaxError(
        `Cannot read ops file: line ${i + 1} is not an SSH key fingerprint (SHA256:...)`,
      );
    }
    out.push(line.replace(/=$/, ""));
  }
  return out;
}
