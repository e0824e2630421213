/**
 * Where each person stopped reading, per room: the state derived from
 * `seen` events (kind `seen`, `from` the nick, `room` the room or `""` for
 * the person's private messages, `text` a position: core/seen_mark.ts). The
 * event log (event_log.ts) is its only writer, like the nick registry: a
 * mark is an event, so it is replicated, snapshotted and restored with the
 * rest of the log, and a person who comes back on any node finds it there.
 *
 * Only the latest mark per nick and room counts, so only that event is
 * retained (outside the history budget, like claims): a mark replaced by a
 * later one is dropped as an evicted event is. Marks merge the same way on
 * every node, whatever order they arrive in: the furthest position wins
 * (reading only moves forward), then the later event. A mark past its own
 * event's stamp is not kept: a node marks only events it already had, so
 * such a mark is forged, and as the furthest it would win for ever (a peer
 * could freeze someone's unread counts). Memory is bounded:
 * at most `maxRoomsPerNick` rooms per nick (the mark furthest behind goes
 * first) and `maxMarks` marks in all (a mark for a new nick and room is
 * then not kept).
 *
 * ```ts ignore
 * log.append({ room: "dev", kind: "seen", from: "ann", text: formatSeenMark(lastShown) });
 * log.seen.markOf("ann", "dev"); // the position of lastShown
 * ```
 *
 * @module
 */
import { type ChatEvent, compareEvents } from "../../core/event.ts";
import { compareStamps } from "../../core/hybrid_clock.ts";
import { nickKey } from "../../core/names.ts";
import { compareMarks, parseSeenMark, type SeenMark } from "../../core/seen_mark.ts";

/** Limits of {@linkcode SeenMarks}. */
export interface SeenMarksOptions {
  /** Rooms (and the private mark) remembered per nick. @default 64 */
  maxRoomsPerNick?: number;
  /** Marks held in all; bounds memory against many nicks. @default 100000 */
  maxMarks?: number;
}

/** The marks as their readers see them (only the log applies). */
export type SeenMarksView = Pick<SeenMarks, "size" | "markOf" | "marksOf" | "events">;

interface Held {
  readonly event: ChatEvent;
  readonly mark: SeenMark;
}

/** Whether `a` wins over `b` for the same nick and room. */
function wins(a: Held, b: Held): boolean {
  return (compareMarks(a.mark, b.mark) || compareEvents(a.event, b.event)) > 0;
}

/**
 * The latest `seen` mark per nick and room (see the module doc).
 *
 * | Operation | Cost |
 * | --------- | ---- |
 * | `apply`   | O(1), O(r) when a nick is at `maxRoomsPerNick` rooms |
 * | `markOf`  | O(1) |
 * | `marksOf` | O(r), r = rooms of that nick |
 */
export class SeenMarks {
  /** Room → held mark, by nick key. */
  readonly #byNick = new Map<string, Map<string, Held>>();
  readonly #maxRoomsPerNick: number;
  readonly #maxMarks: number;
  #size = 0;

  /**
   * @param options Limits.
   * @throws {RangeError} When a limit is not a positive integer.
   */
  constructor(options: SeenMarksOptions = {}) {
    const { maxRoomsPerNick = 64, maxMarks = 100_000 } = options;
    for (const [name, value] of [["maxRoomsPerNick", maxRoomsPerNick], ["maxMarks", maxMarks]]) {
      if (!Number.isInteger(value) || (value as number) < 1) {
        throw new RangeError(`Invalid ${name} ${value}: must be a positive integer`);
      }
    }
    this.#maxRoomsPerNick = maxRoomsPerNick;
    this.#maxMarks = maxMarks;
  }

  /** How many marks are held. */
  get size(): number {
    return this.#size;
  }

  /**
   * Where a nick stopped reading in a room.
   *
   * @param nick Any case.
   * @param room A normalised room, or `""` for private messages.
   * @returns The mark, or undefined when none is held.
   */
  markOf(nick: string, room: string): SeenMark | undefined {
    return this.#byNick.get(nickKey(nick))?.get(room)?.mark;
  }

  /**
   * Every mark of a nick.
   *
   * @param nick Any case.
   * @returns Mark by room (`""`: private messages).
   */
  marksOf(nick: string): Map<string, SeenMark> {
    const rooms = this.#byNick.get(nickKey(nick));
    return new Map([...rooms ?? []].map(([room, held]) => [room, held.mark]));
  }

  /** The event of every mark held (for replication and snapshots). */
  *events(): IterableIterator<ChatEvent> {
    for (const rooms of this.#byNick.values()) {
      for (const held of rooms.values()) yield held.event;
    }
  }

  /**
   * Applies a `seen` event the log accepted (for the event log only).
   *
   * @param event A `seen` event that passed core/event_rules.ts.
   * @returns The event no longer retained: the mark replaced, the one
   *   dropped for the nick's room limit, or `event` itself when it lost,
   *   points past its own stamp or found no space; undefined when nothing
   *   was dropped.
   */
  apply(event: ChatEvent): ChatEvent | undefined {
    const held: Held = { event, mark: parseSeenMark(event.text) };
    if (compareStamps(held.mark.hlc, event.hlc) >= 0) return event;
    const key = nickKey(event.from);
    let rooms = this.#byNick.get(key);
    const current = rooms?.get(event.room);
    if (current !== undefined) {
      if (!wins(held, current)) return event;
      rooms!.set(event.room, held);
      return current.event;
    }
    if (rooms !== undefined && rooms.size >= this.#maxRoomsPerNick) {
      // The room read longest ago goes (or this mark, if it is further behind still).
      const [room, behind] = [...rooms].reduce((a, b) => wins(a[1], b[1]) ? b : a);
      if (!wins(held, behind)) return event;
      rooms.delete(room);
      rooms.set(event.room, held);
      return behind.event;
    }
    if (this.#size >= this.#maxMarks) return event;
    if (rooms === undefined) {
      rooms = new Map();
      this.#byNick.set(key, rooms);
    }
    rooms.set(event.room, held);
    this.#size++;
    return undefined;
  }
}
