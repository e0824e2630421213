import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import { formatSeenMark } from "../../core/seen_mark.ts";
import { SeenMarks } from "./last_seen.ts";

let seq = 0;

/** A seen event of `nick` in `room` at position `upTo` (a wall time), made at `wall`. */
function seen(nick: string, room: string, upTo: number, wall = 100 + seq): ChatEvent {
  seq++;
  return {
    origin: "n1",
    seq,
    hlc: { wall, counter: 0, node: "n1" },
    room,
    kind: "seen",
    from: nick,
    text: formatSeenMark({ hlc: { wall: upTo, counter: 0, node: "n9" }, seq: 1 }),
  };
}

Deno.test("SeenMarks keeps the furthest mark per nick and room, whatever the order they arrive in", () => {
  const events = [seen("ann", "dev", 5), seen("ANN", "dev", 9), seen("ann", "dev", 7)];
  for (const order of [[0, 1, 2], [2, 1, 0], [1, 0, 2]]) {
    const marks = new SeenMarks();
    const dropped = order.map((i) => marks.apply(events[i]!)).filter((e) => e !== undefined);
    assert.equal(marks.markOf("Ann", "dev")?.hlc.wall, 9, String(order));
    assert.deepEqual([...marks.events()], [events[1]]);
    assert.equal(dropped.length, 2, "every other mark is dropped, once");
    assert.equal(marks.size, 1);
  }
});

Deno.test("SeenMarks drops the room read longest ago past its per-nick limit, and new pairs when full", () => {
  const marks = new SeenMarks({ maxRoomsPerNick: 2, maxMarks: 3 });
  const a = seen("ann", "a", 5);
  marks.apply(a);
  marks.apply(seen("ann", "", 8));
  const behind = seen("ann", "c", 1);
  assert.equal(marks.apply(behind), behind);
  assert.deepEqual([...marks.marksOf("ann").keys()].sort(), ["", "a"], "c was further behind");
  assert.equal(marks.apply(seen("ann", "d", 6)), a, "a goes for d");
  assert.deepEqual([...marks.marksOf("ann").keys()].sort(), ["", "d"]);
  const bob = seen("bob", "a", 1);
  assert.equal(marks.apply(bob), undefined);
  const full = seen("cat", "a", 1);
  assert.equal(marks.apply(full), full, "full: a new nick and room is not kept");
  assert.equal(marks.size, 3);
});
