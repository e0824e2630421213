import assert from "node:assert/strict";
import fc from "fast-check";
import { createLogger, type LogFields } from "./logger.ts";

/** Logs one line at info and returns it. */
function logOne(message: string, fields: LogFields, name = "n1"): string {
  const lines: string[] = [];
  const logger = createLogger(name, { write: (line) => lines.push(line), now: () => 0 });
  logger.info(message, fields);
  assert.equal(lines.length, 1);
  return lines[0]!;
}

/** What must never appear raw in a log line. */
const RAW =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff\u{e0000}-\u{e007f}]/u;

Deno.test("createLogger() writes plain words bare and other values JSON-quoted", () => {
  assert.equal(
    logOne("ssh login", { user: "alice", n: 3, ok: true, addr: "127.0.0.1:22", skip: undefined }),
    "1970-01-01T00:00:00.000Z INFO n1 ssh login user=alice n=3 ok=true addr=127.0.0.1:22",
  );
  assert.equal(logOne("x", { why: "bad signature" }).split(" x ")[1], 'why="bad signature"');
  assert.equal(logOne("x", { v: 'a"b' }).split(" x ")[1], 'v="a\\"b"');
  assert.equal(logOne("x", { v: "a=b" }).split(" x ")[1], 'v="a=b"');
  assert.equal(logOne("x", { v: "" }).split(" x ")[1], 'v=""');
  assert.equal(logOne("x", { v: "é" }).split(" x ")[1], 'v="é"');
});

Deno.test("createLogger() escapes escape sequences and newlines in a value", () => {
  // No space in it, so nothing asks for quotes: the SSH user name that reached the log raw.
  const bare = logOne("ssh login", { user: "evil\x1b]0;pwned\x07\x1b[2J" });
  assert.ok(!RAW.test(bare), JSON.stringify(bare));
  assert.equal(bare.split(" ssh login ")[1], 'user="evil\\u001b]0;pwned\\u0007\\u001b[2J"');
  const user = "evil\x1b]0;pwned\x07\x1b[2J\r\n2026-01-01T00:00:00.000Z INFO n1 fake";
  const line = logOne("ssh login", { user });
  assert.ok(!RAW.test(line), JSON.stringify(line));
  assert.equal(
    line.split(" ssh login ")[1],
    'user="evil\\u001b]0;pwned\\u0007\\u001b[2J\\r\\n2026-01-01T00:00:00.000Z INFO n1 fake"',
  );
  // The quoted value is JSON: it reads back as what was logged.
  assert.equal(JSON.parse(line.split(" user=")[1]!), user);
});

Deno.test("createLogger() escapes C1 controls, bidi controls and invisible characters", () => {
  const value = "a\u009b31m\u009d0;t\u009c\u202egnp.exe\u2066\u200b\u2028\u00ad\u{e0041}b";
  const line = logOne("x", { v: value });
  assert.ok(!RAW.test(line), JSON.stringify(line));
  assert.equal(
    line.split(" x ")[1],
    'v="a\\u009b31m\\u009d0;t\\u009c\\u202egnp.exe\\u2066\\u200b\\u2028\\u00ad\\udb40\\udc41b"',
  );
  assert.equal(JSON.parse(line.split(" v=")[1]!), value);
});

Deno.test("createLogger() escapes the message, the name and the keys too", () => {
  const line = logOne("joined \x1b[31mred\n", { "k\x1b": "v" }, "n\u202e1");
  assert.ok(!RAW.test(line), JSON.stringify(line));
  assert.equal(
    line,
    "1970-01-01T00:00:00.000Z INFO n\\u202e1 joined \\u001b[31mred\\u000a k\\u001b=v",
  );
});

Deno.test("createLogger() always writes one line with no raw control character", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.string({ unit: "binary", maxLength: 20 }),
      (value, message) => {
        const line = logOne(message, { v: value });
        assert.ok(!RAW.test(line), JSON.stringify(line));
      },
    ),
    { numRuns: 1000 },
  );
});
