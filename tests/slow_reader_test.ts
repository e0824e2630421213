/**
 * A slow reader on a real node, with real TCP clients: it is dropped after
 * the fan-out that overflowed its queue, never inside it, so everyone else
 * in the room gets that message before they see it leave.
 */
import assert from "node:assert/strict";
import { RawClient } from "./helpers/raw_client.ts";
import { startNodeProcess } from "./helpers/node_process.ts";
import { floodUntilSlowReaderLeaves } from "./helpers/slow_reader_flood.ts";

const ROOM = "flood";

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
    await floodUntilSlowReaderLeaves({ room: ROOM, talker, listeners, sleeper: "sleeper" });
  } finally {
    sleeper.close();
    talker.close();
    for (const listener of listeners) listener.close();
    await node.stop();
  }
});
