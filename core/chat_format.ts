/**
 * How chat events look in a terminal: one line per event, a colour per nick,
 * optional timestamps. Shared by the terminal client and the SSH frontend so
 * both render the same way. Everything from the wire is sanitised again here:
 * a terminal never trusts the node either.
 *
 * @module
 */
import type { MsgFrame } from "./protocol.ts";
import { sanitizeText } from "./text_sanitizer.ts";

/** Options of {@linkcode formatMsg}. */
export interface FormatOptions {
  /** Emit ANSI colours. @default true */
  color?: boolean;
  /** Prefix `HH:MM`. @default true */
  timestamps?: boolean;
  /** The room the reader is looking at; others get a `#room` tag. @default "" */
  currentRoom?: string;
  /** Text to show instead of `frame.text` (an opened sealed message). */
  text?: string;
  /** IANA time zone of the timestamps (already validated). @default the runtime's local zone */
  timeZone?: string;
}

/** Readable 256-colour palette entries (no dark blues on black, no greys). */
const PALETTE = [
  31,
  32,
  33,
  35,
  36,
  39,
  41,
  42,
  43,
  45,
  48,
  49,
  69,
  75,
  78,
  81,
  99,
  105,
  111,
  114,
  117,
  135,
  141,
  147,
  156,
  159,
  166,
  169,
  172,
  175,
  178,
  182,
  185,
  191,
  198,
  202,
  204,
  208,
  211,
  214,
  220,
];

/**
 * The colour of a nick: stable across sessions and nodes (a hash of its
 * lowercase form), from a palette readable on dark and light backgrounds.
 *
 * @param nick The nick.
 * @returns A 256-colour index.
 */
export function nickColor(nick: string): number {
  let hash = 2166136261;
  for (const char of nick.toLowerCase()) {
    hash = Math.imul(hash ^ char.codePointAt(0)!, 16777619);
  }
  return PALETTE[(hash >>> 0) % PALETTE.length]!;
}

/**
 * A nick, coloured when colours are on.
 *
 * @param nick The nick.
 * @param color Whether to colour.
 * @returns The nick, possibly wrapped in SGR codes.
 */
export function paintNick(nick: string, color: boolean): string {
  const clean = sanitizeText(nick);
  return color ? `\x1b[38;5;${nickColor(clean)}m${clean}\x1b[39m` : clean;
}

function dim(text: string, color: boolean): string {
  return color ? `\x1b[2m${text}\x1b[22m` : text;
}

/** Clock formatters per time zone; few zones are in use at once, so a small bound. */
const clocks = new Map<string, Intl.DateTimeFormat>();
const MAX_CLOCKS = 64;

function clockOf(timeZone: string): Intl.DateTimeFormat {
  let clock = clocks.get(timeZone);
  if (clock === undefined) {
    clock = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    if (clocks.size >= MAX_CLOCKS) clocks.delete(clocks.keys().next().value!);
    clocks.set(timeZone, clock);
  }
  return clock;
}

/**
 * `HH:MM` in local time, or in a given time zone.
 *
 * @param time Milliseconds since the epoch.
 * @param timeZone IANA time zone name (validated by the caller). @default the runtime's local zone
 * @returns The clock time.
 * @throws {RangeError} When `timeZone` is not a time zone.
 */
export function clockTime(time: number, timeZone?: string): string {
  if (timeZone !== undefined) {
    let hour = "00";
    let minute = "00";
    for (const part of clockOf(timeZone).formatToParts(time)) {
      if (part.type === "hour") hour = part.value;
      else if (part.type === "minute") minute = part.value;
    }
    return `${hour}:${minute}`;
  }
  const date = new Date(time);
  return `${String(date.getHours()).padStart(2, "0")}:${
    String(date.getMinutes()).padStart(2, "0")
  }`;
}

/**
 * A count and its noun, singular for one: `1 room`, `2 rooms`, `0 rooms`.
 *
 * @example
 * ```ts
 * import { countOf } from "./chat_format.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(countOf(1, "node"), "1 node");
 * assert.equal(countOf(3, "person", "people"), "3 people");
 * ```
 *
 * @param count How many.
 * @param noun The noun for one.
 * @param plural The noun for any other count. @default `${noun}s`
 * @returns The count and the noun.
 */
export function countOf(count: number, noun: string, plural = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : plural}`;
}

/**
 * One event as one display line (no newline).
 *
 * @param frame The event as received.
 * @param options Colours, timestamps, current room, replacement text.
 * @returns The line.
 */
export function formatMsg(frame: MsgFrame, options: FormatOptions = {}): string {
  const { color = true, timestamps = true, currentRoom = "" } = options;
  const from = paintNick(frame.from, color);
  const room = sanitizeText(frame.room);
  const text = sanitizeText(
    options.text ??
      (frame.sealed === undefined ? frame.text : `[sealed message from ${frame.from}]`),
  );
  const stamp = timestamps ? `${dim(clockTime(frame.time, options.timeZone), color)} ` : "";
  const tag = room !== "" && room !== currentRoom ? `${dim(`#${room}`, color)} ` : "";
  let body: string;
  switch (frame.kind) {
    case "message":
      body = `<${from}> ${text}`;
      break;
    case "action":
      body = `* ${from} ${text}`;
      break;
    case "private":
      body = `[${from} → ${paintNick(frame.to ?? "", color)}] ${text}`;
      break;
    case "join":
      body = dim(`→ `, color) + `${from} joined #${room}`;
      break;
    case "leave":
      // "left" is the reason a plain /leave gives: saying it twice adds nothing.
      body = dim(`← `, color) +
        `${from} left #${room}${text && text !== "left" ? ` (${text})` : ""}`;
      break;
    case "nick":
      body = `${from} is now ${paintNick(text, color)}`;
      break;
    case "topic":
      body = text ? `${from} set the topic: ${text}` : `${from} cleared the topic`;
      break;
    case "away":
      body = text ? `${from} is away: ${text}` : `${from} is back`;
      break;
    case "seal":
      body = `${from} sealed #${room}: messages here are end-to-end encrypted`;
      break;
    default:
      body = `${from}: ${text}`;
  }
  return `${stamp}${tag}${body}`;
}

/**
 * Whether a message mentions a nick (as a whole word, any case).
 *
 * @param frame The event (a frame, or the event it was made from).
 * @param nick The reader's nick.
 * @returns `true` for a mention by someone else.
 */
export function mentions(frame: Pick<MsgFrame, "from" | "kind" | "text">, nick: string): boolean {
  if (frame.from.toLowerCase() === nick.toLowerCase()) return false;
  if (frame.kind !== "message" && frame.kind !== "action") return frame.kind === "private";
  return mentionPattern(nick).test(frame.text);
}

/** Mention patterns per nick: every reader's is tested on every message fanned out to it. */
const mentionPatterns = new Map<string, RegExp>();
const MAX_MENTION_PATTERNS = 1024;

function mentionPattern(nick: string): RegExp {
  let pattern = mentionPatterns.get(nick);
  if (pattern === undefined) {
    const escaped = nick.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
    pattern = new RegExp(`(^|[^A-Za-z0-9._-])${escaped}($|[^A-Za-z0-9_-])`, "i");
    if (mentionPatterns.size >= MAX_MENTION_PATTERNS) {
      mentionPatterns.delete(mentionPatterns.keys().next().value!);
    }
    mentionPatterns.set(nick, pattern);
  }
  return pattern;
}
