/**
 * Who is connected to the other nodes of the cluster. Each node owns the
 * presence of its own sessions and sends its whole table to its peers when
 * it changes; this keeps the latest table of every peer. A node that dies or
 * restarts takes its table with it, so nobody lingers as a ghost.
 *
 * A table is the only word a node has on who uses which nick elsewhere, so
 * one person must not be able to spoil it for everyone on their node:
 *
 * - a table is validated entry by entry ({@linkcode parsePresence}): a bad
 *   entry is dropped or cut down, the others are kept;
 * - a table is bounded in bytes on both sides ({@linkcode MAX_PRESENCE_BYTES}):
 *   the sender fits its table to the bound ({@linkcode fitPresence}) keeping
 *   every nick before anyone's rooms, the receiver keeps no more than it;
 * - an entry lists at most {@linkcode MAX_ROOMS_PER_ENTRY} rooms, above any
 *   per-session room cap a node may be configured with.
 *
 * @module
 */
import { NICK_PATTERN, nickKey, ROOM_PATTERN } from "../../core/names.ts";
import { sanitizeText } from "../../core/text_sanitizer.ts";

/** One person as announced by their node. */
export interface PresenceEntry {
  /** Nick as typed. */
  readonly nick: string;
  /** Rooms joined. */
  readonly rooms: readonly string[];
  /** Away message, absent when present. */
  readonly away?: string;
  /** When the session started (ms), the first tie-breaker of nick races. */
  readonly since: number;
}

/** Someone in a room, on any node. */
export interface Member {
  /** Nick as typed. */
  readonly nick: string;
  /** The node the person is connected to. */
  readonly node: string;
  /** Away message, absent when present. */
  readonly away?: string;
  /** When the session started (ms). */
  readonly since: number;
}

/**
 * Decides a nick race between two sessions that claimed the same nick on
 * different nodes at once: the older session wins, then the smaller node id.
 * Every node evaluates the same inputs, so every node picks the same winner.
 *
 * @param a One claim.
 * @param b The other claim.
 * @returns `true` when `a` keeps the nick.
 */
export function winsNickRace(
  a: { since: number; node: string },
  b: { since: number; node: string },
): boolean {
  return a.since !== b.since ? a.since < b.since : a.node < b.node;
}

/** The presence tables of the other nodes. */
export class RemotePresence {
  readonly #byNode = new Map<string, Map<string, PresenceEntry>>();
  /** How many remote entries list each room: rooms with remote members, in O(1). */
  readonly #roomCounts = new Map<string, number>();

  /**
   * Replaces a node's table.
   *
   * @param node Node id.
   * @param entries Everyone connected to it (one entry per nick; a later
   *   duplicate replaces an earlier one).
   * @returns Rooms the node's previous table listed that no remote entry
   *   lists any more (they may have become empty).
   */
  replace(node: string, entries: readonly PresenceEntry[]): string[] {
    const table = new Map<string, PresenceEntry>();
    for (const entry of entries) table.set(nickKey(entry.nick), entry);
    const before = this.#byNode.get(node);
    this.#byNode.set(node, table);
    for (const entry of table.values()) this.#count(entry.rooms);
    return before === undefined ? [] : this.#uncount(before);
  }

  /**
   * Forgets a node's table (it died, left or restarted).
   *
   * @param node Node id.
   * @returns Rooms the table listed that no remote entry lists any more
   *   (none when there was no table).
   */
  drop(node: string): string[] {
    const table = this.#byNode.get(node);
    if (table === undefined) return [];
    this.#byNode.delete(node);
    return this.#uncount(table);
  }

  /**
   * Whether anyone on another node is in a room.
   *
   * @param room Normalised room name.
   * @returns True when some remote entry lists the room.
   */
  occupied(room: string): boolean {
    return this.#roomCounts.has(room);
  }

  /**
   * Finds a nick on another node.
   *
   * @param nick Nick in any case.
   * @returns The node and entry, or undefined.
   */
  find(nick: string): { node: string; entry: PresenceEntry } | undefined {
    const key = nickKey(nick);
    for (const [node, table] of this.#byNode) {
      const entry = table.get(key);
      if (entry) return { node, entry };
    }
    return undefined;
  }

  /**
   * Everyone on other nodes in a room.
   *
   * @param room Normalised room name.
   * @returns The members.
   */
  inRoom(room: string): Member[] {
    const out: Member[] = [];
    for (const [node, table] of this.#byNode) {
      for (const entry of table.values()) {
        if (!entry.rooms.includes(room)) continue;
        out.push({
          nick: entry.nick,
          node,
          since: entry.since,
          ...(entry.away === undefined ? {} : { away: entry.away }),
        });
      }
    }
    return out;
  }

  /** Every remote entry with its node. */
  *entries(): IterableIterator<{ node: string; entry: PresenceEntry }> {
    for (const [node, table] of this.#byNode) {
      for (const entry of table.values()) yield { node, entry };
    }
  }

  #count(rooms: readonly string[]): void {
    for (const room of rooms) this.#roomCounts.set(room, (this.#roomCounts.get(room) ?? 0) + 1);
  }

  /** Takes a replaced or dropped table out of the room counts; returns the rooms left with none. */
  #uncount(table: ReadonlyMap<string, PresenceEntry>): string[] {
    const vacated: string[] = [];
    for (const entry of table.values()) {
      for (const room of entry.rooms) {
        const left = (this.#roomCounts.get(room) ?? 1) - 1;
        if (left > 0) {
          this.#roomCounts.set(room, left);
        } else {
          this.#roomCounts.delete(room);
          vacated.push(room);
        }
      }
    }
    return vacated;
  }
}

/**
 * Rooms one presence entry may list; more are cut off on receipt. A node's
 * per-session room cap (`--max-rooms-per-session`) may not exceed it, so a
 * well-configured node never sends a longer list.
 */
export const MAX_ROOMS_PER_ENTRY = 256;

/** Longest away message in an entry, in UTF-16 code units (as `/away` keeps). */
const MAX_AWAY_LENGTH = 200;

/**
 * The most bytes a presence table may take as JSON, on the wire and when
 * received. Below the mesh's 1 MiB frame limit with room for the message
 * around it, and enough for some 12,000 people with no room listed (nicks
 * come first, see {@linkcode fitPresence}).
 */
export const MAX_PRESENCE_BYTES = 768 * 1024;

const encoder = new TextEncoder();

/** Bytes an entry takes in the table's JSON array, with its comma. */
function entryBytes(entry: PresenceEntry): number {
  return encoder.encode(JSON.stringify(entry)).length + 1;
}

/** What {@linkcode parsePresence} kept of a table, and what it had to change. */
export interface ParsedPresence {
  /** The valid entries, cut down where needed. */
  readonly entries: PresenceEntry[];
  /** Entries dropped: malformed, a duplicate nick, or past the byte bound. */
  readonly dropped: number;
  /** Entries kept with fields cut down: rooms, or an away message. */
  readonly truncated: number;
}

/** Options of {@linkcode parsePresence} and {@linkcode fitPresence}. */
export interface PresenceBoundOptions {
  /** Most bytes the table's JSON may take. @default MAX_PRESENCE_BYTES */
  maxBytes?: number;
}

/**
 * Validates a presence table from a peer entry by entry, copying only known
 * fields. A bad entry never costs the good ones: an entry without a valid
 * nick or start time is dropped; invalid or surplus rooms are left out; an
 * away message is cleaned of control characters and cut to 200 characters;
 * entries past the byte bound are dropped.
 *
 * @example
 * ```ts
 * import { parsePresence } from "./presence.ts";
 * import assert from "node:assert/strict";
 *
 * const table = parsePresence([{ nick: "no way" }, { nick: "bob", rooms: ["lobby"], since: 1 }]);
 * assert.deepEqual(table.entries, [{ nick: "bob", rooms: ["lobby"], since: 1 }]);
 * assert.equal(table.dropped, 1);
 * ```
 *
 * @param value Parsed JSON.
 * @param options Byte bound.
 * @returns The entries kept and counts of what was dropped or cut down.
 * @throws {TypeError} When the table is not an array (there is nothing to keep).
 */
export function parsePresence(value: unknown, options: PresenceBoundOptions = {}): ParsedPresence {
  const { maxBytes = MAX_PRESENCE_BYTES } = options;
  if (!Array.isArray(value)) throw new TypeError("Invalid presence: expected an array");
  const entries: PresenceEntry[] = [];
  const seen = new Set<string>();
  let dropped = 0;
  let truncated = 0;
  let bytes = 2; // the brackets
  for (const raw of value) {
    const parsed = parseEntry(raw);
    if (parsed === undefined || seen.has(nickKey(parsed.entry.nick))) {
      dropped++;
      continue;
    }
    const size = entryBytes(parsed.entry);
    if (bytes + size > maxBytes) {
      dropped++;
      continue;
    }
    bytes += size;
    seen.add(nickKey(parsed.entry.nick));
    entries.push(parsed.entry);
    if (parsed.truncated) truncated++;
  }
  return { entries, dropped, truncated };
}

function parseEntry(raw: unknown): { entry: PresenceEntry; truncated: boolean } | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const { nick, rooms, since, away } = raw as Record<string, unknown>;
  if (typeof nick !== "string" || !NICK_PATTERN.test(nick)) return undefined;
  if (typeof since !== "number" || !Number.isSafeInteger(since) || since < 0) return undefined;
  let truncated = false;
  const kept = new Set<string>();
  if (Array.isArray(rooms)) {
    for (const room of rooms) {
      if (kept.size === MAX_ROOMS_PER_ENTRY) break;
      if (typeof room === "string" && ROOM_PATTERN.test(room)) kept.add(room);
    }
    truncated = kept.size !== rooms.length;
  } else {
    truncated = rooms !== undefined;
  }
  let awayText: string | undefined;
  if (typeof away === "string") {
    awayText = sanitizeText(away).slice(0, MAX_AWAY_LENGTH);
    if (awayText !== away) truncated = true;
  } else if (away !== undefined) {
    truncated = true;
  }
  return {
    entry: {
      nick,
      rooms: [...kept],
      since,
      ...(awayText === undefined ? {} : { away: awayText }),
    },
    truncated,
  };
}

/**
 * Fits this node's table into the byte bound before it is sent. Nicks come
 * first, since they keep nicks unique across the cluster: every entry that
 * fits goes in bare (nick and start time, oldest sessions first), then
 * entries get their rooms and away message back, in the same order, while
 * they fit.
 *
 * @param entries One entry per local session.
 * @param options Byte bound.
 * @returns The entries to send and how many were cut down or left out.
 */
export function fitPresence(
  entries: readonly PresenceEntry[],
  options: PresenceBoundOptions = {},
): { entries: PresenceEntry[]; trimmed: number } {
  const { maxBytes = MAX_PRESENCE_BYTES } = options;
  const ordered = entries.toSorted((a, b) => a.since - b.since);
  const out: PresenceEntry[] = [];
  const sizes: number[] = [];
  let bytes = 2;
  for (const entry of ordered) {
    const bare = { nick: entry.nick, rooms: [], since: entry.since };
    const size = entryBytes(bare);
    if (bytes + size > maxBytes) break;
    bytes += size;
    out.push(bare);
    sizes.push(size);
  }
  let trimmed = entries.length;
  for (let i = 0; i < out.length; i++) {
    const full = ordered[i]!;
    const size = entryBytes(full);
    if (bytes - sizes[i]! + size > maxBytes) continue;
    bytes += size - sizes[i]!;
    out[i] = full;
    trimmed--;
  }
  return { entries: out, trimmed };
}
