// Copyright the meshchat authors. MIT license.
/**
 * Strips what must never reach another person's terminal: control
 * characters, escape sequences, and invisible characters that can disguise
 * text.
 *
 * @module
 */

const ESC = 0x1b;
const BEL = 0x07;
const TAB = 0x09;
const DEL = 0x7f;
/** 8-bit forms of ESC [ (CSI), ESC ] (OSC), ESC P (DCS) and ESC \ (ST). */
const C1_CSI = 0x9b;
const C1_OSC = 0x9d;
const C1_DCS = 0x90;
const C1_SOS = 0x98;
const C1_PM = 0x9e;
const C1_APC = 0x9f;
const C1_ST = 0x9c;

/**
 * Characters (UTF-16 code units) that never survive: C0 controls but TAB,
 * DEL, C1 controls, bidi controls, zero-width characters, and surrogates
 * (valid pairs are checked again and kept).
 */
const SUSPECT =
  // deno-lint-ignore no-control-regex -- control characters are what this matches
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff\ud800-\udfff]/;

/**
 * Makes text safe to show to another person in a terminal.
 *
 * Removed:
 *
 * - C0 controls except TAB (so CR, LF, BEL, BS, ESC...), DEL, and C1
 *   controls (U+0080 to U+009F);
 * - whole escape sequences, with their parameters: CSI (`ESC [` or U+009B,
 *   up to the final byte), OSC (`ESC ]` or U+009D, up to BEL or ST), DCS, SOS,
 *   PM and APC (`ESC P`, `ESC X`, `ESC ^`, `ESC _` or U+0090, U+0098, U+009E,
 *   U+009F, up to ST), and other `ESC` sequences (`ESC c`, `ESC ( B`...). A
 *   string sequence (OSC, DCS...) without its terminator runs to the end of
 *   the text, as it would in a terminal;
 * - bidi controls (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to
 *   U+2069), which can make text read differently from what it is;
 * - zero-width characters (U+200B, U+200C, U+200D, U+2060, U+FEFF). This
 *   includes the zero-width joiner, so an emoji ZWJ sequence such as 👩‍💻
 *   falls apart into its parts (👩💻): still readable, never misleading;
 * - lone surrogates.
 *
 * Everything else, including TAB, emoji, combining marks and all scripts, is
 * kept as it is. The result is idempotent: sanitizing it again changes
 * nothing. Text with nothing to remove is returned as is, without copying.
 *
 * @example Neutralising an escape sequence
 * ```ts
 * import { sanitizeText } from "./text_sanitizer.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(sanitizeText("hi\x1b[2J\x1b]0;pwned\x07 there\r\n"), "hi there");
 * ```
 *
 * @param text The text to clean.
 * @returns The text without the characters and sequences above.
 */
export function sanitizeText(text: string): string {
  if (!SUSPECT.test(text)) return text;
  const n = text.length;
  let out = "";
  let copyFrom = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isHighSurrogate(c) && isLowSurrogate(text.charCodeAt(i + 1))) {
      i += 2;
      continue;
    }
    if (!isRemoved(c)) {
      i++;
      continue;
    }
    out += text.slice(copyFrom, i);
    i = skipRemoved(text, i);
    copyFrom = i;
  }
  return out + text.slice(copyFrom);
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Whether a code unit (not part of a valid surrogate pair) is removed. */
function isRemoved(c: number): boolean {
  if (c < 0x20) return c !== TAB;
  if (c < DEL) return false;
  if (c <= 0x9f) return true;
  return c === 0x061c ||
    (c >= 0x200b && c <= 0x200f) ||
    (c >= 0x202a && c <= 0x202e) ||
    c === 0x2060 ||
    (c >= 0x2066 && c <= 0x2069) ||
    c === 0xfeff ||
    (c >= 0xd800 && c <= 0xdfff);
}

/**
 * Returns the index just after what to remove, starting at the removed code
 * unit at `i`: a whole escape sequence, or that unit alone.
 */
function skipRemoved(text: string, i: number): number {
  switch (text.charCodeAt(i)) {
    case ESC:
      return skipEscape(text, i + 1);
    case C1_CSI:
      return skipControlSequence(text, i + 1);
    case C1_OSC:
      return skipControlString(text, i + 1, true);
    case C1_DCS:
    case C1_SOS:
    case C1_PM:
    case C1_APC:
      return skipControlString(text, i + 1, false);
    default:
      return i + 1;
  }
}

/** Skips what follows an ESC at `j - 1`; returns the index after it. */
function skipEscape(text: string, j: number): number {
  const c = text.charCodeAt(j);
  switch (c) {
    case 0x5b: // [
      return skipControlSequence(text, j + 1);
    case 0x5d: // ]
      return skipControlString(text, j + 1, true);
    case 0x50: // P
    case 0x58: // X
    case 0x5e: // ^
    case 0x5f: // _
      return skipControlString(text, j + 1, false);
  }
  // ESC, intermediate bytes (0x20-0x2F), final byte (0x30-0x7E)
  let k = j;
  while (inRange(text.charCodeAt(k), 0x20, 0x2f)) k++;
  return inRange(text.charCodeAt(k), 0x30, 0x7e) ? k + 1 : k;
}

/**
 * Skips the body of a CSI sequence: parameter bytes (0x30-0x3F),
 * intermediate bytes (0x20-0x2F), and the final byte (0x40-0x7E). Stops
 * before anything else, which is then handled on its own.
 */
function skipControlSequence(text: string, j: number): number {
  let k = j;
  while (inRange(text.charCodeAt(k), 0x30, 0x3f)) k++;
  while (inRange(text.charCodeAt(k), 0x20, 0x2f)) k++;
  return inRange(text.charCodeAt(k), 0x40, 0x7e) ? k + 1 : k;
}

/**
 * Skips the body of a control string up to and including its terminator:
 * ST (`ESC \` or U+009C) or, for OSC, BEL. Another ESC ends the string and is
 * left to start a new sequence. Without a terminator, runs to the end.
 */
function skipControlString(text: string, j: number, bel: boolean): number {
  const n = text.length;
  for (let k = j; k < n; k++) {
    const c = text.charCodeAt(k);
    if (c === C1_ST || (bel && c === BEL)) return k + 1;
    if (c === ESC) return text.charCodeAt(k + 1) === 0x5c ? k + 2 : k;
  }
  return n;
}

function inRange(c: number, low: number, high: number): boolean {
  return c >= low && c <= high;
}

/**
 * Quotes user input for a message (an error, a log line): sanitized with
 * {@linkcode sanitizeText}, cut to `maxChars` code points (marked with `…`),
 * and JSON-quoted, so the quoted text is visibly delimited and safe to show.
 *
 * @example
 * ```ts
 * import { quoteText } from "./text_sanitizer.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(quoteText('x "y"\x1b[2J'), '"x \\"y\\""');
 * assert.equal(quoteText("abcdef", 3), '"abc…"');
 * ```
 *
 * @param text The user input.
 * @param maxChars The most code points kept.
 * @returns The quoted text.
 * @throws {RangeError} If `maxChars` is not a non-negative integer.
 */
export function quoteText(text: string, maxChars = 40): string {
  if (!Number.isInteger(maxChars) || maxChars < 0) {
    throw new RangeError(
      `Cannot quote text: maxChars ${maxChars} is not a non-negative integer`,
    );
  }
  const clean = sanitizeText(text);
  if (clean.length <= maxChars) return JSON.stringify(clean);
  const chars = Array.from(clean);
  return JSON.stringify(
    chars.length > maxChars ? `${chars.slice(0, maxChars).join("")}…` : clean,
  );
}
