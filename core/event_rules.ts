/**
 * The shape rules every event obeys, whoever made it: the checks a node runs
 * on a person's input (room names, nicks, lengths, the text sanitiser,
 * sealed envelopes), restated on the finished event so that a node can run
 * them again on events a peer sends. A peer is authenticated, not trusted
 * with everything: an event that a correct node could not have made is
 * refused, whichever node relays it.
 *
 * Only rules that depend on the event alone live here. Rules that depend on
 * state (this node's own origin, the clock, who is an operator, whether the
 * room is sealed) are the hub's.
 *
 * @example
 * ```ts
 * import { checkEventRules } from "./event_rules.ts";
 * import assert from "node:assert/strict";
 *
 * const event = {
 *   origin: "n2", seq: 1, hlc: { wall: 1, counter: 0, node: "n2" },
 *   room: "lobby", kind: "message" as const, from: "bob", text: "hi \x1b[2J",
 * };
 * assert.throws(() => checkEventRules(event), /not sanitised/);
 * ```
 *
 * @module
 */
import type { ChatEvent } from "./event.ts";
import { NICK_PATTERN, ROOM_PATTERN } from "./names.ts";
import { MAX_SEALED_LENGTH, MAX_TEXT_LENGTH } from "./protocol.ts";
import { sanitizeText } from "./text_sanitizer.ts";
import { readEnvelopeHeader } from "./crypto/envelope.ts";
import { validateSealParams } from "./crypto/room_params.ts";
import { parseSeenMark } from "./seen_mark.ts";

/** Longest topic, in UTF-16 code units (what `/topic` keeps). */
export const MAX_TOPIC_LENGTH = 300;
/** Longest away message or leave / quit reason, in UTF-16 code units. */
export const MAX_REASON_LENGTH = 200;
/**
 * Longest body of a `mod` event (its JSON), in UTF-16 code units: room for
 * a 500-character motd whose every character JSON escapes, and the issuer.
 */
export const MAX_MOD_LENGTH = 2048;

/** An SSH key's fingerprint as OpenSSH prints it: `SHA256:` and 43 base64 characters. */
export const KEY_FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * Cuts text to at most `max` UTF-16 code units without splitting a
 * surrogate pair, so that sanitising the result changes nothing more.
 *
 * @param text The text.
 * @param max Most code units kept.
 * @returns A prefix of `text`.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/**
 * Text another person will see, as a node makes it from what someone typed:
 * clipped, sanitised and trimmed. Events built from this pass
 * {@linkcode checkEventRules}.
 *
 * @param text What was typed.
 * @param max Most code units kept.
 * @returns The clean text (possibly empty).
 */
export function cleanVisibleText(text: string, max: number): string {
  return sanitizeText(clipText(text.trim(), max)).trim();
}

function refuse(event: ChatEvent, why: string): never {
  throw new RangeError(
    `Invalid ${event.kind} event ${event.origin}:${event.seq}: ${why}`,
  );
}

function checkVisible(event: ChatEvent, text: string, max: number, what = "text"): void {
  if (text.length > max) refuse(event, `${what} is ${text.length} long, more than ${max}`);
  if (sanitizeText(text) !== text) refuse(event, `${what} is not sanitised`);
}

/**
 * Checks that an event obeys the rules a node applies to local input:
 *
 * - `hlc.node` is the event's `origin`;
 * - `from` is a valid nick; `to` (private messages only) too;
 * - room events name a normalised room; private, `mod`, `claim`, `bot` and
 *   `link` events room `""`;
 * - visible text is sanitised and within the length of its kind; a join
 *   carries no text, a nick event a valid nick, a seal valid parameters, a
 *   nick claim a key fingerprint ({@linkcode KEY_FINGERPRINT_PATTERN}), a
 *   `seen` mark a position (core/seen_mark.ts; room `""` for the private one);
 * - a sealed body only on a message or action, with empty `text`, no longer
 *   than the protocol allows, whose public header names the event's room and
 *   sender.
 *
 * It does not check state (operators, seals in force, the clock).
 *
 * @param event An event, typically from a peer, already parsed by `parseEvent`.
 * @throws {RangeError} Naming the event and the rule it breaks.
 */
export function checkEventRules(event: ChatEvent): void {
  if (event.hlc.node !== event.origin) {
    refuse(event, `its stamp names node ${event.hlc.node}, not its origin`);
  }
  if (!NICK_PATTERN.test(event.from)) refuse(event, "from is not a valid nick");
  const roomless = event.kind === "private" || event.kind === "mod" || event.kind === "claim" ||
    event.kind === "bot" || event.kind === "link";
  // A seen mark names a room, or "" for its person's private messages.
  const privateMark = event.kind === "seen" && event.room === "";
  if (!privateMark && (roomless ? event.room !== "" : !ROOM_PATTERN.test(event.room))) {
    refuse(event, roomless ? "room must be empty" : "room is not a normalised room name");
  }
  if (event.kind === "private") {
    if (event.to === undefined || !NICK_PATTERN.test(event.to)) {
      refuse(event, "to is not a valid nick");
    }
  } else if (event.to !== undefined) {
    refuse(event, "only private messages have a recipient");
  }
  if (event.sealed !== undefined) {
    checkSealed(event, event.sealed);
    return;
  }
  switch (event.kind) {
    case "message":
    case "action":
    case "private":
      if (event.text.trim() === "") refuse(event, "text is empty");
      checkVisible(event, event.text, MAX_TEXT_LENGTH);
      return;
    case "join":
      if (event.text !== "") refuse(event, "a join carries no text");
      return;
    case "leave":
    case "away":
      checkVisible(event, event.text, MAX_REASON_LENGTH);
      return;
    case "topic":
      checkVisible(event, event.text, MAX_TOPIC_LENGTH);
      return;
    case "nick":
      if (!NICK_PATTERN.test(event.text)) refuse(event, "the new nick is not valid");
      return;
    case "seal":
      try {
        validateSealParams(JSON.parse(event.text));
      } catch (error) {
        refuse(event, `bad seal parameters: ${(error as Error).message}`);
      }
      return;
    case "mod":
      if (event.text.length > MAX_MOD_LENGTH) refuse(event, "the action is too long");
      return;
    case "claim":
      if (!KEY_FINGERPRINT_PATTERN.test(event.text)) {
        refuse(event, "the key is not SHA256: and 43 base64 characters");
      }
      return;
    case "bot":
      if (event.text !== "on" && event.text !== "off") refuse(event, "a bot mark is on or off");
      return;
    case "link":
      if (!/^[+-]/.test(event.text) || !KEY_FINGERPRINT_PATTERN.test(event.text.slice(1))) {
        refuse(event, "a link is + or - and a SHA256: key fingerprint");
      }
      return;
    case "seen":
      try {
        parseSeenMark(event.text);
      } catch {
        refuse(event, "the text is not a position wall:counter:origin:seq");
      }
      return;
  }
}

function checkSealed(event: ChatEvent, sealed: string): void {
  if (event.kind !== "message" && event.kind !== "action") {
    refuse(event, "only messages and actions may be sealed");
  }
  if (event.text !== "") refuse(event, "a sealed event has empty text");
  if (sealed.length > MAX_SEALED_LENGTH) {
    refuse(event, `sealed body is ${sealed.length} long, more than ${MAX_SEALED_LENGTH}`);
  }
  let header;
  try {
    header = readEnvelopeHeader(sealed);
  } catch (error) {
    refuse(event, `unreadable envelope: ${(error as Error).message}`);
  }
  if (header.room !== event.room || header.sender !== event.from) {
    refuse(event, "its envelope was sealed for another room or sender");
  }
}
