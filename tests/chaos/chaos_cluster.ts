/**
 * What a chaos scenario runs on: three nodes with client ports, and the
 * faults it can inject into them.
 *
 * - `kill` and `stop` need real processes (kill -9, SIGSTOP/SIGCONT): the
 *   nodes are `main.ts node` processes on loopback (`cluster.ts`).
 * - `cut` needs a network that knows which node is at each end of a mesh
 *   connection, and the production binary has no way to cut one (the mesh
 *   handshake is encrypted, so a proxy cannot tell who dials). The nodes run
 *   in the scenario's process, each the full node assembly with real client
 *   ports and its own Deno KV, meshed over the memory transport
 *   (`in_process_cluster.ts`), where the cut happens.
 *
 * So one run injects either kill/stop or cut faults, never both.
 *
 * @module
 */
import { startCluster } from "../helpers/cluster.ts";
import { startInProcessCluster } from "../helpers/in_process_cluster.ts";
import { startNatsServers } from "../helpers/nats_servers.ts";

/** A kind of fault. */
export type FaultKind = "kill" | "stop" | "cut";

/** Fault kinds that need node processes. */
export const PROCESS_FAULTS: readonly FaultKind[] = ["kill", "stop"];

/** Fault kinds that need in-process nodes on the memory transport. */
export const NETWORK_FAULTS: readonly FaultKind[] = ["cut"];

/** Nodes under chaos. */
export interface ChaosCluster {
  /** Node count. */
  readonly size: number;
  /** Current client ports, by node index (they change on restart). */
  ports(): number[];
  /**
   * Starts a fault on node i: kill -9, SIGSTOP, or cut its mesh links.
   *
   * @param kind The fault; one this cluster supports.
   * @param i Node index.
   * @throws {RangeError} When this cluster cannot inject that kind.
   */
  begin(kind: FaultKind, i: number): Promise<void>;
  /**
   * Ends the fault {@linkcode ChaosCluster.begin} started: restart, SIGCONT, heal.
   *
   * @param kind The fault.
   * @param i Node index.
   */
  end(kind: FaultKind, i: number): Promise<void>;
  /** Stops every node and removes the data. */
  close(): Promise<void>;
}

/** Options of {@linkcode startChaosCluster}. */
export interface ChaosClusterOptions {
  /** Cluster secret of node processes. @default a random one */
  secret?: string;
  /** Extra flags for every node. @default none */
  args?: string[];
  /**
   * Node processes replicate through a 3-server NATS cluster (started here,
   * stopped by `close`) instead of the mesh. @default false
   */
  nats?: boolean;
}

/**
 * Starts three nodes of the kind the faults need.
 *
 * @param faults The faults the run will inject.
 * @param options Secret and node flags.
 * @returns The cluster.
 * @throws {RangeError} When the faults need both processes and in-process nodes.
 */
export async function startChaosCluster(
  faults: readonly FaultKind[],
  options: ChaosClusterOptions = {},
): Promise<ChaosCluster> {
  const { secret, args = [], nats = false } = options;
  const network = faults.some((kind) => NETWORK_FAULTS.includes(kind));
  if (network && faults.some((kind) => PROCESS_FAULTS.includes(kind))) {
    throw new RangeError(
      `Cannot inject ${faults.join(" ")} in one run: ${PROCESS_FAULTS.join(" and ")} need node ` +
        `processes, ${NETWORK_FAULTS.join(" and ")} in-process nodes; run them separately`,
    );
  }
  if (network && nats) throw new RangeError("Cannot cut links of nodes that replicate over NATS");
  return network ? await inProcess(args) : await processes(args, secret, nats);
}

async function processes(
  args: string[],
  secret: string | undefined,
  nats: boolean,
): Promise<ChaosCluster> {
  const servers = nats ? await startNatsServers(3) : undefined;
  let cluster;
  try {
    cluster = await startCluster({
      args,
      ...(secret === undefined ? {} : { secret }),
      ...(servers === undefined ? {} : { nats: { urls: servers.urls, replicas: 3 } }),
    });
  } catch (error) {
    await servers?.close();
    throw error;
  }
  return {
    size: cluster.nodes.length,
    ports: () => cluster.nodes.map((n) => n.process.port),
    async begin(kind, i) {
      const node = cluster.nodes[i]!;
      if (kind === "kill") await node.process.stop("SIGKILL");
      else if (kind === "stop") node.process.child.kill("SIGSTOP");
      else throw new RangeError(`Cannot inject ${kind} into node processes`);
    },
    async end(kind, i) {
      if (kind === "kill") await cluster.restart(i);
      else cluster.nodes[i]!.process.child.kill("SIGCONT");
    },
    async close() {
      for (const node of cluster.nodes) {
        try {
          node.process.child.kill("SIGCONT"); // a run that ended mid-fault may have left one stopped
        } catch {
          // already gone
        }
      }
      await cluster.close();
      await servers?.close();
    },
  };
}

async function inProcess(args: string[]): Promise<ChaosCluster> {
  const cluster = await startInProcessCluster({ args });
  const ids = cluster.nodes.map((n) => n.id);
  return {
    size: cluster.nodes.length,
    ports: () => cluster.nodes.map((n) => n.port),
    begin(kind, i) {
      if (kind !== "cut") throw new RangeError(`Cannot inject ${kind} into in-process nodes`);
      // Node i's links to both others go down, and its dials fail, until healed.
      cluster.network.partition([[ids[i]!], ids.filter((_, j) => j !== i)]);
      return Promise.resolve();
    },
    end() {
      cluster.network.healAll();
      return Promise.resolve();
    },
    close: () => cluster.close(),
  };
}
