/**
 * Real multi-node clusters for integration tests: node processes on
 * loopback with their own mesh ports and data directories. A test that
 * partitions nodes runs them in-process instead (`in_process_cluster.ts`):
 * the binary has no way to cut a link, and should not.
 *
 * @module
 */
import { RawClient } from "./raw_client.ts";
import { freePort, type NodeProcess, startNodeProcess } from "./node_process.ts";

/** One member of a test cluster, restartable on the same ports and data. */
export interface ClusterNode {
  readonly id: string;
  readonly meshPort: number;
  readonly dataDir: string;
  process: NodeProcess;
}

/** A running test cluster. */
export interface TestCluster {
  readonly nodes: ClusterNode[];
  /** Starts node i again (same id, ports and data). */
  restart(i: number, extra?: string[]): Promise<void>;
  /** Stops every node and removes the data. */
  close(): Promise<void>;
}

/** Options of {@linkcode startCluster}. */
export interface ClusterOptions {
  /** Node count. @default 3 */
  size?: number;
  /** Extra flags for every node. */
  args?: string[];
  /** Cluster secret. @default a random one */
  secret?: string;
  /** Run SSH on every node (free ports, see `process.sshPort`). @default false */
  ssh?: boolean;
  /**
   * Replicate through these NATS servers (`--nats`, the `urls` of
   * tests/helpers/nats_servers.ts) instead of the mesh, on a stream of this
   * cluster's own, with `replicas` copies. @default the mesh
   */
  nats?: { readonly urls: string; readonly replicas: number };
}

/**
 * Starts a cluster of real nodes that know each other as seeds.
 *
 * @param options Size and flags.
 * @returns The cluster.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const { size = 3, args = [], secret = crypto.randomUUID(), ssh = false, nats } = options;
  const tag = crypto.randomUUID().slice(0, 6);
  const base = `./data/tmp/cluster-${tag}`;
  await Deno.mkdir(base, { recursive: true });
  const specs = Array.from({ length: size }, (_, i) => ({
    id: `n${i + 1}`,
    meshPort: freePort(),
    dataDir: `${base}/n${i + 1}`,
  }));
  const start = (i: number, extra: string[] = []) => {
    const spec = specs[i]!;
    const peers = specs.filter((_, j) => j !== i).map((s) => `127.0.0.1:${s.meshPort}`).join(",");
    const replication = nats === undefined
      ? ["--mesh-port", String(spec.meshPort), "--peers", peers]
      : ["--nats", nats.urls, "--nats-replicas", String(nats.replicas), "--nats-stream", `t${tag}`];
    return startNodeProcess({
      id: spec.id,
      ssh,
      secret,
      args: [
        "--data",
        spec.dataDir,
        ...replication,
        "--burst",
        "0",
        ...args,
        ...extra,
      ],
    });
  };
  const nodes: ClusterNode[] = [];
  try {
    for (let i = 0; i < size; i++) nodes.push({ ...specs[i]!, process: await start(i) });
  } catch (error) {
    // A later node failed to start: stop the ones already running, leave nothing behind.
    await Promise.all(nodes.map((n) => n.process.stop("SIGKILL")));
    await Deno.remove(base, { recursive: true }).catch(() => {});
    throw error;
  }
  return {
    nodes,
    async restart(i, extra) {
      nodes[i]!.process = await start(i, extra);
    },
    async close() {
      await Promise.all(nodes.map((n) => n.process.stop("SIGKILL")));
      await Deno.remove(base, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The ids of a room's messages as one node has them, in its order.
 *
 * @param port The node's client port.
 * @param room Room name.
 * @returns Message ids in log order.
 */
export async function roomLog(port: number, room: string): Promise<string[]> {
  const probe = await RawClient.join(port, `probe${crypto.randomUUID().slice(0, 6)}`, room);
  await probe.send({ t: "cmd", line: "/history 500", room });
  const frame = await probe.next((f) => f.t === "history");
  probe.close();
  return (frame.history as { id: string; kind: string }[])
    .filter((m) => m.kind === "message")
    .map((m) => m.id);
}

/**
 * Waits until every node has the same message log for a room, containing
 * every id in `mustHave`; bounded in time.
 *
 * @param ports Client ports of the nodes.
 * @param room Room.
 * @param mustHave Ids that must be present (acknowledged messages).
 * @param waitMs Longest wait.
 * @returns The common log.
 * @throws {Error} With the differing logs when they do not converge in time.
 */
export async function converged(
  ports: number[],
  room: string,
  mustHave: Iterable<string>,
  waitMs = 20_000,
): Promise<string[]> {
  const required = [...mustHave];
  const deadline = Date.now() + waitMs;
  let logs: string[][] = [];
  while (Date.now() < deadline) {
    logs = await Promise.all(ports.map((port) => roomLog(port, room)));
    const first = JSON.stringify(logs[0]);
    const have = new Set(logs[0]);
    if (
      logs.every((log) => JSON.stringify(log) === first) && required.every((id) => have.has(id))
    ) {
      return logs[0]!;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const missing = required.filter((id) => !logs.every((log) => log.includes(id)));
  throw new Error(
    `Logs did not converge: lengths ${
      logs.map((l) => l.length).join("/")
    }, missing ${missing.length}: ${missing.slice(0, 10).join(",")}`,
  );
}
