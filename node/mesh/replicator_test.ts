import assert from "node:assert/strict";
import fc from "fast-check";
import type { ServerFrame } from "../../core/protocol.ts";
import { HybridClock } from "../../core/hybrid_clock.ts";
import { Hub, type Session } from "../chat/hub.ts";
import {
  type LinkFaults,
  MemoryNetwork,
  replicatorEndpoint,
} from "../../tests/helpers/memory_network.ts";
import { MAX_LOST_RANGES, type ReplicationMessage, Replicator } from "./replicator.ts";
import { silentLogger } from "../logger.ts";
import type { ChatEvent } from "../../core/event.ts";
import { turnEnd } from "../../tests/helpers/turn_end.ts";

const sink = { send(_frame: ServerFrame) {}, close() {} };

interface Replica {
  readonly id: string;
  readonly hub: Hub;
  readonly replicator: Replicator;
  readonly session: Session;
}

/** N hubs joined through an in-memory network with faults; anti-entropy on every tick. */
function cluster(
  ids: string[],
  options: {
    seed: number;
    faults?: Partial<LinkFaults>;
    historySize?: number;
    skewMs?: Record<string, number>;
  },
) {
  const net = new MemoryNetwork<ReplicationMessage>({ seed: options.seed, tickMs: 100 });
  const replicas = new Map<string, Replica>();
  for (const id of ids) {
    const hub = new Hub({
      nodeId: id,
      rateBurst: 0,
      historySize: options.historySize ?? 4096,
      clock: new HybridClock(id, { now: () => net.now() + (options.skewMs?.[id] ?? 0) }),
    });
    const replicator = new Replicator(hub.log, {
      send: (peer, message) => net.send(id, peer, structuredClone(message)),
      upPeers: () => ids.filter((peer) => peer !== id && net.linked(id, peer)),
      ackIntervalMs: 0, // virtual time: one ack per turn, not per real-time interval
    });
    net.attach(id, `${id}:1`, replicatorEndpoint(replicator));
    const session = hub.connect(sink, { user: `u-${id}` }, { via: "test", address: "-" });
    replicas.set(id, { id, hub, replicator, session });
  }
  for (const a of ids) for (const b of ids) if (a < b) net.dial(a, `${b}:1`);
  net.advance(10);
  if (options.faults) net.setFaults(options.faults);
  const logs = () =>
    ids.map((id) =>
      replicas.get(id)!.hub.findRoom("lobby")!.log.toArray().map((e) => `${e.origin}:${e.seq}`)
    );
  const identical = () => {
    const all = logs().map((log) => JSON.stringify(log));
    return all.every((log) => log === all[0]);
  };
  return { net, replicas, logs, identical };
}

Deno.test("Replicator: every message reaches every hub and all logs end identical", async () => {
  const { net, replicas, identical, logs } = cluster(["a", "b", "c"], { seed: 1 });
  for (let i = 0; i < 20; i++) {
    for (const replica of replicas.values()) replica.hub.say(replica.session, "lobby", `m${i}`);
    await turnEnd();
    net.advance(5);
  }
  net.advance(500);
  assert.ok(identical());
  assert.equal(logs()[0]!.filter((id) => id).length, 3 * 20 + 3);
});

Deno.test("Replicator: a cut heals into identical logs through anti-entropy", async () => {
  const { net, replicas, identical } = cluster(["a", "b", "c"], { seed: 2 });
  net.partition([["a", "b"], ["c"]]);
  for (let i = 0; i < 30; i++) {
    for (const replica of replicas.values()) replica.hub.say(replica.session, "lobby", `m${i}`);
    await turnEnd();
    net.advance(20);
  }
  assert.ok(!identical(), "the partition really separated the logs");
  net.healAll();
  for (const a of ["a", "b"]) net.dial("c", `${a}:1`);
  net.advanceUntil(() => identical(), 5000);
  assert.ok(identical());
});

Deno.test("Replicator: an ack waits for a peer to hold the event, unless no peer is up", async () => {
  const { net, replicas } = cluster(["a", "b"], { seed: 3 });
  const a = replicas.get("a")!;
  const event = a.hub.say(a.session, "lobby", "acked?");
  let acked = false;
  a.replicator.replicated(event).then(() => (acked = true));
  await turnEnd();
  assert.equal(acked, false);
  net.advance(10); // the push reaches b
  await turnEnd(); // b acks at the end of its turn
  net.advance(10);
  await turnEnd();
  assert.equal(acked, true);
  net.partition([["a"], ["b"]]);
  net.disconnect("a", "b");
  net.advance(10);
  const alone = a.hub.say(a.session, "lobby", "alone");
  let aloneAcked = false;
  a.replicator.replicated(alone).then(() => (aloneAcked = true));
  await turnEnd();
  assert.equal(aloneAcked, true);
});

Deno.test("Replicator: a range no peer holds any more is recorded as lost, not skipped silently", async () => {
  const { net, replicas } = cluster(["a", "b"], { seed: 4, historySize: 16 });
  net.partition([["a"], ["b"]]);
  net.disconnect("a", "b");
  const a = replicas.get("a")!;
  for (let i = 0; i < 64; i++) a.hub.say(a.session, "lobby", `m${i}`);
  await turnEnd();
  net.healAll();
  net.dial("a", "b:1");
  net.advance(1000);
  const b = replicas.get("b")!;
  assert.equal(b.hub.versions.contiguous("a"), a.hub.log.lastSeq);
  assert.equal(b.replicator.lostRanges().length, 1);
  assert.match(b.replicator.lostRanges()[0]!, /^a:\d+-\d+$/);
});

Deno.test("Replicator: under drops, duplicates and reordering, logs converge once faults stop", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.double({ min: 0, max: 0.4 }),
      async (seed, drop) => {
        const { net, replicas, identical } = cluster(["a", "b", "c"], {
          seed,
          faults: { drop, duplicate: 0.2, minDelayMs: 1, maxDelayMs: 80 },
        });
        for (let i = 0; i < 15; i++) {
          for (const replica of replicas.values()) {
            replica.hub.say(
              replica.session,
              "lobby",
              `m${i}`,
            );
          }
          await turnEnd();
          net.advance(15);
        }
        net.clearFaults();
        net.advanceUntil(() => identical(), 10_000);
        assert.ok(identical());
        for (const replica of replicas.values()) {
          const log = replica.hub.findRoom("lobby")!.log.toArray();
          assert.equal(new Set(log.map((e) => `${e.origin}:${e.seq}`)).size, log.length);
        }
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("Replicator: a node whose wall clock is 5 minutes off is neither rejected nor breaks the order", async () => {
  const { net, replicas, identical, logs } = cluster(["a", "b", "c"], {
    seed: 5,
    skewMs: { b: 5 * 60_000, c: -5 * 60_000 },
  });
  for (let i = 0; i < 10; i++) {
    for (const replica of replicas.values()) replica.hub.say(replica.session, "lobby", `m${i}`);
    await turnEnd();
    net.advance(50);
  }
  net.advance(500);
  assert.ok(identical());
  assert.equal(logs()[0]!.length, 3 * 10 + 3);
  // Every node's own messages stay in the order it sent them.
  const log = replicas.get("a")!.hub.findRoom("lobby")!.log.toArray();
  for (const origin of ["a", "b", "c"]) {
    const seqs = log.filter((e) => e.origin === origin).map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
  }
});

/** The mesh channel's frame limit (`node/mesh/mesh_channel.ts`), which every message must fit. */
const FRAME_BYTES = 1 << 20;
const utf8 = new TextEncoder();

/** Hubs a and b on a network that, like the mesh channel, refuses a message over the frame limit. */
function framedPair() {
  const sizes: number[] = [];
  const net = new MemoryNetwork<ReplicationMessage>({ seed: 8, tickMs: 100 });
  const replicas = new Map<string, Replica>();
  for (const id of ["a", "b"]) {
    const hub = new Hub({
      nodeId: id,
      rateBurst: 0,
      clock: new HybridClock(id, { now: () => net.now() }),
    });
    const replicator = new Replicator(hub.log, {
      send: (peer, message) => {
        const bytes = utf8.encode(JSON.stringify(message)).length;
        sizes.push(bytes);
        if (bytes <= FRAME_BYTES) net.send(id, peer, structuredClone(message));
      },
      upPeers: () => (net.linked("a", "b") ? [id === "a" ? "b" : "a"] : []),
    });
    net.attach(id, `${id}:1`, replicatorEndpoint(replicator));
    const session = hub.connect(sink, { user: `u-${id}` }, { via: "test", address: "-" });
    replicas.set(id, { id, hub, replicator, session });
  }
  return { net, a: replicas.get("a")!, b: replicas.get("b")!, sizes };
}

/** 100 lines of the longest length a client may send, of 3-byte characters: 1.2 MB as JSON. */
function sayLongLines(replica: Replica): void {
  for (let i = 0; i < 100; i++) {
    replica.hub.say(replica.session, "lobby", `${i} ${"€".repeat(3990)}`);
  }
}

Deno.test('Replicator: catch-up of 100 lines of 4,000 "€" sends no message above the frame limit', async () => {
  const { net, a, b, sizes } = framedPair();
  // b is down while a accepts the lines.
  sayLongLines(a);
  await turnEnd();
  net.dial("a", "b:1");
  net.advanceUntil(() => b.hub.versions.contiguous("a") === a.hub.log.lastSeq, 5000);
  assert.equal(b.hub.versions.contiguous("a"), a.hub.log.lastSeq, "b caught up");
  assert.ok(Math.max(...sizes) <= FRAME_BYTES, `largest message ${Math.max(...sizes)} bytes`);
});

Deno.test('Replicator: an eager push of 100 lines of 4,000 "€" in one turn is cut to fit frames', async () => {
  const { net, a, b, sizes } = framedPair();
  net.dial("a", "b:1");
  net.advance(10);
  sizes.length = 0;
  sayLongLines(a);
  await turnEnd();
  assert.ok(
    sizes.length > 1 && Math.max(...sizes) <= FRAME_BYTES,
    `pushed ${sizes.join(", ")} bytes`,
  );
  net.advance(10);
  assert.equal(b.hub.versions.contiguous("a"), a.hub.log.lastSeq, "b holds every line pushed");
});

/** One hub linked to a scripted peer "p": what it sends is recorded, what it logs is kept. */
function scriptedPeer() {
  const sent: ReplicationMessage[] = [];
  const warnings: string[] = [];
  const hub = new Hub({ nodeId: "b", rateBurst: 0, clock: new HybridClock("b", { now: () => 0 }) });
  const replicator = new Replicator(hub.log, {
    send: (_peer, message) => sent.push(message),
    upPeers: () => ["p"],
    logger: {
      ...silentLogger,
      warn: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields)}`),
    },
  });
  replicator.linkUp("p");
  return { hub, replicator, sent, warnings };
}

Deno.test("Replicator: a gap message claiming ten million lost seqs is refused, costing nothing", () => {
  const { hub, replicator, warnings } = scriptedPeer();
  replicator.receive("p", { k: "gap", origin: "x", from: 1, to: 10_000_000 });
  replicator.receive("p", { k: "gap", origin: "x", from: 2, to: 10_000_000 });
  assert.equal(hub.versions.contiguous("x"), 0);
  assert.equal(hub.versions.has("x", 5), false);
  assert.deepEqual(replicator.lostRanges(), []);
  assert.equal(warnings.length, 2, warnings.join("; "));
});

Deno.test("Replicator: a gap right after what a hub holds is recorded as lost; one beyond a hole waits", () => {
  const { hub, replicator } = scriptedPeer();
  // Not adjacent: seqs 1..9 are neither held nor reported lost, so nothing is skipped yet.
  replicator.receive("p", { k: "gap", origin: "x", from: 10, to: 19 });
  assert.equal(hub.versions.has("x", 10), false);
  replicator.receive("p", { k: "gap", origin: "x", from: 1, to: 19 });
  assert.equal(hub.versions.contiguous("x"), 19);
  assert.deepEqual(replicator.lostRanges(), ["x:1-19"]);
});

Deno.test("Replicator: a replicated event too large to fit a frame with others is rejected", () => {
  const { hub, replicator, warnings } = scriptedPeer();
  const event = {
    origin: "x",
    seq: 1,
    hlc: { wall: 1, counter: 0, node: "x" },
    room: "lobby",
    kind: "message",
    from: "someone",
    text: "€".repeat(40_000),
  };
  replicator.receive("p", { k: "ev", events: [event as ChatEvent] });
  assert.equal(hub.versions.contiguous("x"), 0);
  assert.match(warnings.join("; "), /too large/);
});

Deno.test("Hub.say() refuses a line whose event could not fit a mesh frame", () => {
  const hub = new Hub({ nodeId: "a", rateBurst: 0 });
  const session = hub.connect(sink, { user: "u" }, { via: "test", address: "-" });
  assert.throws(() => hub.say(session, "lobby", "€".repeat(30_000)), /exceeds maximum/);
  assert.equal(hub.log.lastSeq, 1, "only the join was accepted");
  hub.say(session, "lobby", "€".repeat(4000));
});

/** One hub linked to scripted peers "p" and "q", with a clock the test moves. */
function twoScriptedPeers() {
  let time = 1_000_000;
  const hub = new Hub({ nodeId: "b", rateBurst: 0, clock: new HybridClock("b", { now: () => 0 }) });
  const replicator = new Replicator(hub.log, {
    send: () => {},
    upPeers: () => ["p", "q"],
    gapReportMaxAgeMs: 60_000,
    now: () => time,
  });
  replicator.linkUp("p");
  replicator.linkUp("q");
  return { hub, replicator, advance: (ms: number) => (time += ms) };
}

Deno.test("Replicator: a gap report only some peers made is aged out and counts no more", () => {
  const { hub, replicator, advance } = twoScriptedPeers();
  for (let i = 0; i < 50; i++) {
    replicator.receive("p", { k: "gap", origin: `x${i}`, from: 1, to: 5 });
  }
  assert.equal(replicator.gapReportCount, 50);
  advance(61_000);
  replicator.antiEntropy();
  assert.equal(replicator.gapReportCount, 0, "old partial reports are gone");
  // q agrees now, but p's report is stale: p may have caught up since.
  replicator.receive("q", { k: "gap", origin: "x0", from: 1, to: 5 });
  assert.equal(hub.versions.contiguous("x0"), 0);
  assert.deepEqual(replicator.lostRanges(), []);
  replicator.receive("p", { k: "gap", origin: "x0", from: 1, to: 5 });
  assert.deepEqual(replicator.lostRanges(), ["x0:1-5"]);
});

Deno.test("Replicator: lost ranges of one origin are merged and the list is capped, counting the dropped", () => {
  const { replicator } = twoScriptedPeers();
  const lose = (origin: string, from: number, to: number) => {
    replicator.receive("p", { k: "gap", origin, from, to });
    replicator.receive("q", { k: "gap", origin, from, to });
  };
  lose("x", 1, 10);
  lose("x", 11, 20);
  assert.deepEqual(replicator.lostRanges(), ["x:1-20"]);
  for (let i = 0; i < MAX_LOST_RANGES + 44; i++) lose(`o${i}`, 1, 3);
  const ranges = replicator.lostRanges();
  assert.equal(ranges.length, MAX_LOST_RANGES);
  assert.equal(replicator.lostRangesDropped, 45);
  assert.equal(ranges.at(-1), `o${MAX_LOST_RANGES + 43}:1-3`, "the newest are kept");
});
