/**
 * History-budget benchmark (issue 18): a real node process is made to hold
 * thousands of rooms with history, once under a small `--history-budget`
 * and once under a budget larger than all of it, and its resident memory
 * and data directory are measured after a snapshot and after a restart.
 *
 * Also measures what one retained event costs in the heap beyond its JSON.
 *
 * Run alone: `deno run -P=e2e-bench --v8-flags=--expose-gc
 * tests/bench/history_budget.ts [--rooms N] [--lines N] [--budget MIB]`; writes
 * `data/bench/history_budget.json`. Linux only (`/proc`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type NodeProcess, startNodeProcess } from "../helpers/node_process.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { directoryBytes } from "./soak_probe.ts";
import { benchNodeArgs, mib, procStatusKiB } from "./_node_memory.ts";
import { eventBytes } from "../../core/event_size.ts";
import { Hub } from "../../node/chat/hub.ts";

/** Figures of one run of {@linkcode benchHistoryBudget}. */
export interface HistoryBudgetRun {
  /** `--history-budget` in MiB. */
  readonly budgetMiB: number;
  /** Events the restarted node restored from its snapshot. */
  readonly restoredEvents: number;
  /** Resident memory of the live node once settled (MiB). */
  readonly rssMiB: number;
  /** Resident memory of the restarted node once settled (MiB). */
  readonly restartRssMiB: number;
  /** Data directory after the live node's last snapshot (MB). */
  readonly dataMB: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function settledRssKiB(node: NodeProcess): Promise<number> {
  const samples: number[] = [];
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    samples.push(await procStatusKiB(node.child.pid, "VmRSS"));
    if (samples.length >= 5 && Math.min(...samples.slice(-4)) >= Math.min(...samples)) break;
    await sleep(500);
  }
  return Math.min(...samples);
}

/** Creates `rooms` rooms with `lines` chat lines each, one room after another. */
async function feed(port: number, rooms: number, lines: number): Promise<void> {
  const client = await RawClient.join(port, "feeder");
  const text = "the quick brown fox jumps over the lazy dog ".repeat(2);
  for (let r = 0; r < rooms; r++) {
    const room = `room-${r}`;
    let frames = JSON.stringify({ t: "cmd", line: `/join ${room}` }) + "\n";
    for (let i = 0; i < lines; i++) {
      const cid = i === lines - 1 ? `r${r}` : undefined;
      frames += JSON.stringify({ t: "say", room, text: `${i} ${text}`, cid }) + "\n";
    }
    frames += JSON.stringify({ t: "cmd", line: `/leave ${room}` }) + "\n";
    await client.sendRaw(frames);
    await client.next((f) => f.t === "ack" && f.cid === `r${r}`, 30_000);
  }
  client.close();
}

/**
 * Heap bytes one retained event costs beyond its JSON, in process: what
 * `EVENT_OVERHEAD_BYTES` of `node/chat/history_budget.ts` should cover. Needs
 * `--v8-flags=--expose-gc` for exact figures (without it, garbage counts too).
 *
 * @param count Events retained. @default 100000
 * @returns Heap bytes per event, its JSON, and their difference.
 */
export function measureEventOverhead(
  count = 100_000,
): { heapPerEvent: number; jsonPerEvent: number; overhead: number } {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, historyBudgetBytes: 2 ** 40 });
  const session = hub.connect({ send() {}, close() {} }, { user: "ann", history: 0 }, {
    via: "bench",
    address: "-",
  });
  for (let r = 0; r < 50; r++) hub.join(session, `room-${r}`);
  const text = "the quick brown fox jumps over the lazy dog ".repeat(2);
  gc();
  const before = Deno.memoryUsage().heapUsed;
  let json = 0;
  for (let i = 0; i < count; i++) {
    json += eventBytes(hub.say(session, `room-${i % 50}`, `${i} ${text}`));
  }
  gc();
  const heap = Deno.memoryUsage().heapUsed - before;
  // The hub is used after the measure, so that it is not collected before it.
  if (hub.log.historyBytes === 0) throw new Error("Cannot measure: the hub retained nothing");
  const round = (n: number) => Math.round(n);
  return {
    heapPerEvent: round(heap / count),
    jsonPerEvent: round(json / count),
    overhead: round((heap - json) / count),
  };
}

/**
 * One run: feed a node, snapshot, measure, restart, measure.
 *
 * @param budgetMiB `--history-budget`.
 * @param rooms Rooms created.
 * @param lines Lines per room.
 * @returns The figures.
 */
export async function benchHistoryBudget(
  budgetMiB: number,
  rooms: number,
  lines: number,
): Promise<HistoryBudgetRun> {
  const dir = `./data/bench/history-budget-${crypto.randomUUID().slice(0, 8)}`;
  const args = [...benchNodeArgs(dir, 1), "--history-budget", String(budgetMiB)];
  try {
    const live = await startNodeProcess({ id: "hb1", args });
    let rss: number;
    try {
      await feed(live.port, rooms, lines);
      await sleep(2500); // a periodic snapshot of it all
      rss = await settledRssKiB(live);
    } finally {
      await live.stop("SIGTERM");
    }
    const dataBytes = (await directoryBytes(dir)) ?? 0;
    const restarted = await startNodeProcess({ id: "hb1", args, startTimeoutMs: 60_000 });
    try {
      const restored = /snapshot restored.* events=(\d+)/.exec(restarted.log());
      return {
        budgetMiB,
        restoredEvents: restored === null ? 0 : Number(restored[1]),
        rssMiB: mib(rss),
        restartRssMiB: mib(await settledRssKiB(restarted)),
        dataMB: Math.round(dataBytes / 1e5) / 10,
      };
    } finally {
      await restarted.stop("SIGKILL");
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rooms: { type: "string", default: "1000" },
      lines: { type: "string", default: "60" },
      budget: { type: "string", default: "8" },
    },
  });
  const rooms = Number(values.rooms);
  const lines = Number(values.lines);
  const overhead = measureEventOverhead();
  console.log(
    `one retained event: ${overhead.heapPerEvent} B of heap, ${overhead.jsonPerEvent} B of it JSON, ` +
      `overhead ${overhead.overhead} B`,
  );
  const runs: HistoryBudgetRun[] = [];
  for (const budget of [Number(values.budget), 1024]) {
    const run = await benchHistoryBudget(budget, rooms, lines);
    runs.push(run);
    console.log(
      `--history-budget ${budget}: ${rooms} rooms x ${lines} lines; live RSS ${run.rssMiB} MiB, ` +
        `data ${run.dataMB} MB, restored ${run.restoredEvents} events, restart RSS ${run.restartRssMiB} MiB`,
    );
  }
  await Deno.mkdir("data/bench", { recursive: true });
  await Deno.writeTextFile(
    "data/bench/history_budget.json",
    JSON.stringify({ date: new Date().toISOString(), rooms, lines, overhead, runs }, null, 2) +
      "\n",
  );
}
