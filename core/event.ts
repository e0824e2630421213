/**
 * The event model: every change of shared chat state is one {@linkcode ChatEvent}.
 *
 * An event is identified by `(origin, seq)`: `origin` is the id of the node
 * that accepted it and `seq` counts 1, 2, 3… per origin with no gaps. Its
 * hybrid-clock stamp gives the one total order every node agrees on.
 *
 * @module
 */
import { compareStamps, type HlcStamp } from "./hybrid_clock.ts";

/** What an event changes. */
export type EventKind =
  /** A chat line in a room. */
  | "message"
  /** An emote (`/me waves`). */
  | "action"
  /** A private message to one nick (`to`). Not part of any room's history. */
  | "private"
  /** Someone entered a room. */
  | "join"
  /** Someone left a room (or the chat). */
  | "leave"
  /** Someone changed nick; `text` is the new nick. */
  | "nick"
  /** The room topic changed; `text` is the new topic. */
  | "topic"
  /** Someone went away (`text` is the reason) or came back (`text` is ""). */
  | "away"
  /** The room was sealed; `text` is the public seal parameters (JSON). */
  | "seal"
  /**
   * A moderation change (op, ban, mute, kick, motd), cluster-wide in room
   * `""`; `text` is the action as JSON (see `node/chat/moderation.ts`).
   */
  | "mod"
  /**
   * A nick registered to an SSH key, cluster-wide in room `""`: `from` is
   * the nick, `text` the key's `SHA256:` fingerprint (see
   * `node/chat/nick_registry.ts`).
   */
  | "claim"
  /**
   * A nick marked as a bot (`text` `on`) or no longer (`off`), cluster-wide
   * in room `""`: `from` is the nick (see `node/chat/bots.ts`).
   */
  | "bot"
  /**
   * A key linked to a registered nick (`text` `+SHA256:…`) or unlinked
   * (`-SHA256:…`), cluster-wide in room `""`: `from` is the nick (see
   * `node/chat/linked_keys.ts`).
   */
  | "link"
  /**
   * Where a person whose key owns their nick stopped reading: `from` is the
   * nick, `room` the room (`""`: their private messages), `text` the
   * position of the last event they were shown (core/seen_mark.ts). Kept per
   * nick and room, never shown (see `node/chat/last_seen.ts`).
   */
  | "seen";

/** Every kind, for validation. */
export const EVENT_KINDS: readonly EventKind[] = [
  "message",
  "action",
  "private",
  "join",
  "leave",
  "nick",
  "topic",
  "away",
  "seal",
  "mod",
  "claim",
  "bot",
  "link",
  "seen",
];

/** Kinds that are conversation rather than presence. */
const SPOKEN_KINDS: ReadonlySet<EventKind> = new Set([
  "message",
  "action",
  "private",
]);

/** One change of shared chat state, as stored, replicated and snapshotted. */
export interface ChatEvent {
  /** Id of the node that accepted the event. */
  readonly origin: string;
  /** Per-origin sequence number: 1, 2, 3… without gaps. */
  readonly seq: number;
  /** Hybrid logical clock stamp; `hlc.node` equals `origin`. */
  readonly hlc: HlcStamp;
  /**
   * Room name (normalised), or `""` for private messages, moderation, nick
   * claims, linked keys, bot marks and the private `seen` mark.
   */
  readonly room: string;
  /** What the event changes. */
  readonly kind: EventKind;
  /** Nick of the person who caused it. */
  readonly from: string;
  /** Recipient nick, for `private` events only. */
  readonly to?: string;
  /** Plain text body (already sanitised), `""` when sealed. */
  readonly text: string;
  /** A sealed envelope the nodes cannot read, for sealed rooms. */
  readonly sealed?: string;
  /**
   * The client's id for the line that caused this event, so a line resent
   * after a failover is recognised instead of posted twice.
   */
  readonly cid?: string;
}

/**
 * The id of an event as one string, `origin:seq` (node ids contain no colon).
 *
 * @param event The event, or any `{ origin, seq }`.
 * @returns For example `"n1:42"`.
 */
export function eventId(event: { origin: string; seq: number }): string {
  return `${event.origin}:${event.seq}`;
}

/**
 * The total order of events: by hybrid clock stamp, then by id.
 *
 * @param a One event.
 * @param b Another event.
 * @returns Negative when `a` comes first, positive when `b` does, 0 when equal.
 */
export function compareEvents(a: ChatEvent, b: ChatEvent): number {
  return compareStamps(a.hlc, b.hlc) || a.seq - b.seq;
}

/**
 * Whether an event is something someone said (as opposed to presence).
 *
 * @param event The event.
 * @returns `true` for messages, actions and private messages.
 */
export function isSpoken(event: ChatEvent): boolean {
  return SPOKEN_KINDS.has(event.kind);
}

/** Longest text or sealed envelope an event may carry, in UTF-16 code units. */
export const MAX_EVENT_BODY = 48 * 1024;

const ID_PATTERN = /^[A-Za-z0-9.~-]{1,64}$/;

function field<T>(record: Record<string, unknown>, name: string, check: (v: unknown) => v is T): T {
  const value = Object.hasOwn(record, name) ? record[name] : undefined;
  if (!check(value)) throw new TypeError(`Invalid event: field "${name}" is missing or malformed`);
  return value;
}

const isString = (v: unknown): v is string => typeof v === "string" && v.length <= MAX_EVENT_BODY;
const isShortString = (v: unknown): v is string => typeof v === "string" && v.length <= 64;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isKind = (v: unknown): v is EventKind => EVENT_KINDS.includes(v as EventKind);
const isOrigin = (v: unknown): v is string => typeof v === "string" && ID_PATTERN.test(v);

/**
 * Validates an event that came from outside this process (a peer, a
 * snapshot), copying only known fields.
 *
 * @param value Parsed JSON.
 * @returns The event.
 * @throws {TypeError} When a field is missing or malformed.
 */
export function parseEvent(value: unknown): ChatEvent {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("Invalid event: expected an object");
  }
  const record = value as Record<string, unknown>;
  const origin = field(record, "origin", isOrigin);
  const seq = field(record, "seq", isCount);
  if (seq < 1) throw new TypeError("Invalid event: seq must be at least 1");
  const stamp = field(
    record,
    "hlc",
    (v): v is Record<string, unknown> => typeof v === "object" && v !== null,
  );
  const hlc = {
    wall: field(stamp, "wall", isCount),
    counter: field(stamp, "counter", isCount),
    node: field(stamp, "node", isOrigin),
  };
  const event: { -readonly [K in keyof ChatEvent]: ChatEvent[K] } = {
    origin,
    seq,
    hlc,
    room: field(record, "room", isShortString),
    kind: field(record, "kind", isKind),
    from: field(record, "from", isShortString),
    text: field(record, "text", isString),
  };
  if (record.to !== undefined) event.to = field(record, "to", isShortString);
  if (record.sealed !== undefined) event.sealed = field(record, "sealed", isString);
  if (record.cid !== undefined) event.cid = field(record, "cid", isShortString);
  return event;
}

/**
 * The origin a node stamps on its events in a given boot epoch. Epoch 0 is
 * the node id itself; a node that restarts after a crash continues under a
 * new epoch (`n1.1`, `n1.2`, …) so that it never reissues an id it may have
 * handed out after its last snapshot (see `node/store/snapshot_store.ts`).
 *
 * @param nodeId Node id (letters, digits, hyphen: never a dot).
 * @param epoch Boot epoch, a non-negative integer.
 * @returns `nodeId` for epoch 0, otherwise `nodeId.epoch`.
 */
export function originFor(nodeId: string, epoch: number): string {
  return epoch === 0 ? nodeId : `${nodeId}.${epoch}`;
}

/**
 * The node an origin belongs to: what people should see, without the epoch.
 *
 * @param origin An event origin, e.g. `n1` or `n1.3`.
 * @returns The node id, e.g. `n1`.
 */
export function nodeOf(origin: string): string {
  const dot = origin.indexOf(".");
  return dot === -1 ? origin : origin.slice(0, dot);
}
