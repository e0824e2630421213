import assert from "node:assert/strict";
import fc from "fast-check";
import type { ChatEvent } from "./event.ts";
import { eventBytes, MAX_EVENT_BYTES, utf8Length } from "./event_size.ts";

const encoder = new TextEncoder();

function event(text: string): ChatEvent {
  return {
    origin: "n1",
    seq: 1,
    hlc: { wall: 1, counter: 0, node: "n1" },
    room: "lobby",
    kind: "message",
    from: "ann",
    text,
  };
}

Deno.test("utf8Length() agrees with TextEncoder on any string, lone surrogates included", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (text) => {
      assert.equal(utf8Length(text), encoder.encode(text).length);
    }),
    { numRuns: 2000 },
  );
  for (const text of ["", "a", "é", "€", "😀", "\ud800", "\udc00x", "a\ud83d"]) {
    assert.equal(utf8Length(text), encoder.encode(text).length, JSON.stringify(text));
  }
});

Deno.test("eventBytes() is the UTF-8 length of the event's JSON", () => {
  const sample = event(`${"€".repeat(10)} "quoted" \ud800`);
  assert.equal(eventBytes(sample), encoder.encode(JSON.stringify(sample)).length);
});

Deno.test("MAX_EVENT_BYTES holds the longest client line with room to spare", () => {
  assert.ok(eventBytes(event("€".repeat(4000))) < MAX_EVENT_BYTES / 4);
  // A lone surrogate is 6 bytes as JSON: the worst case of a 4,000-unit line.
  assert.ok(eventBytes(event("\ud800".repeat(4000))) < MAX_EVENT_BYTES / 2);
});
