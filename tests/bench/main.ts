/**
 * `deno task bench`: runs the micro-benchmarks (`deno bench --json`) and the
 * end-to-end benchmarks over real TCP, prints a table, and writes every
 * figure to `data/bench/results.json`.
 *
 * @module
 */
import { startNodeProcess } from "../helpers/node_process.ts";
import { loadBench, printLoadBench } from "./load.ts";
import { meshBench } from "./mesh.ts";
import { benchSnapshot, printSnapshotBench } from "./snapshot.ts";
import { benchRestore, printRestoreBench } from "./restore.ts";
import { benchSsh, formatSshResult } from "./ssh.ts";
import { benchIdleSessions, formatIdleSessionsResult } from "./idle_sessions.ts";
import { benchWsFanout, formatWsFanout } from "./ws_fanout.ts";
import {
  connect,
  connectAll,
  type FanoutReceiver,
  type FanoutSender,
  type FanoutTarget,
  measureLatency,
  measureThroughput,
  meshchatTarget,
  PAD,
  Receiver,
  Sender,
  writeLine,
} from "./fanout.ts";

const RECEIVERS = 100;
const MESSAGES = 20_000;

function bareTarget(port: number): FanoutTarget {
  return {
    linesPerMessage: 1,
    async receiver() {
      const conn = await connect(port);
      await writeLine(conn, "recv\n");
      return new Receiver(conn);
    },
    async sender() {
      return new Sender(await connect(port));
    },
    line: (seq, sentAt) => `{"t":"msg","room":"bench","text":"m${seq} sent=${sentAt} ${PAD}"}\n`,
  };
}

interface MicroResult {
  name: string;
  group?: string;
  avgNs: number;
}

async function microBenchmarks(): Promise<MicroResult[]> {
  const out = await new Deno.Command("deno", {
    args: ["bench", "-P", "--json", "--quiet"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("deno bench failed");
  const json = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    benches: { name: string; group?: string; results: { ok?: { avg: number } }[] }[];
  };
  return json.benches.map((b) => ({
    name: b.name,
    ...(b.group ? { group: b.group } : {}),
    avgNs: Math.round(b.results[0]?.ok?.avg ?? NaN),
  }));
}

async function startBare(): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = new Deno.Command("deno", {
    args: ["run", "--allow-net=127.0.0.1", "tests/bench/bare_broadcast.ts"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/port=(\d+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("bare broadcast server did not start");
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return {
    port: Number(/port=(\d+)/.exec(text)![1]),
    stop: async () => {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

function closeAll(receivers: FanoutReceiver[], sender: FanoutSender): void {
  for (const r of receivers) r.close();
  sender.close();
}

async function fanout() {
  const bare = await startBare();
  const bareTargetSpec = bareTarget(bare.port);
  const bareConns = await connectAll(bareTargetSpec, RECEIVERS);
  await measureThroughput(bareTargetSpec, bareConns.receivers, bareConns.sender, 2000); // warm-up
  const baseline = await measureThroughput(
    bareTargetSpec,
    bareConns.receivers,
    bareConns.sender,
    MESSAGES,
  );
  // The floor of the latency figure on this machine: the same measurement
  // against a server that does nothing but forward.
  const baselineLatency = await measureLatency(
    bareTargetSpec,
    bareConns.receivers,
    bareConns.sender,
    1000,
    3,
  );
  closeAll(bareConns.receivers, bareConns.sender);
  await bare.stop();

  const node = await startNodeProcess({
    id: "bench",
    // Rate limits off; 100 receivers from one address, a bulk sender.
    args: [
      "--burst",
      "0",
      "--max-queue",
      String(64 << 20),
      "--max-conns-per-addr",
      "1000",
      "--max-bytes-per-conn",
      "0",
    ],
  });
  try {
    const target = meshchatTarget([node.port]);
    const { receivers, sender } = await connectAll(target, RECEIVERS);
    await measureThroughput(target, receivers, sender, 2000); // warm-up
    const throughput = await measureThroughput(target, receivers, sender, MESSAGES);
    const latency = await measureLatency(target, receivers, sender, 1000, 3);
    closeAll(receivers, sender);
    return { baseline, baselineLatency, throughput, latency };
  } finally {
    await node.stop("SIGTERM");
  }
}

const micro = await microBenchmarks();
const e2e = await fanout();
const wsFanout = await benchWsFanout();
const mesh = await meshBench();
const snapshot = await benchSnapshot();
const restore = await benchRestore();
const ssh = await benchSsh();
const idleSessions = await benchIdleSessions();
const load = await loadBench();
const results = {
  date: new Date().toISOString(),
  deno: Deno.version.deno,
  micro,
  fanout: e2e,
  wsFanout,
  mesh,
  snapshot,
  restore,
  ssh,
  idleSessions,
  load,
};

const fmt = (n: number) => n.toLocaleString("en-US");
console.log("\nmicro-benchmarks (avg per iteration)");
for (const m of micro) {
  const value = m.avgNs >= 1e6
    ? `${(m.avgNs / 1e6).toFixed(2)} ms`
    : m.avgNs >= 1e3
    ? `${(m.avgNs / 1e3).toFixed(2)} µs`
    : `${m.avgNs} ns`;
  console.log(`  ${(m.group ? `${m.group}: ` : "") + m.name}`.padEnd(64) + value);
}
console.log(
  `\nfan-out: 1 sender, ${RECEIVERS} receivers, ${
    fmt(MESSAGES)
  } messages of ~100 bytes, loopback TCP`,
);
console.log(`  ${"".padEnd(30)}${"deliveries/s".padStart(14)}${"lost".padStart(8)}`);
console.log(
  `  ${"bare broadcast baseline".padEnd(30)}${fmt(e2e.baseline.deliveriesPerSecond).padStart(14)}${
    String(e2e.baseline.lost).padStart(8)
  }`,
);
console.log(
  `  ${"meshchat node".padEnd(30)}${fmt(e2e.throughput.deliveriesPerSecond).padStart(14)}${
    String(e2e.throughput.lost).padStart(8)
  }`,
);
console.log(
  `\nlatency at ${e2e.latency.rate} msg/s to ${RECEIVERS} receivers: p50 ${e2e.latency.p50Ms} ms, p99 ${e2e.latency.p99Ms} ms, max ${e2e.latency.maxMs} ms, lost ${e2e.latency.lost} (${
    fmt(e2e.latency.samples)
  } deliveries)`,
);
console.log(
  `  bare broadcast baseline, same measurement: p50 ${e2e.baselineLatency.p50Ms} ms, p99 ${e2e.baselineLatency.p99Ms} ms, max ${e2e.baselineLatency.maxMs} ms`,
);
console.log(
  `\ncluster (3 nodes): n1 → n3 latency at ${mesh.crossNodeLatency.rate} msg/s: p50 ${mesh.crossNodeLatency.p50Ms} ms, p99 ${mesh.crossNodeLatency.p99Ms} ms, lost ${mesh.crossNodeLatency.lost}`,
);
console.log(
  `  catch-up: n2 restarted after ${
    fmt(mesh.catchUpMessages)
  } messages flowed without it: identical logs ${mesh.catchUpMs} ms after it listened`,
);
console.log(
  `  fan-out, 99 receivers over 3 nodes: ${
    fmt(mesh.clusterFanout.deliveriesPerSecond)
  } deliveries/s, lost ${mesh.clusterFanout.lost}`,
);
console.log("");
for (const line of formatWsFanout(wsFanout)) console.log(line);
printSnapshotBench(snapshot);
printRestoreBench(restore);
console.log("");
for (const line of formatSshResult(ssh)) console.log(line);
for (const line of formatIdleSessionsResult(idleSessions)) console.log(line);
printLoadBench(load);
await Deno.mkdir("data/bench", { recursive: true });
await Deno.writeTextFile("data/bench/results.json", JSON.stringify(results, null, 2) + "\n");
await Deno.writeTextFile("data/bench/restore.json", JSON.stringify(restore, null, 2) + "\n");
console.log("\nwritten: data/bench/results.json");
if (e2e.throughput.lost > 0 || e2e.latency.lost > 0 || e2e.baselineLatency.lost > 0) Deno.exit(1);
