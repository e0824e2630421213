import assert from "node:assert/strict";
import { ReplicaCluster } from "./helpers/replica_cluster.ts";

Deno.test("ReplicaCluster.crash() loses what came after the snapshot; start() goes on under a new origin", async () => {
  const cluster = new ReplicaCluster(["a", "b"], { seed: 1, snapshotEveryMs: Infinity });
  await cluster.settle(50);
  cluster.say("a", "kept");
  await cluster.settle(50);
  cluster.snapshot("b");
  cluster.say("a", "after b's snapshot");
  await cluster.settle(50);
  assert.equal(cluster.hub("b").versions.contiguous("a"), 3, "a's join and two lines");
  cluster.crash("b");
  cluster.crash("a"); // before any snapshot of a: a new epoch all the same
  cluster.start("b");
  assert.equal(cluster.hub("b").origin, "b.1");
  assert.equal(cluster.hub("b").versions.contiguous("a"), 2, "the snapshot's state");
  cluster.start("a");
  assert.equal(cluster.hub("a").origin, "a.1");
  assert.equal(cluster.hub("a").versions.contiguous("a"), 0);
  cluster.network.advanceUntil(() => cluster.identical(), 5000);
  assert.ok(cluster.logs().get("a")!.includes("b.1:1"), "b's new join reached a");
  assert.ok(cluster.acked.has("a:2"), "b held a:2 when it acknowledged it");
});
