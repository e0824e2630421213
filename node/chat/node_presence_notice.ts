/**
 * What the people on this node are told when another node's people vanish
 * or come back with it: `bob left (node n2 unreachable)`, `bob is back (node
 * n2 reachable again)`. These are notices, not chat events: nobody left on
 * their own, so nothing is replicated or kept in a room's history.
 *
 * Bounded per reader: a node of 5,000 people that dies gives each reader at
 * most {@linkcode MAX_NAMED} lines, or one summary line naming the first
 * ones and counting the rest.
 *
 * @module
 */
import { nickKey } from "../../core/names.ts";
import type { PresenceEntry } from "./presence.ts";

/** People named one per line at most; more make one summary line. */
export const MAX_NAMED = 10;

/** What happened to a node. */
export type NodeChange =
  /** The failure detector declared it dead, or it was cut off. */
  | "unreachable"
  /** It came back with its people after being unreachable. */
  | "reachable"
  /** It restarted: its sessions before the restart are gone. */
  | "restarted";

/** Someone who reads the notices: a local session. */
export interface NoticeReader {
  /** Rooms the reader is in. */
  readonly rooms: ReadonlySet<string>;
  /** Nick keys the reader ignores (`/ignore`): not named to them. */
  readonly ignored: ReadonlySet<string>;
}

/** Options of {@linkcode nodePresenceNotices}. */
export interface NodePresenceNoticeOptions {
  /** People named one per line at most; more make one summary line. @default MAX_NAMED */
  maxNamed?: number;
}

/**
 * The lines each reader is shown when a node's people vanish or come back:
 * only the people who share a room with the reader, each named once.
 *
 * @param readers Local sessions.
 * @param people The node's people, with the rooms they were (or are) in.
 * @param node The node id.
 * @param change What happened to the node.
 * @param options How many people to name before summarising.
 * @returns The lines per reader that has any.
 */
export function nodePresenceNotices<R extends NoticeReader>(
  readers: Iterable<R>,
  people: readonly PresenceEntry[],
  node: string,
  change: NodeChange,
  options: NodePresenceNoticeOptions = {},
): Map<R, string[]> {
  const { maxNamed = MAX_NAMED } = options;
  const out = new Map<R, string[]>();
  if (people.length === 0) return out;
  // People by index, listed per room; a reader's pass marks the people it
  // counted with its generation number (no hashing per person: a node of
  // 5,000 people and 2,000 readers in several rooms each stays in milliseconds).
  const byRoom = new Map<string, number[]>();
  const indexOf = new Map<string, number>();
  for (const [index, person] of people.entries()) {
    indexOf.set(nickKey(person.nick), index);
    for (const room of new Set(person.rooms)) {
      const list = byRoom.get(room);
      if (list === undefined) byRoom.set(room, [index]);
      else list.push(index);
    }
  }
  const counted = new Uint32Array(people.length);
  let generation = 0;
  for (const reader of readers) {
    const [only] = reader.rooms;
    if (reader.rooms.size === 1 && reader.ignored.size === 0) {
      // One room, nobody ignored: everyone in its list counts, once.
      const list = byRoom.get(only!) ?? [];
      const named = list.slice(0, maxNamed).map((index) => people[index]!.nick);
      if (list.length > 0) out.set(reader, noticeLines(named, list.length, node, change));
      continue;
    }
    generation++;
    for (const key of reader.ignored) {
      const index = indexOf.get(key);
      if (index !== undefined) counted[index] = generation;
    }
    const named: string[] = [];
    let total = 0;
    for (const room of reader.rooms) {
      for (const index of byRoom.get(room) ?? []) {
        if (counted[index] === generation) continue;
        counted[index] = generation;
        total++;
        if (named.length < maxNamed) named.push(people[index]!.nick);
      }
    }
    if (total > 0) out.set(reader, noticeLines(named, total, node, change));
  }
  return out;
}

/**
 * The lines about `total` people, of whom `named` are named.
 *
 * @param named Nicks to name (all of them when `total` is at most their count).
 * @param total How many people.
 * @param node The node id.
 * @param change What happened to the node.
 * @returns One line per person, or one summary line.
 */
export function noticeLines(
  named: readonly string[],
  total: number,
  node: string,
  change: NodeChange,
): string[] {
  const why = change === "unreachable"
    ? `node ${node} unreachable`
    : change === "reachable"
    ? `node ${node} reachable again`
    : `node ${node} restarted`;
  const verb = change === "reachable" ? "is back" : "left";
  if (total <= named.length) return named.map((nick) => `${nick} ${verb} (${why})`);
  const plural = change === "reachable" ? "are back" : "left";
  return [
    `${total} people ${plural} (${why}): ${named.join(", ")} and ${total - named.length} more`,
  ];
}
