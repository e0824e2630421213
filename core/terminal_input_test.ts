// Copyright the meshchat authors. MIT license.
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Key, KeyDecoder, type KeyName, MAX_PASTE_BYTES } from "./terminal_input.ts";

function key(name: KeyName): Key {
  return { type: "key", name };
}

function char(text: string): Key {
  return { type: "char", text };
}

function decode(...chunks: string[]): Key[] {
  const decoder = new KeyDecoder();
  return chunks.flatMap((chunk) => decoder.feed(chunk));
}

/** Merges adjacent char keys, which chunking may split differently. */
function normalize(keys: Key[]): Key[] {
  const out: Key[] = [];
  for (const k of keys) {
    const last = out.at(-1);
    if (k.type === "char" && last?.type === "char") {
      out[out.length - 1] = char(last.text + k.text);
    } else {
      out.push(k);
    }
  }
  return out;
}

Deno.test("KeyDecoder.feed() merges consecutive printable characters into one char key", () => {
  assert.deepEqual(decode("hello, wörld 日本 👍"), [char("hello, wörld 日本 👍")]);
  assert.deepEqual(decode("ab\x01cd"), [char("ab"), key("ctrl-a"), char("cd")]);
  assert.deepEqual(decode(""), []);
});

Deno.test("KeyDecoder.feed() reads CR, LF and CR LF as one enter each", () => {
  assert.deepEqual(decode("a\rb\nc\r\nd"), [
    char("a"),
    key("enter"),
    char("b"),
    key("enter"),
    char("c"),
    key("enter"),
    char("d"),
  ]);
  assert.deepEqual(decode("\r\r"), [key("enter"), key("enter")]);
  assert.deepEqual(decode("\n\n"), [key("enter"), key("enter")]);
  assert.deepEqual(decode("\n\r"), [key("enter"), key("enter")]);
});

Deno.test("KeyDecoder.feed() reads a CR LF split across chunks as one enter", () => {
  assert.deepEqual(decode("x\r", "\ny"), [char("x"), key("enter"), char("y")]);
  assert.deepEqual(decode("\r", "a", "\n"), [key("enter"), char("a"), key("enter")]);
});

Deno.test("KeyDecoder.feed() maps DEL and BS to backspace and TAB to tab", () => {
  assert.deepEqual(decode("\x7f\x08\t"), [key("backspace"), key("backspace"), key("tab")]);
});

Deno.test("KeyDecoder.feed() maps the editing control keys", () => {
  const table: [string, KeyName][] = [
    ["\x01", "ctrl-a"],
    ["\x02", "ctrl-b"],
    ["\x03", "ctrl-c"],
    ["\x04", "ctrl-d"],
    ["\x05", "ctrl-e"],
    ["\x06", "ctrl-f"],
    ["\x0b", "ctrl-k"],
    ["\x0c", "ctrl-l"],
    ["\x15", "ctrl-u"],
    ["\x17", "ctrl-w"],
  ];
  for (const [input, name] of table) assert.deepEqual(decode(input), [key(name)], name);
});

Deno.test("KeyDecoder.feed() reports other C0 and C1 controls as unknown, never as text", () => {
  for (const code of [0x00, 0x07, 0x0e, 0x10, 0x12, 0x1a, 0x1c, 0x1f, 0x80, 0x9b, 0x9f]) {
    const input = `a${String.fromCharCode(code)}b`;
    assert.deepEqual(
      decode(input),
      [char("a"), key("unknown"), char("b")],
      `0x${code.toString(16)}`,
    );
  }
});

Deno.test("KeyDecoder.feed() decodes CSI and SS3 cursor keys", () => {
  const table: [string, KeyName][] = [
    ["\x1b[A", "up"],
    ["\x1b[B", "down"],
    ["\x1b[C", "right"],
    ["\x1b[D", "left"],
    ["\x1b[H", "home"],
    ["\x1b[F", "end"],
    ["\x1bOA", "up"],
    ["\x1bOB", "down"],
    ["\x1bOC", "right"],
    ["\x1bOD", "left"],
    ["\x1bOH", "home"],
    ["\x1bOF", "end"],
    ["\x1b[1~", "home"],
    ["\x1b[7~", "home"],
    ["\x1b[4~", "end"],
    ["\x1b[8~", "end"],
    ["\x1b[3~", "delete"],
    ["\x1b[5~", "pageup"],
    ["\x1b[6~", "pagedown"],
    ["\x1b[1;2C", "right"], // Shift is ignored
    ["\x1b[1;5A", "up"],
    ["\x1b[1;2H", "home"],
    ["\x1b[3;5~", "delete"],
  ];
  for (const [input, name] of table) {
    assert.deepEqual(decode(`${input}x`), [key(name), char("x")], JSON.stringify(input));
  }
});

Deno.test("KeyDecoder.feed() maps Ctrl and Alt arrows and Alt+B/F to word moves", () => {
  const table: [string, KeyName][] = [
    ["\x1b[1;5C", "ctrl-right"],
    ["\x1b[1;5D", "ctrl-left"],
    ["\x1b[1;3C", "ctrl-right"],
    ["\x1b[1;3D", "ctrl-left"],
    ["\x1b[1;6D", "ctrl-left"],
    ["\x1bO5C", "ctrl-right"],
    ["\x1bOc", "ctrl-right"],
    ["\x1bOd", "ctrl-left"],
    ["\x1bf", "ctrl-right"],
    ["\x1bb", "ctrl-left"],
    ["\x1b\x7f", "ctrl-w"],
  ];
  for (const [input, name] of table) {
    assert.deepEqual(decode(input), [key(name)], JSON.stringify(input));
  }
});

Deno.test("KeyDecoder.feed() consumes unknown escape sequences whole as unknown", () => {
  const sequences = [
    "\x1b[15~", // F5
    "\x1b[2~", // Insert
    "\x1b[Z", // Shift+Tab
    "\x1b[?1;2c", // device attributes reply
    "\x1b[<0;12;5M", // SGR mouse
    "\x1b[27;5;13~",
    "\x1b[1 q",
    "\x1b[99;9x",
    "\x1b[201~", // paste end outside a paste
    "\x1b[[A", // Linux console F1
    "\x1bOP", // F1
    "\x1bx", // Alt+X
  ];
  for (const sequence of sequences) {
    assert.deepEqual(
      decode(`a${sequence}b`),
      [char("a"), key("unknown"), char("b")],
      JSON.stringify(sequence),
    );
  }
});

Deno.test("KeyDecoder.feed() drops a malformed sequence and decodes the odd character afresh", () => {
  assert.deepEqual(decode("\x1b[1\x03"), [key("unknown"), key("ctrl-c")]);
  assert.deepEqual(decode("\x1b[1;é"), [key("unknown"), char("é")]);
  assert.deepEqual(decode("\x1bO\r"), [key("unknown"), key("enter")]);
});

Deno.test("KeyDecoder.feed() gives up on a sequence that never ends after 32 characters", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.feed(`\x1b[${"1".repeat(20)}`), []);
  assert.equal(decoder.pending, true);
  assert.deepEqual(decoder.feed("1".repeat(20)), [key("unknown")]);
  assert.equal(decoder.pending, false);
});

Deno.test("KeyDecoder.feed() keeps an escape sequence split across chunks until it is complete", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.feed("ab\x1b"), [char("ab")]);
  assert.equal(decoder.pending, true);
  assert.deepEqual(decoder.feed("["), []);
  assert.deepEqual(decoder.feed("1;"), []);
  assert.deepEqual(decoder.feed("5"), []);
  assert.deepEqual(decoder.feed("Dcd"), [key("ctrl-left"), char("cd")]);
  assert.equal(decoder.pending, false);
  assert.deepEqual(decode("\x1bO", "A"), [key("up")]);
  assert.deepEqual(decode("\x1b[", "[", "B"), [key("unknown")]);
});

Deno.test("KeyDecoder.feed() keeps a surrogate pair split across chunks together", () => {
  const thumbs = "👍";
  assert.deepEqual(decode(`a${thumbs[0]}`, `${thumbs[1]}b`), [char("a"), char(`${thumbs}b`)]);
});

Deno.test("KeyDecoder.flush() turns a lone pending ESC into an escape key", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.flush(), []);
  assert.deepEqual(decoder.feed("\x1b"), []);
  assert.equal(decoder.pending, true);
  assert.deepEqual(decoder.flush(), [key("escape")]);
  assert.equal(decoder.pending, false);
  assert.deepEqual(decoder.flush(), []);
  assert.deepEqual(decoder.feed("[A"), [char("[A")]);
});

Deno.test("KeyDecoder.flush() turns an unfinished sequence into one unknown key", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.feed("\x1b[1;"), []);
  assert.deepEqual(decoder.flush(), [key("unknown")]);
  assert.deepEqual(decoder.feed("5D"), [char("5D")]);
  assert.deepEqual(decoder.feed("\x1bO"), []);
  assert.deepEqual(decoder.flush(), [key("unknown")]);
});

Deno.test("KeyDecoder.feed() reads ESC before a control, a space or another ESC as an escape key", () => {
  assert.deepEqual(decode("\x1b\r"), [key("escape"), key("enter")]);
  assert.deepEqual(decode("\x1b "), [key("escape"), char(" ")]);
  assert.deepEqual(decode("\x1b\x1b[A"), [key("escape"), key("up")]);
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.feed("\x1b\x1b"), [key("escape")]);
  assert.deepEqual(decoder.flush(), [key("escape")]);
});

Deno.test("KeyDecoder.feed() reads a bracketed paste as one paste key with the raw text", () => {
  assert.deepEqual(decode("a\x1b[200~line 1\r\nline\t2\x1b[A\x03\x1b[201~b"), [
    char("a"),
    { type: "paste", text: "line 1\r\nline\t2\x1b[A\x03" },
    char("b"),
  ]);
  assert.deepEqual(decode("\x1b[200~\x1b[201~"), [{ type: "paste", text: "" }]);
});

Deno.test("KeyDecoder.feed() reads a bracketed paste split anywhere across chunks", () => {
  const input = "x\x1b[200~héllo\x1b[2\r\n👍\x1b[201~\x1b[D";
  const expected: Key[] = [char("x"), { type: "paste", text: "héllo\x1b[2\r\n👍" }, key("left")];
  for (let cut = 0; cut <= input.length; cut++) {
    assert.deepEqual(decode(input.slice(0, cut), input.slice(cut)), expected, `cut at ${cut}`);
  }
  assert.deepEqual(decode(...input), expected);
});

Deno.test("KeyDecoder.flush() leaves a paste in progress alone", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.feed("\x1b[200~abc\x1b[20"), []);
  assert.equal(decoder.pending, false);
  assert.deepEqual(decoder.flush(), []);
  assert.deepEqual(decoder.feed("1~"), [{ type: "paste", text: "abc" }]);
});

Deno.test("KeyDecoder.feed() keeps at most 64 KiB of a paste and decodes keys after it", () => {
  const decoder = new KeyDecoder();
  const keys: Key[] = [decoder.feed("\x1b[200~")].flat();
  // 3-byte characters: 21845 fit in 65535 bytes, then one 1-byte character.
  for (let i = 0; i < 30; i++) keys.push(...decoder.feed("€".repeat(1000)));
  keys.push(...decoder.feed("abc"), ...decoder.feed("\x1b[201~\x1b[A"));
  assert.equal(keys.length, 2);
  const [paste, up] = keys;
  assert.equal(paste?.type, "paste");
  const text = paste?.type === "paste" ? paste.text : "";
  assert.equal(text, "€".repeat(Math.floor(MAX_PASTE_BYTES / 3)));
  assert.equal(new TextEncoder().encode(text).length, 65535);
  assert.deepEqual(up, key("up"));

  const small = decode("\x1b[200~", "a".repeat(MAX_PASTE_BYTES - 1), "👍b", "\x1b[201~");
  assert.deepEqual(small, [{ type: "paste", text: "a".repeat(MAX_PASTE_BYTES - 1) }]);
});

/** Inputs with the keys they stand for, for the chunking property. */
const tokens: [string, Key[]][] = [
  ["a", [char("a")]],
  ["é日", [char("é日")]],
  ["👍", [char("👍")]],
  [" ", [char(" ")]],
  ["\r", [key("enter")]],
  ["\n", [key("enter")]],
  ["\r\n", [key("enter")]],
  ["\x7f", [key("backspace")]],
  ["\t", [key("tab")]],
  ["\x17", [key("ctrl-w")]],
  ["\x00", [key("unknown")]],
  ["\x1b[A", [key("up")]],
  ["\x1bOD", [key("left")]],
  ["\x1b[3~", [key("delete")]],
  ["\x1b[1;5C", [key("ctrl-right")]],
  ["\x1bb", [key("ctrl-left")]],
  ["\x1b[15~", [key("unknown")]],
  ["\x1b[<0;1;2M", [key("unknown")]],
  ["\x1b\x1b[B", [key("escape"), key("down")]],
  ["\x1b[200~a\r\nb\x1b[1~\x1b[201~", [{ type: "paste", text: "a\r\nb\x1b[1~" }]],
  ["\x1b[200~👍\x1b[201\x1b[201~", [{ type: "paste", text: "👍\x1b[201" }]],
];

Deno.test("KeyDecoder.feed() decodes the same keys however the input is split into chunks", () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...tokens), { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (picked, cuts) => {
        // A LF after a CR token would merge with it: keep the pairs apart.
        const parts: [string, Key[]][] = [];
        for (const part of picked) {
          const previous = parts.at(-1)?.[0] ?? "";
          if (!(previous.endsWith("\r") && part[0].startsWith("\n"))) parts.push(part);
        }
        const input = parts.map(([text]) => text).join("");
        const expected = normalize(parts.flatMap(([, keys]) => keys));
        const points = [...new Set(cuts.map((cut) => cut % (input.length + 1)))].sort((a, b) =>
          a - b
        );
        const chunks: string[] = [];
        let start = 0;
        for (const point of points) {
          chunks.push(input.slice(start, point));
          start = point;
        }
        chunks.push(input.slice(start));
        assert.deepEqual(normalize(decode(...chunks)), expected);
        assert.deepEqual(normalize(decode(input)), expected);
      },
    ),
  );
});

Deno.test("KeyDecoder.feed() never throws and never puts a control character in a char key", () => {
  const alphabet = [
    "\x1b",
    "[",
    "O",
    "1",
    ";",
    "5",
    "~",
    "2",
    "0",
    "A",
    "a",
    "\r",
    "\n",
    "\x03",
    "é",
    "👍",
    "\x9b",
  ];
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.constantFrom(...alphabet), { maxLength: 12 }).map((a) => a.join("")), {
        maxLength: 8,
      }),
      fc.boolean(),
      (chunks, flushEach) => {
        const decoder = new KeyDecoder();
        const keys: Key[] = [];
        for (const chunk of chunks) {
          keys.push(...decoder.feed(chunk));
          if (flushEach) keys.push(...decoder.flush());
        }
        for (const k of keys) {
          if (k.type === "char") {
            assert.ok(k.text.length > 0);
            assert.ok(!/\p{Cc}/u.test(k.text), JSON.stringify(k.text));
          }
        }
      },
    ),
  );
});
