/**
 * Room limits on a real node: `/join` spam cannot grow a node's rooms (and
 * with them memory and snapshots) without bound.
 */
import assert from "node:assert/strict";
import type { ChatEvent } from "../core/event.ts";
import { Hub } from "../node/chat/hub.ts";
import { SNAPSHOT_FILE, SnapshotStore } from "../node/store/snapshot_store.ts";
import { startNodeProcess } from "./helpers/node_process.ts";
import { type Frame, RawClient } from "./helpers/raw_client.ts";

async function command(client: RawClient, line: string): Promise<Frame> {
  await client.send({ t: "cmd", line });
  return await client.next((f) => f.t === "joined" || f.t === "left" || f.t === "error");
}

async function roomsOnWelcome(port: number): Promise<string[]> {
  const probe = await RawClient.connect(port);
  await probe.send({ t: "hello", v: 1, user: `p${crypto.randomUUID().slice(0, 6)}` });
  const welcome = await probe.next((f) => f.t === "welcome");
  probe.close();
  return (welcome.rooms as string[]).toSorted();
}

Deno.test("--max-rooms: rooms left empty and unspoken expire, a full node refuses new ones", async () => {
  const dir = `./data/tmp/rooms-${crypto.randomUUID().slice(0, 8)}`;
  const args = ["--data", dir, "--max-rooms", "3", "--burst", "0", "--snapshot-interval", "0"];
  let node = await startNodeProcess({ args });
  try {
    const mallory = await RawClient.join(node.port, "mallory");
    assert.equal((await command(mallory, "/join a")).t, "joined");
    assert.equal((await command(mallory, "/join b")).t, "joined");
    // lobby, a and b are occupied: nothing can expire.
    const full = await command(mallory, "/join c");
    assert.equal(full.t, "error");
    assert.equal(full.code, "rooms_full");
    assert.match(String(full.message), /3 rooms/);
    // An empty room nobody spoke in expires at once and makes space.
    assert.equal((await command(mallory, "/leave a")).t, "left");
    assert.equal((await command(mallory, "/join c")).t, "joined");
    await mallory.send({ t: "say", room: "c", text: "c stays", cid: "1" });
    await mallory.next((f) => f.t === "ack");
    assert.equal((await command(mallory, "/leave c")).t, "left");
    assert.equal((await command(mallory, "/leave b")).t, "left");
    assert.deepEqual(await roomsOnWelcome(node.port), ["c", "lobby"]);
    // Spam: join and leave many rooms; none of them is kept.
    for (let i = 0; i < 20; i++) {
      assert.equal((await command(mallory, `/join spam-${i}`)).t, "joined");
      assert.equal((await command(mallory, `/leave spam-${i}`)).t, "left");
    }
    assert.deepEqual(await roomsOnWelcome(node.port), ["c", "lobby"]);
    mallory.close();
    // Nor does the snapshot bring them back.
    await node.stop("SIGTERM");
    node = await startNodeProcess({ args });
    assert.deepEqual(await roomsOnWelcome(node.port), ["c", "lobby"]);
  } finally {
    await node.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("--max-rooms and --max-rooms-per-session are validated and listed in --help", async () => {
  const { NODE_HELP, parseNodeConfig } = await import("../node/node_config.ts");
  assert.match(NODE_HELP, /--max-rooms N/);
  assert.match(NODE_HELP, /--max-rooms-per-session N/);
  assert.throws(() => parseNodeConfig(["--max-rooms", "0"]), /--max-rooms 0/);
  assert.throws(
    () => parseNodeConfig(["--max-rooms-per-session", "257"]),
    /--max-rooms-per-session 257/,
  );
  const config = parseNodeConfig(["--max-rooms", "50", "--max-rooms-per-session", "8"]);
  assert.ok(config !== "help");
  assert.equal(config.maxRooms, 50);
  assert.equal(config.maxRoomsPerSession, 8);
});

/** Every event the snapshot file holds, chunk parts joined. */
async function eventsInFile(dir: string): Promise<ChatEvent[]> {
  const kv = await Deno.openKv(`${dir}/${SNAPSHOT_FILE}`);
  try {
    const parts = new Map<number, Uint8Array[]>();
    for await (const entry of kv.list<Uint8Array>({ prefix: ["ev"] })) {
      const chunk = Number(entry.key[1]);
      parts.set(chunk, [...(parts.get(chunk) ?? []), entry.value]);
    }
    return [...parts.values()].flatMap((chunk) =>
      JSON.parse(new TextDecoder().decode(new Uint8Array(chunk.flatMap((p) => [...p]))))
    );
  } finally {
    kv.close();
  }
}

Deno.test("SnapshotStore lets an expired room leave the file once it was snapshotted", async () => {
  const dir = `./data/tmp/rooms-unit-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const store = await SnapshotStore.open(dir, { nodeId: "n1", intervalMs: 0 });
    const hub = new Hub({ nodeId: "n1", origin: store.origin, lastSeq: store.lastSeq });
    store.attach(hub.log);
    const session = hub.connect({ send() {}, close() {} }, { user: "mallory" }, {
      via: "test",
      address: "-",
    });
    const spam = Array.from({ length: 6 }, (_, i) => `spam-${i}`);
    for (const room of spam) hub.join(session, room);
    await store.snapshotNow();
    assert.ok((await eventsInFile(dir)).some((e) => spam.includes(e.room)), "snapshotted");
    for (const room of spam) hub.leave(session, room);
    await store.snapshotNow();
    await store.snapshotNow();
    assert.deepEqual((await eventsInFile(dir)).filter((e) => spam.includes(e.room)), []);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
