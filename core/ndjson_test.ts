// Copyright the meshchat authors. MIT license.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type DecodedLine,
  decodeFrameText,
  encodeFrame,
  encodeFrameText,
  FrameDecoder,
  FrameError,
} from "./ndjson.ts";
import { concatBytes } from "./bytes.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);

/** Comparable form of decoder output: values, or error code/offset. */
type Outcome = { value: unknown } | { code: string; offset: number };

function outcomes(lines: DecodedLine[]): Outcome[] {
  return lines.map((line) =>
    line.ok ? { value: line.value } : { code: line.error.code, offset: line.error.offset }
  );
}

/** Pushes `bytes` cut at the given (sorted, in range) positions. */
function decodeInChunks(
  bytes: Uint8Array,
  cuts: number[],
  decoder = new FrameDecoder(),
): DecodedLine[] {
  const lines: DecodedLine[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    lines.push(...decoder.push(bytes.slice(from, cut)));
    from = cut;
  }
  return lines;
}

Deno.test("FrameDecoder.push() decodes many frames in one chunk", () => {
  const decoder = new FrameDecoder();
  const lines = decoder.push(utf8('{"t":"a"}\n[1,2]\n"x"\n42\nnull\n'));
  assert.deepEqual(outcomes(lines), [
    { value: { t: "a" } },
    { value: [1, 2] },
    { value: "x" },
    { value: 42 },
    { value: null },
  ]);
  assert.equal(decoder.buffered, 0);
});

Deno.test("FrameDecoder.push() holds an unfinished line until its newline arrives", () => {
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(utf8('{"t":')), []);
  assert.equal(decoder.buffered, 5);
  assert.deepEqual(decoder.push(utf8('"hello"}\n{"t"')), [
    { ok: true, value: { t: "hello" } },
  ]);
  assert.equal(decoder.buffered, 4);
  assert.deepEqual(decoder.push(utf8(":1}\n")), [
    { ok: true, value: { t: 1 } },
  ]);
  assert.equal(decoder.buffered, 0);
});

Deno.test("FrameDecoder.push() gives the same result for a split at every byte position", () => {
  const stream = utf8(
    '{"t":"msg","text":"héllo wörld 🎉 日本"}\r\n\n  \n["€",{"a":null}]\n{bad}\n"ok"\n',
  );
  const whole = outcomes(new FrameDecoder().push(stream));
  assert.equal(whole.length, 4);
  for (let i = 0; i <= stream.length; i++) {
    assert.deepEqual(outcomes(decodeInChunks(stream, [i])), whole, `cut ${i}`);
    for (let j = i; j <= stream.length; j += 7) {
      assert.deepEqual(outcomes(decodeInChunks(stream, [i, j])), whole);
    }
  }
  const bytewise = [...stream.keys()].slice(1);
  assert.deepEqual(outcomes(decodeInChunks(stream, bytewise)), whole);
});

Deno.test("FrameDecoder.push() joins a multi-byte character split across chunks", () => {
  const bytes = utf8('"🎉"\n'); // 22 F0 9F 8E 89 22 0A
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(bytes.subarray(0, 2)), []);
  assert.deepEqual(decoder.push(bytes.subarray(2, 4)), []);
  assert.deepEqual(decoder.push(bytes.subarray(4)), [
    { ok: true, value: "🎉" },
  ]);
});

Deno.test("FrameDecoder.push() strips a trailing CR and skips blank lines", () => {
  const decoder = new FrameDecoder();
  const lines = decoder.push(utf8('\n\r\n  \t \r\n{"a":1}\r\n\n[]\n'));
  assert.deepEqual(outcomes(lines), [{ value: { a: 1 } }, { value: [] }]);
});

Deno.test("FrameDecoder.push() does not keep a reference to the chunk", () => {
  const decoder = new FrameDecoder();
  const buffer = new Uint8Array(8);
  buffer.set(utf8('{"a":'));
  assert.deepEqual(decoder.push(buffer.subarray(0, 5)), []);
  buffer.fill(0x20);
  buffer.set(utf8("2}\n"));
  assert.deepEqual(decoder.push(buffer.subarray(0, 3)), [
    { ok: true, value: { a: 2 } },
  ]);
});

Deno.test("FrameDecoder accepts a line of exactly maxLineBytes, plus an optional CR", () => {
  const decoder = new FrameDecoder({ maxLineBytes: 10 });
  const line = '"12345678"'; // 10 bytes
  assert.deepEqual(outcomes(decoder.push(utf8(line + "\n"))), [
    { value: "12345678" },
  ]);
  assert.deepEqual(outcomes(decoder.push(utf8(line + "\r\n"))), [
    { value: "12345678" },
  ]);
  // The same, one byte at a time: the CR must not trip the limit early.
  const bytes = utf8(line + "\r\n");
  const lines = decodeInChunks(bytes, [...bytes.keys()].slice(1), decoder);
  assert.deepEqual(outcomes(lines), [{ value: "12345678" }]);
  assert.equal(decoder.buffered, 0);
});

Deno.test("FrameDecoder.push() reports a line one byte too long with its exact length", () => {
  const decoder = new FrameDecoder({ maxLineBytes: 10 });
  const lines = decoder.push(utf8('"123456789"\n"ok"\n'));
  assert.equal(lines.length, 2);
  const [first, second] = lines;
  assert.ok(first && !first.ok);
  assert.ok(first.error instanceof FrameError);
  assert.ok(first.error instanceof SyntaxError);
  assert.equal(first.error.name, "FrameError");
  assert.equal(first.error.code, "line_too_long");
  assert.equal(first.error.offset, 0);
  assert.equal(
    first.error.message,
    "Cannot decode frame: line of 11 bytes exceeds maximum 10",
  );
  assert.deepEqual(second, { ok: true, value: "ok" });
});

Deno.test("FrameDecoder.push() reports a long line once, as soon as it crosses the limit", () => {
  const decoder = new FrameDecoder({ maxLineBytes: 16 });
  assert.deepEqual(outcomes(decoder.push(utf8('"ok"\n' + "x".repeat(10)))), [
    { value: "ok" },
  ]);
  const lines = decoder.push(utf8("x".repeat(10)));
  assert.deepEqual(outcomes(lines), [{ code: "line_too_long", offset: 5 }]);
  assert.equal(
    lines[0]?.ok === false && lines[0].error.message,
    "Cannot decode frame: line of at least 20 bytes exceeds maximum 16",
  );
  assert.equal(decoder.buffered, 0);
  assert.deepEqual(decoder.push(utf8("y".repeat(100))), []);
  assert.deepEqual(outcomes(decoder.push(utf8('zzz\n{"b":2}\n'))), [
    { value: { b: 2 } },
  ]);
});

Deno.test("FrameDecoder keeps memory bounded for a 10 MB line without a newline", () => {
  const maxLineBytes = 16_384;
  const decoder = new FrameDecoder({ maxLineBytes });
  const chunk = new Uint8Array(65_536).fill(0x61);
  const errors: DecodedLine[] = [];
  const total = 10 * 1024 * 1024;
  for (let sent = 0; sent < total; sent += chunk.length) {
    errors.push(...decoder.push(chunk));
    assert.ok(decoder.buffered <= maxLineBytes + 1);
  }
  assert.deepEqual(outcomes(errors), [{ code: "line_too_long", offset: 0 }]);
  const tail = decoder.push(utf8('\n{"after":true}\n'));
  assert.deepEqual(outcomes(tail), [{ value: { after: true } }]);
});

Deno.test("FrameDecoder handles a long line arriving one byte at a time in linear time", () => {
  const maxLineBytes = 16_384;
  const decoder = new FrameDecoder({ maxLineBytes });
  const text = JSON.stringify("a".repeat(maxLineBytes - 2)) + "\n";
  const bytes = utf8(text);
  const lines: DecodedLine[] = [];
  for (let i = 0; i < bytes.length; i++) {
    lines.push(...decoder.push(bytes.subarray(i, i + 1)));
  }
  assert.equal(lines.length, 1);
  assert.ok(lines[0]?.ok);
  assert.equal((lines[0].value as string).length, maxLineBytes - 2);
});

Deno.test("FrameDecoder.push() reports invalid UTF-8 at the first bad byte in the stream", () => {
  const cases: [Uint8Array, number][] = [
    [Uint8Array.of(0x22, 0x80, 0x22), 1], // lone continuation byte
    [Uint8Array.of(0x22, 0x61, 0xe2, 0x82, 0x22), 2], // truncated sequence
    [Uint8Array.of(0x22, 0xc0, 0xaf, 0x22), 1], // overlong
    [Uint8Array.of(0x22, 0xed, 0xa0, 0x80, 0x22), 1], // surrogate
    [Uint8Array.of(0x22, 0xe2, 0x82, 0xac, 0xf5, 0x22), 4], // after "€"
    [Uint8Array.of(0x22, 0xf4, 0x90, 0x80, 0x80, 0x22), 1], // above U+10FFFF
  ];
  for (const [line, bad] of cases) {
    const decoder = new FrameDecoder();
    const prefix = utf8('{"first":1}\n');
    const lines = decoder.push(concatBytes(prefix, line, utf8("\n[2]\n")));
    assert.deepEqual(outcomes(lines), [
      { value: { first: 1 } },
      { code: "bad_utf8", offset: prefix.length + bad },
      { value: [2] },
    ]);
    const error = lines[1]?.ok === false ? lines[1].error : undefined;
    assert.equal(
      error?.message,
      `Cannot decode frame: invalid UTF-8 at byte ${prefix.length + bad}`,
    );
  }
});

Deno.test("FrameDecoder.push() reports invalid JSON at the byte where parsing failed", () => {
  const decoder = new FrameDecoder();
  const prefix = '"ok"\n';
  // "é" is two bytes, so the "}" at character 7 is at byte 8 of the line.
  const lines = decoder.push(utf8(prefix + '{"é":1,}\n'));
  assert.deepEqual(outcomes(lines), [
    { value: "ok" },
    { code: "bad_json", offset: 5 + 8 },
  ]);
  const error = lines[1]?.ok === false ? lines[1].error : undefined;
  assert.ok(error?.cause instanceof SyntaxError);
  assert.match(
    error.message,
    /^Cannot decode frame: invalid JSON at byte 13: Expected double-quoted property name$/,
  );
});

Deno.test("FrameDecoder.push() reports invalid JSON without a position at the line start", () => {
  const decoder = new FrameDecoder();
  const lines = decoder.push(utf8("[1]\nhello \x1b[31m\n\uFEFF{}\n"));
  assert.deepEqual(outcomes(lines), [
    { value: [1] },
    { code: "bad_json", offset: 4 },
    { code: "bad_json", offset: 16 },
  ]);
  const message = lines[1]?.ok === false ? lines[1].error.message : "";
  assert.ok(!message.includes("\x1b"), message);
  assert.ok(message.startsWith("Cannot decode frame: invalid JSON at byte 4: "));
});

Deno.test("FrameDecoder constructor rejects a bad maxLineBytes", () => {
  for (const bad of [0, -1, 1.5, NaN, 2 ** 31]) {
    assert.throws(() => new FrameDecoder({ maxLineBytes: bad }), RangeError);
  }
});

Deno.test("encodeFrame() writes JSON and a newline as UTF-8", () => {
  const bytes = encodeFrame({ t: "msg", text: "a\nb é" });
  assert.equal(
    new TextDecoder().decode(bytes),
    '{"t":"msg","text":"a\\nb é"}\n',
  );
  assert.equal(bytes.filter((b) => b === 0x0a).length, 1);
  assert.equal(encodeFrameText([1, "x"]), '[1,"x"]\n');
});

Deno.test("encodeFrame() throws a TypeError for a value with no JSON form", () => {
  assert.throws(() => encodeFrame(undefined), {
    name: "TypeError",
    message: "Cannot encode frame: undefined has no JSON representation",
  });
  assert.throws(() => encodeFrame(() => 1), TypeError);
  assert.throws(() => encodeFrame(1n), TypeError);
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.throws(() => encodeFrame(cycle), TypeError);
});

/** Sorted cut positions within [0, length]. */
function cutsArb(length: number): fc.Arbitrary<number[]> {
  return fc
    .array(fc.integer({ min: 0, max: length }), { maxLength: 20 })
    .map((cuts) => cuts.sort((a, b) => a - b));
}

Deno.test("FrameDecoder decodes any encoded JSON values however the stream is cut", () => {
  fc.assert(
    fc.property(
      fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 10 }).chain(
        (values) => {
          const bytes = concatBytes(...values.map(encodeFrame));
          return fc.tuple(fc.constant(values), fc.constant(bytes), cutsArb(bytes.length));
        },
      ),
      ([values, bytes, cuts]) => {
        const decoder = new FrameDecoder({ maxLineBytes: 1 << 20 });
        const lines = decodeInChunks(bytes, cuts, decoder);
        assert.deepEqual(
          outcomes(lines),
          values.map((v) => ({ value: JSON.parse(JSON.stringify(v)) })),
        );
        assert.equal(decoder.buffered, 0);
      },
    ),
    { numRuns: 500 },
  );
});

const noisyByteArb = fc.oneof(
  fc.constantFrom(0x0a, 0x0d, 0x20, 0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x31, 0x2c),
  fc.integer({ min: 0, max: 255 }),
);

Deno.test("FrameDecoder results do not depend on chunking, even for garbage", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.uint8Array({ maxLength: 120 }).chain((base) =>
        fc.array(noisyByteArb, { maxLength: 120 }).map((extra) =>
          concatBytes(base, Uint8Array.from(extra))
        )
      ).chain((bytes) => fc.tuple(fc.constant(bytes), cutsArb(bytes.length))),
      (maxLineBytes, [bytes, cuts]) => {
        const whole = new FrameDecoder({ maxLineBytes });
        const expected = outcomes(whole.push(bytes));
        const chunked = new FrameDecoder({ maxLineBytes });
        let from = 0;
        const actual: DecodedLine[] = [];
        for (const cut of [...cuts, bytes.length]) {
          actual.push(...chunked.push(bytes.subarray(from, cut)));
          assert.ok(chunked.buffered <= maxLineBytes + 1);
          from = cut;
        }
        assert.deepEqual(outcomes(actual), expected);
        for (const line of actual) {
          if (!line.ok) {
            assert.ok(line.error.offset >= 0 && line.error.offset < bytes.length);
          }
        }
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("FrameDecoder reports bad_utf8 exactly where a standard decoder first fails", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const lenient = new TextDecoder("utf-8", { ignoreBOM: true });
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.integer({ min: 0x20, max: 0x7e }),
          fc.integer({ min: 0x80, max: 0xff }),
        ),
        { maxLength: 40 },
      ),
      (byteList) => {
        const line = Uint8Array.from(byteList);
        const lines = new FrameDecoder().push(concatBytes(line, Uint8Array.of(0x0a)));
        let valid = true;
        try {
          fatal.decode(line);
        } catch {
          valid = false;
        }
        const first = lines[0];
        if (valid) {
          assert.ok(first === undefined || first.ok || first.error.code === "bad_json");
          return;
        }
        assert.ok(first && !first.ok && first.error.code === "bad_utf8");
        const at = first.error.offset;
        assert.doesNotThrow(() => fatal.decode(line.subarray(0, at)));
        assert.ok(lenient.decode(line.subarray(at)).startsWith("\uFFFD"));
        assert.ok(!lenient.decode(line.subarray(0, at)).includes("\uFFFD"));
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("FrameDecoder.push() ignores position-like text that V8 echoes from the input", () => {
  const decoder = new FrameDecoder();
  const lines = decoder.push(
    utf8("[]\nat position 99\nx in JSON at position 3 (line 1 column 4)\n"),
  );
  assert.deepEqual(outcomes(lines), [
    { value: [] },
    { code: "bad_json", offset: 3 },
    { code: "bad_json", offset: 18 },
  ]);
  for (const line of lines.slice(1)) {
    assert.ok(!line.ok);
    assert.match(
      line.error.message,
      /^Cannot decode frame: invalid JSON at byte \d+: Unexpected token '.'$/,
    );
  }
});

Deno.test("FrameDecoder gives the same results for a large chunk as for line-by-line delivery", () => {
  const maxLineBytes = 16_384;
  const parts: Uint8Array[] = [];
  const expected: Outcome[] = [];
  let offset = 0;
  const add = (bytes: Uint8Array, outcome?: Outcome) => {
    parts.push(bytes);
    if (outcome) expected.push(outcome);
    offset += bytes.length;
  };
  for (let i = 0; i < 3000; i++) {
    const value = { i, text: "é🎉".repeat(i % 7) };
    add(encodeFrame(value), { value });
    if (i % 500 === 1) {
      add(Uint8Array.of(0x31, 0xff, 0x0a), { code: "bad_utf8", offset: offset + 1 });
    }
    if (i % 700 === 2) add(utf8("\r\n \n"));
    if (i % 900 === 3) add(utf8("{]\n"), { code: "bad_json", offset: offset + 1 });
    if (i === 1500) {
      // longer than one 128 KiB batch
      add(utf8("[" + "1,".repeat(100_000) + "1]\n"), {
        code: "line_too_long",
        offset,
      });
    }
    if (i === 1600) {
      add(utf8(JSON.stringify("é".repeat(9000)) + "\n"), {
        code: "line_too_long",
        offset,
      });
    }
  }
  const stream = concatBytes(...parts);
  assert.ok(stream.length > 256 * 1024);

  const whole = new FrameDecoder({ maxLineBytes }).push(stream);
  assert.deepEqual(outcomes(whole), expected);

  const byLine = new FrameDecoder({ maxLineBytes });
  const lines: DecodedLine[] = [];
  for (const part of parts) lines.push(...byLine.push(part));
  assert.deepEqual(outcomes(lines), expected);

  const cuts = [];
  for (let at = 1000; at < stream.length; at += 1000) cuts.push(at);
  assert.deepEqual(
    outcomes(decodeInChunks(stream, cuts, new FrameDecoder({ maxLineBytes }))),
    expected,
  );
});

Deno.test("decodeFrameText() words an error as FrameDecoder does for the same line", () => {
  for (const text of ['{"t":"say","text":}', "{", "nul", '"\u0001', "[1,,2]"]) {
    const [line] = new FrameDecoder().push(utf8(text + "\n"));
    const whole = decodeFrameText(text);
    assert.equal(whole?.ok, false);
    assert.equal(line?.ok, false);
    if (whole?.ok === false && line?.ok === false) {
      assert.equal(whole.error.code, "bad_json");
      assert.equal(whole.error.message, line.error.message);
      assert.equal(whole.error.offset, line.error.offset);
    }
  }
});

Deno.test("decodeFrameText() takes one value across newlines and no frame from blank text", () => {
  assert.deepEqual(decodeFrameText('{\n  "t": "ping"\n}\n'), { ok: true, value: { t: "ping" } });
  assert.equal(decodeFrameText('{"t":"ping"}\n{"t":"ping"}')?.ok, false);
  assert.equal(decodeFrameText(""), undefined);
  assert.equal(decodeFrameText(" \r\n\t"), undefined);
});
