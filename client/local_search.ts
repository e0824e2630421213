/**
 * `/search` over sealed rooms, on the client: the node never searches a
 * sealed room (it holds only ciphertext), so the client searches the sealed
 * messages it opened itself — those it was shown since it started (the
 * history on joining, `/history`, live messages) — and shows what it found
 * marked as searched locally. The query is the node's (core/search_query.ts).
 *
 * @example
 * ```ts
 * import { OpenedMessages } from "./local_search.ts";
 * import { parseSearch } from "../core/search_query.ts";
 * import assert from "node:assert/strict";
 *
 * const opened = new OpenedMessages();
 * opened.remember(
 *   { t: "msg", id: "n1:7", time: 0, room: "vault", kind: "message", from: "ann", text: "", sealed: "…" },
 *   "the code is 1234",
 * );
 * const hits = opened.search(parseSearch("CODE"), new Set(["vault"]));
 * assert.equal(hits[0]?.excerpt, "the code is 1234");
 * ```
 *
 * @module
 */
import type { MsgFrame } from "../core/protocol.ts";
import {
  describeSearch,
  excerptOf,
  formatHit,
  matchMessage,
  type SearchHit,
  type SearchQuery,
} from "../core/search_query.ts";
import { countOf } from "../core/chat_format.ts";

/** Most results one local search shows, as the node's (node/chat/history_search.ts). */
export const MAX_LOCAL_RESULTS = 20;

/** Opened sealed messages kept for searching, as many as the client caches openings. */
export const MAX_OPENED_KEPT = 4096;

/** One opened sealed message, as kept for searching. */
interface Opened {
  readonly id: string;
  readonly room: string;
  readonly time: number;
  readonly from: string;
  readonly kind: "message" | "action";
  readonly text: string;
}

/** The sealed messages this client opened, newest kept, oldest forgotten past a bound. */
export class OpenedMessages {
  /** By event id, in the order they were first opened. */
  readonly #messages = new Map<string, Opened>();
  readonly #max: number;

  /**
   * @param max Messages kept at most. @default {MAX_OPENED_KEPT}
   * @throws {RangeError} When `max` is not a positive integer.
   */
  constructor(max = MAX_OPENED_KEPT) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Invalid max ${max}: must be a positive integer`);
    }
    this.#max = max;
  }

  /** How many opened messages are kept. */
  get size(): number {
    return this.#messages.size;
  }

  /**
   * Keeps a sealed message this client opened (a message or an action).
   *
   * @param frame The event as received.
   * @param text Its opened text.
   */
  remember(frame: MsgFrame, text: string): void {
    if (frame.kind !== "message" && frame.kind !== "action") return;
    if (this.#messages.has(frame.id)) return;
    this.#messages.set(frame.id, {
      id: frame.id,
      room: frame.room,
      time: frame.time,
      from: frame.from,
      kind: frame.kind,
      text,
    });
    if (this.#messages.size > this.#max) {
      this.#messages.delete(this.#messages.keys().next().value!);
    }
  }

  /**
   * The newest opened messages that answer a query, in the given rooms.
   *
   * @param query The query.
   * @param rooms The rooms to search (the sealed rooms the person is in).
   * @param limit Most hits. @default {MAX_LOCAL_RESULTS}
   * @returns The hits, newest first.
   */
  search(query: SearchQuery, rooms: ReadonlySet<string>, limit = MAX_LOCAL_RESULTS): SearchHit[] {
    const found: SearchHit[] = [];
    for (const message of this.#messages.values()) {
      if (!rooms.has(message.room)) continue;
      const index = matchMessage(message, query);
      if (index === -1) continue;
      const { text, ...rest } = message;
      found.push({ ...rest, excerpt: excerptOf(text, index, query.text.length) });
    }
    // Newest first, by the node's time; the id breaks ties the same way every time.
    found.sort((a, b) => b.time - a.time || (a.id < b.id ? 1 : -1));
    return found.slice(0, limit);
  }
}

/**
 * The lines a local search shows: a header that says it was searched
 * locally, and one line per hit.
 *
 * @param query The query.
 * @param rooms The sealed rooms searched.
 * @param hits What {@linkcode OpenedMessages.search} found.
 * @param timeZone Time zone of the times shown. @default "UTC"
 * @returns The lines.
 */
export function localSearchLines(
  query: SearchQuery,
  rooms: readonly string[],
  hits: readonly SearchHit[],
  timeZone?: string,
): string[] {
  const where = rooms.map((room) => `#${room}`).join(" ");
  return [
    `Searched locally (sealed ${where}, the messages this client opened): ` +
    `${countOf(hits.length, "match", "matches")} for ${describeSearch(query)} ` +
    `(newest first, times ${timeZone ?? "UTC"}):`,
    ...hits.map((hit) => formatHit(hit, timeZone)),
  ];
}
