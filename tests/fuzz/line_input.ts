/**
 * Fuzz properties of the SSH frontend's input path: `KeyDecoder` (terminal
 * bytes to keys) feeding `LineEditor` (keys to a line and ANSI output).
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Key, KeyDecoder, MAX_PASTE_BYTES } from "../../core/terminal_input.ts";
import { LineEditor } from "../../core/line_editor.ts";
import { assertParameters, type FuzzProperty, nastyString } from "./arbitraries.ts";

/** Pieces of terminal input: keys, escape sequences (whole or cut), pastes, controls. */
const terminalPiece: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "\r",
    "\n",
    "\r\n",
    "\x7f",
    "\b",
    "\t",
    "\x01",
    "\x03",
    "\x04",
    "\x05",
    "\x0b",
    "\x0c",
    "\x15",
    "\x17",
    "\x1b",
    "\x1b[A",
    "\x1b[B",
    "\x1b[C",
    "\x1b[D",
    "\x1b[H",
    "\x1b[F",
    "\x1b[1;5C",
    "\x1b[3~",
    "\x1b[5~",
    "\x1bOA",
    "\x1b[200~",
    "\x1b[201~",
    "\x1b[20",
    "\x1b]0;owned\x07",
    "\x1b]8;;http://x\x1b\\",
    "\x1bP1$r\x1b\\",
    "\x1b[999999999999999999999m",
    "\x1b[" + "1;".repeat(40),
    "\x9b31m",
    "\x9d0;x\x9c",
    "\x85",
    "\u2028",
    "\ud83d",
    "\ude00",
    "👩‍👩‍👧‍👦",
    "e\u0301",
    "\u200b",
    "\ufeff",
    "\u202e",
  ),
  nastyString,
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ unit: "grapheme-ascii", maxLength: 20 }),
);

const terminalInput = fc.array(terminalPiece, { maxLength: 24 }).map((p) => p.join(""));

/** Controls that must never reach the terminal from input text. */
const FORBIDDEN = /[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]/;
/** The editor's own sequences: CSI cursor moves, erase, SGR. */
const OWN_SEQUENCES = /\x1b\[[0-9;]*[ABCDJKm]/g;

function checkOutput(out: string): void {
  const rest = out.replace(OWN_SEQUENCES, "");
  const bad = FORBIDDEN.exec(rest);
  assert.equal(bad, null, `render() wrote control U+${bad?.[0].charCodeAt(0).toString(16)}`);
}

/**
 * Feeds input in chunks through a key decoder and a line editor, checking
 * bounds and output after every key.
 *
 * @param input The terminal input.
 * @param cuts Chunk boundaries (any positions, even inside a sequence).
 * @param maxLength The editor's line limit.
 * @param columns Terminal widths to switch between.
 */
export function typeInto(
  input: string,
  cuts: readonly number[],
  maxLength: number,
  columns: readonly number[],
): void {
  const decoder = new KeyDecoder();
  const editor = new LineEditor({
    maxLength,
    historySize: 3,
    columns: columns[0] ?? 80,
    complete: (word) => ["/join", "/nick", "ada", "Ådå", "👍"].filter((c) => c.startsWith(word)),
  });
  const points = cuts.map((c) => c % (input.length + 1)).sort((a, b) => a - b);
  const chunks: string[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(input.slice(start, p));
    start = p;
  }
  chunks.push(input.slice(start));
  let decodedText = 0;
  let turn = 0;
  const apply = (keys: Key[]) => {
    for (const key of keys) {
      if (key.type === "char") decodedText += key.text.length;
      if (key.type === "paste") {
        assert.ok(new TextEncoder().encode(key.text).length <= MAX_PASTE_BYTES);
      }
      for (const action of editor.handle(key)) {
        if (action.type === "submit") {
          assert.ok(action.line.length <= maxLength, `submitted ${action.line.length} units`);
          assert.equal(FORBIDDEN.exec(action.line), null, "submitted line holds a control");
        }
        if (action.type === "candidates") checkOutput(action.items.join(" "));
      }
      assert.ok(editor.cursor >= 0 && editor.cursor <= editor.line.length, `${editor.cursor}`);
      assert.ok(editor.line.length <= maxLength);
      assert.equal(FORBIDDEN.exec(editor.line), null, "line holds a control");
      checkOutput(editor.render());
      if (columns.length > 1 && turn++ % 3 === 0) {
        editor.setWidth(columns[turn % columns.length]!);
        checkOutput(editor.render());
      }
    }
  };
  for (const piece of chunks) apply(decoder.feed(piece));
  apply(decoder.flush());
  assert.ok(decodedText <= input.length);
  checkOutput(editor.printAbove("plain"));
  checkOutput(editor.clear());
}

/** The line-input properties. */
export const lineInputProperties: FuzzProperty[] = [
  {
    name: "ssh input: KeyDecoder + LineEditor never throw, stay in bounds, echo no controls",
    weight: 0.5,
    run(options) {
      fc.assert(
        fc.property(
          terminalInput,
          fc.array(fc.nat(), { maxLength: 10 }),
          fc.oneof(fc.integer({ min: 1, max: 12 }), fc.constant(4000)),
          fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 3 }),
          typeInto,
        ),
        assertParameters(options),
      );
      return Promise.resolve();
    },
  },
];
