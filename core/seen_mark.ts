// Copyright the meshchat authors. MIT license.
/**
 * Where a person stopped reading: the position of the last event they were
 * shown in a room (or among their private messages), as the text of a
 * `seen` event. A position is the event's place in the total order every
 * node agrees on (its hybrid-clock stamp, then its seq: `compareEvents`),
 * so a mark still says "after here is new" once that event is evicted, and
 * two marks compare the same way on every node.
 *
 * The text is `wall:counter:origin:seq` (node ids contain no colon).
 *
 * @example
 * ```ts
 * import { formatSeenMark, isAfterMark, parseSeenMark } from "./seen_mark.ts";
 * import assert from "node:assert/strict";
 *
 * const seen = { origin: "n1", seq: 7, hlc: { wall: 1000, counter: 0, node: "n1" } };
 * const mark = parseSeenMark(formatSeenMark(seen));
 * assert.equal(formatSeenMark(seen), "1000:0:n1:7");
 * assert.equal(isAfterMark({ ...seen, seq: 8, hlc: { ...seen.hlc, counter: 1 } }, mark), true);
 * assert.equal(isAfterMark(seen, mark), false);
 * ```
 *
 * @module
 */
import { compareStamps, HLC_MAX_COUNTER, type HlcStamp } from "./hybrid_clock.ts";

/** A position in the total order of events: a stamp and a seq. */
export interface SeenMark {
  /** The hybrid-clock stamp of the last event seen. */
  readonly hlc: HlcStamp;
  /** Its seq (breaks the last tie, as `compareEvents` does). */
  readonly seq: number;
}

/** `wall:counter:origin:seq`, each bounded like the fields of an event. */
const MARK_PATTERN = /^(\d{1,16}):(\d{1,10}):([A-Za-z0-9.~-]{1,64}):(\d{1,16})$/;

/**
 * The text of a `seen` event for the position of an event.
 *
 * @param event The last event seen (any `{ hlc, seq }`).
 * @returns `wall:counter:origin:seq`.
 */
export function formatSeenMark(event: SeenMark): string {
  const { wall, counter, node } = event.hlc;
  return `${wall}:${counter}:${node}:${event.seq}`;
}

/**
 * Reads the text of a `seen` event.
 *
 * @param text `wall:counter:origin:seq`.
 * @returns The mark.
 * @throws {SyntaxError} When the text is not a mark.
 */
export function parseSeenMark(text: string): SeenMark {
  const match = MARK_PATTERN.exec(text);
  const wall = Number(match?.[1]);
  const counter = Number(match?.[2]);
  const seq = Number(match?.[4]);
  if (
    match === null || !Number.isSafeInteger(wall) || counter > HLC_MAX_COUNTER ||
    !Number.isSafeInteger(seq) || seq < 1
  ) {
    throw new SyntaxError(`Cannot read seen mark ${JSON.stringify(text.slice(0, 100))}`);
  }
  return { hlc: { wall, counter, node: match[3]! }, seq };
}

/**
 * The order of two positions, as `compareEvents` orders events.
 *
 * @param a One position.
 * @param b Another.
 * @returns Negative when `a` comes first, positive when `b` does, 0 when equal.
 */
export function compareMarks(a: SeenMark, b: SeenMark): number {
  return compareStamps(a.hlc, b.hlc) || a.seq - b.seq;
}

/**
 * Whether an event comes after a mark (is new to whoever stopped there).
 *
 * @param event The event.
 * @param mark The mark; undefined (never seen anything) makes every event new.
 * @returns True when the event is after the mark.
 */
export function isAfterMark(event: SeenMark, mark: SeenMark | undefined): boolean {
  return mark === undefined || compareMarks(event, mark) > 0;
}
