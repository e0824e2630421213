import assert from "node:assert/strict";
import { type ChatEvent, eventId } from "../../core/event.ts";
import type { ServerFrame } from "../../core/protocol.ts";
import { Hub, type HubOptions, type SessionSink } from "../chat/hub.ts";
import {
  SNAPSHOT_FILE,
  SnapshotStore,
  SnapshotStoreError,
  type SnapshotStoreOptions,
  type SnapshotTimers,
} from "./snapshot_store.ts";
import { STEP_BUDGET_MS } from "./_kv_commit.ts";

const VIA = { via: "test", address: "test:0" };

function sink(): SessionSink & { frames: ServerFrame[] } {
  const frames: ServerFrame[] = [];
  return { frames, send: (frame) => frames.push(frame), close() {} };
}

function remote(origin: string, seq: number, room: string, text: string, wall: number): ChatEvent {
  return {
    origin,
    seq,
    hlc: { wall, counter: 0, node: origin },
    room,
    kind: "message",
    from: "zed",
    text,
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = `./data/test-unit-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function boot(
  dir: string,
  options: Partial<SnapshotStoreOptions> = {},
  hubOptions: Partial<HubOptions> = {},
) {
  const store = await SnapshotStore.open(dir, { nodeId: "n1", intervalMs: 0, ...options });
  const hub = new Hub({
    nodeId: "n1",
    origin: store.origin,
    lastSeq: store.lastSeq,
    rateBurst: 0,
    ...hubOptions,
  });
  const summary = store.attach(hub.log);
  return { store, hub, summary };
}

/** What a restart must keep: every room's log in order, topics, private log, vector. */
function stateOf(hub: Hub) {
  return {
    rooms: [...hub.rooms()].map(([name, room]) => ({
      name,
      topic: room.topic,
      log: room.log.toArray().map(eventId),
    })).sort((a, b) => a.name.localeCompare(b.name)),
    events: [...hub.events()].map((e) => JSON.stringify(e)).sort(),
    versions: hub.versions.toJSON(),
  };
}

/** A version vector as text, whatever order its entries were made in. */
function vectorKey(versions: Record<string, number>): string {
  return JSON.stringify(Object.entries(versions).sort(([a], [b]) => a.localeCompare(b)));
}

function retainedIds(hub: Hub): string {
  return [...hub.events()].map(eventId).sort().join(",");
}

async function kvKeys(dir: string, prefix: Deno.KvKey): Promise<Deno.KvKey[]> {
  const kv = await Deno.openKv(`${dir}/${SNAPSHOT_FILE}`);
  try {
    const keys: Deno.KvKey[] = [];
    for await (const entry of kv.list({ prefix })) keys.push(entry.key);
    return keys;
  } finally {
    kv.close();
  }
}

Deno.test("SnapshotStore restores rooms, topics, private messages and versions after a clean stop", async () => {
  await withDir(async (dir) => {
    const first = await boot(dir);
    assert.equal(first.summary.previousStop, "none");
    assert.equal(first.store.origin, "n1");
    const alice = first.hub.connect(sink(), { user: "alice", room: "lobby" }, VIA);
    const bob = first.hub.connect(sink(), { user: "bob", room: "lobby" }, VIA);
    first.hub.say(alice, undefined, "hello");
    first.hub.setTopic(alice, undefined, "all about snapshots");
    first.hub.join(bob, "dev");
    first.hub.say(bob, "dev", "in dev", "message", "c1");
    first.hub.sendPrivate(alice, "bob", "psst");
    first.hub.log.apply(remote("n2", 1, "lobby", "from n2", Date.now() - 5));
    first.hub.log.apply(remote("n2", 3, "lobby", "n2 ahead of a gap", Date.now()));
    const before = stateOf(first.hub);
    const lastSeq = first.hub.log.lastSeq;
    const clock = first.hub.log.clock.last;
    first.hub.shutdown("bye");
    const afterShutdown = stateOf(first.hub);
    assert.notDeepEqual(afterShutdown, before, "the shutdown's leave events are kept too");
    await first.store.close();

    const second = await boot(dir);
    assert.equal(second.summary.previousStop, "clean");
    assert.equal(second.store.origin, "n1");
    assert.equal(second.store.lastSeq, lastSeq + 3, "continues after the three leave events");
    assert.deepEqual(stateOf(second.hub), afterShutdown);
    assert.equal(second.hub.findRoom("lobby")?.topic, "all about snapshots");
    assert.ok(second.hub.versions.has("n2", 3) && !second.hub.versions.has("n2", 2));
    assert.ok(second.hub.log.clock.last.wall >= clock.wall);
    assert.equal(second.summary.events, afterShutdown.events.length);
    const carol = second.hub.connect(sink(), { user: "carol" }, VIA);
    const said = second.hub.say(carol, undefined, "after restart");
    assert.equal(eventId(said), `n1:${lastSeq + 5}`, "the join took one seq, this the next");
    assert.equal(second.hub.privateHistory("bob", 10).length, 1);
    const dave = second.hub.connect(sink(), { user: "bob", room: "dev" }, VIA);
    assert.equal(second.hub.say(dave, "dev", "resent", "message", "c1").text, "in dev");
    await second.store.close();
  });
});

Deno.test("SnapshotStore keeps a topic whose event the ring buffer evicted", async () => {
  await withDir(async (dir) => {
    const first = await boot(dir, {}, { historySize: 16 });
    const alice = first.hub.connect(sink(), { user: "alice", room: "tiny" }, VIA);
    first.hub.setTopic(alice, undefined, "old but current");
    for (let i = 0; i < 40; i++) first.hub.say(alice, undefined, `line ${i}`);
    const room = first.hub.findRoom("tiny")!;
    assert.ok(!room.log.toArray().some((e) => e.kind === "topic"), "the topic event was evicted");
    await first.store.close();
    const second = await boot(dir, {}, { historySize: 16 });
    assert.equal(second.hub.findRoom("tiny")?.topic, "old but current");
    assert.equal(second.hub.findRoom("tiny")?.log.length, 16);
    await second.store.close();
  });
});

Deno.test("SnapshotStore continues under a new epoch after a crash, so ids are never reused", async () => {
  await withDir(async (dir) => {
    const first = await boot(dir);
    const alice = first.hub.connect(sink(), { user: "alice" }, VIA);
    first.hub.say(alice, undefined, "saved");
    await first.store.snapshotNow();
    const saved = first.hub.log.lastSeq;
    const lost = first.hub.say(alice, undefined, "after the snapshot, then kill -9");
    await first.store.close({ snapshot: false });

    const second = await boot(dir);
    assert.equal(second.summary.previousStop, "crash");
    assert.equal(second.store.epoch, 1);
    assert.equal(second.store.origin, "n1.1");
    assert.equal(second.hub.versions.contiguous("n1"), saved);
    assert.equal(second.hub.log.get("n1", lost.seq), undefined);
    const bob = second.hub.connect(sink(), { user: "bob" }, VIA);
    const next = second.hub.say(bob, undefined, "new epoch");
    assert.equal(next.origin, "n1.1");
    assert.ok(next.seq <= 2);
    assert.ok(second.hub.log.apply(lost), "the lost event can still arrive from a peer");
    await second.store.close({ snapshot: false });

    const third = await boot(dir);
    assert.equal(third.store.origin, "n1.2", "crashed before any snapshot: next epoch again");
    await third.store.close();
    const fourth = await boot(dir);
    assert.equal(fourth.summary.previousStop, "clean");
    assert.equal(fourth.store.origin, "n1.2");
    await fourth.store.close();
  });
});

Deno.test("SnapshotStore writes nothing when nothing changed and reclaims evicted events", async () => {
  await withDir(async (dir) => {
    const { store, hub } = await boot(dir, {}, { historySize: 16 });
    const alice = hub.connect(sink(), { user: "alice", room: "r" }, VIA);
    for (let i = 0; i < 10; i++) hub.say(alice, undefined, `a${i}`);
    const first = await store.snapshotNow();
    assert.ok(first.written);
    assert.deepEqual([first.events, first.chunks], [11, 1]);
    assert.equal((await store.snapshotNow()).written, false);
    for (let i = 0; i < 100; i++) hub.say(alice, undefined, `b${i}`);
    const second = await store.snapshotNow();
    assert.equal(second.events, 100, "written in order, so that any cut is a past state");
    assert.equal(second.deletedChunks, 1, "the first chunk has no live event left");
    const third = await store.snapshotNow();
    assert.deepEqual([third.events, third.deletedChunks], [16, 1], "mostly dead: compacted");
    assert.equal((await store.snapshotNow()).written, false);
    await store.close();
    const chunks = await kvKeys(dir, ["ev"]);
    assert.equal(chunks.length, 1);
    const reopened = await boot(dir, {}, { historySize: 16 });
    assert.equal(reopened.summary.events, 16);
    assert.equal((await reopened.store.snapshotNow()).written, false);
    await reopened.store.close({ snapshot: false });
  });
});

for (const slow of [false, true]) {
  Deno.test(
    `SnapshotStore restores a state the node went through when a snapshot is cut at any commit${
      slow ? " (every step over budget: one commit per group)" : ""
    }`,
    () => cutAtEveryCommit(slow),
  );
}

async function cutAtEveryCommit(slow: boolean): Promise<void> {
  let cuts = 0;
  for (let cut = 1;; cut++) {
    let stop = false;
    await withDir(async (dir) => {
      const control = { commits: 0, failAt: Infinity, slow };
      const openKv = async (path: string) => failingKv(await Deno.openKv(path), control);
      const { store, hub } = await boot(dir, { openKv, chunkChars: 400, commitBytes: 1024 }, {
        historySize: 16,
      });
      const alice = hub.connect(sink(), { user: "alice", room: "a" }, VIA);
      hub.join(alice, "b");
      for (let i = 0; i < 20; i++) hub.say(alice, i % 2 ? "a" : "b", `before ${i}`);
      await store.snapshotNow();
      for (let i = 0; i < 20; i++) hub.say(alice, "a", `middle ${i}`);
      await store.snapshotNow(); // leaves a chunk to compact in the next one
      // Every state the node goes through: retained ids -> version vectors.
      const states = new Map<string, Set<string>>();
      const record = () => {
        const ids = retainedIds(hub);
        if (!states.has(ids)) states.set(ids, new Set());
        states.get(ids)!.add(vectorKey(hub.versions.toJSON()));
      };
      record();
      hub.log.onApplied(record);
      const wall = Date.now();
      for (let i = 0; i < 30; i++) {
        hub.say(alice, i % 3 ? "a" : "b", `after ${i}`);
        if (i === 10) hub.setTopic(alice, "a", "cut topic");
        if (i % 5 === 0) hub.log.apply(remote("n2", 30 - i, "b", `remote ${i}`, wall + i));
      }
      control.failAt = control.commits + cut;
      const outcome = await store.snapshotNow().then(() => "written", () => "cut");
      await store.close({ snapshot: false });
      if (outcome === "written") {
        stop = true;
        return;
      }
      cuts++;
      const restarted = await boot(dir, {}, { historySize: 16 });
      const ids = retainedIds(restarted.hub);
      assert.ok(states.has(ids), `cut at commit ${cut}: restored events the node never held`);
      const versions = restarted.hub.versions.toJSON();
      delete versions["n1.1"];
      assert.ok(
        states.get(ids)!.has(vectorKey(versions)),
        `cut at commit ${cut}: version vector ${vectorKey(versions)} does not match the events`,
      );
      await restarted.store.close();
    });
    if (stop) break;
  }
  assert.ok(cuts >= 10, `only ${cuts} cuts were tried`);
}

Deno.test("SnapshotStore stores a chunk larger than one KV value in parts", async () => {
  await withDir(async (dir) => {
    const { store, hub } = await boot(dir, {}, { historySize: 16 });
    // Twelve of the longest lines a person may send: one chunk of ~145 kB of UTF-8, three parts.
    const long = (seq: number) => `${seq} ${"€".repeat(3_990)}`;
    for (let seq = 1; seq <= 12; seq++) {
      assert.ok(hub.log.apply(remote("n2", seq, "big", long(seq), Date.now() + seq)));
    }
    await store.snapshotNow();
    assert.equal((await kvKeys(dir, ["ev"])).length, 3, "one chunk in three parts");
    await store.close();
    const second = await boot(dir, {}, { historySize: 16 });
    assert.equal(second.hub.log.get("n2", 1)?.text, long(1));
    for (let seq = 13; seq <= 32; seq++) {
      second.hub.log.apply(remote("n2", seq, "big", `small ${seq}`, Date.now() + seq));
    }
    assert.equal(second.hub.log.get("n2", 12), undefined, "evicted");
    await second.store.close();
    assert.equal((await kvKeys(dir, ["ev"])).length, 1, "every part deleted, one new chunk");
    const third = await boot(dir, {}, { historySize: 16 });
    assert.equal(third.summary.events, 16);
    await third.store.close();
  });
});

Deno.test("SnapshotStore refuses a newer schema, a corrupt or empty file and another node's file", async (t) => {
  await t.step("newer schema", async () => {
    await withDir(async (dir) => {
      const { store } = await boot(dir);
      await store.close();
      const kv = await Deno.openKv(`${dir}/${SNAPSHOT_FILE}`);
      const meta = await kv.get<Record<string, unknown>>(["meta"]);
      await kv.set(["meta"], { ...meta.value, schema: 99 });
      kv.close();
      await assert.rejects(boot(dir), (e: SnapshotStoreError) => {
        assert.match(e.message, /snapshot\.kv/);
        assert.match(e.message, /schema 99/);
        assert.match(e.hint, /--reset-data/);
        return true;
      });
      const reset = await boot(dir, { resetData: true });
      assert.equal(reset.summary.previousStop, "none");
      assert.match(reset.store.origin, /^n1\.\d{10}$/, "a reset starts at an epoch from the clock");
      await reset.store.close();
      const names = [...Deno.readDirSync(dir)].map((e) => e.name);
      assert.ok(names.some((n) => /^snapshot\.kv\..*\.bak$/.test(n)), names.join(" "));
    });
  });
  await t.step("garbage, truncated and empty files", async () => {
    await withDir(async (dir) => {
      const { store, hub } = await boot(dir);
      for (let seq = 1; seq <= 3000; seq++) {
        hub.log.apply(remote("n2", seq, "r", "x".repeat(100), seq));
      }
      await store.close();
      const path = `${dir}/${SNAPSHOT_FILE}`;
      const good = await Deno.readFile(path);
      for (
        const bytes of [
          crypto.getRandomValues(new Uint8Array(8192)),
          good.subarray(0, good.length >> 1),
          new Uint8Array(0),
        ]
      ) {
        await Deno.writeFile(path, bytes);
        await assert.rejects(boot(dir), (e: SnapshotStoreError) => {
          assert.ok(e instanceof SnapshotStoreError);
          assert.match(
            e.message,
            /Cannot restore snapshot from .*snapshot\.kv: the file is corrupt/,
          );
          assert.match(e.hint, /--reset-data/);
          return true;
        });
        assert.deepEqual(await Deno.readFile(path), bytes, "the file is left untouched");
      }
    });
  });
  await t.step("another node's file", async () => {
    await withDir(async (dir) => {
      const { store } = await boot(dir);
      await store.close();
      await assert.rejects(
        SnapshotStore.open(dir, { nodeId: "n2" }),
        /belongs to node n1, not n2/,
      );
    });
  });
});

Deno.test("SnapshotStore.start() snapshots on its interval and close() stops it", async () => {
  await withDir(async (dir) => {
    const scheduled: { callback: () => void; ms: number }[] = [];
    let cleared = 0;
    const timers: SnapshotTimers = {
      setTimeout(callback, ms) {
        scheduled.push({ callback, ms });
        return scheduled.length;
      },
      clearTimeout() {
        cleared++;
      },
    };
    const { store, hub } = await boot(dir, { intervalMs: 2500, timers });
    assert.equal(scheduled.length, 0, "construction starts nothing");
    store.start();
    assert.equal(scheduled.length, 1);
    assert.equal(scheduled[0]!.ms, 2500);
    hub.log.apply(remote("n2", 1, "r", "tick", 1));
    scheduled[0]!.callback();
    await store.snapshotNow(); // queued behind the timer's snapshot
    assert.equal((await kvKeys(dir, ["ev"])).length, 1);
    assert.equal(scheduled.length, 2, "the next one is scheduled after the write");
    await store.close();
    assert.equal(cleared, 1);
  });
  await withDir(async (dir) => {
    const timers: SnapshotTimers = {
      setTimeout: () => assert.fail("interval 0 schedules nothing"),
      clearTimeout() {},
    };
    const { store } = await boot(dir, { intervalMs: 0, timers });
    store.start();
    await store.close();
  });
});

Deno.test("SnapshotStore round-trips 100,000 events, far more than one commit", async () => {
  await withDir(async (dir) => {
    const { store, hub } = await boot(dir, {}, { historySize: 16_384 });
    const wall = Date.now() - 200_000;
    for (let seq = 1; seq <= 100_000; seq++) {
      hub.log.apply(remote("n2", seq, `room${seq % 8}`, `message ${seq}`, wall + seq));
    }
    const result = await store.snapshotNow();
    assert.equal(result.events, 100_000);
    assert.ok(result.chunks >= 200 && result.commits >= 20, JSON.stringify(result));
    const before = stateOf(hub);
    await store.close();
    const second = await boot(dir, {}, { historySize: 16_384 });
    assert.equal(second.summary.events, 100_000);
    assert.deepEqual(stateOf(second.hub), before);
    assert.equal((await second.store.snapshotNow()).written, false);
    await second.store.close();
  });
});

/** Wraps a KV so that every commit from the `failAt`-th on fails, like a crash. */
/**
 * Deno KV that fails every commit from the `failAt`-th on (a crash, or a full
 * disk). With `slow`, each mutation takes longer than a snapshot's step
 * budget, so every group of mutations goes in a commit of its own: a slow
 * machine's worst case, where a crash can fall between any two.
 */
function failingKv(
  kv: Deno.Kv,
  control: { commits: number; failAt: number; slow?: boolean },
): Deno.Kv {
  const stall = () => {
    const until = performance.now() + STEP_BUDGET_MS + 1;
    while (performance.now() < until) { /* a slow machine */ }
  };
  return new Proxy(kv, {
    get(target, property) {
      if (property === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          if (control.slow) {
            const set = op.set.bind(op);
            const remove = op.delete.bind(op);
            op.set = (key, value, options) => (stall(), set(key, value, options));
            op.delete = (key) => (stall(), remove(key));
          }
          op.commit = () => {
            control.commits++;
            if (control.commits >= control.failAt) {
              return Promise.reject(new Error("injected crash"));
            }
            return commit();
          };
          return op;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("SnapshotStore on a full disk serves from memory, queues no more than the hub retains, and says what a crash would lose", async () => {
  await withDir(async (dir) => {
    const control = { commits: 0, failAt: Infinity };
    const openKv = async (path: string) => failingKv(await Deno.openKv(path), control);
    const { store, hub } = await boot(dir, { openKv, chunkChars: 2000 }, { historySize: 50 });
    const wall = Date.now() - 100_000;
    let seq = 0;
    const burst = (n: number) => {
      for (let i = 0; i < n; i++, seq++) {
        hub.log.apply(remote("n2", seq + 1, `r${seq % 4}`, `message ${seq}`, wall + seq));
      }
    };
    burst(100);
    await store.snapshotNow();
    const savedAt = store.status().lastSavedAt;
    assert.ok(savedAt !== undefined);
    control.failAt = control.commits + 1; // the disk is full from now on
    for (let round = 0; round < 10; round++) {
      burst(2000);
      await assert.rejects(store.snapshotNow(), /injected/);
    }
    const retained = [...hub.events()].length;
    const status = store.status();
    assert.equal(status.failures, 10);
    assert.equal(status.lastSavedAt, savedAt);
    assert.equal(status.unwritten, retained, "every retained event is unwritten");
    assert.ok(status.queued <= 2 * retained + 4096, `queued ${status.queued} for ${retained}`);
    assert.ok(status.evictedUnwritten >= 20_000 - status.queued, JSON.stringify(status));
    // Space again: one snapshot writes what the hub holds.
    control.failAt = Infinity;
    assert.equal((await store.snapshotNow()).written, true);
    assert.equal(store.status().unwritten, 0);
    assert.equal(store.status().failures, 0);
    const before = stateOf(hub);
    await store.close();
    const second = await boot(dir, {}, { historySize: 50 });
    assert.deepEqual(stateOf(second.hub), before);
    await second.store.close();
  });
});

Deno.test("SnapshotStore warns about failing snapshots once a minute, with what a crash would lose", async () => {
  await withDir(async (dir) => {
    const control = { commits: 0, failAt: Infinity };
    const openKv = async (path: string) => failingKv(await Deno.openKv(path), control);
    const scheduled: (() => void)[] = [];
    const timers: SnapshotTimers = {
      setTimeout(callback) {
        scheduled.push(callback);
        return scheduled.length;
      },
      clearTimeout() {},
    };
    let time = 1_000_000;
    const warnings: Record<string, unknown>[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (_message: string, fields?: Record<string, unknown>) => warnings.push(fields ?? {}),
      error() {},
    };
    const { store, hub } = await boot(dir, {
      openKv,
      intervalMs: 10_000,
      timers,
      now: () => time,
      logger,
    });
    control.failAt = control.commits + 1;
    store.start();
    for (let i = 0; i < 13; i++) {
      hub.log.apply(remote("n2", i + 1, "r", `m${i}`, time - 1000));
      const n = scheduled.length;
      scheduled[n - 1]!();
      while (scheduled.length === n) await new Promise((resolve) => setTimeout(resolve, 1));
      time += 10_000;
    }
    assert.equal(warnings.length, 3, "at 0 s, 60 s and 120 s");
    assert.equal(warnings[2]!.lost_if_crash, 13);
    await store.close({ snapshot: false });
  });
});

Deno.test("SnapshotStore restores chunk by chunk exactly the state it saved: events, versions, clock and pins", async () => {
  await withDir(async (dir) => {
    // Small chunks and a small history: many chunks, evictions, compactions
    // and pinned topics the ring buffers no longer hold.
    const options = { chunkChars: 1500 };
    const hubOptions = { historySize: 32 };
    const first = await boot(dir, options, hubOptions);
    const alice = first.hub.connect(sink(), { user: "alice", room: "lobby" }, VIA);
    const bob = first.hub.connect(sink(), { user: "bob", room: "side" }, VIA);
    first.hub.setTopic(alice, undefined, "lobby topic");
    first.hub.setTopic(bob, undefined, "side topic");
    const start = Date.now();
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 40; i++) {
        first.hub.say(i % 2 ? alice : bob, undefined, `round ${round} line ${i}`);
        // A peer's events, some stamped before what the node already holds
        // (recent enough that no room counts as quiet for long).
        const seq = round * 40 + i + 1;
        const wall = start - 5_000 + seq * 7;
        first.hub.log.apply(remote("n2", seq, i % 3 ? "lobby" : "far", `peer ${seq}`, wall));
      }
      first.hub.sendPrivate(alice, "bob", `secret ${round}`);
      await first.store.snapshotNow();
    }
    assert.ok(
      !first.hub.findRoom("lobby")!.log.toArray().some((e) => e.kind === "topic"),
      "the topic event was evicted",
    );
    first.hub.shutdown("bye");
    const saved = { ...stateOf(first.hub), clock: first.hub.log.clock.last };
    await first.store.close();
    assert.ok((await kvKeys(dir, ["ev"])).length > 10, "many chunks");

    const second = await boot(dir, options, hubOptions);
    assert.deepEqual({ ...stateOf(second.hub), clock: second.hub.log.clock.last }, saved);
    assert.equal(second.hub.findRoom("lobby")?.topic, "lobby topic");
    assert.equal(second.hub.findRoom("side")?.topic, "side topic");
    assert.equal(second.summary.events, saved.events.length);
    // And the bookkeeping of the restored chunks goes on: nothing to write.
    assert.equal((await second.store.snapshotNow()).events, 0);
    await second.store.close();
  });
});

Deno.test("SnapshotStore names the chunk that is not valid JSON and leaves the file alone", async () => {
  await withDir(async (dir) => {
    const { store, hub } = await boot(dir, { chunkChars: 1500 });
    for (let seq = 1; seq <= 200; seq++) hub.log.apply(remote("n2", seq, "r", `line ${seq}`, seq));
    await store.close();
    const chunks = await kvKeys(dir, ["ev"]);
    const victim = chunks[chunks.length >> 1]!;
    const kv = await Deno.openKv(`${dir}/${SNAPSHOT_FILE}`);
    await kv.set(victim, new TextEncoder().encode('[{"origin":"n2","seq":'));
    kv.close();
    const before = await Deno.readFile(`${dir}/${SNAPSHOT_FILE}`);
    await assert.rejects(boot(dir), (e: SnapshotStoreError) => {
      assert.ok(e instanceof SnapshotStoreError);
      assert.match(e.message, /Cannot restore snapshot from .*snapshot\.kv: the file is corrupt/);
      assert.ok(
        e.message.includes(`["ev",${String(victim[1])}] is not valid JSON`),
        e.message,
      );
      assert.match(e.hint, /--reset-data/);
      return true;
    });
    assert.deepEqual(await Deno.readFile(`${dir}/${SNAPSHOT_FILE}`), before);
  });
});
