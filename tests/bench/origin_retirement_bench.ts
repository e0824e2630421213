// Copyright the meshchat authors. MIT license.
/**
 * What origin retirement costs per anti-entropy round, and what it saves in
 * every `vv`/`have` after many crashes. Run:
 * `deno bench -P tests/bench/origin_retirement_bench.ts --json > data/bench/origin_retirement.json`
 */
import { VersionVector } from "../../core/version_vector.ts";
import { originFor } from "../../core/event.ts";
import { OriginRetirement } from "../../node/mesh/origin_retirement.ts";
import { seededRandom } from "../helpers/memory_network.ts";
import { ReplicaCluster } from "../helpers/replica_cluster.ts";

const MEMBERS = 10;
const members = Array.from({ length: MEMBERS }, (_, i) => `n${i}`);

/** A vector of `n0` holding one current origin per member, each peer agreeing. */
function steady(): OriginRetirement {
  const versions = new VersionVector();
  for (const id of members) versions.merge({ [originFor(id, 3)]: 5000 });
  const retirement = new OriginRetirement(versions, { self: "n0.3", members: () => members });
  for (const peer of members.slice(1)) retirement.report(peer, { vv: versions.toJSON() });
  return retirement;
}

const idle = steady();
Deno.bench({
  name: `OriginRetirement.retireAgreed() ${MEMBERS} members, ${MEMBERS} origins, nothing to retire`,
  fn() {
    idle.retireAgreed();
  },
});

Deno.bench({
  name: `OriginRetirement.retireAgreed() ${MEMBERS} members retiring ${MEMBERS} old origins`,
  fn(b) {
    const versions = new VersionVector();
    for (const id of members) versions.merge({ [originFor(id, 2)]: 800, [originFor(id, 3)]: 5 });
    const retirement = new OriginRetirement(versions, { self: "n0.3", members: () => members });
    // Reports count once sent two rounds after the old origins were seen superseded.
    for (let round = 0; round < 4; round++) {
      retirement.retireAgreed();
      for (const peer of members.slice(1)) retirement.report(peer, { vv: versions.toJSON() });
    }
    b.start();
    retirement.retireAgreed();
    b.end();
    if (versions.origins().length !== MEMBERS) throw new Error("Nothing was retired");
  },
});

// What one `vv` weighs after 50 crashes of 4 nodes, with and without retirement.
const cluster = new ReplicaCluster(["a", "b", "c", "d"], { seed: 11, snapshotEveryMs: 700 });
const random = seededRandom(11);
await cluster.settle(50);
for (let crash = 0; crash < 50; crash++) {
  for (const id of cluster.running()) cluster.say(id, `m${crash}`);
  await cluster.settle(300);
  const id = ["a", "b", "c", "d"][Math.floor(random() * 4)]!;
  cluster.crash(id);
  await cluster.settle(200);
  cluster.start(id);
  await cluster.settle(300);
}
cluster.network.advance(10_000);
const versions = cluster.hub("a").versions;
const withRetirement = JSON.stringify({
  k: "vv",
  vv: versions.toJSON(),
  retired: versions.retiredJSON(),
}).length;
const everyOrigin: Record<string, number> = {};
for (const id of cluster.logs().get("a")!) {
  const [origin, seq] = id.split(":") as [string, string];
  everyOrigin[origin] = Math.max(everyOrigin[origin] ?? 0, Number(seq));
}
const without = JSON.stringify({ k: "vv", vv: everyOrigin }).length;
console.error(
  `after 50 crashes of 4 nodes: ${versions.origins().length} origins, vv ${withRetirement} bytes ` +
    `(without retirement ${Object.keys(everyOrigin).length} origins, ${without} bytes)`,
);
