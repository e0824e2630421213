// Copyright the meshchat authors. MIT license.
import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_COMBINING_MARKS, quoteText, sanitizeText } from "./text_sanitizer.ts";

/** Everything the output must never contain, written independently. */
const FORBIDDEN = new RegExp(
  "[\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f\\u00ad\\u034f\\u061c\\u115f\\u180e\\u200b" +
    "\\u200e\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\u3164\\ufeff\\uffa0" +
    "\\ufff9-\\ufffb\\u{e0000}-\\u{e007f}\\ud800-\\udfff]|\\p{M}{5}",
  "u",
);

/** A joiner (ZWJ, ZWNJ) without an emoji or a letter of a joining script on both sides. */
const STRAY_JOINER =
  /(?<![\p{Extended_Pictographic}\u{1f3fb}-\u{1f3ff}\ufe0f\p{sc=Arabic}\p{sc=Devanagari}\p{sc=Bengali}\p{sc=Tamil}\p{sc=Malayalam}\p{sc=Gujarati}\p{sc=Gurmukhi}\p{sc=Oriya}\p{sc=Telugu}\p{sc=Kannada}\p{sc=Sinhala}\p{sc=Syriac}\p{sc=Myanmar}\p{sc=Khmer}\p{sc=Mongolian}])[\u200c\u200d]|[\u200c\u200d](?![\p{Extended_Pictographic}\p{sc=Arabic}\p{sc=Devanagari}\p{sc=Bengali}\p{sc=Tamil}\p{sc=Malayalam}\p{sc=Gujarati}\p{sc=Gurmukhi}\p{sc=Oriya}\p{sc=Telugu}\p{sc=Kannada}\p{sc=Sinhala}\p{sc=Syriac}\p{sc=Myanmar}\p{sc=Khmer}\p{sc=Mongolian}])/u;

Deno.test("sanitizeText() returns plain text unchanged", () => {
  for (const text of ["", "hello", "tab\there", "héllo wörld", "日本語", "🎉👍🏽", "e\u0301"]) {
    assert.equal(sanitizeText(text), text);
  }
});

Deno.test("sanitizeText() removes C0 controls except TAB, DEL and C1 controls", () => {
  assert.equal(sanitizeText("a\rb\nc\x07d\x08e\x00f\tg"), "abcdef\tg");
  assert.equal(sanitizeText("a\x7fb\u0080c\u0085d\u009ce"), "abcde");
});

Deno.test("sanitizeText() removes CSI sequences with their parameters", () => {
  assert.equal(sanitizeText("\x1b[2J"), "");
  assert.equal(sanitizeText("\x1b[31mred\x1b[0m"), "red");
  assert.equal(sanitizeText("a\x1b[?25lb"), "ab");
  assert.equal(sanitizeText("a\x1b[38;5;196mb"), "ab");
  assert.equal(sanitizeText("a\x1b[1 qb"), "ab"); // with an intermediate byte
  assert.equal(sanitizeText("\u009b31m"), "");
  assert.equal(sanitizeText("x\u009b1;2Hy"), "xy");
});

Deno.test("sanitizeText() stops a malformed CSI sequence at the first unexpected character", () => {
  assert.equal(sanitizeText("\x1b[31é"), "é");
  assert.equal(sanitizeText("\x1b[31"), "");
  assert.equal(sanitizeText("\x1b["), "");
});

Deno.test("sanitizeText() removes OSC sequences up to BEL or ST", () => {
  assert.equal(sanitizeText("\x1b]0;pwn\x07"), "");
  assert.equal(sanitizeText("a\x1b]0;title\x1b\\b"), "ab");
  assert.equal(sanitizeText("a\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\b"), "alinkb");
  assert.equal(sanitizeText("a\u009d0;title\u009cb"), "ab");
  assert.equal(sanitizeText("a\u009d0;title\x07b"), "ab");
});

Deno.test("sanitizeText() removes an unterminated string sequence to the end", () => {
  assert.equal(sanitizeText("keep\x1b]0;title and the rest"), "keep");
  assert.equal(sanitizeText("keep\x1bPq#0;2;0;0;0"), "keep");
});

Deno.test("sanitizeText() lets an ESC inside a string sequence start a new sequence", () => {
  assert.equal(sanitizeText("a\x1b]0;t\x1b[31mb"), "ab");
});

Deno.test("sanitizeText() removes DCS, SOS, PM and APC strings", () => {
  assert.equal(sanitizeText("a\x1bPq#0\x1b\\b"), "ab");
  assert.equal(sanitizeText("a\x1bXsos\x1b\\b"), "ab");
  assert.equal(sanitizeText("a\x1b^pm\x1b\\b"), "ab");
  assert.equal(sanitizeText("a\x1b_apc\x1b\\b"), "ab");
  assert.equal(sanitizeText("a\u0090dcs\u009cb"), "ab");
  assert.equal(sanitizeText("a\u0098sos\u009cb"), "ab");
  assert.equal(sanitizeText("a\u009epm\u009cb"), "ab");
  assert.equal(sanitizeText("a\u009fapc\u009cb"), "ab");
  // BEL does not end a DCS string
  assert.equal(sanitizeText("a\x1bPx\x07y\x1b\\b"), "ab");
});

Deno.test("sanitizeText() removes other ESC sequences", () => {
  assert.equal(sanitizeText("a\x1bcb"), "ab"); // full reset
  assert.equal(sanitizeText("a\x1b7b\x1b8c"), "abc"); // save/restore cursor
  assert.equal(sanitizeText("a\x1b(Bb"), "ab"); // designate charset
  assert.equal(sanitizeText("a\x1b#8b"), "ab"); // screen alignment test
  assert.equal(sanitizeText("a\x1b"), "a");
  assert.equal(sanitizeText("a\x1b\x1b[2Jb"), "ab");
  assert.equal(sanitizeText("a\x1bé"), "aé");
});

Deno.test("sanitizeText() removes bidi controls and zero-width characters", () => {
  assert.equal(sanitizeText("abc\u202edcba"), "abcdcba");
  for (const c of "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c") {
    assert.equal(sanitizeText(`x${c}y`), "xy");
  }
  for (const c of "\u200b\u200c\u200d\u2060\ufeff") {
    assert.equal(sanitizeText(`x${c}y`), "xy");
  }
});

Deno.test("sanitizeText() keeps emoji ZWJ sequences whole", () => {
  for (
    const emoji of [
      "👩\u200d💻",
      "👨\u200d👩\u200d👧\u200d👦",
      "🏳\ufe0f\u200d🌈",
      "🧑🏽\u200d🚀",
      "👨\u200d🦰",
      "❤\ufe0f\u200d🔥",
      "🧔\u200d♂\ufe0f",
    ]
  ) {
    assert.equal(sanitizeText(`x ${emoji} y`), `x ${emoji} y`);
  }
});

Deno.test("sanitizeText() keeps joiners that Persian and Indic spelling need", () => {
  // Persian "mikhaham" with its ZWNJ; a Devanagari half form with ZWJ; Malayalam chillu.
  for (const text of ["می\u200cخواهم", "क्\u200dष", "ന്\u200d", "ന്\u200dറ"]) {
    assert.equal(sanitizeText(text), text.endsWith("\u200d") ? text.slice(0, -1) : text);
  }
});

Deno.test("sanitizeText() removes joiners that only hide things", () => {
  assert.equal(sanitizeText("ad\u200dmin"), "admin");
  assert.equal(sanitizeText("ad\u200cmin"), "admin");
  assert.equal(sanitizeText("\u200d👩"), "👩");
  assert.equal(sanitizeText("👩\u200d"), "👩");
  assert.equal(sanitizeText("👩\u200da"), "👩a");
  assert.equal(sanitizeText("a\u200d👩"), "a👩");
  assert.equal(sanitizeText("👩\u200d\u200b💻"), "👩💻");
});

Deno.test("sanitizeText() removes invisible characters that disguise text", () => {
  const invisible = [
    "\u00ad", // soft hyphen
    "\u034f", // combining grapheme joiner
    "\u180e", // Mongolian vowel separator
    "\u2061", // function application
    "\u2062", // invisible times
    "\u2063", // invisible separator
    "\u2064", // invisible plus
    "\u115f", // Hangul choseong filler
    "\u3164", // Hangul filler
    "\uffa0", // halfwidth Hangul filler
    "\ufff9", // interlinear annotation anchor
    "\ufffa", // interlinear annotation separator
    "\ufffb", // interlinear annotation terminator
    "\u2028", // line separator
    "\u2029", // paragraph separator
    "\u{e0000}",
    "\u{e0001}", // language tag
    "\u{e0041}", // tag A
    "\u{e007f}", // cancel tag
  ];
  for (const c of invisible) {
    assert.equal(sanitizeText(`pay${c}pal`), "paypal", JSON.stringify(c));
  }
  // Text smuggled in tag characters ("ASCII smuggling") disappears whole.
  const smuggled = [..."ignore all"].map((ch) => String.fromCodePoint(0xe0000 + ch.codePointAt(0)!))
    .join("");
  assert.equal(sanitizeText(`hello${smuggled}!`), "hello!");
  // Characters next to them in the same blocks are kept.
  for (
    const c of ["\u00ac", "\u00ae", "\u034e", "\u2070", "\u3165", "\uffe8", "\ufffc", "\u{e0100}"]
  ) {
    assert.equal(sanitizeText(`a${c}`), `a${c}`, JSON.stringify(c));
  }
});

Deno.test("sanitizeText() caps a run of combining marks at MAX_COMBINING_MARKS", () => {
  assert.equal(MAX_COMBINING_MARKS, 4);
  const zalgo = "Z" + "\u0301\u0336\u0353\u0489\u0322\u0315\u0360".repeat(10) + "A";
  assert.equal(sanitizeText(zalgo), "Z\u0301\u0336\u0353\u0489A");
  assert.equal(sanitizeText("e\u0301\u0302\u0303\u0304"), "e\u0301\u0302\u0303\u0304");
  assert.equal(sanitizeText("e\u0301\u0302\u0303\u0304\u0305"), "e\u0301\u0302\u0303\u0304");
  // Every base gets its own allowance.
  const many = "a\u0301\u0302\u0303\u0304\u0305b\u0301\u0302\u0303\u0304\u0305";
  assert.equal(sanitizeText(many), "a\u0301\u0302\u0303\u0304b\u0301\u0302\u0303\u0304");
  // Removing what sits between two runs does not join them into a longer one.
  const split = "a\u0301\u0302\u0303\x1b[0m\u0304\u0305\u0306";
  assert.equal(sanitizeText(split), "a\u0301\u0302\u0303\u0304");
});

Deno.test("sanitizeText() keeps real scripts intact", () => {
  for (
    const text of [
      "Tiếng Việt có dấu: người, những, được, Nguyễn", // precomposed
      "Tiếng Việt".normalize("NFD"), // decomposed: up to 2 marks per letter
      "नमस्ते दुनिया, क्षत्रिय, हिन्दी", // Devanagari: virama and vowel signs
      "বাংলা ভাষা", // Bengali
      "தமிழ்", // Tamil
      "ภาษาไทย น้ำ", // Thai tone marks
      "בְּרֵאשִׁ֖ית בָּרָ֣א", // Hebrew points and cantillation
      "العربية مُشَكَّلَة", // Arabic harakat
      "한국어 조선말", // Hangul
      "Ελληνικά, русский, 日本語",
      "👍🏽 🇫🇷 1\ufe0f\u20e3 ☺\ufe0e",
    ]
  ) {
    assert.equal(sanitizeText(text), text, text);
  }
});

Deno.test("sanitizeText() removes lone surrogates and keeps valid pairs", () => {
  assert.equal(sanitizeText("a\ud83db"), "ab");
  assert.equal(sanitizeText("a\udc00b"), "ab");
  assert.equal(sanitizeText("\udc00\ud83d"), "");
  assert.equal(sanitizeText("\ud83d\ud83d\ude00"), "\ud83d\ude00");
  assert.equal(sanitizeText("\ud83d\ude00\ude00"), "\ud83d\ude00");
});

/** Units that exercise every rule, mixed with ordinary characters. */
const hostileUnit = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "\x1b",
      "[",
      "]",
      "P",
      "X",
      "^",
      "_",
      "\\",
      "\x07",
      "\u009b",
      "\u009c",
      "\u009d",
      "\u0090",
      "\u0098",
      "\u009e",
      "\u009f",
      "\r",
      "\n",
      "\t",
      ";",
      "0",
      "3",
      "1",
      "m",
      "?",
      " ",
      "(",
      "#",
      "\u200d",
      "\u202e",
      "\u2066",
      "\ufeff",
      "\ud83d",
      "\ude00",
      "\u200c",
      "\u00ad",
      "\u2028",
      "\u3164",
      "\u{e0041}",
      "\u0301",
      "\u0489",
      "\ufe0f",
      "👩",
      "💻",
      "क",
      "्",
      "ش",
      "é",
      "a",
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 3 }) },
);
const hostileText = fc.string({ unit: hostileUnit, maxLength: 60 });

/** Whether `sub` can be obtained from `text` by deleting code units. */
function isSubsequence(sub: string, text: string): boolean {
  let j = 0;
  for (let i = 0; i < text.length && j < sub.length; i++) {
    if (text[i] === sub[j]) j++;
  }
  return j === sub.length;
}

Deno.test("sanitizeText() output never contains a forbidden character", () => {
  fc.assert(
    fc.property(hostileText, (text) => {
      const clean = sanitizeText(text);
      assert.ok(!FORBIDDEN.test(clean), JSON.stringify(clean));
      assert.ok(!STRAY_JOINER.test(clean), JSON.stringify(clean));
      assert.ok(!clean.includes("\x1b"));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("sanitizeText() is idempotent and only ever deletes", () => {
  fc.assert(
    fc.property(hostileText, (text) => {
      const clean = sanitizeText(text);
      assert.equal(sanitizeText(clean), clean);
      assert.ok(isSubsequence(clean, text));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("sanitizeText() leaves printable ASCII unchanged", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme-ascii", maxLength: 80 }), (text) => {
      // deno-lint-ignore no-control-regex -- control characters are what this matches
      fc.pre(!/[\x00-\x08\x0a-\x1f\x7f]/.test(text));
      assert.equal(sanitizeText(text), text);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("sanitizeText() leaves text without forbidden characters unchanged", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (text) => {
      fc.pre(!FORBIDDEN.test(text) && !/[\u200c\u200d]/.test(text));
      assert.equal(sanitizeText(text), text);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("quoteText() sanitizes, shortens and JSON-quotes user input", () => {
  assert.equal(quoteText("x y"), '"x y"');
  assert.equal(quoteText('x "y"\x1b[2J\u202e'), '"x \\"y\\""');
  assert.equal(quoteText("abcdef", 3), '"abc…"');
  assert.equal(quoteText("abc", 3), '"abc"');
  assert.equal(quoteText("🎉🎉🎉🎉", 2), '"🎉🎉…"');
  assert.equal(quoteText("🎉🎉", 2), '"🎉🎉"');
  assert.equal(quoteText("a".repeat(100)), JSON.stringify("a".repeat(40) + "…"));
  assert.throws(() => quoteText("x", -1), RangeError);
});

Deno.test("quoteText() output is always safe to show", () => {
  fc.assert(
    fc.property(hostileText, fc.integer({ min: 0, max: 50 }), (text, max) => {
      const quoted = quoteText(text, max);
      assert.ok(!FORBIDDEN.test(quoted));
      assert.ok(quoted.startsWith('"') && quoted.endsWith('"'));
      assert.ok(Array.from(JSON.parse(quoted) as string).length <= max + 1);
    }),
    { numRuns: 1000 },
  );
});
