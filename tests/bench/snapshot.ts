/**
 * Snapshot benchmark: a hub holding 100,000 events over 10 rooms is
 * snapshotted into a fresh Deno KV file (the first, full snapshot), with a
 * 1 ms interval timer probing how long the event loop stalls meanwhile; then
 * a second process-like boot opens the file and restores it into a new hub.
 *
 * Run alone: `deno run -P=e2e-bench tests/bench/snapshot.ts`.
 *
 * @module
 */
import type { ChatEvent } from "../../core/event.ts";
import { Hub } from "../../node/chat/hub.ts";
import { SnapshotStore } from "../../node/store/snapshot_store.ts";

/** Figures of {@linkcode benchSnapshot}. */
export interface SnapshotBenchResult {
  /** Events snapshotted and restored. */
  readonly events: number;
  /** Rooms they are spread over. */
  readonly rooms: number;
  /** Size of the KV file after the snapshot (bytes). */
  readonly fileBytes: number;
  /** Time of the first, full snapshot (ms). */
  readonly snapshotMs: number;
  /** Atomic commits it took. */
  readonly commits: number;
  /** Longest gap between two ticks of a 1 ms timer during the snapshot (ms). */
  readonly maxPauseMs: number;
  /** Longest stretch of the snapshot's own work between two commits (ms). */
  readonly longestStepMs: number;
  /** Time of an incremental snapshot of 1,000 more events after the restore (ms). */
  readonly incrementalMs: number;
  /** Open + validate + restore into a new hub (ms). */
  readonly restoreMs: number;
}

const ROOMS = 10;

function events(count: number, firstSeq: number, wall: number, origin = "n1"): ChatEvent[] {
  const out: ChatEvent[] = [];
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + i;
    out.push({
      origin,
      seq,
      hlc: { wall: wall + seq, counter: 0, node: origin },
      room: `room${seq % ROOMS}`,
      kind: "message",
      from: `user${seq % 97}`,
      text: `message ${seq}: the quick brown fox jumps over the lazy dog`,
    });
  }
  return out;
}

/** Measures the longest stall of the event loop while `work` runs. */
async function withPauseProbe<T>(
  work: () => Promise<T>,
): Promise<{ value: T; maxPauseMs: number }> {
  let last = performance.now();
  let maxPauseMs = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    maxPauseMs = Math.max(maxPauseMs, now - last);
    last = now;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  last = performance.now();
  maxPauseMs = 0;
  try {
    const value = await work();
    return { value, maxPauseMs };
  } finally {
    clearInterval(probe);
  }
}

/**
 * Runs the snapshot benchmark `runs` times in scratch directories under
 * `./data/bench` and keeps the median of each figure (the machine may be
 * busy with other work), plus the worst pause seen.
 *
 * @param count Events to snapshot. @default 100000
 * @param runs Repetitions. @default 3
 * @returns The median figures, and `worstPauseMs` over all runs.
 */
export async function benchSnapshot(
  count = 100_000,
  runs = 3,
): Promise<SnapshotBenchResult & { readonly runs: number; readonly worstPauseMs: number }> {
  const results: SnapshotBenchResult[] = [];
  for (let i = 0; i < runs; i++) results.push(await benchOnce(count));
  const median = (pick: (r: SnapshotBenchResult) => number) => {
    const values = results.map(pick).sort((a, b) => a - b);
    return values[values.length >> 1]!;
  };
  return {
    events: count,
    rooms: ROOMS,
    fileBytes: median((r) => r.fileBytes),
    snapshotMs: median((r) => r.snapshotMs),
    commits: median((r) => r.commits),
    maxPauseMs: median((r) => r.maxPauseMs),
    longestStepMs: median((r) => r.longestStepMs),
    incrementalMs: median((r) => r.incrementalMs),
    restoreMs: median((r) => r.restoreMs),
    runs,
    worstPauseMs: Math.max(...results.map((r) => r.maxPauseMs)),
  };
}

async function benchOnce(count: number): Promise<SnapshotBenchResult> {
  const dir = `./data/bench/snapshot-${crypto.randomUUID().slice(0, 8)}`;
  const historySize = Math.ceil(count / ROOMS);
  try {
    const store = await SnapshotStore.open(dir, { nodeId: "n1", intervalMs: 0 });
    const hub = new Hub({ nodeId: "n1", lastSeq: count, historySize });
    const wall = Date.now() - count - 1000;
    hub.log.restore(events(count, 1, wall));
    store.attach(hub.log);
    // Let the collector finish with the 100,000 events just built: measure
    // the snapshot against a settled heap, as in a node that has been up.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const first = await withPauseProbe(() => store.snapshotNow());
    await store.close();
    const fileBytes = (await Deno.stat(`${dir}/snapshot.kv`)).size;

    const started = performance.now();
    const reopened = await SnapshotStore.open(dir, { nodeId: "n1", intervalMs: 0 });
    const restored = new Hub({
      nodeId: "n1",
      origin: reopened.origin,
      lastSeq: reopened.lastSeq,
      historySize,
    });
    const summary = reopened.attach(restored.log);
    const restoreMs = performance.now() - started;
    if (summary.events !== count) {
      throw new Error(`Restored ${summary.events} events, expected ${count}`);
    }
    // A peer's events: the apply path refuses events that claim this node's own origin.
    for (const event of events(1000, count + 1, wall, "n2")) restored.log.apply(event);
    const incremental = await reopened.snapshotNow();
    await reopened.close();
    return {
      events: count,
      rooms: ROOMS,
      fileBytes,
      snapshotMs: Math.round(first.value.ms),
      commits: first.value.commits,
      maxPauseMs: Math.round(first.maxPauseMs * 10) / 10,
      longestStepMs: first.value.longestStepMs,
      incrementalMs: Math.round(incremental.ms * 10) / 10,
      restoreMs: Math.round(restoreMs),
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Prints the figures as lines of the bench report.
 *
 * @param result From {@linkcode benchSnapshot}.
 */
export function printSnapshotBench(
  result: SnapshotBenchResult & { readonly runs: number; readonly worstPauseMs: number },
): void {
  const fmt = (n: number) => n.toLocaleString("en-US");
  console.log(
    `\nsnapshots: ${fmt(result.events)} events in ${result.rooms} rooms, Deno KV file of ${
      (result.fileBytes / 1e6).toFixed(1)
    } MB (median of ${result.runs} runs)`,
  );
  console.log(`  full snapshot ${fmt(result.snapshotMs)} ms in ${result.commits} commits`);
  console.log(
    `  longest event-loop pause during it ${result.maxPauseMs} ms (target <= 10; worst run ${result.worstPauseMs} ms; the store's own longest step ${result.longestStepMs} ms)`,
  );
  console.log(`  incremental snapshot of 1,000 new events ${result.incrementalMs} ms`);
  console.log(
    `  restore (open, validate, load into a hub) ${fmt(result.restoreMs)} ms (target <= 1000)`,
  );
}

if (import.meta.main) printSnapshotBench(await benchSnapshot());
