import assert from "node:assert/strict";
import {
  dayAndTime,
  describeSearch,
  EXCERPT_LENGTH,
  excerptOf,
  formatHit,
  matchIndex,
  matchMessage,
  MAX_SEARCH_TEXT,
  parseSearch,
} from "./search_query.ts";

Deno.test("parseSearch() takes #room and from:NICK anywhere and keeps the rest as one phrase", () => {
  assert.deepEqual(parseSearch("from:Bob  Deploy\tfailed #Ops"), {
    text: "deploy failed",
    room: "ops",
    from: "bob",
  });
  assert.deepEqual(parseSearch("hello"), { text: "hello" });
  // A lone # is text, not a room.
  assert.deepEqual(parseSearch("# 1"), { text: "# 1" });
});

Deno.test("parseSearch() refuses no text, a long text, two rooms, two senders and bad names", () => {
  for (
    const args of [
      "",
      "#ops",
      "from:bob",
      "x".repeat(MAX_SEARCH_TEXT + 1),
      "a #ops #dev",
      "a from:bob from:ann",
      "a #Bad/Room",
      "a from:",
      "a from:no*nick",
    ]
  ) {
    assert.throws(() => parseSearch(args), RangeError, args);
  }
});

Deno.test("matchIndex() ignores case and reads a line break as a space", () => {
  assert.equal(matchIndex("The Deploy FAILED", "deploy failed"), 4);
  assert.equal(matchIndex("deploy\nfailed", "deploy failed"), 0);
  assert.equal(matchIndex("deployed fine", "deploy failed"), -1);
});

Deno.test("matchMessage() checks the room and the sender before the text", () => {
  const message = { room: "ops", from: "Bob", text: "deploy failed" };
  assert.equal(matchMessage(message, parseSearch("failed #ops from:bob")), 7);
  assert.equal(matchMessage(message, parseSearch("failed #dev")), -1);
  assert.equal(matchMessage(message, parseSearch("failed from:ann")), -1);
});

Deno.test("excerptOf() keeps a short text whole and cuts a long one around the match", () => {
  assert.equal(excerptOf("a \x1b[2Jshort\nline", 2, 5), "a short line");
  const long = `${"a".repeat(300)}NEEDLE${"b".repeat(300)}`;
  const excerpt = excerptOf(long, 300, 6);
  assert.ok(excerpt.includes("NEEDLE"), excerpt);
  assert.ok(excerpt.startsWith("…") && excerpt.endsWith("…"), excerpt);
  assert.equal(excerpt.length, EXCERPT_LENGTH + 2);
  assert.ok(excerptOf(long, 0, 1).startsWith("aaa"), "a match at the start starts the excerpt");
});

Deno.test("formatHit() shows room, date and time in the zone, sender and excerpt", () => {
  const time = Date.UTC(2026, 11, 4, 5, 12);
  assert.equal(dayAndTime(time), "2026-12-04 05:12");
  assert.equal(dayAndTime(time, "Asia/Tokyo"), "2026-12-04 14:12");
  const hit = { id: "n1:1", room: "ops", time, from: "bob", excerpt: "it failed" };
  assert.equal(formatHit({ ...hit, kind: "message" }), "  #ops 2026-12-04 05:12 <bob> it failed");
  assert.equal(formatHit({ ...hit, kind: "action" }), "  #ops 2026-12-04 05:12 * bob it failed");
  assert.equal(describeSearch(parseSearch("It #ops from:Bob")), '"it" in #ops from bob');
});
