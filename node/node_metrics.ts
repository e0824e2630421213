/**
 * A node's metrics for `/metrics` (Prometheus text format): what the hub,
 * the mesh or the NATS replication, the snapshot store and the connection
 * limits already keep, read
 * when the text is rendered, plus two histograms this module observes into
 * (snapshot duration, event-loop delay). Every name, with its meaning, is
 * listed in docs/operations.md#metrics.
 *
 * Rendering walks the sessions (queue sizes by frontend) and the mesh's
 * peers × origins: O(sessions + peers × origins), never O(history). With
 * `--nats` it asks NATS nothing: the replication's counts are read as kept.
 *
 * @module
 */
import process from "node:process";
import { isSpoken } from "../core/event.ts";
import { MetricsRegistry, type Sample } from "../core/metrics.ts";
import type { Hub } from "./chat/hub.ts";
import type { ConnectionLimits } from "./frontends/connection_limits.ts";
import type { Mesh } from "./mesh/mesh.ts";
import type { NatsStatus } from "./nats/nats_replication.ts";
import type { SnapshotStore } from "./store/snapshot_store.ts";

/** What {@linkcode NodeMetrics} reads. */
export interface NodeMetricsSources {
  /** The node's hub (sessions, counters, rooms, history). */
  readonly hub: Hub;
  /** The mesh, undefined for a standalone node. */
  readonly mesh?: Mesh | undefined;
  /** Replication through NATS (`--nats`), undefined otherwise. */
  readonly nats?: { status(): NatsStatus } | undefined;
  /** The snapshot store, undefined when the node keeps no data. */
  readonly store?: SnapshotStore | undefined;
  /** How long the boot's restore took (ms), undefined without a store. */
  readonly restoreMs?: number | undefined;
  /** The connection limits shared by the frontends. */
  readonly limits: ConnectionLimits;
}

/** Options of {@linkcode NodeMetrics}. */
export interface NodeMetricsOptions {
  /** How often the event loop's delay is sampled (ms). @default 100 */
  sampleEveryMs?: number;
}

/** Mesh member states, every one reported (0 when none) so series do not come and go. */
const MEMBER_STATES = ["alive", "suspect", "dead", "left"] as const;
/** Frontends reported even with no session, for the same reason. */
const FRONTENDS = ["tcp", "ssh", "web"] as const;
const DELAY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const SNAPSHOT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * The registry of one node's metrics. Construction registers them and
 * listens to the log and the store; {@linkcode NodeMetrics.start} starts the
 * event-loop delay sampler, {@linkcode NodeMetrics.stop} ends it.
 */
export class NodeMetrics {
  readonly #registry = new MetricsRegistry();
  #lastRenderMs = 0;
  #renders = 0;
  readonly #sampleEveryMs: number;
  readonly #unlisten: (() => void)[] = [];
  readonly #delay;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param sources What the metrics read.
   * @param options Sampling period of the event-loop delay.
   */
  constructor(sources: NodeMetricsSources, options: NodeMetricsOptions = {}) {
    const { sampleEveryMs = 100 } = options;
    this.#sampleEveryMs = sampleEveryMs;
    const { hub, mesh, nats, store, restoreMs, limits } = sources;
    const r = this.#registry;
    // Read once per render, however many metrics they feed: a walk over the sessions, the backlog.
    const census = this.#perRender(() => sessionCensus(hub));
    const storeStatus = this.#perRender(() => store?.status());
    const natsStatus = this.#perRender(() => nats?.status());
    const counters = hub.counters;
    const received = { local: 0, mesh: 0 };
    this.#unlisten.push(hub.log.onApplied((event) => {
      if (isSpoken(event)) received[event.origin === hub.origin ? "local" : "mesh"]++;
    }));

    r.gauge("meshchat_node_info", "This node's id, as a label; the value is always 1.", () => [
      { labels: { node: hub.nodeId }, value: 1 },
    ]);
    r.gauge(
      "process_start_time_seconds",
      "When this node's process started, in seconds since 1970.",
      () => [{ value: Math.round(Date.now() - performance.now()) / 1000 }],
    );
    r.counter(
      "process_cpu_seconds_total",
      "CPU time this process has used, user and system, in seconds.",
      () => {
        const { user, system } = process.cpuUsage();
        return [{ value: (user + system) / 1e6 }];
      },
    );
    r.gauge(
      "meshchat_sessions",
      "People connected to this node, by frontend.",
      () => census().sessions,
    );
    r.gauge(
      "meshchat_output_queue_bytes",
      "Bytes waiting to be written to this node's people, by frontend.",
      () => census().queued,
    );
    r.gauge(
      "meshchat_output_queue_max_bytes",
      "The fullest output queue of one session, in bytes (it is dropped past --max-queue).",
      () => [{ value: census().maxQueued }],
    );
    r.counter(
      "meshchat_messages_received_total",
      "Messages, actions and private messages accepted: from people here (local) or from peers (mesh).",
      () => [
        { labels: { source: "local" }, value: received.local },
        { labels: { source: "mesh" }, value: received.mesh },
      ],
    );
    r.counter(
      "meshchat_messages_delivered_total",
      "Message frames queued to people on this node.",
      () => [{ value: counters.messagesDelivered }],
    );
    r.counter(
      "meshchat_frames_dropped_total",
      "Frames a session could not take: the one that overflowed a slow reader, those discarded with it, any sent while it closed.",
      () => [{ value: counters.framesDropped }],
    );
    r.counter(
      "meshchat_slow_readers_dropped_total",
      "Sessions ended because they did not read fast enough (output queue over --max-queue).",
      () => [{ value: counters.slowReadersDropped }],
    );
    r.counter(
      "meshchat_line_refusals_total",
      "Lines refused with an error frame, by code (rate_limited is the rate limit).",
      () => [...counters.lineRefusals].map(([code, value]) => ({ labels: { code }, value })),
    );
    r.counter(
      "meshchat_connections_refused_total",
      "Connections refused by the connection limits, by reason.",
      () => [...limits.refusals].map(([reason, value]) => ({ labels: { reason }, value })),
    );
    r.counter(
      "meshchat_offences_total",
      "Offences counted against addresses (floods, missed deadlines, one connection too many).",
      () => [{ value: limits.offences }],
    );
    r.gauge("meshchat_rooms", "Rooms this node holds.", () => [{ value: hub.rooms().size }]);
    r.gauge(
      "meshchat_history_bytes",
      "History retained in memory, as counted against --history-budget.",
      () => [{ value: hub.log.historyBytes }],
    );
    r.gauge(
      "meshchat_mesh_members",
      "Nodes of the cluster this node knows, itself included, by state (none when standalone).",
      () => {
        const members = mesh?.members() ?? [];
        return MEMBER_STATES.map((state) => ({
          labels: { state },
          value: members.filter((m) => m.state === state).length,
        }));
      },
    );
    r.gauge(
      "meshchat_mesh_links",
      "Peers this node has a mesh link to.",
      () => [{ value: mesh?.links ?? 0 }],
    );
    const lag = () => mesh?.replicationLag() ?? [];
    r.gauge(
      "meshchat_replication_lag_events",
      "Events this node holds that a linked peer's last report did not, by peer.",
      () => lag().map(({ peer, events }) => ({ labels: { peer }, value: events })),
    );
    r.gauge(
      "meshchat_replication_lag_seconds",
      "Age of the oldest event a linked peer lacks, by peer (0 when it lacks none).",
      () => lag().map(({ peer, ms }) => ({ labels: { peer }, value: ms / 1000 })),
    );
    r.counter(
      "meshchat_anti_entropy_batches_total",
      "Anti-entropy replies (event batches answering a peer's version vector), sent and received.",
      () => {
        const batches = mesh?.antiEntropyBatches ?? { sent: 0, received: 0 };
        return [
          { labels: { direction: "sent" }, value: batches.sent },
          { labels: { direction: "received" }, value: batches.received },
        ];
      },
    );
    r.gauge(
      "meshchat_lost_ranges",
      "Event ranges no reachable peer holds any more (records kept).",
      () => [{ value: mesh?.lostRanges().length ?? 0 }],
    );
    // With --nats: counts the replication keeps anyway; a scrape asks NATS nothing.
    const natsSample = (value: (status: NatsStatus) => number) => () => {
      const status = natsStatus();
      return status === undefined ? [] : [{ value: value(status) }];
    };
    r.gauge(
      "meshchat_nats_connected",
      "1 while this node is connected to a NATS server, 0 while it reconnects (with --nats).",
      natsSample((s) => s.connected ? 1 : 0),
    );
    r.gauge(
      "meshchat_nats_unpublished_events",
      "Events of this node JetStream has not acknowledged yet: their senders wait for the ack.",
      natsSample((s) => s.unpublished),
    );
    r.gauge(
      "meshchat_nats_stream_applied_sequence",
      "The last stream sequence this node has applied to its log.",
      natsSample((s) => s.appliedSeq),
    );
    r.gauge(
      "meshchat_nats_stream_lag_events",
      "Stream messages this node has not applied yet: the stream's last sequence as last seen, minus the applied one.",
      natsSample((s) => s.lastSeq - s.appliedSeq),
    );
    r.counter(
      "meshchat_nats_publish_retries_total",
      "Publishes to the stream that failed (NATS away, no quorum, a timeout) and were tried again.",
      natsSample((s) => s.publishRetries),
    );
    r.counter(
      "meshchat_nats_consumer_restarts_total",
      "Stream consumers the watchdog replaced because the replay stalled while the stream held more.",
      natsSample((s) => s.consumerRestarts),
    );
    const snapshots = r.histogram(
      "meshchat_snapshot_duration_seconds",
      "Time to write one snapshot to Deno KV.",
      SNAPSHOT_BUCKETS,
    );
    if (store) {
      this.#unlisten.push(store.onSnapshot((result) => snapshots.observe(result.ms / 1000)));
    }
    r.gauge(
      "meshchat_snapshot_file_bytes",
      "Size of the snapshot file on disk, its write-ahead log included.",
      () => store ? [{ value: fileBytes(store.path) }] : [],
    );
    r.gauge(
      "meshchat_snapshot_unwritten_events",
      "Events held in memory that no snapshot holds yet (what a crash now would lose here).",
      () => store ? [{ value: storeStatus()!.unwritten }] : [],
    );
    r.gauge(
      "meshchat_snapshot_failures",
      "Snapshots that failed in a row (0 when the last one worked).",
      () => store ? [{ value: storeStatus()!.failures }] : [],
    );
    r.gauge(
      "meshchat_restore_duration_seconds",
      "Time the boot took to read the snapshot and restore it.",
      () => restoreMs === undefined ? [] : [{ value: restoreMs / 1000 }],
    );
    this.#delay = r.histogram(
      "meshchat_event_loop_delay_seconds",
      `How late a timer due every ${sampleEveryMs} ms fired: time the event loop was busy.`,
      DELAY_BUCKETS,
    );
    r.gauge(
      "meshchat_metrics_render_seconds",
      "Time the previous /metrics took to collect and write (0 before the first).",
      () => [{ value: this.#lastRenderMs / 1000 }],
    );
    r.gauge(
      "meshchat_memory_bytes",
      "Memory of this process (Deno.memoryUsage), by kind.",
      () => {
        const memory = Deno.memoryUsage();
        return [
          { labels: { kind: "rss" }, value: memory.rss },
          { labels: { kind: "heap_total" }, value: memory.heapTotal },
          { labels: { kind: "heap_used" }, value: memory.heapUsed },
          { labels: { kind: "external" }, value: memory.external },
        ];
      },
    );
  }

  /**
   * The `/metrics` body, collected now; its cost is reported by the next one.
   *
   * @returns Prometheus text.
   */
  render(): string {
    const started = performance.now();
    this.#renders++;
    const text = this.#registry.render();
    this.#lastRenderMs = performance.now() - started;
    return text;
  }

  /** `compute`, run at most once per {@linkcode NodeMetrics.render}. */
  #perRender<T>(compute: () => T): () => T {
    let at = -1;
    let value: T;
    return () => {
      if (at !== this.#renders) {
        at = this.#renders;
        value = compute();
      }
      return value;
    };
  }

  /** Starts sampling the event-loop delay. Idempotent. */
  start(): void {
    if (this.#timer !== undefined) return;
    const sample = () => {
      const due = performance.now() + this.#sampleEveryMs;
      this.#timer = setTimeout(() => {
        this.#delay.observe(Math.max(0, performance.now() - due) / 1000);
        sample();
      }, this.#sampleEveryMs);
      // The sampler alone must not keep the process alive.
      Deno.unrefTimer(this.#timer as unknown as number);
    };
    sample();
  }

  /** Stops the sampler and the listeners. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const unlisten of this.#unlisten.splice(0)) unlisten();
  }
}

/** The sessions by frontend, their queued bytes by frontend, and the fullest queue. */
function sessionCensus(hub: Hub): { sessions: Sample[]; queued: Sample[]; maxQueued: number } {
  const sessions = new Map<string, number>(FRONTENDS.map((f) => [f, 0]));
  const queued = new Map<string, number>(FRONTENDS.map((f) => [f, 0]));
  let maxQueued = 0;
  for (const session of hub.sessions()) {
    const via = session.origin.via;
    const bytes = session.sink.queuedBytes?.() ?? 0;
    sessions.set(via, (sessions.get(via) ?? 0) + 1);
    queued.set(via, (queued.get(via) ?? 0) + bytes);
    maxQueued = Math.max(maxQueued, bytes);
  }
  const samples = (sums: Map<string, number>) =>
    [...sums].map(([frontend, value]): Sample => ({ labels: { frontend }, value }));
  return { sessions: samples(sessions), queued: samples(queued), maxQueued };
}

/** Bytes of a file and its `-wal` sibling (0 for one that is missing). */
function fileBytes(path: string): number {
  let bytes = 0;
  for (const file of [path, `${path}-wal`]) {
    try {
      bytes += Deno.statSync(file).size;
    } catch {
      // not there (yet)
    }
  }
  return bytes;
}
