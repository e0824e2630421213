import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import { eventBytes } from "../../core/event_size.ts";
import { Hub } from "./hub.ts";
import { formatBytes, formatStats, gatherStats } from "./stats.ts";

function remote(origin: string, seq: number, room: string): ChatEvent {
  return {
    origin,
    seq,
    hlc: { wall: 1000 + seq, counter: 0, node: origin },
    room,
    kind: "message",
    from: "zed",
    text: `message ${seq}`,
  };
}

Deno.test("gatherStats() counts a hub's events, bytes, rooms, vector, presence, lost ranges and snapshot lag", () => {
  const time = 1_000_000;
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, now: () => time });
  hub.connect({ send() {}, close() {} }, { user: "bob" }, { via: "test", address: "t:1" });
  const own = [...hub.events()]; // bob's join
  const events = [1, 2, 3, 5, 6].map((seq) => remote("n2", seq, seq % 2 ? "a" : "b"));
  for (const event of events) hub.log.apply(event);
  hub.updateRemotePresence("n2", [{ nick: "zed", rooms: ["a"], since: 1, node: "n2" }]);
  hub.cluster = { members: () => [], lostRanges: () => ["n3:1-4"], lostRangesDropped: () => 7 };
  hub.storage = {
    status: () => ({
      unwritten: 1234,
      evictedUnwritten: 56,
      queued: 1300,
      lastSavedAt: time - 125_000,
      failures: 3,
    }),
  };
  const stats = gatherStats(hub);
  assert.equal(stats.retainedEvents, own.length + 5);
  assert.equal(
    stats.historyBytes,
    [...own, ...events].reduce((sum, e) => sum + eventBytes(e), 0),
  );
  assert.equal(stats.rooms, 3, "lobby, a and b");
  assert.equal(stats.versionOrigins, 2, "n1 and n2");
  assert.equal(stats.outOfOrderSeqs, 2, "5 and 6 wait for 4");
  assert.equal(stats.sessions, 1);
  assert.equal(stats.presenceEntries, 2);
  assert.equal(stats.lostRanges, 1);
  assert.equal(stats.lostRangesDropped, 7);
  const lines = formatStats(stats, time).join("\n");
  assert.match(lines, /lost ranges: 1 \(7 older dropped\)/);
  assert.match(
    lines,
    /snapshots: FAILING \(3 in a row\), last saved 2m 5s ago; 1,234 events unwritten \(lost if this node crashed now\), 56 evicted/,
  );
});

Deno.test("formatStats() says when a node keeps no data and is standalone", () => {
  const hub = new Hub({ nodeId: "solo", rateBurst: 0 });
  const lines = formatStats(gatherStats(hub), Date.now());
  assert.deepEqual(lines.slice(-2), [
    "  lost ranges: none (standalone)",
    "  snapshots: off (no data directory)",
  ]);
});

Deno.test("formatBytes() uses binary units", () => {
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KB");
  assert.equal(formatBytes(12 * 1024 * 1024), "12.0 MB");
});
