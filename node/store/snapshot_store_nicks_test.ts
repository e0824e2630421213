import assert from "node:assert/strict";
import { type ChatEvent, eventId } from "../../core/event.ts";
import { EventLog } from "../chat/event_log.ts";
import { SnapshotStore } from "./snapshot_store.ts";

const A = `SHA256:${"a".repeat(43)}`;
const B = `SHA256:${"b".repeat(43)}`;

function peerClaim(seq: number, wall: number, nick: string, fp: string): ChatEvent {
  return {
    origin: "n2",
    seq,
    hlc: { wall, counter: 0, node: "n2" },
    room: "",
    kind: "claim",
    from: nick,
    text: fp,
  };
}

async function boot(dir: string, historyBudgetBytes?: number) {
  const store = await SnapshotStore.open(dir, { nodeId: "n1", intervalMs: 0 });
  const log = new EventLog({
    origin: store.origin,
    lastSeq: store.lastSeq,
    ...(historyBudgetBytes === undefined ? {} : { historyBudgetBytes }),
  });
  const summary = store.attach(log);
  return { store, log, summary };
}

function claimIds(log: EventLog): string[] {
  return [...log.events()].filter((e) => e.kind === "claim").map(eventId).sort();
}

Deno.test("SnapshotStore keeps nick claims like other events, without the ones replaced", async () => {
  const dir = `./data/test-unit-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const first = await boot(dir);
    assert.equal(first.log.nicks.claim("alice", A), "claimed");
    assert.equal(first.log.nicks.claim("carol", A), "claimed");
    for (let i = 0; i < 20; i++) {
      first.log.append({ room: "lobby", kind: "message", from: "ann", text: `line ${i}` });
    }
    await first.store.snapshotNow();
    // A peer's earlier claim of carol for another key, within the race window: it replaces ours.
    const carolFirst = first.log.get("n1", 2)!;
    assert.ok(first.log.apply(peerClaim(1, carolFirst.hlc.wall - 1, "carol", B)));
    assert.ok(first.log.apply(peerClaim(2, Date.now(), "bob", B)));
    assert.deepEqual(claimIds(first.log), ["n1:1", "n2:1", "n2:2"]);
    await first.store.close();

    // Restored into a log whose history budget evicts most messages: claims are not history.
    const second = await boot(dir, 1024);
    assert.equal(second.log.nicks.ownerOf("alice"), A);
    assert.equal(second.log.nicks.ownerOf("carol"), B);
    assert.equal(second.log.nicks.ownerOf("bob"), B);
    assert.deepEqual(claimIds(second.log), ["n1:1", "n2:1", "n2:2"]);
    assert.ok(second.log.rooms.get("lobby")!.log.length < 20, "the budget evicted messages");
    assert.equal(second.log.get("n1", 2), undefined, "the replaced claim stays gone");
    assert.ok(second.log.versions.has("n1", 2), "but counts as seen");
    // Restored claims are settled: a peer's earlier-stamped claim does not take them.
    assert.ok(second.log.apply(peerClaim(3, 0, "alice", B)));
    assert.equal(second.log.nicks.ownerOf("alice"), A);
    await second.store.close();
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
