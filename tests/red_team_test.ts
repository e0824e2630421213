/**
 * Red-team regressions for issue 11 (hardening): attacks by one user or one
 * bad peer against real node processes on loopback, each fixed where it
 * lived.
 */
import assert from "node:assert/strict";
import { assertPeerLinksDespiteFlood } from "./helpers/connection_flood.ts";
import { startNodeProcess } from "./helpers/node_process.ts";
import { RawClient } from "./helpers/raw_client.ts";

/** A room name of 32 characters, the longest allowed. */
function longRoom(i: number): string {
  return `r${String(i).padStart(31, "0")}`;
}

Deno.test("welcome fits the reader's queue however many rooms one user left behind", async () => {
  const dir = `./data/tmp/red-welcome-${crypto.randomUUID().slice(0, 8)}`;
  // The smallest queue the node allows; rate limits off to keep the test short.
  const args = ["--data", dir, "--max-queue", "65536", "--burst", "0", "--snapshot-interval", "0"];
  const node = await startNodeProcess({ args });
  try {
    const mallory = await RawClient.join(node.port, "mallory");
    // One line in each room keeps it ("spoken in"); 2,200 rooms of 32
    // characters make a room list of about 77 KB, more than the whole queue.
    const rooms = 2_200;
    for (let i = 0; i < rooms; i += 100) {
      for (let j = i; j < Math.min(rooms, i + 100); j++) {
        await mallory.send({ t: "cmd", line: `/join ${longRoom(j)}` });
        await mallory.send({ t: "say", room: longRoom(j), text: "x", cid: `c${j}` });
        await mallory.send({ t: "cmd", line: `/leave ${longRoom(j)}` });
      }
      const last = longRoom(Math.min(rooms, i + 100) - 1);
      await mallory.next((f) => (f.t === "left" && f.room === last) || f.t === "error");
    }
    mallory.close();
    const alice = await RawClient.connect(node.port);
    await alice.send({ t: "hello", v: 1, user: "alice" });
    const welcome = await alice.next((f) => f.t === "welcome" || f.t === "error" || f.t === "bye");
    assert.equal(welcome.t, "welcome", JSON.stringify(welcome).slice(0, 300));
    assert.ok(
      JSON.stringify(welcome).length <= 65536 / 2,
      "the welcome stays within the reply budget",
    );
    // Still connected and served.
    await alice.send({ t: "say", text: "hello", cid: "a1" });
    assert.equal((await alice.next((f) => f.t === "ack" || f.t === "error")).t, "ack");
    alice.close();
  } finally {
    await node.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

// Not reliably held (passes about half the runs, on main before any change too):
// sockets that each send one byte count as handshakes under way, and from the
// members' own address (127.0.0.1) the slot policy cannot tell them from the
// joiner, so the joiner's own handshake is sometimes the one closed to make
// room, again and again. Silent sockets (tests/mesh_flood_test.ts) are held.
// A fix needs a cheaper first proof from the dialler (a cookie or a
// proof-of-secret in the first frame) so strangers are dropped before they
// count; kept here as the failing reproduction.
Deno.test({
  name: "connections that send one byte from a member's own address do not keep the member out",
  ignore: true,
  async fn() {
    // Another local account: the same address (127.0.0.1) as the cluster's own nodes.
    // Each connection sends one byte, so it counts as a handshake under way.
    await assertPeerLinksDespiteFlood(
      { hostname: "127.0.0.1", count: 24, firstBytes: new Uint8Array([0]), retryMs: 5 },
      (flood) => flood.opened() >= 200,
    );
  },
});

// Not fixed (a design change, see the red-team report): a room spoken in is
// kept for the room TTL (30 days) once empty, so one user who says one line
// in each of `--max-rooms` rooms (join, say, leave: three commands at 5/s per
// connection, 20 connections of one address: 10,000 rooms in about five
// minutes) leaves
// every other person unable to create a room until they expire.
Deno.test({
  name: "one user cannot use up --max-rooms for everyone by saying one line per room",
  ignore: true,
  async fn() {
    const dir = `./data/tmp/red-rooms-${crypto.randomUUID().slice(0, 8)}`;
    const args = ["--data", dir, "--max-rooms", "30", "--burst", "0", "--snapshot-interval", "0"];
    const node = await startNodeProcess({ args });
    try {
      const mallory = await RawClient.join(node.port, "mallory");
      for (let i = 0; i < 40; i++) {
        await mallory.send({ t: "cmd", line: `/join spam-${i}` });
        await mallory.send({ t: "say", room: `spam-${i}`, text: "x", cid: `c${i}` });
        await mallory.send({ t: "cmd", line: `/leave spam-${i}` });
      }
      await mallory.send({ t: "cmd", line: "/rooms" });
      await mallory.next((f) => f.t === "info" && f.cmd === "rooms");
      mallory.close();
      const alice = await RawClient.join(node.port, "alice");
      await alice.send({ t: "cmd", line: "/join book-club" });
      const reply = await alice.next((f) => f.t === "joined" || f.t === "error");
      assert.equal(reply.t, "joined", JSON.stringify(reply));
      alice.close();
    } finally {
      await node.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
