/**
 * Restart-cost benchmark (issue 18): does a node need more memory to come
 * back with its history than to run with it? Two real node processes
 * (`main.ts node`) on one data directory:
 *
 * 1. live: an empty node is sent 150,000 chat lines over 10 rooms by
 *    protocol clients (issue 18's public server restored 146,000), takes
 *    its periodic snapshots, and sits idle until its resident memory
 *    settles; its `VmRSS` is the steady figure;
 * 2. restored: the live node stops (a clean last snapshot), a fresh
 *    process boots from the file, and its `VmHWM` (the most resident
 *    memory it ever had, restore included) is the peak figure.
 *
 * Target: peak / steady ≤ 1.2. Linux only (`/proc`).
 *
 * Run alone: `deno run -P=e2e-bench tests/bench/restore.ts [--events N]`;
 * writes `data/bench/restore.json`.
 *
 * @module
 */
import { type NodeProcess, startNodeProcess } from "../helpers/node_process.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { benchNodeArgs, mib, procStatusKiB } from "./_node_memory.ts";

/** Figures of {@linkcode benchRestore}. */
export interface RestoreBenchResult {
  /** Events the node held (all retained: the rooms' history holds them). */
  readonly events: number;
  /** Rooms they are spread over. */
  readonly rooms: number;
  /** Size of the KV file after the live node's last snapshot (bytes). */
  readonly fileBytes: number;
  /** Resident memory of the live node once settled with that history (MiB). */
  readonly steadyMiB: number;
  /** Highest resident memory the live node ever had (MiB). */
  readonly livePeakMiB: number;
  /** Highest resident memory of the restarted node, restore included (MiB). */
  readonly restorePeakMiB: number;
  /** `restorePeakMiB / steadyMiB` (target <= 1.2). */
  readonly ratio: number;
  /** From spawning the restarted node to its listening (ms). */
  readonly bootMs: number;
}

const ROOMS = 10;
const NODE_ID = "r1";
/** Lines a client sends before it waits for the node's ack of the last. */
const BATCH = 500;
const WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "hello", "mesh"];

/** A chat line of 4 to 27 words. */
function line(i: number): string {
  const words = 4 + (i * 7919) % 24;
  let text = `${i}`;
  for (let w = 0; w < words; w++) text += ` ${WORDS[(i + w * 13) % WORDS.length]}`;
  return text;
}

/** Sends `count` lines over `ROOMS` rooms, one client per room, batch by batch. */
async function feed(port: number, count: number): Promise<void> {
  const clients = await Promise.all(
    Array.from({ length: ROOMS }, (_, r) => RawClient.join(port, `feeder${r}`, `room${r}`)),
  );
  await Promise.all(clients.map(async (client, r) => {
    const mine = Math.floor(count / ROOMS) + (r < count % ROOMS ? 1 : 0);
    for (let sent = 0; sent < mine;) {
      const size = Math.min(BATCH, mine - sent);
      let frames = "";
      for (let k = 0; k < size; k++) {
        const i = (sent + k) * ROOMS + r;
        const cid = k === size - 1 ? `b${sent}` : undefined;
        frames += JSON.stringify({ t: "say", room: `room${r}`, text: line(i), cid }) + "\n";
      }
      await client.sendRaw(frames);
      await client.next((f) => f.t === "ack" && f.cid === `b${sent}`, 30_000);
      sent += size;
    }
  }));
  for (const client of clients) client.close();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident memory once it has not fallen for 3 s (or `maxMs` passed). */
async function settledRssKiB(node: NodeProcess, maxMs: number): Promise<number> {
  const samples: number[] = [];
  const deadline = performance.now() + maxMs;
  while (performance.now() < deadline) {
    samples.push(await procStatusKiB(node.child.pid, "VmRSS"));
    if (
      samples.length >= 7 && Math.min(...samples.slice(-6)) >= Math.min(...samples.slice(0, -6))
    ) {
      break;
    }
    await sleep(500);
  }
  return Math.min(...samples);
}

/**
 * Runs the live node, feeds it, measures it, restarts it from its file and
 * measures the restart.
 *
 * @param count Chat lines. @default 150000
 * @returns The figures.
 */
export async function benchRestore(count = 150_000): Promise<RestoreBenchResult> {
  const dir = `./data/bench/restore-${crypto.randomUUID().slice(0, 8)}`;
  const args = benchNodeArgs(dir, 2);
  try {
    const live = await startNodeProcess({ id: NODE_ID, args });
    let steadyKiB: number;
    let livePeakKiB: number;
    try {
      await feed(live.port, count);
      await sleep(2500); // at least one periodic snapshot of it all
      steadyKiB = await settledRssKiB(live, 15_000);
      livePeakKiB = await procStatusKiB(live.child.pid, "VmHWM");
    } finally {
      await live.stop("SIGTERM");
    }
    const fileBytes = (await Deno.stat(`${dir}/snapshot.kv`)).size;

    const started = performance.now();
    const restarted = await startNodeProcess({ id: NODE_ID, args, startTimeoutMs: 60_000 });
    const bootMs = Math.round(performance.now() - started);
    try {
      const restored = /snapshot restored.* events=(\d+)/.exec(restarted.log());
      // The rooms' joins count too: at least the lines must be back.
      if (restored === null || Number(restored[1]) < count) {
        throw new Error(`Expected the node to restore ${count} events:\n${restarted.log()}`);
      }
      await sleep(1000); // anything the restore left for the collector
      const restorePeakKiB = await procStatusKiB(restarted.child.pid, "VmHWM");
      return {
        events: Number(restored[1]),
        rooms: ROOMS,
        fileBytes,
        steadyMiB: mib(steadyKiB),
        livePeakMiB: mib(livePeakKiB),
        restorePeakMiB: mib(restorePeakKiB),
        ratio: Math.round((restorePeakKiB / steadyKiB) * 100) / 100,
        bootMs,
      };
    } finally {
      await restarted.stop("SIGKILL");
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Prints the figures as lines of the bench report.
 *
 * @param result From {@linkcode benchRestore}.
 */
export function printRestoreBench(result: RestoreBenchResult): void {
  const fmt = (n: number) => n.toLocaleString("en-US");
  console.log(
    `\nrestart cost: ${fmt(result.events)} events in ${result.rooms} rooms, Deno KV file of ${
      (result.fileBytes / 1e6).toFixed(1)
    } MB`,
  );
  console.log(
    `  live node: steady RSS ${result.steadyMiB} MiB (its peak ${result.livePeakMiB} MiB)`,
  );
  console.log(
    `  restarted node: peak RSS ${result.restorePeakMiB} MiB, boot ${fmt(result.bootMs)} ms`,
  );
  console.log(`  restart peak / steady ${result.ratio} (target <= 1.2)`);
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--events");
  const result = await benchRestore(at === -1 ? 150_000 : Number(Deno.args[at + 1]));
  printRestoreBench(result);
  await Deno.mkdir("data/bench", { recursive: true });
  await Deno.writeTextFile("data/bench/restore.json", JSON.stringify(result, null, 2) + "\n");
  console.log("written: data/bench/restore.json");
}
