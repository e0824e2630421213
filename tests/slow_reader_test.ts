/**
 * A slow reader on a real node, with real TCP clients: it is dropped after
 * the fan-out that overflowed its queue, never inside it, so everyone else
 * in the room gets that message before they see it leave.
 */
import assert from "node:assert/strict";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { startNodeProcess } from "./helpers/node_process.ts";

const ROOM = "flood";

/** The sequence number of a frame's event id (`origin:seq`); every event here has one origin. */
function seqOf(frame: Frame): number {
  return Number(String(frame.id).split(":").at(-1));
}

/** Waits until a frame that matches has arrived, whether or not an earlier wait skipped it. */
async function seen(client: RawClient, match: (frame: Frame) => boolean): Promise<Frame> {
  while (!client.frames.some(match)) await client.next();
  return client.frames.find(match)!;
}

/**
 * Says hello on a raw connection, reads until the welcome is in, and never
 * reads again: the first member of the room, so its sink comes first in
 * every fan-out to it.
 */
async function joinAndStopReading(port: number, user: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(JSON.stringify({ t: "hello", v: 1, user, room: ROOM }) + "\n"),
  );
  const buffer = new Uint8Array(65536);
  let seen = "";
  while (!seen.includes("\n")) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`Connection closed before the welcome: ${seen}`);
    seen += new TextDecoder().decode(buffer.subarray(0, n));
  }
  assert.match(seen, /^\{"t":"welcome"/);
  return conn;
}

Deno.test("a slow reader leaves after the message that overflowed it has reached everyone", async () => {
  const node = await startNodeProcess({
    id: "slow",
    args: ["--burst", "0", "--max-bytes-per-conn", "0", "--max-queue", "65536"],
  });
  const sleeper = await joinAndStopReading(node.port, "sleeper");
  const talker = await RawClient.join(node.port, "talker", ROOM);
  const listeners = [
    await RawClient.join(node.port, "ann", ROOM),
    await RawClient.join(node.port, "ben", ROOM),
  ];
  try {
    const text = "z".repeat(3000);
    const dropped = (f: Frame) => f.t === "msg" && f.kind === "leave" && f.from === "sleeper";
    // Kernel buffers absorb a few MB before the queue fills: talk until the drop (bounded).
    let sent = 0;
    while (!listeners[0]!.frames.some(dropped) && sent < 20_000) {
      for (let i = 0; i < 100; i++) {
        await talker.send({ t: "say", room: ROOM, text, cid: `f${sent++}` });
      }
      await talker.next((f) => f.t === "ack" && f.cid === `f${sent - 1}`);
    }
    const lastId = talker.frames.findLast((f) => f.t === "ack")?.id;
    for (const member of [talker, ...listeners]) {
      assert.equal((await seen(member, dropped)).text, "too slow");
      await seen(member, (f) => f.t === "msg" && f.id === lastId);
      // One node, one origin: events reach each member in the order they were made.
      const events = member.frames.filter((f) => f.t === "msg" && f.room === ROOM);
      const late = events.findIndex((f, i) => i > 0 && seqOf(f) <= seqOf(events[i - 1]!));
      const [before, after] = [events[late - 1], events[late]];
      assert.equal(
        late,
        -1,
        `${after?.kind} ${after?.id} came after ${before?.kind} ${before?.id}`,
      );
    }
  } finally {
    sleeper.close();
    talker.close();
    for (const listener of listeners) listener.close();
    await node.stop();
  }
});
