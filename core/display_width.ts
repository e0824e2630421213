// Copyright the meshchat authors. MIT license.
/**
 * How much room text takes on a terminal: grapheme clusters, their width in
 * columns (wide CJK and emoji 2, combining marks 0), and where an escape
 * sequence ends. Used to lay out the input line and to fit lines on screen.
 *
 * @module
 */

const ESC = "\x1b";

/**
 * How many terminal columns text takes: wide characters (CJK, fullwidth
 * forms, emoji) count 2; combining marks, zero-width characters and controls
 * count 0; escape sequences (SGR colours and any other) are ignored. An
 * approximation of East Asian Width that matches common terminals for
 * common text, per grapheme cluster.
 *
 * @example
 * ```ts
 * import { displayWidth } from "./display_width.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(displayWidth("\x1b[1mhi\x1b[0m"), 2);
 * assert.equal(displayWidth("日本"), 4);
 * assert.equal(displayWidth("e\u0301👍"), 3);
 * ```
 *
 * @param text Text, possibly with escape sequences.
 * @returns Its width in columns.
 */
export function displayWidth(text: string): number {
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  let width = 0;
  let start = 0;
  for (let i = text.indexOf(ESC); i >= 0; i = text.indexOf(ESC, start)) {
    width += runWidth(text.slice(start, i));
    start = escapeEnd(text, i);
  }
  return width + runWidth(text.slice(start));
}

function runWidth(run: string): number {
  let width = 0;
  for (const unit of graphemes(run)) width += graphemeWidth(unit);
  return width;
}

/**
 * Returns the index just past the escape sequence starting with the ESC at
 * `i`: CSI up to its final byte, OSC up to BEL or ST, DCS/SOS/PM/APC up to
 * ST, or ESC with intermediates and a final byte. Malformed sequences end
 * before the offending character.
 */
export function escapeEnd(text: string, i: number): number {
  const next = text[i + 1];
  if (next === "[") {
    let j = i + 2;
    while (isInRange(text.charCodeAt(j), 0x20, 0x3f)) j++;
    return isInRange(text.charCodeAt(j), 0x40, 0x7e) ? j + 1 : j;
  }
  if (next === "]" || next === "P" || next === "X" || next === "^" || next === "_") {
    for (let j = i + 2; j < text.length; j++) {
      if (next === "]" && text[j] === "\x07") return j + 1;
      if (text[j] === ESC) return text[j + 1] === "\\" ? j + 2 : j;
    }
    return text.length;
  }
  let j = i + 1;
  while (isInRange(text.charCodeAt(j), 0x20, 0x2f)) j++;
  return isInRange(text.charCodeAt(j), 0x30, 0x7e) ? j + 1 : j;
}

function isInRange(code: number, low: number, high: number): boolean {
  return code >= low && code <= high;
}

const segmenter = typeof Intl === "object" && typeof Intl.Segmenter === "function"
  ? new Intl.Segmenter(undefined, { granularity: "grapheme" })
  : undefined;

/**
 * Splits text into grapheme clusters (code points without Intl.Segmenter).
 *
 * @param text Any text.
 * @returns Its user-perceived characters, in order.
 */
export function graphemes(text: string): string[] {
  if (segmenter === undefined) return Array.from(text);
  const units: string[] = [];
  for (const { segment } of segmenter.segment(text)) units.push(segment);
  return units;
}

/**
 * Code point ranges (sorted) taking 2 columns: East Asian Wide and Fullwidth,
 * simplified. Emoji are matched by `Emoji_Presentation` instead.
 */
const WIDE_RANGES: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], // Hangul Jamo initial consonants
  [0x2329, 0x232a], // angle brackets
  [0x2e80, 0x303e], // CJK radicals, symbols and punctuation
  [0x3041, 0x33ff], // kana, bopomofo, CJK compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo extended A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small forms
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x16fe0, 0x16fe4], // ideographic symbols
  [0x17000, 0x18cff], // Tangut
  [0x1b000, 0x1b2ff], // kana supplement, Nushu
  [0x20000, 0x3fffd], // CJK extensions B and beyond
];

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]$/u;
const EMOJI_PRESENTATION = /^\p{Emoji_Presentation}$/u;

function codePointWidth(code: number): number {
  if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return 0;
  if (code < 0x300) return 1;
  if (code >= 0x1160 && code <= 0x11ff) return 0; // Hangul medial and final Jamo
  const char = String.fromCodePoint(code);
  if (ZERO_WIDTH.test(char)) return 0;
  for (const [low, high] of WIDE_RANGES) {
    if (code < low) break;
    if (code <= high) return 2;
  }
  return EMOJI_PRESENTATION.test(char) ? 2 : 1;
}

/**
 * Width of a grapheme cluster: that of its first visible code point, 2 with
 * the emoji presentation selector (U+FE0F), 1 with the text one (U+FE0E).
 */
export function graphemeWidth(unit: string): number {
  const first = unit.charCodeAt(0);
  if (unit.length === 1 && first >= 0x20 && first < 0x7f) return 1;
  let width = 0;
  for (const char of unit) {
    width = codePointWidth(char.codePointAt(0) ?? 0);
    if (width > 0) break;
  }
  if (width === 1 && unit.includes("\ufe0f")) return 2;
  if (width === 2 && unit.includes("\ufe0e")) return 1;
  return width;
}
