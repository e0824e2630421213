// Copyright the meshchat authors. MIT license.
import assert from "node:assert/strict";
import fc from "fast-check";
import { displayWidth } from "./display_width.ts";
import { type EditorAction, LineEditor } from "./line_editor.ts";
import type { Key, KeyName } from "./terminal_input.ts";
import { graphemes, TAIL, VirtualTerminal } from "../tests/helpers/virtual_terminal.ts";

// ---------------------------------------------------------------------------

function char(text: string): Key {
  return { type: "char", text };
}

function key(name: KeyName): Key {
  return { type: "key", name };
}

function paste(text: string): Key {
  return { type: "paste", text };
}

const REDRAW: EditorAction = { type: "redraw" };
const BELL: EditorAction = { type: "bell" };

/** An editor holding `line` with the cursor at `cursor` (default: the end). */
function editorWith(
  line: string,
  cursor?: number,
  options: ConstructorParameters<typeof LineEditor>[0] = {},
) {
  const editor = new LineEditor(options);
  editor.handle(char(line));
  if (cursor !== undefined) {
    editor.handle(key("home"));
    for (let i = 0; i < cursor; i++) editor.handle(key("right"));
  }
  return editor;
}

function press(editor: LineEditor, ...keys: (Key | KeyName)[]): EditorAction[] {
  return keys.flatMap((k) => editor.handle(typeof k === "string" ? key(k) : k));
}

Deno.test("LineEditor starts with an empty line and the default prompt", () => {
  const editor = new LineEditor();
  assert.equal(editor.line, "");
  assert.equal(editor.cursor, 0);
  assert.equal(editor.prompt, "> ");
});

Deno.test("LineEditor constructor rejects a bad maxLength or historySize", () => {
  for (const maxLength of [0, -1, 1.5, NaN]) {
    assert.throws(() => new LineEditor({ maxLength }), RangeError);
  }
  for (const historySize of [-1, 0.5, NaN]) {
    assert.throws(() => new LineEditor({ historySize }), RangeError);
  }
  assert.throws(() => new LineEditor({ maxLength: 0 }), {
    name: "RangeError",
    message: "Cannot create line editor: maxLength 0 is not a positive integer",
  });
  assert.throws(() => new LineEditor({ columns: NaN }), {
    name: "RangeError",
    message: "Cannot create line editor: columns is NaN",
  });
});

Deno.test("LineEditor.handle() inserts typed text at the cursor and asks for a redraw", () => {
  const editor = new LineEditor();
  assert.deepEqual(editor.handle(char("hllo")), [REDRAW]);
  press(editor, "home", "right");
  assert.deepEqual(editor.handle(char("e")), [REDRAW]);
  assert.equal(editor.line, "hello");
  assert.equal(editor.cursor, 2);
});

Deno.test("LineEditor.handle() strips controls and escape sequences from inserted text", () => {
  const editor = new LineEditor();
  assert.deepEqual(editor.handle(char("\x1b[31ma\x07b\x00\u202ec\td\r\ne")), [REDRAW]);
  assert.equal(editor.line, "abc de");
  assert.deepEqual(editor.handle(char("\x1b[2J\x03")), []);
  assert.equal(editor.line, "abc de");
});

Deno.test("LineEditor.handle() treats a grapheme cluster as one character", () => {
  const editor = new LineEditor();
  press(editor, char("e"), char("\u0301"), char("👍🏽x"));
  assert.equal(editor.line, "e\u0301👍🏽x");
  assert.equal(editor.cursor, 3);
  press(editor, "left", "backspace");
  assert.equal(editor.line, "e\u0301x");
  assert.equal(editor.cursor, 1);
  press(editor, "backspace");
  assert.equal(editor.line, "x");
});

Deno.test("LineEditor.handle() submits the line on enter, clears it and remembers it", () => {
  const editor = editorWith("hello", 2);
  assert.deepEqual(editor.handle(key("enter")), [{ type: "submit", line: "hello" }, REDRAW]);
  assert.equal(editor.line, "");
  assert.equal(editor.cursor, 0);
  assert.deepEqual(editor.handle(key("enter")), [{ type: "submit", line: "" }]);
  press(editor, "up");
  assert.equal(editor.line, "hello");
  assert.deepEqual(press(editor, "up"), [BELL]); // the empty line was not remembered
});

Deno.test("LineEditor.handle() reports eof for Ctrl+D on an empty line and deletes otherwise", () => {
  assert.deepEqual(new LineEditor().handle(key("ctrl-d")), [{ type: "eof" }]);
  const editor = editorWith("abc", 1);
  assert.deepEqual(editor.handle(key("ctrl-d")), [REDRAW]);
  assert.equal(editor.line, "ac");
  assert.equal(editor.cursor, 1);
  press(editor, "end");
  assert.deepEqual(editor.handle(key("ctrl-d")), []);
  assert.equal(editor.line, "ac");
});

Deno.test("LineEditor.handle() reports an interrupt on Ctrl+C and discards the line", () => {
  assert.deepEqual(new LineEditor().handle(key("ctrl-c")), [{ type: "interrupt" }]);
  const editor = editorWith("typing");
  assert.deepEqual(editor.handle(key("ctrl-c")), [{ type: "interrupt" }, REDRAW]);
  assert.equal(editor.line, "");
  assert.deepEqual(press(editor, "up"), [BELL]);
});

Deno.test("LineEditor.handle() deletes before the cursor on backspace and under it on delete", () => {
  const editor = editorWith("abcd", 2);
  assert.deepEqual(editor.handle(key("backspace")), [REDRAW]);
  assert.equal(editor.line, "acd");
  assert.equal(editor.cursor, 1);
  assert.deepEqual(editor.handle(key("delete")), [REDRAW]);
  assert.equal(editor.line, "ad");
  assert.equal(editor.cursor, 1);
  press(editor, "home");
  assert.deepEqual(editor.handle(key("backspace")), []);
  press(editor, "end");
  assert.deepEqual(editor.handle(key("delete")), []);
  assert.equal(editor.line, "ad");
});

Deno.test("LineEditor.handle() moves by character and to either end", () => {
  const editor = editorWith("abc");
  const moves: [KeyName, number][] = [
    ["left", 2],
    ["ctrl-b", 1],
    ["right", 2],
    ["ctrl-f", 3],
    ["right", 3],
    ["home", 0],
    ["left", 0],
    ["end", 3],
    ["ctrl-a", 0],
    ["ctrl-e", 3],
  ];
  let previous = editor.cursor;
  for (const [name, cursor] of moves) {
    const actions = editor.handle(key(name));
    assert.equal(editor.cursor, cursor, name);
    assert.deepEqual(actions, cursor === previous ? [] : [REDRAW], name);
    previous = cursor;
  }
  assert.equal(editor.line, "abc");
});

Deno.test("LineEditor.handle() moves by whitespace-separated word", () => {
  const editor = editorWith("  one two  three ");
  const expected: [KeyName, number][] = [
    ["ctrl-left", 11],
    ["ctrl-left", 6],
    ["ctrl-left", 2],
    ["ctrl-left", 0],
    ["ctrl-left", 0],
    ["ctrl-right", 5],
    ["ctrl-right", 9],
    ["ctrl-right", 16],
    ["ctrl-right", 17],
  ];
  for (const [name, cursor] of expected) {
    editor.handle(key(name));
    assert.equal(editor.cursor, cursor, `${name} to ${cursor}`);
  }
});

Deno.test("LineEditor.handle() deletes to the start, to the end, and the previous word", () => {
  const editor = editorWith("one two  three", 9);
  assert.deepEqual(editor.handle(key("ctrl-w")), [REDRAW]);
  assert.equal(editor.line, "one three");
  assert.equal(editor.cursor, 4);
  editor.handle(key("ctrl-w"));
  assert.equal(editor.line, "three");
  assert.deepEqual(editor.handle(key("ctrl-w")), []);
  press(editor, "right", "right");
  assert.deepEqual(editor.handle(key("ctrl-k")), [REDRAW]);
  assert.equal(editor.line, "th");
  press(editor, "left");
  assert.deepEqual(editor.handle(key("ctrl-u")), [REDRAW]);
  assert.equal(editor.line, "h");
  assert.equal(editor.cursor, 0);
  assert.deepEqual(editor.handle(key("ctrl-u")), []);
});

Deno.test("LineEditor.handle() redraws on Ctrl+L and ignores keys with no editing meaning", () => {
  const editor = editorWith("x");
  assert.deepEqual(editor.handle(key("ctrl-l")), [REDRAW]);
  for (const name of ["escape", "pageup", "pagedown", "unknown"] as const) {
    assert.deepEqual(editor.handle(key(name)), [], name);
  }
  assert.equal(editor.line, "x");
});

Deno.test("LineEditor.handle() browses history with up and down and keeps the line being typed", () => {
  const editor = new LineEditor();
  for (const line of ["first", "second", "second", "third"]) press(editor, char(line), "enter");
  press(editor, char("draft"), "left");
  assert.deepEqual(press(editor, "up"), [REDRAW]);
  assert.equal(editor.line, "third");
  assert.equal(editor.cursor, 5);
  press(editor, "up");
  assert.equal(editor.line, "second"); // consecutive duplicates are remembered once
  press(editor, char("!"));
  press(editor, "up");
  assert.equal(editor.line, "first");
  assert.deepEqual(press(editor, "up"), [BELL]);
  press(editor, "down");
  assert.equal(editor.line, "second");
  press(editor, "down", "down");
  assert.equal(editor.line, "draft");
  assert.equal(editor.cursor, 5);
  assert.deepEqual(press(editor, "down"), [BELL]);
  press(editor, "up", "up", "enter");
  assert.deepEqual(press(editor, "up"), [REDRAW]);
  assert.equal(editor.line, "second");
  press(editor, "down");
  assert.equal(editor.line, "");
});

Deno.test("LineEditor.handle() keeps the 100 newest history entries by default", () => {
  const editor = new LineEditor();
  for (let i = 0; i < 105; i++) press(editor, char(`line ${i}`), "enter");
  for (let i = 104; i >= 5; i--) {
    assert.deepEqual(press(editor, "up"), [REDRAW]);
    assert.equal(editor.line, `line ${i}`);
  }
  assert.deepEqual(press(editor, "up"), [BELL]);
});

Deno.test("LineEditor.handle() keeps historySize entries and none when it is 0", () => {
  const small = new LineEditor({ historySize: 2 });
  for (const line of ["a", "b", "c"]) press(small, char(line), "enter");
  press(small, "up", "up");
  assert.equal(small.line, "b");
  assert.deepEqual(press(small, "up"), [BELL]);
  const none = new LineEditor({ historySize: 0 });
  press(none, char("a"), "enter");
  assert.deepEqual(press(none, "up"), [BELL]);
});

Deno.test("LineEditor.handle() submits each complete pasted line and keeps the rest", () => {
  const editor = editorWith("> ");
  assert.deepEqual(editor.handle(paste("one\ntwo\r\nthree")), [
    { type: "submit", line: "> one" },
    { type: "submit", line: "two" },
    REDRAW,
  ]);
  assert.equal(editor.line, "three");
  assert.equal(editor.cursor, 5);
  assert.deepEqual(editor.handle(paste("a\rb\r\nc\n")), [
    { type: "submit", line: "threea" },
    { type: "submit", line: "b" },
    { type: "submit", line: "c" },
    REDRAW,
  ]);
  assert.equal(editor.line, "");
  press(editor, "up");
  assert.equal(editor.line, "c");
});

Deno.test("LineEditor.handle() inserts a one-line paste at the cursor without submitting", () => {
  const editor = editorWith("ad", 1);
  assert.deepEqual(editor.handle(paste("b\x1b[1mc\t")), [REDRAW]);
  assert.equal(editor.line, "abc d");
  assert.equal(editor.cursor, 4);
  assert.deepEqual(editor.handle(paste("")), []);
});

Deno.test("LineEditor.handle() rings the bell for text beyond maxLength and keeps what fits", () => {
  const editor = new LineEditor({ maxLength: 5 });
  assert.deepEqual(editor.handle(char("abcd")), [REDRAW]);
  assert.deepEqual(editor.handle(char("👍")), [BELL]); // two UTF-16 code units
  assert.deepEqual(editor.handle(char("efg")), [BELL, REDRAW]);
  assert.equal(editor.line, "abcde");
  assert.deepEqual(editor.handle(char("h")), [BELL]);
  assert.deepEqual(editor.handle(paste("xy\nzzzzzzz")), [
    { type: "submit", line: "abcde" },
    BELL,
    REDRAW,
  ]);
  assert.equal(editor.line, "zzzzz");
  assert.equal(new LineEditor().handle(char("x".repeat(4001))).length, 2);
});

Deno.test("LineEditor.handle() completes a unique candidate with a space after it", () => {
  const calls: [string, string][] = [];
  const editor = editorWith("hi al x", 5, {
    complete: (word, line) => {
      calls.push([word, line]);
      return ["Alice"];
    },
  });
  assert.deepEqual(editor.handle(key("tab")), [REDRAW]);
  assert.deepEqual(calls, [["al", "hi al x"]]);
  assert.equal(editor.line, "hi Alice  x");
  assert.equal(editor.cursor, 9);
});

Deno.test("LineEditor.handle() completes the common prefix of several candidates and lists them", () => {
  const editor = editorWith("al", undefined, { complete: () => ["alice", "alina", "alice"] });
  assert.deepEqual(editor.handle(key("tab")), [
    { type: "candidates", items: ["alice", "alina"] },
    REDRAW,
  ]);
  assert.equal(editor.line, "ali");
  assert.deepEqual(editor.handle(key("tab")), [{ type: "candidates", items: ["alice", "alina"] }]);
  assert.equal(editor.line, "ali");
});

Deno.test("LineEditor.handle() rings the bell on Tab with no candidates or no completion", () => {
  assert.deepEqual(editorWith("zz", undefined, { complete: () => [] }).handle(key("tab")), [BELL]);
  assert.deepEqual(editorWith("zz", undefined, { complete: () => ["\x07"] }).handle(key("tab")), [
    BELL,
  ]);
  assert.deepEqual(editorWith("zz").handle(key("tab")), [BELL]);
  const words: string[] = [];
  const editor = editorWith("a ", undefined, {
    complete: (word) => {
      words.push(word);
      return [];
    },
  });
  editor.handle(key("tab"));
  assert.deepEqual(words, [""]);
});

Deno.test("LineEditor.handle() rings the bell when a completion would exceed maxLength", () => {
  const editor = editorWith("al", undefined, { maxLength: 5, complete: () => ["alice"] });
  assert.deepEqual(editor.handle(key("tab")), [BELL]);
  assert.equal(editor.line, "al");
});

Deno.test("displayWidth() counts wide characters twice and ignores escapes and combining marks", () => {
  const table: [string, number][] = [
    ["", 0],
    ["hello", 5],
    ["\x1b[1;31mred\x1b[0m", 3],
    ["\x1b]0;title\x07x", 1],
    ["日本語", 6],
    ["ｈｉ", 4],
    ["한국", 4],
    ["e\u0301", 1],
    ["👍", 2],
    ["👍🏽", 2],
    ["👩‍💻", 2],
    ["🇫🇷", 2],
    ["❤️", 2],
    ["☺", 1],
    ["\t\r", 0],
    ["a\u200bb", 2],
  ];
  for (const [text, width] of table) assert.equal(displayWidth(text), width, JSON.stringify(text));
});

Deno.test("LineEditor.setPrompt() keeps SGR colours and removes other escapes and controls", () => {
  const editor = new LineEditor();
  editor.setPrompt("\x1b[1m[#room]\x1b[22m\x1b]0;x\x07\x1b[2J\r\n> ");
  assert.equal(editor.prompt, "\x1b[1m[#room]\x1b[22m> ");
  assert.equal(editor.render(), "\r\x1b[J\x1b[1m[#room]\x1b[22m> \x1b[0m");
  editor.setPrompt("$ ");
  assert.equal(editor.render(), "\r\x1b[J$ ");
});

Deno.test("LineEditor.setWidth() clamps the width to 1..1000 and rejects NaN", () => {
  const editor = editorWith("x".repeat(1500));
  const vt = new VirtualTerminal(1000);
  editor.setWidth(5000);
  vt.write(editor.render());
  assert.deepEqual(vt.screen().map((row) => row.length), [1000, 502]);
  editor.setWidth(0);
  editor.setWidth(-Infinity);
  assert.equal(editor.render().includes("\x1b[1A"), true);
  assert.throws(() => editor.setWidth(NaN), {
    name: "RangeError",
    message: "Cannot set width: columns is NaN",
  });
});

// ---------------------------------------------------------------------------
// Rendering, checked on the virtual terminal.

Deno.test("LineEditor.render() draws prompt and line with the cursor in place", () => {
  const editor = editorWith("hello", 1);
  assert.equal(editor.render(), "\r\x1b[J> hello\x1b[4D");
  const vt = new VirtualTerminal(80);
  vt.write(editor.render());
  assert.deepEqual(vt.screen(), ["> hello"]);
  assert.deepEqual(vt.cursor, { row: 0, col: 3 });
});

Deno.test("LineEditor.render() wraps a line over 3 rows at width 10 and places the cursor", () => {
  const editor = editorWith("abcdefghijklmnopqrstuvwxy", 12, { columns: 10 });
  const vt = new VirtualTerminal(10);
  vt.write(editor.render());
  assert.deepEqual(vt.screen(), ["> abcdefgh", "ijklmnopqr", "stuvwxy"]);
  assert.deepEqual(vt.cursor, { row: 1, col: 4 }); // on "m"
  editor.handle(key("end"));
  vt.write(editor.render());
  assert.deepEqual(vt.screen(), ["> abcdefgh", "ijklmnopqr", "stuvwxy"]);
  assert.deepEqual(vt.cursor, { row: 2, col: 7 });
  editor.handle(key("home"));
  vt.write(editor.render());
  assert.deepEqual(vt.cursor, { row: 0, col: 2 });
  editor.handle(key("ctrl-k"));
  vt.write(editor.render());
  assert.deepEqual(vt.screen(), [">"]);
  assert.deepEqual(vt.cursor, { row: 0, col: 2 });
});

Deno.test("LineEditor.render() moves to a new row when the line ends exactly at the margin", () => {
  const editor = editorWith("abcdefgh", undefined, { columns: 10 });
  const vt = new VirtualTerminal(10);
  const out = editor.render();
  assert.equal(out, "\r\x1b[J> abcdefgh\r\n");
  vt.write(out);
  assert.deepEqual(vt.cursor, { row: 1, col: 0 });
  assert.equal(vt.pending, false);
  editor.handle(char("i"));
  vt.write(editor.render());
  assert.deepEqual(vt.screen(), ["> abcdefgh", "i"]);
  assert.deepEqual(vt.cursor, { row: 1, col: 1 });
  editor.handle(key("backspace"));
  editor.handle(key("left"));
  const settled = editor.render();
  assert.equal(settled, "\x1b[1A\r\x1b[J> abcdefgh\r\x1b[9C");
  vt.write(settled);
  assert.deepEqual(vt.screen(), ["> abcdefgh"]);
  assert.deepEqual(vt.cursor, { row: 0, col: 9 });
  assert.equal(vt.pending, false);
});

Deno.test("LineEditor.render() wraps a wide character that does not fit before the margin", () => {
  const editor = editorWith("abcdefg日x", 7, { columns: 10 });
  const vt = new VirtualTerminal(10);
  vt.write(editor.render());
  assert.deepEqual(vt.screen(), ["> abcdefg", "日x"]);
  assert.deepEqual(vt.cursor, { row: 1, col: 0 });
  editor.handle(key("end"));
  vt.write(editor.render());
  assert.deepEqual(vt.cursor, { row: 1, col: 3 });
});

Deno.test("LineEditor.render() shows characters wider than a 1-column terminal as ?", () => {
  const editor = editorWith("a日", undefined, { columns: 1, prompt: "" });
  const vt = new VirtualTerminal(1);
  vt.write(editor.render());
  assert.deepEqual(vt.screen(), ["a", "?"]);
  assert.deepEqual(vt.cursor, { row: 2, col: 0 });
});

Deno.test("LineEditor.render() leaves SGR sequences out of the prompt's width", () => {
  const editor = editorWith("abcdefgh", 0, { columns: 10, prompt: "\x1b[1;32m> \x1b[0m" });
  const vt = new VirtualTerminal(10);
  vt.write(editor.render());
  assert.deepEqual(vt.screen(), ["> abcdefgh"]);
  assert.deepEqual(vt.cursor, { row: 0, col: 2 });
});

Deno.test("LineEditor.clear() erases a wrapped line and leaves the cursor on its first row", () => {
  const editor = editorWith("abcdefghijklmnopqrstuvwxy", 12, { columns: 10 });
  const vt = new VirtualTerminal(10);
  vt.write("welcome\r\n");
  vt.write(editor.render());
  assert.equal(editor.clear(), "\x1b[1A\r\x1b[J");
  vt.write("\x1b[1A\r\x1b[J");
  assert.deepEqual(vt.screen(), ["welcome"]);
  assert.deepEqual(vt.cursor, { row: 1, col: 0 });
  assert.equal(editor.clear(), "\r\x1b[J");
  assert.equal(editor.line, "abcdefghijklmnopqrstuvwxy");
});

Deno.test("LineEditor.printAbove() prints messages above a wrapped line being typed", () => {
  const editor = editorWith("abcdefghijklmnopqrstuvwxy", 12, { columns: 10 });
  const vt = new VirtualTerminal(10);
  vt.write("welcome\r\n");
  vt.write(editor.render());
  vt.write(editor.printAbove("msg one\nmsg two\n"));
  assert.deepEqual(vt.screen(), [
    "welcome",
    "msg one",
    "msg two",
    "> abcdefgh",
    "ijklmnopqr",
    "stuvwxy",
  ]);
  assert.deepEqual(vt.cursor, { row: 4, col: 4 });
  // A message exactly as wide as the terminal, and one that wraps.
  vt.write(editor.printAbove("0123456789\r\nwrapping message"));
  assert.deepEqual(vt.screen(), [
    "welcome",
    "msg one",
    "msg two",
    "0123456789",
    "wrapping m",
    "essage",
    "> abcdefgh",
    "ijklmnopqr",
    "stuvwxy",
  ]);
  assert.deepEqual(vt.cursor, { row: 7, col: 4 });
  editor.handle(char("!"));
  vt.write(editor.render());
  assert.deepEqual(vt.screen().slice(6), ["> abcdefgh", "ijkl!mnopq", "rstuvwxy"]);
  assert.deepEqual(vt.cursor, { row: 7, col: 5 });
});

Deno.test("LineEditor.printAbove() prints a single line and an empty line", () => {
  const editor = new LineEditor({ columns: 20 });
  const vt = new VirtualTerminal(20);
  vt.write(editor.render());
  vt.write(editor.printAbove("one"));
  vt.write(editor.printAbove(""));
  vt.write(editor.printAbove("two"));
  assert.deepEqual(vt.screen(), ["one", "", "two", ">"]);
  assert.deepEqual(vt.cursor, { row: 3, col: 2 });
});

Deno.test("LineEditor.setWidth() then render() redraws cleanly when a terminal narrows without reflow", () => {
  const editor = editorWith("abcdefghijklmnopqrstuvwxy", 12, { columns: 10 });
  const vt = new VirtualTerminal(10);
  vt.write(editor.printAbove("hello"));
  vt.write(editor.printAbove("world"));
  for (const width of [7, 4, 3]) {
    vt.resize(width);
    editor.setWidth(width);
    vt.write(editor.render());
    const prompt = "> abcdefghijklmnopqrstuvwxy";
    const rows: string[] = [];
    for (let i = 0; i < prompt.length; i += width) rows.push(prompt.slice(i, i + width));
    assert.deepEqual(vt.screen().slice(2), rows, `width ${width}`);
    assert.deepEqual(vt.units(0, 2, true).join(""), "helloworld");
    const row = 2 + Math.floor(14 / width);
    assert.deepEqual(vt.cursor, { row, col: 14 % width }, `width ${width}`);
  }
});

Deno.test("LineEditor.setWidth() then render() redraws cleanly when a terminal widens with reflow", () => {
  const editor = editorWith("abcdefghijklmnopqrstuvwxy", 12, { columns: 10 });
  const vt = new VirtualTerminal(10, true);
  vt.write(editor.printAbove("hello"));
  vt.write(editor.printAbove("world"));
  vt.resize(20);
  editor.setWidth(20);
  vt.write(editor.render());
  assert.deepEqual(vt.screen(), ["hello", "world", "> abcdefghijklmnopqr", "stuvwxy"]);
  assert.deepEqual(vt.cursor, { row: 2, col: 14 });
  vt.resize(40);
  editor.setWidth(40);
  vt.write(editor.render());
  assert.deepEqual(vt.screen(), ["hello", "world", "> abcdefghijklmnopqrstuvwxy"]);
  assert.deepEqual(vt.cursor, { row: 2, col: 14 });
});

Deno.test("LineEditor.setWidth() then render() never erases printed lines, whatever the terminal does", () => {
  for (const reflow of [false, true]) {
    for (const [from, to] of [[10, 4], [4, 10], [10, 9], [9, 10]] as const) {
      const editor = editorWith("abcdefghijklmnopqrstuvwxy", 20, { columns: from });
      const vt = new VirtualTerminal(from, reflow);
      vt.write(editor.printAbove("hello"));
      vt.write(editor.printAbove("world"));
      vt.resize(to);
      editor.setWidth(to);
      vt.write(editor.render());
      const label = `${reflow ? "reflow" : "no reflow"} ${from} to ${to}`;
      const start = findArea(vt, graphemes("> abcdefghijklmnopqrstuvwxy"));
      assert.ok(start !== undefined, label);
      assert.ok(vt.units(0, start, true).join("").startsWith("helloworld"), label);
    }
  }
});

Deno.test("LineEditor.repaint() after a shrink leaves no stale copy of the input line on any terminal", () => {
  for (const reflow of [false, true]) {
    const label = reflow ? "reflow" : "no reflow";
    const editor = editorWith("abcdefghijklmnopqrstuvwxy", 20, { columns: 40 });
    const vt = new VirtualTerminal(40, reflow, 8);
    const printed = ["hello", "world"];
    for (const line of printed) vt.write(editor.printAbove(line));
    assert.deepEqual(vt.visible(), ["hello", "world", "> abcdefghijklmnopqrstuvwxy"], label);
    vt.resize(10);
    editor.setWidth(10);
    vt.write(editor.repaint(printed, 8));
    printed.push("next");
    vt.write(editor.printAbove("next"));
    assert.deepEqual(
      vt.visible(),
      ["hello", "world", "next", "> abcdefgh", "ijklmnopqr", "stuvwxy"],
      label,
    );
    assert.deepEqual(vt.cursor, { row: 5, col: 2 }, label);
  }
});

Deno.test("LineEditor.repaint() shows the newest lines that fit above the input", () => {
  for (const reflow of [false, true]) {
    const label = reflow ? "reflow" : "no reflow";
    const editor = editorWith("abcdefghijklmnop", 16, { columns: 30 });
    const vt = new VirtualTerminal(30, reflow, 6);
    const printed = ["one", "two", "three", "a long line that wraps at ten", "four"];
    for (const line of printed) vt.write(editor.printAbove(line));
    vt.resize(10);
    editor.setWidth(10);
    // 6 rows: 2 for the input, 4 for "four" and the line that wraps.
    vt.write(editor.repaint(printed, 6));
    assert.deepEqual(
      vt.visible(),
      ["a long lin", "e that wra", "ps at ten", "four", "> abcdefgh", "ijklmnop"],
      label,
    );
    assert.deepEqual(vt.cursor, { row: vt.top + 5, col: 8 }, label);
    // One row less: the wrapped line does not fit, and is not cut.
    vt.write(editor.repaint(printed, 5));
    assert.deepEqual(vt.visible().slice(0, 2), ["four", "> abcdefgh"], label);
    // An input taller than the screen: no lines, the input from the top.
    editor.handle({ type: "char", text: "q".repeat(60) });
    assert.ok(!editor.repaint(printed, 3).includes("four"));
  }
});

Deno.test("LineEditor.repaint() rejects NaN rows and clamps others", () => {
  const editor = new LineEditor({ columns: 10 });
  assert.throws(() => editor.repaint([], NaN), RangeError);
  assert.equal(editor.repaint(["a", "b"], 0), "\x1b[H\x1b[J\r\x1b[J> ");
  assert.equal(editor.repaint(["a", "b"], 2), "\x1b[H\x1b[Jb\r\n\r\x1b[J> ");
});

// ---------------------------------------------------------------------------
// Property: random keys, resizes, prompts and messages.

/** The first row from which the screen shows exactly `expected`, if any. */
function findArea(vt: VirtualTerminal, expected: string[]): number | undefined {
  for (let start = vt.row; start >= 0; start--) {
    const shown = vt.units(start);
    if (shown.length === expected.length && shown.every((unit, i) => unit === expected[i])) {
      return start;
    }
  }
  return undefined;
}

/** Removes `ESC [ ... m` sequences. */
function withoutSgr(text: string): string {
  return text.split("\x1b[").map((part, i) => i === 0 ? part : part.slice(part.indexOf("m") + 1))
    .join("");
}

const ALPHABET = ["a", "b", "x", " ", "  ", "日", "👍", "é", "\t", "\x07", "\x1b[31m", "\r\n", "Z"];
const KEY_NAMES: KeyName[] = [
  "enter",
  "backspace",
  "delete",
  "left",
  "right",
  "up",
  "down",
  "home",
  "end",
  "tab",
  "escape",
  "ctrl-a",
  "ctrl-b",
  "ctrl-c",
  "ctrl-d",
  "ctrl-e",
  "ctrl-f",
  "ctrl-k",
  "ctrl-l",
  "ctrl-u",
  "ctrl-w",
  "ctrl-left",
  "ctrl-right",
  "pageup",
  "pagedown",
  "unknown",
];
const PROMPTS = ["> ", "", "\x1b[1m#room\x1b[22m> ", "日本> ", "a-long-prompt-for-narrow-terms> "];
const NICKS = ["alice", "alina", "bob", "日本"];

const textArb = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 8 }).map((parts) =>
  parts.join("")
);
const keyArb: fc.Arbitrary<Key> = fc.oneof(
  { weight: 3, arbitrary: textArb.map((text) => ({ type: "char" as const, text })) },
  {
    weight: 1,
    arbitrary: textArb.map((text) => ({ type: "paste" as const, text: `${text}\n${text}` })),
  },
  {
    weight: 6,
    arbitrary: fc.constantFrom(...KEY_NAMES).map((name) => ({ type: "key" as const, name })),
  },
);
type Op =
  | { op: "key"; key: Key }
  | { op: "width"; columns: number }
  | { op: "repaint"; columns: number }
  | { op: "prompt"; prompt: string }
  | { op: "print" };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: keyArb.map((key) => ({ op: "key" as const, key })) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 30 }).map((columns) => ({
      op: "width" as const,
      columns,
    })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 30 }).map((columns) => ({
      op: "repaint" as const,
      columns,
    })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...PROMPTS).map((prompt) => ({ op: "prompt" as const, prompt })),
  },
  { weight: 1, arbitrary: fc.constant({ op: "print" as const }) },
);

Deno.test("LineEditor keeps its cursor in range and the terminal showing prompt and line for random input", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.integer({ min: 1, max: 30 }),
      fc.array(opArb, { maxLength: 60 }),
      (reflow, columns, ops) => {
        const editor = new LineEditor({
          columns,
          maxLength: 40,
          historySize: 5,
          complete: (word) => NICKS.filter((nick) => nick.startsWith(word)),
        });
        const vt = new VirtualTerminal(columns, reflow);
        let width = columns;
        let resized = false;
        const printed: string[] = [];
        const print = () => {
          const message = `[m${printed.length}]`;
          printed.push(message);
          vt.write(editor.printAbove(message));
        };
        vt.write(editor.render());
        for (const op of ops) {
          switch (op.op) {
            case "key":
              for (const action of editor.handle(op.key)) {
                if (action.type === "redraw") vt.write(editor.render());
                if (action.type === "candidates" || action.type === "submit") print();
              }
              break;
            case "width":
              resized ||= op.columns !== width;
              width = op.columns;
              vt.resize(width);
              editor.setWidth(width);
              vt.write(editor.render());
              break;
            case "repaint":
              // The whole screen redrawn: nothing stale is left above the input.
              resized = false;
              width = op.columns;
              vt.resize(width);
              editor.setWidth(width);
              vt.write(editor.repaint(printed, 1000));
              break;
            case "prompt":
              editor.setPrompt(op.prompt);
              vt.write(editor.render());
              break;
            case "print":
              print();
              break;
          }
          assert.ok(editor.cursor >= 0 && editor.cursor <= graphemes(editor.line).length);
          assert.ok(editor.line.length <= 40);
          assert.ok(!/\p{Cc}/u.test(editor.line));
        }
        vt.write(editor.render());

        // The screen shows prompt + line, from some row on.
        const units = graphemes(editor.line);
        const visiblePrompt = withoutSgr(editor.prompt);
        const expected = [...graphemes(visiblePrompt), ...units]
          .map((unit) => width === 1 && displayWidth(unit) > 1 ? "?" : unit);
        const start = findArea(vt, expected);
        assert.ok(start !== undefined, JSON.stringify({ screen: vt.screen(), expected }));

        // The cursor is on the character the editor says (or just past the end).
        const row = vt.rows[vt.row];
        assert.ok(row !== undefined);
        const onRow =
          row.cells.slice(0, vt.col).filter((cell) => cell !== undefined && cell !== TAIL).length;
        const index = vt.units(start, vt.row).length + onRow;
        const promptLength = graphemes(visiblePrompt).length;
        assert.equal(index, promptLength + editor.cursor);
        assert.equal(vt.pending, false);
        const underCursor = row.cells[vt.col];
        if (editor.cursor < units.length) {
          assert.equal(underCursor, expected[index]);
        } else {
          assert.equal(underCursor, undefined);
        }

        // Printed messages are all still there, in order; without a resize
        // since the last repaint, nothing else is above the input.
        const above = vt.units(0, start, true).join("");
        if (!resized) {
          assert.equal(above, printed.join(""));
        } else {
          let from = 0;
          for (const message of printed) {
            const at = above.indexOf(message, from);
            assert.ok(at >= 0, `${message} erased: ${JSON.stringify(vt.screen())}`);
            from = at + message.length;
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});
