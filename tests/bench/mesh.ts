/**
 * Cluster benchmarks on a real 3-node cluster: cross-node latency, catch-up
 * of a restarted node, and fan-out with receivers spread over the nodes.
 *
 * @module
 */
import { roomLog, startCluster } from "../helpers/cluster.ts";
import {
  connectAll,
  type LatencyResult,
  measureLatency,
  measureThroughput,
  meshchatTarget,
} from "./fanout.ts";
import type { FanoutResult } from "./fanout.ts";

/** Figures of {@linkcode meshBench}. */
export interface MeshBenchResult {
  /** Client on n1 → client on n3 at 1,000 msg/s. */
  readonly crossNodeLatency: LatencyResult;
  /** Messages sent while n2 was down. */
  readonly catchUpMessages: number;
  /** From n2 listening again to its log matching the others (ms). */
  readonly catchUpMs: number;
  /** One sender on n1, receivers spread over n1..n3. */
  readonly clusterFanout: FanoutResult;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the cluster benchmarks.
 *
 * @returns The figures.
 */
export async function meshBench(): Promise<MeshBenchResult> {
  const cluster = await startCluster({
    // Many receivers from one address, bulk senders: connection limits raised.
    args: [
      "--max-queue",
      String(64 << 20),
      "--history",
      "16384",
      "--max-conns-per-addr",
      "1000",
      "--max-bytes-per-conn",
      "0",
    ],
  });
  try {
    await sleep(2000);
    const ports = cluster.nodes.map((n) => n.process.port);

    // Cross-node latency: sender on n1, receiver on n3.
    const pair = meshchatTarget([ports[0]!, ports[2]!], "latency");
    const one = await connectAll({ ...pair, receiver: (i) => pair.receiver(i + 1) }, 1);
    const crossNodeLatency = await measureLatency(pair, one.receivers, one.sender, 1000, 3);
    one.receivers[0]!.close();
    one.sender.close();

    // Catch-up: n2 down while 10,000 messages flow, then restarted.
    const catchUpMessages = 10_000;
    await cluster.nodes[1]!.process.stop("SIGKILL");
    const writer = meshchatTarget([ports[0]!], "catchup");
    const w = await connectAll({ ...writer, receiver: (i) => writer.receiver(i) }, 1);
    await measureThroughput(writer, w.receivers, w.sender, catchUpMessages);
    w.receivers[0]!.close();
    w.sender.close();
    const expected = await roomLog(ports[0]!, "catchup");
    await cluster.restart(1);
    const restartedAt = performance.now();
    const n2 = cluster.nodes[1]!.process.port;
    while (JSON.stringify(await roomLog(n2, "catchup")) !== JSON.stringify(expected)) {
      if (performance.now() - restartedAt > 60_000) throw new Error("n2 did not catch up in 60 s");
      await sleep(10);
    }
    const catchUpMs = Math.round(performance.now() - restartedAt);

    // Fan-out with 99 receivers over the three nodes.
    const ports2 = cluster.nodes.map((n) => n.process.port);
    const spread = meshchatTarget(ports2, "spread");
    const fan = await connectAll(spread, 99);
    await measureThroughput(spread, fan.receivers, fan.sender, 2000);
    const clusterFanout = await measureThroughput(spread, fan.receivers, fan.sender, 10_000);
    for (const r of fan.receivers) r.close();
    fan.sender.close();
    return { crossNodeLatency, catchUpMessages, catchUpMs, clusterFanout };
  } finally {
    await cluster.close();
  }
}
