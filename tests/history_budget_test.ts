/**
 * The history budget (`--history-budget`, issue 18): thousands of rooms with
 * history stay within one memory budget, every room keeps its last few
 * events, quiet empty rooms expire, and people are told when older history
 * is gone.
 */
import assert from "node:assert/strict";
import type { ChatEvent } from "../core/event.ts";
import { eventBytes } from "../core/event_size.ts";

import { commandContext, handleInput } from "../node/chat/commands.ts";
import { EVENT_OVERHEAD_BYTES } from "../node/chat/history_budget.ts";
import { Hub, KEPT_PER_ROOM } from "../node/chat/hub.ts";
import { type NodeConfig, parseNodeConfig } from "../node/node_config.ts";
import { UsageError } from "../core/cli_flags.ts";
import { startNodeProcess } from "./helpers/node_process.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { directoryBytes } from "./bench/soak_probe.ts";
import { RecordingSink } from "./helpers/chat_fixtures.ts";

const MIB = 1024 * 1024;

/** What the hub retains, counted independently of its own accounting. */
function retainedBytes(hub: Hub): { bytes: number; events: number } {
  let bytes = 0;
  let events = 0;
  for (const event of hub.events()) {
    if (event.kind === "mod") continue; // the moderation log has its own cap
    bytes += eventBytes(event) + EVENT_OVERHEAD_BYTES;
    events++;
  }
  return { bytes, events };
}

Deno.test("history budget: 2,000 rooms with history stay within a 16 MiB budget (or the floor of each room's last few)", () => {
  let time = 1_000_000;
  const budget = 16 * MIB;
  const hub = new Hub({
    nodeId: "n1",
    rateBurst: 0,
    now: () => time,
    historyBudgetBytes: budget,
    maxRooms: 100_000,
  });
  const sink = new RecordingSink();
  const text = "x".repeat(100);
  const evicted: ChatEvent[] = [];
  hub.log.onForget((event) => evicted.push(event));
  let most = 0;
  for (let u = 0; u < 20; u++) {
    const session = hub.connect(sink, { user: `user${u}` }, { via: "test", address: "-" });
    for (let r = 0; r < 100; r++) {
      const room = `room-${u}-${r}`;
      hub.join(session, room);
      for (let m = 0; m < 60; m++) {
        time++;
        hub.say(session, room, `${m} ${text}`);
      }
      hub.leave(session, room);
      most = Math.max(most, hub.log.historyBytes);
    }
  }
  const { bytes, events } = retainedBytes(hub);
  const rooms = hub.rooms().size;
  // The floor: the last few events of every room, whatever the budget.
  const floor = rooms * KEPT_PER_ROOM * (eventBytes({
    origin: "n1",
    seq: 99_999,
    hlc: { wall: time, counter: 99, node: "n1" },
    room: "room-19-99",
    kind: "message",
    from: "user19",
    text: `59 ${text}`,
  }) + EVENT_OVERHEAD_BYTES);
  console.log(
    `rooms ${rooms}, events ${events}, retained ${bytes} B, peak ${most} B, floor ${floor} B`,
  );
  assert.ok(rooms >= 2000, "rooms spoken in are kept");
  assert.ok(floor < budget, "the budget binds, not the floor");
  assert.ok(events < rooms * 62 / 2, "most of the history was evicted");
  assert.ok(most <= budget, `peak ${most} B over the budget`);
  assert.equal(hub.log.historyBytes, bytes, "the hub's accounting matches what it holds");
  assert.ok(evicted.length > 0, "evictions are announced so the snapshot drops them");
  for (const room of hub.rooms().values()) {
    assert.ok(room.log.length >= KEPT_PER_ROOM, `#${room.name} kept its last few`);
  }
});

Deno.test("history budget: the oldest events node-wide go first, and /history and join say older history is gone", async () => {
  let time = 1_000_000;
  const hub = new Hub({
    nodeId: "n1",
    rateBurst: 0,
    now: () => time,
    historyBudgetBytes: 64 * 1024,
  });
  const sink = new RecordingSink();
  const session = hub.connect(sink, { user: "ann" }, { via: "test", address: "-" });
  hub.join(session, "old");
  for (let m = 0; m < 50; m++) (time++, hub.say(session, "old", `old ${m}`));
  hub.join(session, "busy");
  for (let m = 0; m < 400; m++) (time++, hub.say(session, "busy", `busy ${m} ${"y".repeat(100)}`));
  const old = hub.findRoom("old")!;
  assert.ok(old.olderGone, "#old lost its oldest events first");
  assert.ok(old.log.length >= KEPT_PER_ROOM);
  assert.ok(hub.log.historyBytes <= 64 * 1024);

  sink.frames.length = 0;
  const ctx = commandContext(hub, session, "old");
  await handleInput(ctx, "/history 100");
  const page = sink.frames.find((f) => f.t === "history");
  assert.ok(page?.t === "history" && page.olderGone === true);
  assert.ok(
    sink.frames.some((f) =>
      f.t === "info" && f.lines.some((l) => /older history .*is gone/i.test(l))
    ),
    "a line both frontends show",
  );
  sink.frames.length = 0;
  hub.join(session, "old");
  const joined = sink.frames.find((f) => f.t === "joined");
  assert.ok(joined?.t === "joined" && joined.olderGone === true);
  // A room whose whole history is shown says nothing of the kind.
  sink.frames.length = 0;
  hub.join(session, "fresh");
  const fresh = sink.frames.find((f) => f.t === "joined");
  assert.ok(fresh?.t === "joined" && fresh.olderGone === undefined);
});

Deno.test("history budget: an empty room quiet for the room TTL expires, spoken in or not", () => {
  let time = 1_000_000;
  const day = 24 * 3600 * 1000;
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, now: () => time, roomTtlMs: 30 * day });
  const forgotten: string[] = [];
  hub.log.onForget((event) => forgotten.push(event.room));
  const sink = new RecordingSink();
  const session = hub.connect(sink, { user: "ann" }, { via: "test", address: "-" });
  hub.join(session, "quiet");
  hub.say(session, "quiet", "hello");
  hub.leave(session, "quiet");
  hub.join(session, "occupied");
  hub.say(session, "occupied", "still here");
  time += 31 * day;
  assert.equal(hub.expireQuietRooms(), 1);
  assert.equal(hub.findRoom("quiet"), undefined);
  assert.ok(forgotten.includes("quiet"));
  assert.ok(hub.findRoom("occupied"), "an occupied room stays");
  assert.ok(hub.findRoom("lobby"), "the default room stays");
});

Deno.test({
  name:
    "history budget: a node's data directory stays within twice its budget plus 2 MiB, and a restart restores only the budget",
  sanitizeResources: false,
  async fn() {
    const dir = `./data/tmp/history-budget-${crypto.randomUUID().slice(0, 8)}`;
    const args = ["--data", dir, "--burst", "0", "--max-bytes-per-conn", "0"];
    const budgetArgs = [...args, "--snapshot-interval", "1", "--history-budget", "1"];
    const rooms = 100;
    const lines = 300;
    try {
      const node = await startNodeProcess({ id: "hb", args: budgetArgs });
      try {
        const client = await RawClient.join(node.port, "feeder");
        const text = "the quick brown fox jumps over the lazy dog ".repeat(2);
        for (let r = 0; r < rooms; r++) {
          let frames = JSON.stringify({ t: "cmd", line: `/join room-${r}` }) + "\n";
          for (let i = 0; i < lines; i++) {
            const cid = i === lines - 1 ? `r${r}` : undefined;
            frames += JSON.stringify({ t: "say", room: `room-${r}`, text: `${i} ${text}`, cid }) +
              "\n";
          }
          await client.sendRaw(
            frames + JSON.stringify({ t: "cmd", line: `/leave room-${r}` }) + "\n",
          );
          await client.next((f) => f.t === "ack" && f.cid === `r${r}`, 30_000);
        }
        client.close();
        await new Promise((resolve) => setTimeout(resolve, 2500)); // a periodic snapshot
      } finally {
        await node.stop("SIGTERM");
      }
      const bytes = (await directoryBytes(dir))!;
      console.log(
        `${rooms * lines} lines in ${rooms} rooms under a 1 MiB budget: data directory ${bytes} B`,
      );
      assert.ok(bytes <= 2 * MIB + 2 * MIB, `data directory ${bytes} B`);
      const restarted = await startNodeProcess({ id: "hb", args: budgetArgs });
      try {
        const restored = Number(/snapshot restored.* events=(\d+)/.exec(restarted.log())?.[1]);
        // 1 MiB at ~600 B per event (JSON plus overhead), and each room's floor.
        assert.ok(restored <= MIB / 500 + rooms * KEPT_PER_ROOM, `restored ${restored} events`);
        assert.ok(restored >= rooms * KEPT_PER_ROOM, `restored ${restored} events`);
      } finally {
        await restarted.stop("SIGKILL");
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "history budget: a quiet empty room expires on a live node and does not come back after a restart (its pins go too)",
  sanitizeResources: false,
  async fn() {
    const dir = `./data/tmp/room-ttl-${crypto.randomUUID().slice(0, 8)}`;
    const args = ["--data", dir, "--burst", "0", "--snapshot-interval", "1"];
    try {
      // 0.00004 days = 3.5 s: the node sweeps every 3.5 s.
      const node = await startNodeProcess({ id: "ttl", args: [...args, "--room-ttl", "0.00004"] });
      try {
        const client = await RawClient.join(node.port, "ann");
        await client.send({ t: "cmd", line: "/join gone" });
        await client.send({ t: "cmd", line: "/topic soon forgotten" });
        await client.send({ t: "say", room: "gone", text: "hello", cid: "1" });
        await client.next((f) => f.t === "ack" && f.cid === "1");
        await client.send({ t: "cmd", line: "/leave gone" });
        await client.next((f) => f.t === "left");
        await new Promise((resolve) => setTimeout(resolve, 9000)); // TTL, a sweep, a snapshot
        client.close();
      } finally {
        await node.stop("SIGTERM");
      }
      // A long TTL now: only a pin left behind could bring the room back.
      const restarted = await startNodeProcess({ id: "ttl", args: [...args, "--room-ttl", "30"] });
      try {
        const client = await RawClient.connect(restarted.port);
        await client.send({ t: "hello", v: 1, user: "bob" });
        const welcome = await client.next((f) => f.t === "welcome");
        assert.deepEqual(welcome.rooms, ["lobby"]);
        client.close();
      } finally {
        await restarted.stop("SIGKILL");
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("--history-budget and --room-ttl: 256 MiB and 30 days by default, validated", () => {
  const parse = (args: string[]) => parseNodeConfig(args) as NodeConfig;
  assert.equal(parse([]).historyBudgetBytes, 256 * MIB);
  assert.equal(parse([]).roomTtlMs, 30 * 24 * 3600 * 1000);
  assert.equal(parse(["--history-budget", "8"]).historyBudgetBytes, 8 * MIB);
  assert.equal(parse(["--room-ttl", "0.5"]).roomTtlMs, 12 * 3600 * 1000);
  assert.throws(() => parse(["--history-budget", "0"]), UsageError);
  assert.throws(() => parse(["--history-budget", "1.5"]), UsageError);
  assert.throws(() => parse(["--room-ttl", "0"]), UsageError);
});
