// Copyright the meshchat authors. MIT license.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  defaultMembershipConfig,
  type GossipEntry,
  MAX_RETIRED_BOOTS,
  type Member,
  Membership,
  type MembershipMessage,
  type MemberState,
  parseMembershipMessage,
} from "./membership.ts";
import { type MembershipChange, MembershipCluster } from "../../tests/helpers/memory_network.ts";

const config = defaultMembershipConfig();
/** Worst case from a failure to the first suspicion: wait for the next probe, then its deadline. */
const SUSPECT_BOUND = 2 * config.probeIntervalMs + 200;

function changesAbout(cluster: MembershipCluster, id: string, from = 0): MembershipChange[] {
  return cluster.changes.filter((c) => c.id === id && c.at >= from);
}

function othersSee(cluster: MembershipCluster, id: string, state: MemberState): boolean {
  return cluster.running().filter((o) => o !== id).every((o) => cluster.view(o)[id] === state);
}

function converged(nodes: string[], seed = 1): MembershipCluster {
  const cluster = new MembershipCluster({ seed });
  cluster.startChain(nodes);
  cluster.network.advanceUntil(() => cluster.converged(), 5000);
  return cluster;
}

for (const size of [3, 5]) {
  Deno.test(`Membership: ${size} nodes seeded in a chain converge to all-alive and stay there`, () => {
    const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    const cluster = new MembershipCluster({ seed: size });
    cluster.startChain(ids);
    cluster.network.advanceUntil(() => cluster.converged(), 3000);
    for (const id of ids) {
      assert.deepEqual(
        cluster.node(id).alivePeers(),
        ids.filter((x) => x !== id),
      );
    }
    const settled = cluster.network.now();
    cluster.network.advance(30_000);
    assert.ok(cluster.converged());
    assert.deepEqual(cluster.changes.filter((c) => c.at >= settled), [], "no false suspicion");
  });
}

Deno.test("Membership: a crashed node becomes suspect then dead within probe + suspicion bounds everywhere", () => {
  const cluster = converged(["n1", "n2", "n3", "n4", "n5"]);
  cluster.network.advance(3000);
  const crashedAt = cluster.network.now();
  cluster.crash("n3");
  cluster.network.advanceUntil(
    () => othersSee(cluster, "n3", "dead"),
    2 * SUSPECT_BOUND + config.suspicionMs,
  );
  const changes = changesAbout(cluster, "n3", crashedAt);
  for (const observer of cluster.running()) {
    const mine = changes.filter((c) => c.observer === observer).map((c) => c.state);
    assert.deepEqual(mine, ["suspect", "dead"], `${observer} saw ${mine}`);
  }
  const firstSuspect = Math.min(...changes.filter((c) => c.state === "suspect").map((c) => c.at));
  assert.ok(
    firstSuspect - crashedAt <= SUSPECT_BOUND,
    `first suspicion after ${firstSuspect - crashedAt} ms`,
  );
  const firstDead = Math.min(...changes.filter((c) => c.state === "dead").map((c) => c.at));
  assert.ok(firstDead - firstSuspect >= config.suspicionMs);
  assert.ok(firstDead - crashedAt <= SUSPECT_BOUND + config.suspicionMs + 100);
  // Survivors agree among themselves and keep redialing the dead node.
  for (const id of cluster.running()) assert.deepEqual(cluster.node(id).alivePeers().length, 3);
  const redials = cluster.dials.filter((d) => d.id === "n3" && d.at > crashedAt);
  assert.ok(redials.length >= 4, `${redials.length} redials`);
});

Deno.test("Membership: a paused node is suspected within ~1.5 s, dead after suspicion, and refutes on resume", () => {
  const cluster = converged(["n1", "n2", "n3"], 11);
  cluster.network.advance(2345);
  const pausedAt = cluster.network.now();
  const before = cluster.node("n1").member("n3")!.incarnation;
  cluster.network.pause("n3");

  const suspectAfter = cluster.network.advanceUntil(
    () => ["n1", "n2"].some((o) => cluster.view(o).n3 === "suspect"),
    SUSPECT_BOUND,
  );
  assert.ok(suspectAfter <= SUSPECT_BOUND, `suspected after ${suspectAfter} ms`);
  cluster.network.advanceUntil(
    () => othersSee(cluster, "n3", "suspect"),
    config.probeIntervalMs * 2,
  );
  cluster.network.advanceUntil(() => othersSee(cluster, "n3", "dead"), config.suspicionMs + 1000);
  for (const c of changesAbout(cluster, "n3", pausedAt).filter((c) => c.state === "dead")) {
    const suspected = changesAbout(cluster, "n3", pausedAt).find((s) =>
      s.observer === c.observer && s.state === "suspect"
    )!;
    assert.ok(c.at - suspected.at >= config.suspicionMs);
  }
  // The others went on without it: they never doubted each other.
  assert.deepEqual(
    cluster.changes.filter((c) => c.at >= pausedAt && c.id !== "n3"),
    [],
  );
  assert.deepEqual(cluster.node("n1").alivePeers(), ["n2"]);

  cluster.network.advance(3000);
  cluster.network.resume("n3");
  cluster.network.advanceUntil(() => cluster.converged(), 1000);
  for (const observer of ["n1", "n2"]) {
    const n3 = cluster.node(observer).member("n3")!;
    assert.equal(n3.state, "alive");
    assert.ok(n3.incarnation > before, `incarnation ${n3.incarnation}`);
  }
  assert.equal(cluster.node("n3").incarnation, cluster.node("n1").member("n3")!.incarnation);
  assert.deepEqual(cluster.view("n3"), { n1: "alive", n2: "alive", n3: "alive" });
});

Deno.test("Membership: a node paused briefly is suspected, refutes, and is never declared dead", () => {
  const cluster = converged(["n1", "n2", "n3"], 5);
  cluster.network.advance(1000);
  const pausedAt = cluster.network.now();
  cluster.network.pause("n2");
  cluster.network.advanceUntil(() => othersSee(cluster, "n2", "suspect"), 3 * SUSPECT_BOUND);
  cluster.network.resume("n2");
  cluster.network.advanceUntil(() => cluster.converged(), 2000);
  cluster.network.advance(10_000);
  assert.ok(cluster.converged());
  const states = changesAbout(cluster, "n2", pausedAt).map((c) => c.state);
  assert.ok(!states.includes("dead"), `states ${states}`);
  // n2 did not accuse the others after its own stall.
  assert.deepEqual(cluster.changes.filter((c) => c.at >= pausedAt && c.observer === "n2"), []);
});

Deno.test("Membership: a one-way cut does not kill a node thanks to indirect probes", () => {
  const cluster = converged(["n1", "n2", "n3"], 2);
  const cutAt = cluster.network.now();
  cluster.network.cut("n1", "n3", { oneWay: true });
  cluster.network.advance(30_000);
  assert.deepEqual(cluster.changes.filter((c) => c.at >= cutAt), []);
  assert.ok(cluster.converged());
});

Deno.test("Membership: without indirect probes the same one-way cut causes suspicion", () => {
  const cluster = new MembershipCluster({ seed: 2, config: { indirectProbes: 0 } });
  cluster.startChain(["n1", "n2", "n3"]);
  cluster.network.advanceUntil(() => cluster.converged(), 3000);
  cluster.network.cut("n1", "n3", { oneWay: true });
  cluster.network.advance(5000);
  assert.ok(cluster.changes.some((c) => c.state === "suspect"));
});

Deno.test("Membership: a restart with a new boot is reported and replaces the dead run", () => {
  const cluster = converged(["n1", "n2", "n3"], 4);
  cluster.crash("n2");
  cluster.network.advanceUntil(() => othersSee(cluster, "n2", "dead"), 10_000);
  const restartedAt = cluster.network.now();
  cluster.start("n2", ["n1"]);
  cluster.network.advanceUntil(() => cluster.converged(), 2000);
  for (const observer of ["n1", "n3"]) {
    const seen = changesAbout(cluster, "n2", restartedAt + 1).filter((c) =>
      c.observer === observer
    );
    assert.equal(seen.length, 1, `${observer}: ${JSON.stringify(seen)}`);
    assert.equal(seen[0]?.restarted, true);
    assert.equal(seen[0]?.previous, "dead");
    assert.equal(seen[0]?.state, "alive");
    assert.equal(seen[0]?.boot, "n2-boot2");
  }
  // Stale gossip about the old run can no longer win.
  cluster.network.advance(20_000);
  assert.ok(cluster.converged());
  assert.equal(cluster.node("n3").member("n2")?.boot, "n2-boot2");
});

Deno.test("Membership: a quick restart (before anyone noticed the crash) is reported too", () => {
  const cluster = converged(["n1", "n2", "n3"], 8);
  const at = cluster.network.now();
  cluster.crash("n3");
  cluster.start("n3", ["n2"]);
  cluster.network.advanceUntil(() => cluster.converged(), 3000);
  for (const observer of ["n1", "n2"]) {
    const seen = changesAbout(cluster, "n3", at).filter((c) => c.observer === observer);
    assert.ok(seen.some((c) => c.restarted && c.boot === "n3-boot2" && c.state === "alive"));
    assert.ok(!seen.some((c) => c.state === "dead"));
  }
});

Deno.test("Membership: a graceful leave is seen as left by everyone, and the node is not redialed", () => {
  const cluster = converged(["n1", "n2", "n3", "n4"], 6);
  const at = cluster.network.now();
  cluster.leave("n4");
  cluster.network.advance(200);
  for (const observer of cluster.running()) {
    const seen = changesAbout(cluster, "n4", at).filter((c) => c.observer === observer);
    assert.deepEqual(seen.map((c) => [c.previous, c.state]), [["alive", "left"]]);
    assert.equal(cluster.node(observer).member("n4")?.state, "left");
  }
  cluster.network.advance(20_000);
  assert.deepEqual(cluster.dials.filter((d) => d.at >= at && d.id === "n4"), []);
  assert.ok(cluster.converged());
  // Forgotten after deadRetentionMs.
  cluster.network.advance(config.deadRetentionMs);
  assert.equal(cluster.node("n1").member("n4"), undefined);
  assert.deepEqual(cluster.node("n1").members().map((m) => m.id), ["n1", "n2", "n3"]);
});

Deno.test("Membership: reconnect backoff doubles from reconnectBaseMs up to reconnectMaxMs", () => {
  const cluster = new MembershipCluster({ seed: 9, config: { suspicionMs: 120_000 } });
  cluster.startChain(["n1", "n2"]);
  cluster.network.advanceUntil(() => cluster.converged(), 2000);
  const at = cluster.network.now();
  cluster.crash("n2");
  cluster.network.advance(60_000);
  const times = [at, ...cluster.dials.filter((d) => d.from === "n1" && d.at > at).map((d) => d.at)];
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  assert.ok(gaps.length >= 8, `gaps ${gaps}`);
  for (const [i, gap] of gaps.entries()) {
    const cap = Math.min(config.reconnectMaxMs, config.reconnectBaseMs * 2 ** i);
    assert.ok(gap >= cap / 2 && gap <= cap + 110, `gap ${i} = ${gap}, cap ${cap}; gaps ${gaps}`);
  }
  assert.ok(gaps.slice(-3).every((g) => g >= config.reconnectMaxMs / 2));
});

Deno.test("Membership: a dead member is redialed at the maximum backoff until forgotten", () => {
  const cluster = converged(["n1", "n2", "n3"], 12);
  cluster.crash("n3");
  cluster.network.advanceUntil(() => othersSee(cluster, "n3", "dead"), 10_000);
  const deadAt = cluster.network.now();
  cluster.network.advance(40_000);
  const times = cluster.dials.filter((d) => d.from === "n1" && d.id === "n3" && d.at > deadAt)
    .map((d) => d.at);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  assert.ok(gaps.length >= 2);
  for (const gap of gaps) {
    assert.ok(gap >= config.reconnectMaxMs / 2 && gap <= config.reconnectMaxMs + 110);
  }
  cluster.network.advance(config.deadRetentionMs);
  assert.equal(cluster.node("n1").member("n3"), undefined);
  const last = cluster.network.now();
  cluster.network.advance(30_000);
  assert.deepEqual(cluster.dials.filter((d) => d.at > last), []);
  // Gossip about a forgotten member's death does not bring it back.
  assert.deepEqual(cluster.node("n2").members().map((m) => m.id), ["n1", "n2"]);
});

Deno.test("Membership: seeds are redialed with backoff until one answers", () => {
  const cluster = new MembershipCluster({ seed: 13 });
  cluster.start("n2", ["n1"]);
  cluster.network.advance(5000);
  const seedDials = cluster.dials.filter((d) => d.from === "n2" && d.id === undefined);
  assert.ok(seedDials.length >= 3 && seedDials.length <= 5, `${seedDials.length} seed dials`);
  cluster.start("n1");
  cluster.network.advanceUntil(() => cluster.converged(), 10_000);
});

Deno.test("Membership: a partition heals back to one view", () => {
  const cluster = converged(["n1", "n2", "n3", "n4", "n5"], 21);
  cluster.network.partition([["n1", "n2"], ["n3", "n4", "n5"]]);
  for (const a of ["n1", "n2"]) {
    for (const b of ["n3", "n4", "n5"]) cluster.network.disconnect(a, b);
  }
  cluster.network.advanceUntil(
    () =>
      ["n1", "n2"].every((o) => ["n3", "n4", "n5"].every((id) => cluster.view(o)[id] === "dead")),
    10_000,
  );
  cluster.network.healAll();
  cluster.network.advanceUntil(() => cluster.converged(), 15_000);
});

Deno.test("Membership: under random drops, duplicates and reordering, live nodes converge once faults stop", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.integer({ min: 3, max: 5 }),
      fc.record({
        drop: fc.double({ min: 0, max: 0.3, noNaN: true }),
        duplicate: fc.double({ min: 0, max: 0.3, noNaN: true }),
        minDelayMs: fc.integer({ min: 0, max: 20 }),
        maxDelayMs: fc.integer({ min: 20, max: 400 }),
      }),
      fc.integer({ min: 1000, max: 20_000 }),
      (seed, size, faults, faultyMs) => {
        const cluster = new MembershipCluster({ seed, faults });
        cluster.startChain(Array.from({ length: size }, (_, i) => `n${i + 1}`));
        cluster.network.advance(faultyMs);
        cluster.network.clearFaults();
        cluster.network.advanceUntil(() => cluster.converged(), 30_000);
        cluster.network.advance(10_000);
        assert.ok(cluster.converged());
      },
    ),
    { numRuns: 40 },
  );
});

type ChaosStep =
  | { kind: "pause" | "resume" | "crash" | "leave"; node: number }
  | { kind: "restart"; node: number; seed: number }
  | { kind: "cut"; node: number; other: number; oneWay: boolean }
  | { kind: "disconnect"; node: number; other: number }
  | { kind: "heal" };

const chaosStep: fc.Arbitrary<ChaosStep> = fc.oneof(
  fc.record({
    kind: fc.constantFrom("pause", "resume", "crash", "leave") as fc.Arbitrary<
      "pause" | "resume" | "crash" | "leave"
    >,
    node: fc.nat(9),
  }),
  fc.record({ kind: fc.constant("restart" as const), node: fc.nat(9), seed: fc.nat(9) }),
  fc.record({
    kind: fc.constant("cut" as const),
    node: fc.nat(9),
    other: fc.nat(9),
    oneWay: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("disconnect" as const), node: fc.nat(9), other: fc.nat(9) }),
  fc.record({ kind: fc.constant("heal" as const) }),
);

Deno.test("Membership: after pauses, crashes, restarts, leaves and cuts heal, the running nodes converge", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.integer({ min: 3, max: 6 }),
      fc.array(fc.tuple(chaosStep, fc.integer({ min: 0, max: 8000 })), { maxLength: 10 }),
      fc.double({ min: 0, max: 0.2, noNaN: true }),
      (seed, size, steps, drop) => {
        const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
        const cluster = new MembershipCluster({ seed, faults: { drop, maxDelayMs: 50 } });
        for (const id of ids) cluster.start(id, id === "n1" ? [] : ["n1"]);
        const network = cluster.network;
        const left = new Set<string>();
        const isRunning = (id: string) => cluster.running().includes(id);
        const restart = (id: string, pick: number) => {
          const others = cluster.running().filter((x) => x !== id);
          left.delete(id);
          cluster.start(id, others.length > 0 ? [others[pick % others.length]!, "n1"] : ["n1"]);
        };
        for (const [step, wait] of steps) {
          const id = step.kind === "heal" ? "" : ids[step.node % size]!;
          switch (step.kind) {
            case "pause":
              if (isRunning(id)) network.pause(id);
              break;
            case "resume":
              network.resume(id);
              break;
            case "crash":
              if (isRunning(id)) cluster.crash(id);
              break;
            case "leave":
              // n1 is everyone's seed and stays (it may crash and come back).
              if (id !== "n1" && isRunning(id) && !network.isPaused(id)) {
                cluster.leave(id);
                left.add(id);
              }
              break;
            case "restart":
              if (!isRunning(id)) restart(id, step.seed);
              break;
            case "cut":
              network.cut(id, ids[step.other % size]!, { oneWay: step.oneWay });
              break;
            case "disconnect":
              network.disconnect(id, ids[step.other % size]!);
              break;
            case "heal":
              network.healAll();
              break;
          }
          network.advance(wait);
        }
        network.healAll();
        network.clearFaults();
        for (const id of cluster.running()) network.resume(id);
        for (const id of ids) if (!isRunning(id) && !left.has(id)) restart(id, 0);
        network.advanceUntil(() => {
          // Every running node sees every running node alive, with one
          // boot and incarnation each; stopped nodes only as dead or left.
          const running = cluster.running();
          const views = running.map((observer) => cluster.node(observer).members());
          const current = views.map((view) =>
            JSON.stringify(
              view.filter((m) => running.includes(m.id)).map((m) => [m.id, m.boot, m.incarnation]),
            )
          );
          return views.every((view) =>
            view.every((m) =>
              running.includes(m.id)
                ? m.state === "alive"
                : m.state === "dead" || m.state === "left"
            ) && view.filter((m) => running.includes(m.id)).length === running.length
          ) && new Set(current).size === 1;
        }, 30_000);
      },
    ),
    { numRuns: 60 },
  );
});

// --- one node driven by hand ------------------------------------------------

function lone() {
  let time = 1000;
  const sent: Array<[string, MembershipMessage]> = [];
  const dials: Array<[string | undefined, string]> = [];
  const changes: Array<[Member, MemberState | undefined, boolean]> = [];
  const m = new Membership({ id: "a", addr: "a:1", boot: "a1" }, {
    send: (to, message) => sent.push([to, message]),
    dial: (id, addr) => dials.push([id, addr]),
    changed: (member, previous, restarted) => changes.push([member, previous, restarted]),
  }, { now: () => time, random: () => 0.5 });
  const gossip = (from: string, ...entries: GossipEntry[]) =>
    m.receive(from, { t: "gossip", gossip: entries });
  const entry = (id: string, incarnation: number, state: MemberState, boot = `${id}1`) => ({
    id,
    addr: `${id}:1`,
    boot,
    incarnation,
    state,
  });
  return { m, sent, dials, changes, gossip, entry, advance: (ms: number) => (time += ms) };
}

Deno.test("Membership applies SWIM precedence between alive, suspect and dead incarnations", () => {
  const { m, gossip, entry } = lone();
  m.linkUp({ id: "b", addr: "b:1", boot: "b1" });
  m.linkUp({ id: "c", addr: "c:1", boot: "c1" });
  const state = () => [m.member("c")?.state, m.member("c")?.incarnation];
  gossip("b", entry("c", 0, "suspect"));
  assert.deepEqual(state(), ["suspect", 0]);
  gossip("b", entry("c", 0, "alive"));
  assert.deepEqual(state(), ["suspect", 0], "alive needs a higher incarnation");
  gossip("b", entry("c", 1, "alive"));
  assert.deepEqual(state(), ["alive", 1]);
  gossip("b", entry("c", 0, "dead"));
  assert.deepEqual(state(), ["alive", 1], "older death is stale");
  gossip("b", entry("c", 1, "dead"));
  assert.deepEqual(state(), ["dead", 1]);
  gossip("b", entry("c", 1, "suspect"));
  assert.deepEqual(state(), ["dead", 1]);
  gossip("b", entry("c", 2, "alive"));
  assert.deepEqual(state(), ["alive", 2]);
  gossip("b", entry("c", 2, "left"));
  assert.deepEqual(state(), ["left", 2]);
  gossip("b", entry("c", 2, "dead"));
  assert.deepEqual(state(), ["left", 2]);
});

Deno.test("Membership refutes suspicion about itself with a higher incarnation", () => {
  const { m, sent, gossip, entry } = lone();
  m.linkUp({ id: "b", addr: "b:1", boot: "b1" });
  gossip("b", entry("a", 0, "suspect", "a1"));
  assert.equal(m.incarnation, 1);
  gossip("b", entry("a", 4, "dead", "a1"));
  assert.equal(m.incarnation, 5);
  gossip("b", entry("a", 9, "dead", "a0"));
  assert.equal(m.incarnation, 10, "outbids an earlier run");
  sent.length = 0;
  m.receive("b", { t: "ping", seq: 7, gossip: [] });
  const ack = sent[0]?.[1];
  assert.equal(ack?.t, "ack");
  assert.deepEqual(ack.t === "ack" && ack.gossip.find((e) => e.id === "a"), {
    id: "a",
    addr: "a:1",
    boot: "a1",
    incarnation: 10,
    state: "alive",
  });
});

Deno.test("Membership learns members from gossip, dials them, and ignores deaths of strangers", () => {
  const { m, dials, changes, gossip, entry } = lone();
  m.linkUp({ id: "b", addr: "b:1", boot: "b1" });
  gossip("b", entry("c", 3, "alive"), entry("d", 0, "dead"), entry("e", 0, "left"));
  assert.deepEqual(m.members().map((x) => x.id), ["a", "b", "c"]);
  assert.deepEqual(dials, [["c", "c:1"]]);
  assert.deepEqual(changes.map(([x, previous]) => [x.id, previous, x.state]), [
    ["b", undefined, "alive"],
    ["c", undefined, "alive"],
  ]);
});

Deno.test("Membership sends the full list on linkUp and answers pings with piggybacked gossip", () => {
  const { m, sent } = lone();
  m.linkUp({ id: "b", addr: "b:1", boot: "b1" });
  m.linkUp({ id: "c", addr: "c:1", boot: "c1" });
  const toC = sent.filter(([to]) => to === "c").map(([, message]) => message);
  assert.deepEqual(toC, [{
    t: "gossip",
    gossip: [
      { id: "a", addr: "a:1", boot: "a1", incarnation: 0, state: "alive" },
      { id: "b", addr: "b:1", boot: "b1", incarnation: 0, state: "alive" },
      { id: "c", addr: "c:1", boot: "c1", incarnation: 0, state: "alive" },
    ],
  }]);
});

Deno.test("Membership relays ping-req and answers ack-req only when the target acks", () => {
  const { m, sent } = lone();
  m.linkUp({ id: "b", addr: "b:1", boot: "b1" });
  m.linkUp({ id: "c", addr: "c:1", boot: "c1" });
  sent.length = 0;
  m.receive("b", { t: "ping-req", seq: 42, target: "c" });
  const ping = sent.find(([to, message]) => to === "c" && message.t === "ping")?.[1];
  assert.ok(ping?.t === "ping");
  m.receive("c", { t: "ack", seq: ping.seq + 1000, gossip: [] });
  assert.equal(sent.filter(([, x]) => x.t === "ack-req").length, 0);
  m.receive("c", { t: "ack", seq: ping.seq, gossip: [] });
  assert.deepEqual(sent.at(-1), ["b", { t: "ack-req", seq: 42, target: "c" }]);
});

Deno.test("Membership does nothing after leave() but the goodbye", () => {
  const { m, sent, advance } = lone();
  m.linkUp({ id: "b", addr: "b:1", boot: "b1" });
  sent.length = 0;
  m.leave();
  m.leave();
  assert.deepEqual(sent, [["b", {
    t: "gossip",
    gossip: [{ id: "a", addr: "a:1", boot: "a1", incarnation: 1, state: "left" }],
  }]]);
  advance(5000);
  m.tick();
  m.receive("b", { t: "ping", seq: 1, gossip: [] });
  assert.equal(sent.length, 1);
  assert.equal(m.member("a")?.state, "left");
});

Deno.test("Membership construction starts nothing and validates its config", () => {
  const { sent, dials, changes } = lone();
  assert.deepEqual([sent, dials, changes], [[], [], []]);
  const events = { send() {}, dial() {}, changed() {} };
  const self = { id: "a", addr: "a:1", boot: "1" };
  assert.throws(
    () => new Membership(self, events, { config: { probeTimeoutMs: 1000 } }),
    RangeError,
  );
  assert.throws(() => new Membership(self, events, { config: { suspicionMs: -1 } }), RangeError);
  assert.throws(
    () => new Membership(self, events, { config: { reconnectBaseMs: 20_000 } }),
    RangeError,
  );
  assert.throws(() => new Membership({ ...self, id: "" }, events), TypeError);
});

Deno.test("parseMembershipMessage() accepts protocol messages and rejects hostile ones", () => {
  const ok: MembershipMessage[] = [
    {
      t: "ping",
      seq: 1,
      gossip: [{ id: "a", addr: "a:1", boot: "x", incarnation: 0, state: "alive" }],
    },
    { t: "ack", seq: 0, gossip: [] },
    { t: "ping-req", seq: 3, target: "b" },
    { t: "ack-req", seq: 3, target: "b" },
    { t: "gossip", gossip: [] },
  ];
  for (const message of ok) assert.equal(parseMembershipMessage(message), message);
  const entry = { id: "a", addr: "a:1", boot: "x", incarnation: 0, state: "alive" };
  for (
    const bad of [
      null,
      "ping",
      { t: "pong" },
      { t: "ping", seq: -1, gossip: [] },
      { t: "ping", seq: 1.5, gossip: [] },
      { t: "ack", seq: 1 },
      { t: "ping-req", seq: 1, target: "" },
      { t: "gossip", gossip: [{ ...entry, state: "zombie" }] },
      { t: "gossip", gossip: [{ ...entry, incarnation: "1" }] },
      { t: "gossip", gossip: [null] },
    ]
  ) {
    assert.throws(() => parseMembershipMessage(bad), TypeError, JSON.stringify(bad));
  }
  assert.throws(
    () => parseMembershipMessage({ t: "gossip", gossip: Array(257).fill(entry) }),
    RangeError,
  );
  assert.throws(
    () => parseMembershipMessage({ t: "gossip", gossip: [{ ...entry, id: "x".repeat(300) }] }),
    RangeError,
  );
});

Deno.test("Membership forgets a member's retired boots after retiredBootRetentionMs, and keeps at most MAX_RETIRED_BOOTS", () => {
  const { m, gossip, entry, advance } = lone();
  const boot = () => m.member("c")?.boot;
  m.linkUp({ id: "b", addr: "b:1", boot: "b1" });
  gossip("b", entry("c", 0, "alive", "c1"));
  gossip("b", entry("c", 0, "alive", "c2"));
  assert.equal(boot(), "c2");
  advance(1000);
  m.tick();
  gossip("b", entry("c", 5, "alive", "c1"));
  assert.equal(boot(), "c2", "gossip about the retired run is stale");
  advance(defaultMembershipConfig().retiredBootRetentionMs);
  m.tick();
  // Forgotten: an old run claiming to be up now reads as another restart.
  gossip("b", entry("c", 5, "alive", "c1"));
  assert.equal(boot(), "c1");
  // A member that restarts over and over keeps only its newest retired boots.
  for (let i = 3; i < 3 + 3 * MAX_RETIRED_BOOTS; i++) gossip("b", entry("c", 0, "alive", `c${i}`));
  const last = 2 + 3 * MAX_RETIRED_BOOTS;
  gossip("b", entry("c", 9, "alive", `c${last - MAX_RETIRED_BOOTS}`));
  assert.equal(boot(), `c${last}`, "a recent retired boot is still stale");
  gossip("b", entry("c", 9, "alive", `c${last - MAX_RETIRED_BOOTS - 1}`));
  assert.equal(boot(), `c${last - MAX_RETIRED_BOOTS - 1}`, "an older one was forgotten");
});
