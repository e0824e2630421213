import assert from "node:assert/strict";
import { checkEventRules } from "./event_rules.ts";
import type { ChatEvent } from "./event.ts";
import { compareMarks, formatSeenMark, isAfterMark, parseSeenMark } from "./seen_mark.ts";

function at(wall: number, counter: number, origin: string, seq: number) {
  return { hlc: { wall, counter, node: origin }, seq };
}

function seen(room: string, text: string): ChatEvent {
  return { ...at(5, 0, "n2", 3), origin: "n2", room, kind: "seen", from: "ann", text };
}

Deno.test("parseSeenMark() reads what formatSeenMark() writes, epoch origins included", () => {
  for (const mark of [at(1_700_000_000_000, 0, "n1", 1), at(0, 2 ** 31 - 1, "n1.12", 9e15)]) {
    assert.deepEqual(parseSeenMark(formatSeenMark(mark)), mark);
  }
});

Deno.test("parseSeenMark() refuses what is not a position", () => {
  for (
    const bad of [
      "",
      "1:2:n1",
      "1:2:n1:0",
      "1:2:n:1:3",
      "a:0:n1:1",
      "1:0:n1:1 ",
      "1:2147483648:n1:1",
    ]
  ) {
    assert.throws(() => parseSeenMark(bad), SyntaxError, bad);
  }
});

Deno.test("marks order as events do: stamp, then seq; no mark makes everything new", () => {
  const mark = at(10, 1, "n2", 5);
  assert.ok(compareMarks(at(10, 1, "n1", 9), mark) < 0, "node breaks a stamp tie");
  assert.ok(compareMarks(at(10, 2, "n1", 1), mark) > 0);
  assert.equal(compareMarks(at(10, 1, "n2", 5), mark), 0);
  assert.equal(isAfterMark(at(10, 1, "n2", 6), mark), true);
  assert.equal(isAfterMark(at(10, 1, "n2", 5), mark), false);
  assert.equal(isAfterMark(at(1, 0, "n1", 1), undefined), true);
});

Deno.test("checkEventRules() takes a seen mark in a room or for private messages, and nothing else", () => {
  checkEventRules(seen("dev", "1:0:n1:1"));
  checkEventRules(seen("", "1:0:n1:1"));
  assert.throws(() => checkEventRules(seen("Dev!", "1:0:n1:1")), /room is not a normalised/);
  assert.throws(() => checkEventRules(seen("dev", "hello")), /not a position/);
  assert.throws(() => checkEventRules({ ...seen("dev", "1:0:n1:1"), to: "bob" }), /recipient/);
});
