/**
 * Who is connected to the other nodes of the cluster. Each node owns the
 * presence of its own sessions and sends its whole table to its peers when
 * it changes; this keeps the latest table of every peer. A node that dies or
 * restarts takes its table with it, so nobody lingers as a ghost.
 *
 * @module
 */
import { NICK_PATTERN, nickKey, ROOM_PATTERN } from "../core/names.ts";

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

  /**
   * Replaces a node's table.
   *
   * @param node Node id.
   * @param entries Everyone connected to it.
   */
  replace(node: string, entries: readonly PresenceEntry[]): void {
    const table = new Map<string, PresenceEntry>();
    for (const entry of entries) table.set(nickKey(entry.nick), entry);
    this.#byNode.set(node, table);
  }

  /**
   * Forgets a node's table (it died, left or restarted).
   *
   * @param node Node id.
   * @returns Whether there was one.
   */
  drop(node: string): boolean {
    return this.#byNode.delete(node);
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
}

/** Rooms one presence entry may list. */
const MAX_ROOMS_PER_ENTRY = 256;

/**
 * Validates a presence table from a peer, copying only known fields.
 *
 * @param value Parsed JSON.
 * @returns The entries.
 * @throws {TypeError} When the table or an entry is malformed.
 */
export function parsePresence(value: unknown): PresenceEntry[] {
  if (!Array.isArray(value)) throw new TypeError("Invalid presence: expected an array");
  return value.map((raw) => {
    const entry = raw as Record<string, unknown>;
    if (
      typeof raw !== "object" || raw === null || typeof entry.nick !== "string" ||
      !NICK_PATTERN.test(entry.nick) || !Array.isArray(entry.rooms) ||
      entry.rooms.length > MAX_ROOMS_PER_ENTRY ||
      !entry.rooms.every((room) => typeof room === "string" && ROOM_PATTERN.test(room)) ||
      typeof entry.since !== "number" || !Number.isFinite(entry.since) ||
      (entry.away !== undefined && (typeof entry.away !== "string" || entry.away.length > 200))
    ) {
      throw new TypeError("Invalid presence entry: nick, rooms and since are required and typed");
    }
    return {
      nick: entry.nick,
      rooms: [...entry.rooms] as string[],
      since: entry.since,
      ...(entry.away === undefined ? {} : { away: entry.away as string }),
    };
  });
}
