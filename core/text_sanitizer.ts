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

/** Most combining marks kept in a row after one base character. */
export const MAX_COMBINING_MARKS = 4;

/**
 * Whether text may need work: a code point that never survives (see
 * {@linkcode isRemoved}), a joiner (kept only inside emoji and scripts that
 * need it), or a run of combining marks longer than the cap. In `u` mode a
 * surrogate range matches lone surrogates only.
 */
const SUSPECT = new RegExp(
  "[\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f\\u00ad\\u034f\\u061c\\u115f\\u1160\\u180e" +
    "\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\u3164\\ufeff\\uffa0" +
    "\\ufff0-\\ufffb\\ud800-\\udfff\\u{1bca0}-\\u{1bca3}\\u{1d173}-\\u{1d17a}" +
    "\\u{e0000}-\\u{e00ff}\\u{e01f0}-\\u{e0fff}]" +
    `|\\p{M}{${MAX_COMBINING_MARKS + 1}}`,
  "u",
);

const ZWNJ = 0x200c;
const ZWJ = 0x200d;
const VS16 = 0xfe0f;
const MARK = /^\p{M}$/u;
const LETTER = /^\p{L}$/u;
const PICTOGRAPHIC = /^\p{Extended_Pictographic}$/u;
/** Scripts whose spelling needs ZWJ / ZWNJ (Persian, Indic half forms...). */
const JOINING_SCRIPT =
  /^[\p{sc=Arabic}\p{sc=Syriac}\p{sc=Devanagari}\p{sc=Bengali}\p{sc=Gurmukhi}\p{sc=Gujarati}\p{sc=Oriya}\p{sc=Tamil}\p{sc=Telugu}\p{sc=Kannada}\p{sc=Malayalam}\p{sc=Sinhala}\p{sc=Myanmar}\p{sc=Khmer}\p{sc=Mongolian}]$/u;

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
 * - line and paragraph separators (U+2028, U+2029), which some terminals
 *   and viewers break lines at;
 * - invisible characters that can hide or disguise text: zero-width space
 *   (U+200B), word joiner and invisible operators (U+2060 to U+2064), BOM
 *   (U+FEFF), soft hyphen (U+00AD), combining grapheme joiner (U+034F),
 *   Mongolian vowel separator (U+180E), Hangul fillers (U+115F, U+3164,
 *   U+FFA0), interlinear annotation (U+FFF9 to U+FFFB) and tag characters
 *   (U+E0000 to U+E007F);
 * - the zero-width joiner and non-joiner (U+200D, U+200C), except between
 *   two emoji (so 👩‍💻 stays one picture) or two letters of a script whose
 *   spelling uses them (Arabic, Indic...); in Latin text they only hide
 *   things (`ad\u200Dmin`);
 * - combining marks past {@linkcode MAX_COMBINING_MARKS} in a row ("zalgo"
 *   text that spills over the lines around it); real scripts (Vietnamese,
 *   Hindi, Hebrew points) stay within the cap;
 * - lone surrogates.
 *
 * Everything else, including TAB, emoji, combining marks within the cap and
 * all scripts, is kept as it is. The result is idempotent: sanitizing it again changes
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
  /** The last code point kept (-1: none yet) and the marks kept right after it. */
  let kept = -1;
  let marks = 0;
  while (i < n) {
    const c = text.codePointAt(i)!;
    const size = c > 0xffff ? 2 : 1;
    let drop = false;
    if (isRemoved(c)) {
      out += text.slice(copyFrom, i);
      i = skipRemoved(text, i);
      copyFrom = i;
      continue;
    }
    if (c === ZWJ || c === ZWNJ) {
      drop = !joins(kept, text.codePointAt(i + 1));
    } else if (c >= 0x300 && MARK.test(String.fromCodePoint(c))) {
      // Counted on what is kept, so removing something between two runs
      // cannot make a longer run appear on a second pass.
      drop = ++marks > MAX_COMBINING_MARKS;
    } else {
      marks = 0;
    }
    if (drop) {
      out += text.slice(copyFrom, i);
      copyFrom = i + size;
    } else {
      kept = c;
    }
    i += size;
  }
  return out + text.slice(copyFrom);
}

/**
 * Whether a ZWJ / ZWNJ between `before` (the last code point kept) and
 * `after` (the next one, never removed when this holds) joins something.
 */
function joins(before: number, after: number | undefined): boolean {
  if (before < 0 || after === undefined) return false;
  const next = String.fromCodePoint(after);
  if (PICTOGRAPHIC.test(next)) {
    return before === VS16 || (before >= 0x1f3fb && before <= 0x1f3ff) ||
      PICTOGRAPHIC.test(String.fromCodePoint(before));
  }
  // A letter after, never a mark: marks past the cap are dropped, letters never.
  const last = String.fromCodePoint(before);
  return LETTER.test(next) && JOINING_SCRIPT.test(next) &&
    (LETTER.test(last) || MARK.test(last)) && JOINING_SCRIPT.test(last);
}

/**
 * Whether a code point (a lone surrogate counts as one) never survives,
 * whatever surrounds it.
 */
function isRemoved(c: number): boolean {
  if (c < 0x20) return c !== TAB;
  if (c < DEL) return false;
  if (c <= 0x9f) return true;
  if (c < 0x2000) {
    return c === 0x00ad || c === 0x034f || c === 0x061c || c === 0x115f || c === 0x1160 ||
      c === 0x180e;
  }
  if (c <= 0x206f) {
    return c === 0x200b || c === 0x200e || c === 0x200f ||
      (c >= 0x2028 && c <= 0x202e) || c >= 0x2060;
  }
  // Also the other invisible (default-ignorable) code points that are no
  // combining mark: shorthand and musical format controls, unassigned
  // specials and tags. Variation selectors are marks, within the cap.
  return c === 0x3164 ||
    (c >= 0xd800 && c <= 0xdfff) ||
    c === 0xfeff || c === 0xffa0 ||
    (c >= 0xfff0 && c <= 0xfffb) ||
    (c >= 0x1bca0 && c <= 0x1bca3) || (c >= 0x1d173 && c <= 0x1d17a) ||
    (c >= 0xe0000 && c <= 0xe00ff) || (c >= 0xe01f0 && c <= 0xe0fff);
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
      return i + (text.codePointAt(i)! > 0xffff ? 2 : 1);
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
