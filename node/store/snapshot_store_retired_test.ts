import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import { Hub } from "../chat/hub.ts";
import { SnapshotStore } from "./snapshot_store.ts";

function remote(origin: string, seq: number, wall: number): ChatEvent {
  const hlc = { wall, counter: 0, node: origin };
  return {
    origin,
    seq,
    hlc,
    room: "lobby",
    kind: "message",
    from: "zed",
    text: `${origin}:${seq}`,
  };
}

async function boot(dir: string) {
  const store = await SnapshotStore.open(dir, { nodeId: "n1", intervalMs: 0 });
  const hub = new Hub({ nodeId: "n1", origin: store.origin, lastSeq: store.lastSeq, rateBurst: 0 });
  store.attach(hub.log);
  return { store, hub };
}

Deno.test("SnapshotStore keeps retired origins retired across a restart, history and all", async () => {
  const dir = `./data/test-unit-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const first = await boot(dir);
    const now = Date.now();
    for (const origin of ["n2", "n2.1", "n2.2"]) {
      for (let seq = 1; seq <= 3; seq++) first.hub.log.apply(remote(origin, seq, now - 100 + seq));
    }
    await first.store.snapshotNow();
    first.hub.log.retireBelow("n2", 2);
    await first.store.close();

    const kv = await Deno.openKv(`${dir}/snapshot.kv`);
    const keys = [];
    for await (const entry of kv.list({ prefix: ["vv"] })) keys.push(entry.key[1]);
    kv.close();
    assert.deepEqual(keys, ["n2.2"], "the retired origins' entries are deleted");

    const second = await boot(dir);
    assert.deepEqual(second.hub.versions.origins(), ["n2.2"]);
    assert.deepEqual(second.hub.versions.retiredJSON(), { n2: 2 });
    assert.ok(second.hub.versions.has("n2.1", 99), "a late copy is a duplicate");
    assert.equal(second.hub.findRoom("lobby")?.log.length, 9, "their history stays");
    await second.store.close();
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
