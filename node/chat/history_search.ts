/**
 * `/search` on the node: the room logs this node holds, for the rooms the
 * person is in, newest first. Sealed rooms are never searched here — the
 * node holds only their ciphertext; the terminal client searches what it
 * opened (client/local_search.ts) — and the reply says so.
 *
 * The work is bounded: at most {@linkcode MAX_SEARCH_RESULTS} results, and
 * at most {@linkcode MAX_SEARCH_SCAN} events and {@linkcode MAX_SEARCH_CHARS}
 * characters of text looked at per search, shared evenly among the rooms
 * searched. A room whose share ran out before its oldest event is named in
 * the reply.
 *
 * @module
 */
import { type ChatEvent, compareEvents, eventId } from "../../core/event.ts";
import {
  describeSearch,
  excerptOf,
  formatHit,
  matchMessage,
  parseSearch,
  type SearchHit,
  type SearchQuery,
} from "../../core/search_query.ts";
import { countOf } from "../../core/chat_format.ts";
import { ProtocolError } from "../../core/protocol.ts";
import type { RoomView } from "./event_log.ts";
import type { Hub, Session } from "./hub.ts";

/** Most messages one `/search` returns. */
export const MAX_SEARCH_RESULTS = 20;

/** Most events one `/search` looks at, across the rooms it searches. */
export const MAX_SEARCH_SCAN = 200_000;

/**
 * Most characters of message text one `/search` looks at, across the rooms
 * it searches. The work is in the text, not the count of events: about
 * 4 ms per million characters, and up to 40 ms for a phrase made to match
 * partly everywhere (`a a a … b` over `a a a …`), on this 2-core VM. Counted
 * in events only, a node full of long messages took seconds per search.
 */
export const MAX_SEARCH_CHARS = 2_000_000;

/** Options of {@linkcode searchRooms}. */
export interface SearchRoomsOptions {
  /** Most hits. @default {MAX_SEARCH_RESULTS} */
  limit?: number;
  /** Most events looked at, shared evenly among the rooms. @default {MAX_SEARCH_SCAN} */
  maxScan?: number;
  /** Most characters of text looked at, shared evenly among the rooms. @default {MAX_SEARCH_CHARS} */
  maxChars?: number;
}

/** What {@linkcode searchRooms} found. */
export interface RoomsSearched {
  /** The newest matches, newest first. */
  readonly hits: SearchHit[];
  /** Sealed rooms, not searched (the node cannot read them). */
  readonly sealed: string[];
  /** Rooms whose share of the scan ran out before their oldest event. */
  readonly partial: string[];
}

/**
 * Searches rooms' logs for a query: messages and actions in plain text.
 *
 * @param rooms The rooms to search (the caller checks the person is in them).
 * @param query The query.
 * @param options Result and scan bounds.
 * @returns The hits, newest first, and which rooms were skipped or cut short.
 */
export function searchRooms(
  rooms: readonly RoomView[],
  query: SearchQuery,
  options: SearchRoomsOptions = {},
): RoomsSearched {
  const { limit = MAX_SEARCH_RESULTS, maxScan = MAX_SEARCH_SCAN, maxChars = MAX_SEARCH_CHARS } =
    options;
  const readable = rooms.filter((room) => room.sealed === undefined);
  const share = Math.floor(maxScan / Math.max(1, readable.length));
  const charShare = Math.floor(maxChars / Math.max(1, readable.length));
  const found: { event: ChatEvent; index: number }[] = [];
  const partial: string[] = [];
  for (const room of readable) {
    const log = room.log;
    let kept = 0;
    let chars = 0;
    let i = log.length - 1;
    // Newest first: a room stops at `limit` matches, older ones could not make the cut.
    for (; i >= 0 && kept < limit && log.length - 1 - i < share && chars < charShare; i--) {
      const event = log.at(i);
      if (event === undefined || event.sealed !== undefined) continue;
      if (event.kind !== "message" && event.kind !== "action") continue;
      chars += event.text.length;
      const index = matchMessage(event, query);
      if (index === -1) continue;
      found.push({ event, index });
      kept++;
    }
    if (i >= 0 && kept < limit) partial.push(room.name);
  }
  found.sort((a, b) => compareEvents(b.event, a.event));
  const hits = found.slice(0, limit).map(({ event, index }): SearchHit => ({
    id: eventId(event),
    room: event.room,
    time: event.hlc.wall,
    from: event.from,
    kind: event.kind === "action" ? "action" : "message",
    excerpt: excerptOf(event.text, index, query.text.length),
  }));
  return {
    hits,
    sealed: rooms.filter((room) => room.sealed !== undefined).map((room) => room.name),
    partial,
  };
}

/** A `/search` reply: a header, one line per hit, notes after them. */
export interface SearchReply {
  /** What was searched and how many were found. */
  readonly header: string;
  /** One line per hit. */
  readonly lines: string[];
  /** The hits, as data for clients. */
  readonly hits: SearchHit[];
  /** Sealed rooms left to the client, rooms searched only in part. */
  readonly notes: string[];
}

/**
 * Runs `/search` for a person: every room they are in, or the one named
 * (which they must be in).
 *
 * @param hub The hub.
 * @param session Who searches.
 * @param args What follows `/search`.
 * @returns The reply.
 * @throws {ProtocolError} `bad_args` for a query that does not parse,
 *   `not_in_room` for a room the person is not in.
 */
export function searchReply(hub: Hub, session: Session, args: string): SearchReply {
  let query: SearchQuery;
  try {
    query = parseSearch(args);
  } catch (error) {
    throw new ProtocolError("bad_args", (error as Error).message, { cause: error });
  }
  const rooms = query.room === undefined
    ? [...session.rooms].flatMap((name) => hub.findRoom(name) ?? [])
    : [hub.roomOf(session, query.room)];
  const { hits, sealed, partial } = searchRooms(rooms, query);
  const zone = session.prefs.get("tz");
  const notes = [
    ...(sealed.length === 0 ? [] : [
      `Not searched here: ${sealed.map((room) => `#${room}`).join(" ")} ` +
      `(sealed: the node cannot read it; the terminal client searches what it opened)`,
    ]),
    ...(partial.length === 0 ? [] : [
      `Searched only the newest part of ${partial.map((room) => `#${room}`).join(" ")}: ` +
      `name one room (#room) to search further back`,
    ]),
  ];
  const bound = hits.length === MAX_SEARCH_RESULTS ? `, the newest ${MAX_SEARCH_RESULTS}` : "";
  return {
    header: `${countOf(hits.length, "match", "matches")} for ${describeSearch(query)}${bound} ` +
      `(newest first, times ${zone ?? "UTC"}):`,
    lines: hits.map((hit) => formatHit(hit, zone)),
    hits,
    notes,
  };
}
