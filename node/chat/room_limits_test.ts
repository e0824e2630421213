import assert from "node:assert/strict";
import { HybridClock } from "../../core/hybrid_clock.ts";
import { EventLog } from "./event_log.ts";
import { RoomLimits } from "./room_limits.ts";
import { refusalCode, sessionIn } from "../../tests/helpers/chat_fixtures.ts";

const DAY = 86_400_000;

function setup(options: { maxRooms?: number; maxRoomsPerSession?: number } = {}) {
  let time = 1_700_000_000_000;
  const now = () => time;
  const log = new EventLog({ origin: "n1", now, clock: new HybridClock("n1", { now }) });
  const occupied = new Set<string>();
  const limits = new RoomLimits(log, {
    ...options,
    roomTtlMs: DAY,
    now,
    occupied: (room) => occupied.has(room),
  });
  const say = (room: string, kind: "join" | "message" = "join") =>
    log.append({ room, kind, from: "ann", text: kind === "join" ? "" : "hi" });
  return { log, limits, occupied, say, advance: (ms: number) => (time += ms) };
}

Deno.test("RoomLimits.makeSpaceFor() expires an idle room for a new one, and refuses when none is idle", () => {
  const { log, limits, occupied, say } = setup({ maxRooms: 2 });
  say("a");
  say("b", "message");
  occupied.add("b");
  // "a" is empty and never spoken in: it makes space.
  limits.makeSpaceFor("c");
  assert.deepEqual([...log.rooms.keys()], ["b"]);
  say("c", "message");
  occupied.add("c");
  assert.equal(refusalCode(() => limits.makeSpaceFor("d")), "rooms_full");
  // Existing rooms and the default room are always allowed.
  limits.makeSpaceFor("b");
  limits.makeSpaceFor("lobby");
});

Deno.test("RoomLimits expires a room spoken in only once it is empty and quiet for the TTL", () => {
  const { log, limits, occupied, say, advance } = setup();
  say("talk", "message");
  occupied.add("talk");
  assert.equal(limits.expireQuietRooms(), 0);
  occupied.delete("talk");
  limits.expireIfIdle("talk");
  assert.ok(log.rooms.has("talk"), "spoken in, not yet quiet");
  advance(DAY);
  assert.equal(limits.expireQuietRooms(), 1);
  assert.equal(log.rooms.has("talk"), false);
});

Deno.test("RoomLimits.applied() and mayBeIdle() note rooms swept only when space is short", () => {
  const { log, limits, say } = setup({ maxRooms: 3 });
  say("x"); // nobody is in it: noted by applied(), not expired
  limits.applied(log.get("n1", 1)!);
  say("y");
  limits.mayBeIdle("y");
  say("z");
  assert.equal(log.rooms.size, 3);
  limits.makeSpaceFor("new");
  assert.deepEqual([...log.rooms.keys()], ["z"]);
});

Deno.test("RoomLimits.checkJoin() caps the rooms of a session, rejoining is fine", () => {
  const { limits } = setup({ maxRoomsPerSession: 2 });
  const ann = sessionIn(["a", "b"]);
  assert.equal(refusalCode(() => limits.checkJoin(ann, "c")), "too_many_rooms");
  limits.checkJoin(ann, "a");
  limits.checkJoin(sessionIn(["a"]), "c");
});

Deno.test("RoomLimits refuses limits out of range", () => {
  const log = new EventLog({ origin: "n1" });
  const occupied = () => false;
  assert.throws(() => new RoomLimits(log, { occupied, maxRoomsPerSession: 257 }), RangeError);
  assert.throws(() => new RoomLimits(log, { occupied, maxRooms: 0 }), RangeError);
  assert.throws(() => new RoomLimits(log, { occupied, roomTtlMs: 0 }), RangeError);
});
