/**
 * Snapshots with real node processes: graceful restarts, kill -9 after and
 * during snapshots, ids never reused, clear errors for bad data files, and a
 * snapshot far bigger than one Deno KV commit.
 */
import assert from "node:assert/strict";
import { SNAPSHOT_FILE } from "../node/store/snapshot_store.ts";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { failingNodeStart, type NodeProcess, startNodeProcess } from "./helpers/node_process.ts";

const isMsg = (text: string) => (f: Frame) => f.t === "msg" && f.text === text;

async function withDataDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = `./data/tmp/snapshot-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function start(id: string, dir: string, extra: string[] = []): Promise<NodeProcess> {
  return startNodeProcess({
    id,
    args: ["--data", dir, "--burst", "0", "--max-bytes-per-conn", "0", ...extra],
  });
}

/** The boot line's fields (`snapshot restored ...` or `no snapshot yet ...`). */
function bootLine(node: NodeProcess): Record<string, string> {
  const line = node.log().split("\n").find((l) => / (snapshot restored|no snapshot yet)/.test(l));
  assert.ok(line, `no boot line in:\n${node.log()}`);
  return Object.fromEntries([...line.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1], m[2]!]));
}

async function history(client: RawClient, room: string, count = 500): Promise<Frame[]> {
  await client.send({ t: "cmd", line: `/history ${count}`, room });
  return (await client.next((f) => f.t === "history")).history as Frame[];
}

Deno.test("a graceful restart keeps history, topics and sequence numbers", async () => {
  await withDataDir(async (dir) => {
    const first = await start("keep", dir);
    const acked: string[] = [];
    try {
      const alice = await RawClient.join(first.port, "alice", "keep");
      await alice.send({ t: "cmd", line: "/topic kept across restarts" });
      for (let i = 0; i < 20; i++) {
        await alice.send({ t: "say", room: "keep", text: `line ${i}`, cid: `c${i}` });
        acked.push(String((await alice.next((f) => f.t === "ack" && f.cid === `c${i}`)).id));
      }
      alice.close();
    } finally {
      assert.equal((await first.stop("SIGTERM")).code, 0);
    }
    const second = await start("keep", dir);
    try {
      const boot = bootLine(second);
      assert.equal(boot.previous_stop, "clean");
      assert.equal(boot.origin, "keep");
      assert.equal(boot.rooms, "1");
      assert.match(boot.last_seq ?? "", /keep:\d+/);
      assert.match(boot.age ?? "", /^\d+\.\ds$/);
      const bob = await RawClient.connect(second.port);
      await bob.send({ t: "hello", v: 1, user: "bob", room: "keep" });
      const welcome = await bob.next((f) => f.t === "welcome");
      assert.equal(welcome.topic, "kept across restarts");
      const lines = (welcome.history as Frame[]).filter((f) => f.kind === "message");
      assert.deepEqual(lines.map((f) => f.id), acked);
      assert.deepEqual(lines.map((f) => f.text), acked.map((_, i) => `line ${i}`));
      await bob.send({ t: "say", room: "keep", text: "after", cid: "b1" });
      const id = String((await bob.next((f) => f.t === "ack" && f.cid === "b1")).id);
      const lastSeq = Number(acked.at(-1)!.split(":")[1]);
      // alice's leave at shutdown, bob's join, then this line
      assert.equal(id, `keep:${lastSeq + 3}`);
      bob.close();
    } finally {
      await second.stop();
    }
  });
});

Deno.test("kill -9 after a snapshot keeps everything up to it and never reuses ids", async () => {
  await withDataDir(async (dir) => {
    const first = await start("crash", dir, ["--snapshot-interval", "0.2", "--log-level", "debug"]);
    const acked = new Map<string, string>();
    try {
      const alice = await RawClient.join(first.port, "alice", "room");
      for (let i = 0; i < 10; i++) {
        await alice.send({ t: "say", room: "room", text: `kept ${i}`, cid: `k${i}` });
        const ack = await alice.next((f) => f.t === "ack" && f.cid === `k${i}`);
        acked.set(String(ack.id), `kept ${i}`);
      }
      // Five snapshot intervals later, the last ack is surely in a snapshot.
      const written = () => first.log().split("snapshot written").length;
      const seen = written();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.ok(written() > seen, "no snapshot was written after the last ack");
    } finally {
      await first.stop("SIGKILL");
    }
    const second = await start("crash", dir);
    try {
      const boot = bootLine(second);
      assert.equal(boot.previous_stop, "crash");
      assert.equal(boot.origin, "crash.1", "a new epoch after an unclean stop");
      const bob = await RawClient.join(second.port, "bob", "room");
      const restored = (await history(bob, "room")).filter((f) => f.kind === "message");
      assert.deepEqual(
        restored.map((f) => [f.id, f.text]),
        [...acked],
        "everything acknowledged before the snapshot",
      );
      await bob.send({ t: "say", room: "room", text: "new", cid: "n1" });
      const id = String((await bob.next((f) => f.t === "ack" && f.cid === "n1")).id);
      assert.equal(id, "crash.1:2", "bob's join was crash.1:1");
      assert.ok(!acked.has(id));
      bob.close();
    } finally {
      await second.stop();
    }
  });
});

Deno.test("kill -9 in a loop while snapshots are written always restarts consistently", async () => {
  await withDataDir(async (dir) => {
    const ackedText = new Map<string, string>(); // id -> text, across every run
    const origins: string[] = [];
    let previous = new Set<string>();
    const check = (frames: Frame[], run: number) => {
      const lines = frames.filter((f) => f.kind === "message");
      const ids = lines.map((f) => String(f.id));
      assert.equal(new Set(ids).size, ids.length, `run ${run}: duplicate ids`);
      for (let i = 1; i < lines.length; i++) {
        assert.ok(Number(lines[i]!.time) >= Number(lines[i - 1]!.time), `run ${run}: out of order`);
      }
      const byRun = new Map<number, number[]>();
      for (const line of lines) {
        const id = String(line.id);
        const [, r, m] = /^r(\d+)-m(\d+)$/.exec(String(line.text)) ?? [];
        assert.ok(r !== undefined && m !== undefined, `run ${run}: unexpected line ${line.text}`);
        assert.equal(
          id.split(":")[0],
          origins[Number(r)],
          `run ${run}: ${id} has a foreign origin`,
        );
        const known = ackedText.get(id);
        assert.ok(known === undefined || known === line.text, `run ${run}: ${id} changed content`);
        byRun.set(Number(r), [...byRun.get(Number(r)) ?? [], Number(m)]);
      }
      for (const [r, indices] of byRun) {
        assert.deepEqual(indices, indices.map((_, i) => i), `run ${run}: hole in run ${r}'s lines`);
      }
      for (const id of previous) assert.ok(ids.includes(id), `run ${run}: ${id} was lost`);
      previous = new Set(ids);
    };
    /** Everything every earlier run wrote, each run in a room of its own. */
    const restored = async (client: RawClient, runs: number) => {
      const frames: Frame[] = [];
      for (let r = 0; r < runs; r++) {
        await client.send({ t: "cmd", line: `/join loop${r}` });
        await client.next((f) => f.t === "joined");
        const room = await history(client, `loop${r}`);
        assert.ok(room.length < 500, "more lines than /history shows: lower the volume");
        frames.push(...room);
      }
      return frames;
    };
    const RUNS = 6;
    const args = ["--snapshot-interval", "0.05"];
    for (let run = 0; run < RUNS; run++) {
      const node = await start("loop", dir, args);
      try {
        origins.push(bootLine(node).origin!);
        const writer = await RawClient.join(node.port, "writer", `loop${run}`);
        check(await restored(writer, run), run);
        await writer.send({ t: "cmd", line: `/join loop${run}` });
        // Killed at a random moment while lines flow and snapshots (every 50 ms) are written.
        const until = Date.now() + 150 + Math.random() * 500;
        for (let i = 0; Date.now() < until && i < 450; i++) {
          const room = `loop${run}`;
          await writer.send({ t: "say", room, text: `r${run}-m${i}`, cid: `${run}-${i}` });
          if (i % 4 === 3) await new Promise((resolve) => setTimeout(resolve, 5));
        }
        await node.stop("SIGKILL");
        for (const frame of writer.frames) {
          if (frame.t !== "ack" || frame.id === undefined) continue;
          const id = String(frame.id);
          const text = `r${run}-m${String(frame.cid).split("-")[1]}`;
          assert.ok(!ackedText.has(id), `id ${id} was acknowledged twice`);
          ackedText.set(id, text);
        }
        writer.close();
      } finally {
        await node.stop("SIGKILL");
      }
    }
    assert.equal(new Set(origins).size, origins.length, `origins reused: ${origins}`);
    const last = await start("loop", dir);
    try {
      const reader = await RawClient.join(last.port, "reader", "lobby");
      check(await restored(reader, RUNS), RUNS);
      assert.ok(previous.size > 0, "nothing survived any run");
      reader.close();
    } finally {
      await last.stop();
    }
  });
});

Deno.test("a corrupt, truncated or newer-schema data file gives a clear error and --reset-data moves it aside", async () => {
  await withDataDir(async (dir) => {
    const path = `${dir}/${SNAPSHOT_FILE}`;
    const node = await start("bad", dir);
    const writer = await RawClient.join(node.port, "writer", "r");
    for (let i = 0; i < 200; i++) await writer.send({ t: "say", text: `${i} ${"x".repeat(200)}` });
    await writer.next(isMsg(`199 ${"x".repeat(200)}`));
    writer.close();
    await node.stop();
    const good = await Deno.readFile(path);

    const cases: [string, () => Promise<void>, RegExp][] = [
      [
        "corrupt",
        () => Deno.writeFile(path, crypto.getRandomValues(new Uint8Array(8192))),
        /the file is corrupt or truncated/,
      ],
      ["truncated", () => Deno.writeFile(path, good.subarray(0, good.length >> 1)), /truncated/],
      ["newer schema", async () => {
        await Deno.writeFile(path, good);
        const kv = await Deno.openKv(path);
        const meta = await kv.get<Record<string, unknown>>(["meta"]);
        await kv.set(["meta"], { ...meta.value, schema: 99 });
        kv.close();
      }, /written by a newer meshchat \(schema 99/],
    ];
    for (const [name, damage, problem] of cases) {
      await damage();
      const before = await Deno.readFile(path);
      const { code, text } = await failingNodeStart([
        "--id",
        "bad",
        "--http-port",
        "0",
        "--data",
        dir,
      ]);
      assert.equal(code, 1, `${name}: ${text}`);
      assert.match(text, /snapshot\.kv/, `${name}: names the file`);
      assert.match(text, problem, name);
      assert.match(text, /--reset-data/, `${name}: says the way out`);
      assert.doesNotMatch(text, /^\s+at /m, `${name}: no stack trace`);
      assert.ok(text.trim().split("\n").length <= 2, `${name}: one line and the way out:\n${text}`);
      assert.deepEqual(await Deno.readFile(path), before, `${name}: the file is left as it was`);
    }

    const reset = await start("bad", dir, ["--reset-data"]);
    try {
      assert.match(reset.log(), /moved old data file aside/);
      assert.equal(bootLine(reset).previous_stop, "none");
      const names = [...Deno.readDirSync(dir)].map((e) => e.name);
      assert.ok(names.some((n) => /^snapshot\.kv\.[\dT.Z-]+\.bak$/.test(n)), names.join(" "));
    } finally {
      await reset.stop();
    }
  });
});

Deno.test("a snapshot of 100,000 events, far bigger than one commit, round-trips", async () => {
  await withDataDir(async (dir) => {
    const total = 100_000;
    const first = await start("big", dir, ["--history", "131072", "--max-queue", String(1 << 28)]);
    try {
      const writer = await RawClient.join(first.port, "writer", "big");
      const lines: string[] = [];
      for (let i = 0; i < total; i++) {
        lines.push(JSON.stringify({ t: "say", room: "big", text: `m${i}`, cid: `${i}` }));
      }
      await writer.sendRaw(lines.join("\n") + "\n");
      await writer.next((f) => f.t === "ack" && f.cid === String(total - 1), 60_000);
      writer.close();
    } finally {
      assert.equal((await first.stop("SIGTERM")).code, 0);
    }
    const second = await start("big", dir, ["--history", "131072"]);
    try {
      const boot = bootLine(second);
      assert.equal(boot.previous_stop, "clean");
      assert.equal(Number(boot.events), total + 2, "the writer's join and leave too");
      const reader = await RawClient.join(second.port, "reader", "big");
      const tail = await history(reader, "big");
      assert.deepEqual(
        tail.map((f) => f.text),
        Array.from({ length: 500 }, (_, i) => `m${total - 500 + i}`),
      );
      reader.close();
    } finally {
      await second.stop();
    }
  });
});
