import assert from "node:assert/strict";
import { seededRandom } from "../../tests/helpers/memory_network.ts";
import { ReplicaCluster } from "../../tests/helpers/replica_cluster.ts";
import { OriginRetirement } from "./origin_retirement.ts";
import { VersionVector } from "../../core/version_vector.ts";

/** Origins in each running node's version vector. */
function originCounts(cluster: ReplicaCluster): number[] {
  return cluster.running().map((id) => cluster.hub(id).versions.origins().length);
}

/** The origins of node `a` in node `id`'s version vector, sorted. */
function aOrigins(cluster: ReplicaCluster, id: string): string[] {
  return cluster.hub(id).versions.origins().filter((o) => o.split(".")[0] === "a").sort();
}

/** Whether every running node holds just one origin of node `a`. */
function oneOriginOfA(cluster: ReplicaCluster): boolean {
  return cluster.running().every((id) => aOrigins(cluster, id).length === 1);
}

/** Asserts no acked event is missing anywhere, no log holds an id twice, and all logs match. */
function assertNothingLost(cluster: ReplicaCluster): void {
  for (const [id, log] of cluster.logs()) {
    assert.equal(new Set(log).size, log.length, `${id} holds an event twice`);
    const held = new Set(log);
    const missing = [...cluster.acked].filter((key) => !held.has(key));
    assert.deepEqual(missing, [], `${id} lost acknowledged events`);
  }
  assert.ok(cluster.identical(), "logs differ");
}

Deno.test("OriginRetirement: 50 crashes under traffic leave about one origin per node, nothing acked lost", async () => {
  const ids = ["a", "b", "c", "d"];
  const cluster = new ReplicaCluster(ids, {
    seed: 11,
    snapshotEveryMs: 700,
    faults: { drop: 0.05, duplicate: 0.1, minDelayMs: 1, maxDelayMs: 30 },
  });
  const random = seededRandom(11);
  await cluster.settle(50);
  // A node just restored holds what its snapshot held until its peers' reports arrive.
  let maxOrigins = 0;
  let maxOriginsAtBoot = 0;
  let crashes = 0;
  let down: { id: string; back: number } | undefined;
  for (let step = 0; crashes < 50 || down !== undefined; step++) {
    for (const id of cluster.running()) cluster.say(id, `m${step}`);
    await cluster.settle(100);
    for (const id of cluster.running()) {
      const origins = cluster.hub(id).versions.origins().length;
      if (cluster.uptime(id) >= 1000) maxOrigins = Math.max(maxOrigins, origins);
      else maxOriginsAtBoot = Math.max(maxOriginsAtBoot, origins);
    }
    if (down !== undefined && step >= down.back) {
      cluster.start(down.id);
      down = undefined;
    } else if (down === undefined && crashes < 50 && random() < 0.4) {
      // Down for 0 to 1.5 s, while the others go on talking.
      const id = ids[Math.floor(random() * ids.length)]!;
      cluster.crash(id);
      crashes++;
      down = { id, back: step + Math.floor(random() * 16) };
    }
  }
  cluster.network.advanceUntil(
    () => cluster.identical() && originCounts(cluster).every((n) => n <= ids.length),
    30_000,
  );
  await cluster.settle(0);
  assert.ok(cluster.acked.size > 1000, `traffic was acknowledged: ${cluster.acked.size}`);
  assertNothingLost(cluster);
  // Every node moved on many times, yet each vector holds one origin per node.
  const hub = cluster.hub("a");
  const epochs = Object.values(hub.versions.retiredJSON()).reduce((sum, e) => sum + e, 0);
  assert.ok(
    epochs >= 45,
    `the crashes made new origins: ${JSON.stringify(hub.versions.retiredJSON())}`,
  );
  assert.deepEqual(originCounts(cluster), ids.map(() => ids.length));
  assert.ok(maxOrigins <= 2 * ids.length, `at most ${maxOrigins} origins after boot`);
  assert.ok(maxOriginsAtBoot <= 3 * ids.length, `at most ${maxOriginsAtBoot} origins at boot`);
});

Deno.test("OriginRetirement: a member back from an older snapshot gets what it lacks, not everything", async () => {
  const cluster = new ReplicaCluster(["a", "b", "c"], { seed: 12, snapshotEveryMs: Infinity });
  await cluster.settle(50);
  for (let i = 0; i < 100; i++) cluster.say("a", `early ${i}`);
  await cluster.settle(300);
  cluster.snapshot("c"); // c's last snapshot: a:1..100
  for (let i = 0; i < 100; i++) cluster.say("a", `late ${i}`);
  await cluster.settle(300);
  cluster.snapshot("a");
  cluster.crash("a");
  cluster.start("a"); // now a.1
  await cluster.settle(50);
  cluster.say("a", "back as a.1");
  cluster.network.advanceUntil(
    () => oneOriginOfA(cluster),
    10_000,
  );
  assert.deepEqual(cluster.hub("c").versions.retiredJSON(), { a: 1 });
  // c dies and comes back from the snapshot taken before a:101..200: it never retired `a`.
  cluster.crash("c");
  cluster.start("c");
  assert.equal(cluster.hub("c").versions.toJSON().a, 101, "a's join and 100 lines");
  const before = cluster.received("c");
  cluster.network.advanceUntil(() => cluster.identical(), 10_000);
  await cluster.settle(1000);
  assertNothingLost(cluster);
  assert.ok(cluster.logs().get("c")!.includes("a:201"));
  // It was sent a:102..201 and a few of a.1 (at most twice each), not all 201 again and again.
  assert.ok(
    cluster.received("c") - before <= 2 * 110,
    `received ${cluster.received("c") - before}`,
  );
  assert.equal(cluster.hub("c").versions.retiredJSON().a, 1);
  assert.deepEqual(aOrigins(cluster, "c"), ["a.1"]);
});

Deno.test("OriginRetirement: a node joining later gets the retired origins' history still retained", async () => {
  const cluster = new ReplicaCluster(["a", "b", "d"], { seed: 13, late: ["d"] });
  await cluster.settle(50);
  for (let run = 0; run < 3; run++) {
    for (let i = 0; i < 20; i++) cluster.say("a", `run ${run} line ${i}`);
    await cluster.settle(1500); // a snapshot is taken: nothing of this run is lost
    cluster.crash("a");
    cluster.start("a");
    await cluster.settle(50);
  }
  cluster.say("a", "now a.3");
  cluster.network.advanceUntil(() => oneOriginOfA(cluster), 10_000);
  assert.deepEqual(cluster.hub("b").versions.retiredJSON(), { a: 3 });
  cluster.start("d");
  cluster.network.advanceUntil(
    () => cluster.identical() && oneOriginOfA(cluster),
    10_000,
  );
  assertNothingLost(cluster);
  const log = cluster.logs().get("d")!;
  for (const origin of ["a", "a.1", "a.2"]) {
    assert.equal(
      log.filter((id) => id.startsWith(`${origin}:`)).length,
      21,
      `${origin}: join and 20 lines`,
    );
  }
  assert.deepEqual(cluster.hub("d").versions.retiredJSON(), { a: 3 });
});

Deno.test("OriginRetirement: a member cut off keeps an old origin alive until the cut heals", async () => {
  const cluster = new ReplicaCluster(["a", "b", "c"], { seed: 14 });
  await cluster.settle(50);
  for (let i = 0; i < 30; i++) cluster.say("a", `line ${i}`);
  await cluster.settle(1500);
  cluster.network.partition([["a", "b"], ["c"]]);
  cluster.crash("a");
  cluster.start("a");
  await cluster.settle(50);
  cluster.say("a", "a.1 speaks");
  await cluster.settle(3000);
  // c's last word predates a's restart: b waits for it.
  assert.deepEqual(aOrigins(cluster, "b"), ["a", "a.1"]);
  assert.deepEqual(cluster.hub("b").versions.retiredJSON(), {});
  cluster.network.healAll();
  cluster.network.dial("c", "a:1");
  cluster.network.advanceUntil(
    () => oneOriginOfA(cluster),
    10_000,
  );
  assertNothingLost(cluster);
  assert.ok(cluster.logs().get("c")!.includes("a.1:2"), "a.1's line reached c");
});

Deno.test("OriginRetirement.report() refuses malformed watermarks and final seqs", () => {
  const retirement = new OriginRetirement(new VersionVector(), { self: "a", members: () => [] });
  assert.throws(() => retirement.report("b", { vv: {}, retired: "a" }), TypeError);
  assert.throws(() => retirement.report("b", { vv: {}, final: { "a.1": -1 } }), TypeError);
  assert.throws(() => retirement.report("b", { vv: [] }), TypeError);
  assert.deepEqual(retirement.report("b", { vv: { a: 2 }, retired: { c: 3 } }), {
    vv: { a: 2 },
    retired: { c: 3 },
    final: {},
  });
});
