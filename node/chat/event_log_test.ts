import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import { HybridClock } from "../../core/hybrid_clock.ts";
import { eventBytes, MAX_EVENT_BYTES } from "../../core/event_size.ts";
import { DEFAULT_ROOM, EventLog, KEPT_PER_ROOM } from "./event_log.ts";

const START = 1_700_000_000_000;

function setup(options: { historySize?: number; historyBudgetBytes?: number } = {}) {
  let time = START;
  const now = () => time;
  const log = new EventLog({
    origin: "n1",
    now,
    clock: new HybridClock("n1", { now }),
    ...options,
  });
  const applied: string[] = [];
  const settled: string[] = [];
  const forgotten: string[] = [];
  log.onApplied((event, evicted) => {
    applied.push(
      `${event.origin}:${event.seq}${evicted ? `-${evicted.origin}:${evicted.seq}` : ""}`,
    );
  });
  log.onSettled((event) => settled.push(`${event.origin}:${event.seq}`));
  log.onForget((event) => forgotten.push(`${event.origin}:${event.seq}`));
  return { log, applied, settled, forgotten, advance: (ms: number) => (time += ms) };
}

function remote(
  origin: string,
  seq: number,
  wall: number,
  fields: Partial<ChatEvent> = {},
): ChatEvent {
  return {
    origin,
    seq,
    hlc: { wall, counter: 0, node: origin },
    room: "lobby",
    kind: "message",
    from: "bob",
    text: `${origin}:${seq}`,
    ...fields,
  };
}

function texts(log: EventLog, room = "lobby"): string[] {
  return [...(log.rooms.get(room)?.log ?? [])].map((e) => e.text);
}

Deno.test("EventLog.append() stamps seq and clock, indexes the event and tells listeners", () => {
  const { log, applied, settled } = setup();
  const first = log.append({ room: "lobby", kind: "message", from: "ann", text: "hi", cid: "c1" });
  const second = log.append({ room: "lobby", kind: "message", from: "ann", text: "again" });
  assert.equal(first.seq, 1);
  assert.equal(second.seq, 2);
  assert.equal(log.lastSeq, 2);
  assert.ok(log.versions.has("n1", 2));
  assert.equal(log.get("n1", 1), first);
  assert.equal(log.sentWith("ann", "c1"), first);
  assert.deepEqual(applied, ["n1:1", "n1:2"]);
  assert.deepEqual(settled, ["n1:1", "n1:2"]);
  assert.deepEqual(texts(log), ["hi", "again"]);
});

Deno.test("EventLog.append() refuses an event too large for one mesh frame", () => {
  const { log, applied } = setup();
  assert.throws(
    () =>
      log.append({
        room: "lobby",
        kind: "message",
        from: "ann",
        text: "x".repeat(MAX_EVENT_BYTES),
      }),
    RangeError,
  );
  assert.equal(log.lastSeq, 0);
  assert.deepEqual(applied, []);
});

Deno.test("EventLog.apply() dedupes by id and orders a room's log by hybrid clock", () => {
  const { log, applied } = setup();
  assert.equal(log.apply(remote("n2", 2, START - 10)), true);
  assert.equal(log.apply(remote("n3", 1, START - 20)), true);
  assert.equal(log.apply(remote("n2", 2, START - 10)), false);
  assert.deepEqual(texts(log), ["n3:1", "n2:2"]);
  assert.deepEqual(applied, ["n2:2", "n3:1"]);
  assert.equal(log.versions.contiguous("n2"), 0);
  assert.ok(log.versions.has("n2", 2));
});

Deno.test("EventLog.apply() refuses this node's origin, a far-future stamp and a sealed default room", () => {
  const { log, applied } = setup();
  assert.equal(log.apply(remote("n1", 1, START)), false);
  assert.equal(log.apply(remote("n2", 1, START + 3_600_000)), false);
  assert.equal(
    log.apply(remote("n2", 2, START, { kind: "seal", room: DEFAULT_ROOM, text: "{}" })),
    false,
  );
  assert.deepEqual(applied, []);
  // Not recorded: the same id is taken once it is valid.
  assert.equal(log.apply(remote("n2", 1, START)), true);
});

Deno.test("EventLog evicts the oldest event of a full room and unindexes it", () => {
  const { log, applied } = setup({ historySize: 2 });
  for (let seq = 1; seq <= 3; seq++) log.apply(remote("n2", seq, START - 100 + seq));
  assert.deepEqual(texts(log), ["n2:2", "n2:3"]);
  assert.equal(log.get("n2", 1), undefined);
  assert.equal(applied.at(-1), "n2:3-n2:1");
});

Deno.test("EventLog holds the history budget, keeping each room's last few events", () => {
  const { log, forgotten } = setup({ historyBudgetBytes: 1 });
  for (let seq = 1; seq <= KEPT_PER_ROOM + 3; seq++) {
    log.apply(remote("n2", seq, START - 100 + seq));
  }
  const kept = log.rooms.get("lobby")?.log.length ?? 0;
  assert.ok(kept >= KEPT_PER_ROOM && kept < KEPT_PER_ROOM + 3, `kept ${kept}`);
  assert.equal(forgotten.length, KEPT_PER_ROOM + 3 - kept);
  assert.equal(forgotten[0], "n2:1");
  for (const id of forgotten) assert.equal(log.get("n2", Number(id.split(":")[1])), undefined);
});

Deno.test("EventLog.expireIfIdle() drops a room only when the owner says so, never the default room", () => {
  const { log, forgotten } = setup();
  log.apply(remote("n2", 1, START, { room: "side", kind: "join", text: "" }));
  log.apply(remote("n2", 2, START, { kind: "join", text: "" }));
  assert.equal(log.expireIfIdle("side"), false);
  log.setRoomExpiry((room) => !room.spokenIn);
  assert.equal(log.expireIfIdle("side"), true);
  assert.equal(log.expireIfIdle(DEFAULT_ROOM), false);
  assert.equal(log.rooms.has("side"), false);
  assert.deepEqual(forgotten, ["n2:1"]);
  assert.equal(log.get("n2", 1), undefined);
});

Deno.test("EventLog.restore() loads events without telling listeners, then versions and clock", () => {
  const { log, applied, settled } = setup();
  const events = [
    remote("n2", 2, START + 50),
    remote("n2", 1, START + 40),
    remote("n1", 4, START + 60),
  ];
  log.restore(events);
  log.restoreVersions({ n2: 2, n1: 4, n4: 9 }, { n5: 3 });
  log.restoreClock([{ wall: START + 60, counter: 0 }], events[0]!.hlc);
  assert.deepEqual(applied, []);
  assert.deepEqual(settled, []);
  assert.deepEqual(texts(log), ["n2:1", "n2:2", "n1:4"]);
  assert.equal(log.versions.contiguous("n4"), 9);
  assert.ok(log.versions.isRetired("n5.2"));
  assert.ok(log.clock.last.wall >= START + 60);
  assert.equal(log.apply(remote("n2", 1, START + 40)), false);
});

Deno.test("EventLog.markLost() counts a lost range as held", () => {
  const { log } = setup();
  log.apply(remote("n2", 5, START));
  log.markLost("n2", 4);
  assert.equal(log.versions.contiguous("n2"), 5);
});

Deno.test("EventLog keeps private messages apart and finds them by nick", () => {
  const { log } = setup();
  log.append({ room: "", kind: "private", from: "ann", to: "bob", text: "psst" });
  log.append({ room: "", kind: "private", from: "cy", to: "dee", text: "other" });
  assert.deepEqual(log.privateHistory("Bob", 10).map((e) => e.text), ["psst"]);
  assert.equal(log.rooms.size, 0);
  assert.equal([...log.events()].length, 2);
});

Deno.test("EventLog listeners stop when removed", () => {
  const { log } = setup();
  const seen: number[] = [];
  const stop = log.onApplied((event) => seen.push(event.seq));
  log.append({ room: "lobby", kind: "message", from: "ann", text: "one" });
  stop();
  log.append({ room: "lobby", kind: "message", from: "ann", text: "two" });
  assert.deepEqual(seen, [1]);
});

/** Ids of events, `origin:seq`. */
function ids(events: readonly ChatEvent[]): string[] {
  return events.map((event) => `${event.origin}:${event.seq}`);
}

const ROOMY = { maxEvents: 100, maxBytes: 1 << 20, maxScan: 100 };

Deno.test("EventLog.missingFor() gives each origin's events past the peer's contiguous seq", () => {
  const { log } = setup();
  for (let seq = 1; seq <= 3; seq++) log.apply(remote("n2", seq, START - 100 + seq));
  log.apply(remote("n3", 1, START - 50));
  log.append({ room: "lobby", kind: "message", from: "ann", text: "mine" });
  const missing = log.missingFor({ n2: 1, n3: 1 }, ROOMY);
  assert.deepEqual(ids(missing.events).toSorted(), ["n1:1", "n2:2", "n2:3"]);
  assert.equal(missing.more, false);
  assert.deepEqual(missing.gaps, []);
  assert.deepEqual(log.missingFor({ n1: 1, n2: 3, n3: 1 }, ROOMY).events, []);
});

Deno.test("EventLog.missingFor() cuts at the event count and the byte budget, the first event always in", () => {
  const { log } = setup();
  for (let seq = 1; seq <= 4; seq++) log.apply(remote("n2", seq, START - 100 + seq));
  const byCount = log.missingFor({}, { ...ROOMY, maxEvents: 3 });
  assert.deepEqual(ids(byCount.events), ["n2:1", "n2:2", "n2:3"]);
  assert.equal(byCount.more, true);
  const two = eventBytes(log.get("n2", 1)!) + 1 + eventBytes(log.get("n2", 2)!);
  const byBytes = log.missingFor({}, { ...ROOMY, maxBytes: two });
  assert.deepEqual(ids(byBytes.events), ["n2:1", "n2:2"]);
  assert.equal(byBytes.more, true);
  const tiny = log.missingFor({}, { ...ROOMY, maxBytes: 1 });
  assert.deepEqual(ids(tiny.events), ["n2:1"]);
  assert.equal(tiny.more, true);
  // The next answer starts where the peer now stands.
  assert.deepEqual(ids(log.missingFor({ n2: 3 }, ROOMY).events), ["n2:4"]);
});

Deno.test("EventLog.missingFor() reports ranges it no longer holds, a scan budget at a time", () => {
  const { log } = setup({ historySize: 2 });
  for (let seq = 1; seq <= 5; seq++) log.apply(remote("n2", seq, START - 100 + seq));
  const all = log.missingFor({}, ROOMY);
  assert.deepEqual(ids(all.events), ["n2:4", "n2:5"]);
  assert.deepEqual(all.gaps, [{ origin: "n2", from: 1, to: 3 }]);
  // A short scan reports a slice of the range and no event; it is not "more".
  const slice = log.missingFor({}, { ...ROOMY, maxScan: 2 });
  assert.deepEqual(slice, { events: [], more: false, gaps: [{ origin: "n2", from: 1, to: 2 }] });
  // Cut by count right after the range: the range before the events is reported.
  const cut = log.missingFor({}, { ...ROOMY, maxEvents: 1 });
  assert.deepEqual(ids(cut.events), ["n2:4"]);
  assert.deepEqual(cut.gaps, [{ origin: "n2", from: 1, to: 3 }]);
});

Deno.test("EventLog.missingFor() serves the origins it is given, up to the seq given", () => {
  const { log } = setup();
  for (let seq = 1; seq <= 3; seq++) log.apply(remote("n2", seq, START - 100 + seq));
  log.apply(remote("n3", 1, START - 50));
  const missing = log.missingFor({}, ROOMY, { origins: [["n2", 2]] });
  assert.deepEqual(ids(missing.events), ["n2:1", "n2:2"]);
});

Deno.test("EventLog hands out rooms and moderation read-only", () => {
  const { log } = setup();
  log.append({ room: "lobby", kind: "message", from: "ann", text: "hi" });
  const room = log.rooms.get("lobby")!;
  // @ts-expect-error only the log records events
  assert.equal(typeof room.record, "function");
  // @ts-expect-error only the log applies mod events
  assert.equal(typeof log.moderation.apply, "function");
  assert.deepEqual(room.recent(5).map((e) => e.text), ["hi"]);
});
