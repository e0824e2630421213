/**
 * `/search TEXT [#room] [from:NICK]`: what a search asks for and how one
 * found message is shown. Shared by the node, which searches the room logs
 * it can read (node/chat/history_search.ts), and by the clients, which
 * search the sealed messages they opened themselves (client/local_search.ts),
 * so both answer the same query the same way.
 *
 * A match is a case-insensitive substring of a message's text: the words of
 * TEXT, in order, as one phrase. A word `#room` names one room to search,
 * `from:NICK` one sender; both may stand anywhere in the line.
 *
 * @example
 * ```ts
 * import { matchIndex, parseSearch } from "./search_query.ts";
 * import assert from "node:assert/strict";
 *
 * const query = parseSearch("Deploy  failed #ops from:Bob");
 * assert.deepEqual(query, { text: "deploy failed", room: "ops", from: "bob" });
 * assert.equal(matchIndex("the DEPLOY FAILED again", query.text), 4);
 * ```
 *
 * @module
 */
import { nickKey, normalizeRoom, validateNick } from "./names.ts";
import { sanitizeText } from "./text_sanitizer.ts";

/** Longest search text, in UTF-16 code units: a phrase, not a document. */
export const MAX_SEARCH_TEXT = 200;

/** Characters of a message shown around its match. */
export const EXCERPT_LENGTH = 120;

/** A parsed `/search` line. */
export interface SearchQuery {
  /** The phrase to find, lower case, its words joined by one space. */
  readonly text: string;
  /** The one room to search (normalised), when the line named one. */
  readonly room?: string;
  /** The one sender to search (its nick key), when the line named one. */
  readonly from?: string;
}

/** One message a search found. */
export interface SearchHit {
  /** Event id, `origin:seq`. */
  readonly id: string;
  /** The room. */
  readonly room: string;
  /** When it was said (ms since the epoch). */
  readonly time: number;
  /** Who said it. */
  readonly from: string;
  /** `message`, or `action` for a `/me`. */
  readonly kind: "message" | "action";
  /** Part of the text around the match (sanitised), with `…` where it was cut. */
  readonly excerpt: string;
}

/**
 * Parses what follows `/search`.
 *
 * @param args The rest of the line, e.g. `deploy #ops from:bob`.
 * @returns The query.
 * @throws {RangeError} When no text is left, the text is longer than
 *   {@linkcode MAX_SEARCH_TEXT}, or a room, a nick or a filter is given twice
 *   or is not valid. The message can be shown to the person.
 */
export function parseSearch(args: string): SearchQuery {
  const words: string[] = [];
  let room: string | undefined;
  let from: string | undefined;
  for (const word of args.split(/\s+/).filter((w) => w !== "")) {
    if (word.startsWith("#") && word.length > 1) {
      if (room !== undefined) throw new RangeError("Cannot search: name at most one #room");
      room = normalizeRoom(word);
    } else if (/^from:/i.test(word)) {
      if (from !== undefined) throw new RangeError("Cannot search: name at most one from:NICK");
      from = nickKey(validateNick(word.slice(5)));
    } else {
      words.push(word);
    }
  }
  const text = words.join(" ").toLowerCase();
  if (text === "") {
    throw new RangeError("Cannot search: nothing to find; usage /search TEXT [#room] [from:NICK]");
  }
  if (text.length > MAX_SEARCH_TEXT) {
    throw new RangeError(
      `Cannot search: the text is ${text.length} characters long, more than ${MAX_SEARCH_TEXT}`,
    );
  }
  return { text, ...(room === undefined ? {} : { room }), ...(from === undefined ? {} : { from }) };
}

/**
 * Where a phrase occurs in a text, ignoring case; any white-space character
 * of the text counts as a space (a line break matches the query's space).
 *
 * @param text The message text.
 * @param phrase A query's `text` (lower case).
 * @returns The index in `text` where it starts, or -1.
 */
export function matchIndex(text: string, phrase: string): number {
  const folded = text.toLowerCase().replace(/\s/g, " ");
  const index = folded.indexOf(phrase);
  // Lower-casing a few characters (İ) changes the length: then the excerpt starts at 0.
  return index === -1 || folded.length === text.length ? index : 0;
}

/**
 * Whether a message answers a query: its sender, its room and its text.
 *
 * @param message The room, sender and text of a message.
 * @param query The query.
 * @returns The index of the match in the text, or -1.
 */
export function matchMessage(
  message: { readonly room: string; readonly from: string; readonly text: string },
  query: SearchQuery,
): number {
  if (query.room !== undefined && message.room !== query.room) return -1;
  if (query.from !== undefined && nickKey(message.from) !== query.from) return -1;
  return matchIndex(message.text, query.text);
}

/**
 * The part of a text around a match, at most {@linkcode EXCERPT_LENGTH}
 * characters (plus `…` at each end that was cut), sanitised and on one line.
 *
 * @param text The message text.
 * @param index Where the match starts.
 * @param length How long the match is.
 * @returns The excerpt.
 */
export function excerptOf(text: string, index: number, length: number): string {
  const flat = sanitizeText(text.replace(/\s+/g, " "));
  if (flat.length <= EXCERPT_LENGTH) return flat;
  // Sanitising may shift the match a little; centre on where it was.
  const before = Math.max(0, Math.floor((EXCERPT_LENGTH - length) / 3));
  const start = Math.min(Math.max(0, index - before), flat.length - EXCERPT_LENGTH);
  const end = start + EXCERPT_LENGTH;
  return `${start > 0 ? "…" : ""}${flat.slice(start, end)}${end < flat.length ? "…" : ""}`;
}

/** Date-and-time formatters per time zone (few are in use at once). */
const stamps = new Map<string, Intl.DateTimeFormat>();
const MAX_STAMPS = 64;

/**
 * `YYYY-MM-DD HH:MM` in a time zone.
 *
 * @param time Milliseconds since the epoch.
 * @param timeZone IANA time zone name (validated by the caller). @default "UTC"
 * @returns The date and time.
 * @throws {RangeError} When `timeZone` is not a time zone.
 */
export function dayAndTime(time: number, timeZone = "UTC"): string {
  let format = stamps.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    if (stamps.size >= MAX_STAMPS) stamps.delete(stamps.keys().next().value!);
    stamps.set(timeZone, format);
  }
  const part: Record<string, string> = {};
  for (const { type, value } of format.formatToParts(time)) part[type] = value;
  return `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute}`;
}

/**
 * One found message as a line of a search reply:
 * `  #ops 2026-12-04 05:12 <bob> the deploy failed again`.
 *
 * @param hit The message.
 * @param timeZone Time zone of the time shown. @default "UTC"
 * @returns The line.
 */
export function formatHit(hit: SearchHit, timeZone?: string): string {
  const said = hit.kind === "action"
    ? `* ${hit.from} ${hit.excerpt}`
    : `<${hit.from}> ${hit.excerpt}`;
  return `  #${hit.room} ${dayAndTime(hit.time, timeZone)} ${said}`;
}

/**
 * How a query reads in a reply header: `"deploy" in #ops from bob`.
 *
 * @param query The query.
 * @returns The description.
 */
export function describeSearch(query: SearchQuery): string {
  return `${JSON.stringify(query.text)}${query.room === undefined ? "" : ` in #${query.room}`}${
    query.from === undefined ? "" : ` from ${query.from}`
  }`;
}
