/**
 * The check the slow-reader tests share (TCP in tests/slow_reader_test.ts
 * and tests/node_protocol_test.ts, WebSocket in tests/web_socket_test.ts):
 * a member of a room that stopped
 * reading is dropped after the fan-out that overflowed its queue, never
 * inside it, so everyone else gets that message before they see it leave.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Frame, FrameInbox } from "./frame_inbox.ts";
import type { RawClient } from "./raw_client.ts";

/** The sequence number of a frame's event id (`origin:seq`). */
function seqOf(frame: Frame): number {
  return Number(String(frame.id).split(":").at(-1));
}

/**
 * Has `talker` say 3,000-character lines in `room` until the first of
 * `listeners` sees `sleeper` leave (at most 20,000 lines: kernel buffers
 * absorb a few MB before the node's queue fills), then checks that the
 * talker and every listener saw it leave as `too slow`, got the last line
 * said, and got the room's events in the order they were made (one node,
 * one origin), so nothing made before the leave came after it.
 *
 * @param options The room, its members, and the nick that stopped reading.
 * @returns How many lines the talker said.
 */
export async function floodUntilSlowReaderLeaves(options: {
  room: string;
  talker: RawClient;
  listeners: readonly FrameInbox[];
  sleeper: string;
}): Promise<number> {
  const { room, talker, listeners, sleeper } = options;
  const text = "z".repeat(3000);
  const dropped = (f: Frame) => f.t === "msg" && f.kind === "leave" && f.from === sleeper;
  let sent = 0;
  while (!listeners[0]!.frames.some(dropped) && sent < 20_000) {
    for (let i = 0; i < 100; i++) {
      await talker.send({ t: "say", room, text, cid: `f${sent++}` });
    }
    await talker.next((f) => f.t === "ack" && f.cid === `f${sent - 1}`);
  }
  const lastId = talker.frames.findLast((f) => f.t === "ack")?.id;
  for (const member of [talker, ...listeners]) {
    assert.equal((await member.seen(dropped)).text, "too slow");
    await member.seen((f) => f.t === "msg" && f.id === lastId);
    const events = member.frames.filter((f) => f.t === "msg" && f.room === room);
    const late = events.findIndex((f, i) => i > 0 && seqOf(f) <= seqOf(events[i - 1]!));
    const [before, after] = [events[late - 1], events[late]];
    assert.equal(
      late,
      -1,
      `${after?.kind} ${after?.id} came after ${before?.kind} ${before?.id}`,
    );
  }
  return sent;
}
