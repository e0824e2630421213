/**
 * Hubs and their replicators on a {@linkcode MemoryNetwork}, with crashes
 * that behave like a node killed without a clean stop: the node loses what
 * it accepted since its last snapshot, and boots from that snapshot under a
 * new origin `<id>.<epoch>` from seq 1, as node/store/snapshot_store.ts does.
 * For deterministic tests of replication over many crashes.
 *
 * @example
 * ```ts ignore
 * const cluster = new ReplicaCluster(["a", "b", "c"], { seed: 1 });
 * cluster.say("a", "hello");
 * await cluster.settle(100);
 * cluster.crash("a");
 * cluster.start("a"); // now origin a.1, from a's last snapshot
 * ```
 *
 * @module
 */
import type { ChatEvent } from "../../core/event.ts";
import { originFor } from "../../core/event.ts";
import { HybridClock } from "../../core/hybrid_clock.ts";
import type { RetiredJson, VersionVectorJson } from "../../core/version_vector.ts";
import { Hub, type Session } from "../../node/chat/hub.ts";
import { MemoryNetwork, type MemoryNetworkOptions } from "./memory_network.ts";
import { type ReplicationMessage, Replicator } from "../../node/mesh/replicator.ts";
import { turnEnd } from "./turn_end.ts";

/** Options of {@linkcode ReplicaCluster}. */
export interface ReplicaClusterOptions extends MemoryNetworkOptions {
  /** Events kept per room. @default 100000 */
  historySize?: number;
  /** Virtual time between a node's snapshots, in ms (`Infinity`: only by hand). @default 1000 */
  snapshotEveryMs?: number;
  /** Ids not started at creation (they join later with `start`). @default [] */
  late?: readonly string[];
}

/** What a simulated snapshot holds (what node/store/snapshot_store.ts keeps). */
interface Snapshot {
  readonly events: readonly ChatEvent[];
  readonly vv: VersionVectorJson;
  readonly retired: RetiredJson;
}

interface Running {
  readonly hub: Hub;
  readonly replicator: Replicator;
  readonly session: Session;
  readonly startedAt: number;
  lastSnapshotAt: number;
}

const sink = { send() {}, close() {} };

/** A cluster of hubs whose nodes can crash and come back under a new origin. */
export class ReplicaCluster {
  /** The network underneath: faults, cuts, time. */
  readonly network: MemoryNetwork<ReplicationMessage>;
  /** Ids of events a peer acknowledged (`origin:seq`): these must never be lost. */
  readonly acked = new Set<string>();
  readonly #ids: readonly string[];
  readonly #historySize: number;
  readonly #snapshotEveryMs: number;
  readonly #running = new Map<string, Running>();
  readonly #snapshots = new Map<string, Snapshot>();
  readonly #epochs = new Map<string, number>();
  readonly #received = new Map<string, number>();
  /** Every node ever started: the members, as membership would know them. */
  readonly #members: string[] = [];

  /**
   * Starts every node and links them all.
   *
   * @param ids Node ids; each is a member once started.
   * @param options Network options, history size, snapshot period, late joiners.
   */
  constructor(ids: readonly string[], options: ReplicaClusterOptions = {}) {
    const { historySize = 100_000, snapshotEveryMs = 1000, late = [], ...network } = options;
    this.network = new MemoryNetwork({ tickMs: 100, ...network });
    this.#ids = ids;
    this.#historySize = historySize;
    this.#snapshotEveryMs = snapshotEveryMs;
    for (const id of ids) if (!late.includes(id)) this.start(id);
  }

  /**
   * Boots node `id`: empty the first time, otherwise from its last snapshot
   * (if any) under the next epoch's origin (its previous run ended in a crash).
   *
   * @param id A node id.
   * @throws {Error} When it is running.
   */
  start(id: string): void {
    if (this.#running.has(id)) throw new Error(`Cannot start ${id}: already running`);
    const net = this.network;
    const snapshot = this.#snapshots.get(id);
    // Every run after the first follows a crash: a new epoch, even with no snapshot yet.
    const previous = this.#epochs.get(id);
    const epoch = previous === undefined ? 0 : previous + 1;
    this.#epochs.set(id, epoch);
    if (!this.#members.includes(id)) this.#members.push(id);
    const origin = originFor(id, epoch);
    const hub = new Hub({
      nodeId: id,
      origin,
      rateBurst: 0,
      historySize: this.#historySize,
      clock: new HybridClock(origin, { now: net.now }),
    });
    if (snapshot !== undefined) {
      hub.log.restore(snapshot.events);
      hub.log.restoreVersions(snapshot.vv, snapshot.retired);
    }
    const ids = this.#ids;
    const replicator = new Replicator(hub.log, {
      send: (peer, message) => net.send(id, peer, structuredClone(message)),
      upPeers: () => ids.filter((peer) => peer !== id && net.linked(id, peer)),
      members: () => this.#members,
      ackIntervalMs: 0, // virtual time: one ack per turn, not per real-time interval
    });
    const session = hub.connect(sink, { user: `u-${id}` }, { via: "test", address: "-" });
    const running: Running = {
      hub,
      replicator,
      session,
      startedAt: net.now(),
      lastSnapshotAt: net.now(),
    };
    this.#running.set(id, running);
    net.attach(id, `${id}:1`, {
      receive: (from, message) => {
        if (message.k === "ev" && Array.isArray(message.events)) {
          this.#received.set(id, (this.#received.get(id) ?? 0) + message.events.length);
        }
        replicator.receive(from, message);
      },
      linkUp: (peer) => replicator.linkUp(peer),
      linkDown: (peer) => replicator.linkDown(peer),
      tick: () => {
        replicator.antiEntropy();
        if (net.now() - running.lastSnapshotAt >= this.#snapshotEveryMs) this.snapshot(id);
      },
    });
    for (const peer of ids) if (peer !== id && this.#running.has(peer)) net.dial(id, `${peer}:1`);
  }

  /**
   * Kills node `id` without a clean stop: its links close, and whatever it
   * accepted since its last snapshot is gone from it.
   *
   * @param id A running node.
   */
  crash(id: string): void {
    this.#running.delete(id);
    this.network.detach(id);
  }

  /**
   * Takes node `id`'s snapshot now (also done every `snapshotEveryMs`).
   *
   * @param id A running node.
   */
  snapshot(id: string): void {
    const running = this.#node(id);
    const versions = running.hub.versions;
    this.#snapshots.set(id, {
      events: [...running.hub.events()],
      vv: versions.toJSON(),
      retired: versions.retiredJSON(),
    });
    running.lastSnapshotAt = this.network.now();
  }

  /**
   * Says a line in the lobby on node `id`; its id joins
   * {@linkcode ReplicaCluster.acked} once a peer holds it.
   *
   * @param id A running node.
   * @param text The line.
   * @returns The event.
   */
  say(id: string, text: string): ChatEvent {
    const { hub, replicator, session } = this.#node(id);
    const event = hub.say(session, "lobby", text);
    const key = `${event.origin}:${event.seq}`;
    replicator.replicated(event).then(() => this.acked.add(key));
    return event;
  }

  /**
   * Lets queued pushes and ack promises run, then advances virtual time.
   *
   * @param ms Virtual time to advance.
   */
  async settle(ms: number): Promise<void> {
    await turnEnd();
    this.network.advance(ms);
    await turnEnd();
  }

  /**
   * The hub of a running node.
   *
   * @param id A running node.
   * @returns Its hub.
   */
  hub(id: string): Hub {
    return this.#node(id).hub;
  }

  /**
   * How long node `id` has been running, in ms of virtual time.
   *
   * @param id A running node.
   * @returns Virtual ms since its last start.
   */
  uptime(id: string): number {
    return this.network.now() - this.#node(id).startedAt;
  }

  /** Whether node `id` is running. */
  isRunning(id: string): boolean {
    return this.#running.has(id);
  }

  /** Ids of the running nodes. */
  running(): string[] {
    return [...this.#running.keys()];
  }

  /**
   * Events node `id` received in `ev` messages, over all its runs.
   *
   * @param id A node id.
   * @returns The count (duplicates included).
   */
  received(id: string): number {
    return this.#received.get(id) ?? 0;
  }

  /** Each running node's lobby log as `origin:seq` ids, in log order. */
  logs(): Map<string, string[]> {
    return new Map(
      this.running().map((id) => [
        id,
        (this.hub(id).findRoom("lobby")?.log.toArray() ?? []).map((e) => `${e.origin}:${e.seq}`),
      ]),
    );
  }

  /** Whether every running node's lobby log is the same. */
  identical(): boolean {
    const all = [...this.logs().values()].map((log) => JSON.stringify(log));
    return all.every((log) => log === all[0]);
  }

  #node(id: string): Running {
    const running = this.#running.get(id);
    if (running === undefined) throw new Error(`Cannot find node ${id}: not running`);
    return running;
  }
}
