/**
 * Real nodes in the test process, meshed through a
 * {@linkcode MemoryMeshNetwork} so a test can partition them. Each node is
 * the assembly `main.ts node` runs — flags parsed by `parseNodeConfig`, a
 * snapshot store on Deno KV in its own data directory, `startNode` with its
 * hub, replicator and client port on real TCP — with one difference: the
 * mesh transport. For kill -9 and SIGSTOP use the process clusters of
 * `cluster.ts`; a process cannot be cut off without a seam in the binary.
 *
 * Node `nK` listens on mesh address `nK:7946` of the memory network, so the
 * network's names are the node ids: `cluster.network.partition([["n1"], ["n2", "n3"]])`.
 *
 * @module
 */
import { createLogger } from "../../node/logger.ts";
import { type RunningNode, startNode } from "../../node/node.ts";
import { parseNodeConfig } from "../../node/node_config.ts";
import { SnapshotStore } from "../../node/store/snapshot_store.ts";
import { MemoryMeshNetwork } from "./memory_transport.ts";

/** The mesh port every in-process node listens on (each on its own host, its id). */
const MESH_PORT = 7946;

/** One node of an {@linkcode InProcessCluster}. */
export interface InProcessNode {
  /** Node id, also its host on the memory network. */
  readonly id: string;
  /** Its data directory (kept across restarts). */
  readonly dataDir: string;
  /** The running node. */
  readonly running: RunningNode;
  /** Its client port on 127.0.0.1 (a new one after a restart). */
  readonly port: number;
  /** Everything it logged so far, across restarts. */
  log(): string;
}

/** A running in-process cluster. */
export interface InProcessCluster {
  readonly nodes: InProcessNode[];
  /** The mesh network: cut, partition and heal here. */
  readonly network: MemoryMeshNetwork;
  /**
   * Stops node i gracefully and starts it again: same id and data.
   *
   * @param i Node index.
   * @param extra Flags for this start only.
   */
  restart(i: number, extra?: string[]): Promise<void>;
  /** Stops every node and removes the data. */
  close(): Promise<void>;
}

/** Options of {@linkcode startInProcessCluster}. */
export interface InProcessClusterOptions {
  /** Node count. @default 3 */
  size?: number;
  /** Extra node flags for every node. @default none */
  args?: string[];
}

/**
 * Starts `size` nodes that know each other as seeds over one memory network.
 *
 * @param options Size and flags.
 * @returns The cluster.
 */
export async function startInProcessCluster(
  options: InProcessClusterOptions = {},
): Promise<InProcessCluster> {
  const { size = 3, args = [] } = options;
  const base = `./data/tmp/in-process-${crypto.randomUUID().slice(0, 6)}`;
  const secret = crypto.randomUUID();
  const network = new MemoryMeshNetwork();
  const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  const logs = ids.map(() => [] as string[]);
  const start = async (i: number, extra: string[] = []): Promise<InProcessNode> => {
    const id = ids[i]!;
    const dataDir = `${base}/${id}`;
    const peers = ids.filter((other) => other !== id).map((p) => `${p}:${MESH_PORT}`);
    const config = parseNodeConfig(
      [
        ...["--id", id, "--host", "127.0.0.1", "--port", "0", "--ssh-port", "0"],
        "--http-port",
        "0",
        ...["--data", dataDir, "--mesh-host", id, "--mesh-port", String(MESH_PORT)],
        ...["--peers", peers.join(","), "--burst", "0", ...args, ...extra],
      ],
      (name) => name === "MESHCHAT_CLUSTER_SECRET" ? secret : undefined,
    );
    if (config === "help") throw new TypeError("Cannot start a node from --help");
    const logger = createLogger(id, { level: config.logLevel, write: (l) => logs[i]!.push(l) });
    const store = await SnapshotStore.open(config.dataDir, {
      nodeId: config.id,
      resetData: config.resetData,
      intervalMs: config.snapshotIntervalMs,
      logger,
    });
    let running: RunningNode;
    try {
      running = await startNode(config, logger, store, {
        meshTransport: network.transportFor(id),
      });
    } catch (error) {
      await store.close();
      throw error;
    }
    return {
      id,
      dataDir,
      running,
      port: running.clientAddr.port,
      log: () => logs[i]!.join("\n"),
    };
  };
  const nodes: InProcessNode[] = [];
  try {
    for (let i = 0; i < size; i++) nodes.push(await start(i));
  } catch (error) {
    await Promise.all(nodes.map((node) => node.running.stop("test over")));
    await Deno.remove(base, { recursive: true }).catch(() => {});
    throw error;
  }
  return {
    nodes,
    network,
    async restart(i, extra) {
      await nodes[i]!.running.stop("node restarting");
      nodes[i] = await start(i, extra);
    },
    async close() {
      await Promise.all(nodes.map((node) => node.running.stop("test over")));
      await Deno.remove(base, { recursive: true }).catch(() => {});
    },
  };
}
