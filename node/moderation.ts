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
 * | mute | `{"a":"mute","nick":"bob","until":null}` |
 * | unmute | `{"a":"unmute","nick":"bob"}` |
 * | kick | `{"a":"kick","nick":"bob","reason":"spam"}` |
 * | message of the day | `{"a":"motd","text":"be nice"}` |
 *
 * The state is last-writer-wins per target (an op grant per fingerprint, a
 * ban per nick / fingerprint / host, a mute per nick, the one motd) in the
 * events' total order ({@linkcode compareEvents}), so applying the same
 * events in any order gives the same state. Expiry times are absolute (ms
 * since 1970, computed by the node that issued the event) and compared with
 * a clock passed in, never read here.
 *
 * @module
 */
import { type ChatEvent, compareEvents } from "../core/event.ts";
import { nickKey } from "../core/names.ts";

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
  | { readonly a: "mute"; readonly nick: string; readonly until: number | null }
  | { readonly a: "unmute"; readonly nick: string }
  | { readonly a: "kick"; readonly nick: string; readonly reason: string }
  | { readonly a: "motd"; readonly text: string };

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
      return { a: "mute", nick: r.nick, until };
    }
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
 * The JSON body of a `mod` event for an action (the inverse of
 * {@linkcode parseModAction}).
 *
 * @param action The action.
 * @returns The text.
 */
export function formatModAction(action: ModAction): string {
  if (action.a === "ban" || action.a === "unban") {
    const target = { [action.target.type]: action.target.value };
    return JSON.stringify(
      action.a === "ban" ? { a: "ban", target, until: action.until } : { a: "unban", target },
    );
  }
  return JSON.stringify(action);
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

/**
 * Moderation state derived from `mod` events. Pure: no clock, no I/O.
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
 *   text: formatModAction({ a: "mute", nick: "bob", until: 100 }),
 * });
 * assert.equal(mod.muted("bob", 50)?.until, 100);
 * assert.equal(mod.muted("bob", 100), undefined);
 * ```
 */
export class Moderation {
  readonly #entries = new Map<string, Entry>();

  /**
   * Takes one `mod` event into the state.
   *
   * @param event A `mod` event (any order, duplicates harmless).
   * @returns The action, and whether it is now the newest for its target
   *   (always true for a kick, which is not state).
   * @throws {TypeError} When the event's text is not a valid action.
   */
  apply(event: ChatEvent): { action: ModAction; current: boolean } {
    const action = parseModAction(event.text);
    const key = entryKey(action);
    if (key === undefined) return { action, current: true };
    const existing = this.#entries.get(key);
    if (existing !== undefined && compareEvents(existing.event, event) >= 0) {
      return { action, current: false };
    }
    this.#entries.set(key, { event, action });
    return { action, current: true };
  }

  /**
   * Whether a key fingerprint was made an operator by `/op` (and not deopped).
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
  banOf(
    who: {
      nick?: string | undefined;
      fingerprint?: string | undefined;
      address?: string | undefined;
    },
    now: number,
  ): Ban | undefined {
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
   * The mute in force on a nick.
   *
   * @param nick The nick.
   * @param now The current time (ms).
   * @returns When it ends (null: never), or undefined when not muted.
   */
  muted(nick: string, now: number): { until: number | null; by: string } | undefined {
    const entry = this.#entries.get(`mute\u0000${nickKey(nick)}`);
    if (entry?.action.a !== "mute") return undefined;
    if (entry.action.until !== null && entry.action.until <= now) return undefined;
    return { until: entry.action.until, by: entry.event.from };
  }

  /** The message of the day, `""` when none. */
  get motd(): string {
    const entry = this.#entries.get("motd");
    return entry?.action.a === "motd" ? entry.action.text : "";
  }
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
