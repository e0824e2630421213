import assert from "node:assert/strict";
import { MAX_NAMED, nodePresenceNotices, noticeLines } from "./node_presence_notice.ts";
import type { PresenceEntry } from "./presence.ts";

function reader(rooms: string[], ignored: string[] = []) {
  return { rooms: new Set(rooms), ignored: new Set(ignored) };
}

Deno.test("nodePresenceNotices() names the people who share a room with each reader, once each", () => {
  const alice = reader(["lobby", "dev"]);
  const dave = reader(["ops"]);
  const people: PresenceEntry[] = [
    { nick: "bob", rooms: ["lobby", "dev"], since: 1 },
    { nick: "carol", rooms: ["elsewhere"], since: 2 },
  ];
  const notices = nodePresenceNotices([alice, dave], people, "n2", "unreachable");
  assert.deepEqual([...notices], [[alice, ["bob left (node n2 unreachable)"]]]);
});

Deno.test("nodePresenceNotices() leaves out people the reader ignores", () => {
  const alice = reader(["lobby"], ["bob"]);
  const people = [{ nick: "Bob", rooms: ["lobby"], since: 1 }];
  assert.equal(nodePresenceNotices([alice], people, "n2", "unreachable").size, 0);
});

Deno.test("nodePresenceNotices() gives one summary line for a node of 5,000 people", () => {
  const alice = reader(["lobby"]);
  const people = Array.from(
    { length: 5000 },
    (_, i) => ({ nick: `u${i}`, rooms: ["lobby"], since: i }),
  );
  const lines = nodePresenceNotices([alice], people, "n2", "unreachable").get(alice)!;
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    /^5000 people left \(node n2 unreachable\): u0, u1, .*, u9 and 4990 more$/,
  );
});

Deno.test("noticeLines() says who is back one per line up to the limit", () => {
  const named = Array.from({ length: MAX_NAMED }, (_, i) => `u${i}`);
  const lines = noticeLines(named, MAX_NAMED, "n2", "reachable");
  assert.equal(lines.length, MAX_NAMED);
  assert.equal(lines[0], "u0 is back (node n2 reachable again)");
  assert.deepEqual(noticeLines(["bob"], 3, "n2", "reachable"), [
    "3 people are back (node n2 reachable again): bob and 2 more",
  ]);
  assert.deepEqual(noticeLines(["bob"], 1, "n2", "restarted"), ["bob left (node n2 restarted)"]);
});
