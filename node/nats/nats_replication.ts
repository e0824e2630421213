/**
 * A node's replication over NATS JetStream, in place of the mesh: connects
 * (credentials, TLS), makes sure the cluster's stream exists with the
 * configured retention, replays it from where the snapshot ends
 * ({@linkcode StreamReplicator}, {@linkcode readStreamPosition}), keeps the
 * position file in step with the snapshots, and runs presence
 * ({@linkcode NatsPresence}). To the hub it is the cluster (`/nodes`), to
 * the frontends the ack gate ("stored by JetStream").
 *
 * When NATS goes away the node keeps serving its people: their lines are
 * shown here and wait, unacknowledged, until JetStream stores them; the
 * client resends what was not acknowledged if it moves to another node, and
 * the line ids make that resend harmless. Nothing acknowledged is lost.
 *
 * @module
 */
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import {
  DiscardPolicy,
  jetstream,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamInfo,
} from "@nats-io/jetstream";
import type { ChatEvent } from "../../core/event.ts";
import type { Hub } from "../chat/hub.ts";
import type { ClusterView } from "../chat/hub_types.ts";
import type { Logger } from "../logger.ts";
import type { SnapshotStore } from "../store/snapshot_store.ts";
import type { NatsConfig } from "./nats_config.ts";
import { NatsPresence } from "./nats_presence.ts";
import { ignoreResetsOfClosedSockets } from "./socket_reset_guard.ts";
import { followSnapshots, readStreamPosition } from "./stream_position.ts";
import { type ReplicatorStatus, StreamReplicator } from "./stream_replicator.ts";

/** How long the server drops a resent `Nats-Msg-Id` (ns): two minutes. */
const DUPLICATE_WINDOW_NS = 120e9;

/** Options of {@linkcode NatsReplication.start}. */
export interface NatsReplicationOptions {
  /** This node's id. */
  readonly nodeId: string;
  /** Data directory, where the stream position is kept. */
  readonly dataDir: string;
  /** The snapshot store, when the node keeps one. */
  readonly store: SnapshotStore | undefined;
  /** Whether the restored snapshot held anything (else the whole stream is replayed). */
  readonly restored: boolean;
  /** Logger. */
  readonly logger: Logger;
}

/** A node's replication through NATS as `/metrics` shows it. */
export interface NatsStatus extends ReplicatorStatus {
  /** Whether the connection to NATS is up now. */
  readonly connected: boolean;
}

/** Cannot reach NATS, or the stream cannot be made as configured. */
export class NatsStartError extends Error {
  /** Always `"NatsStartError"`. */
  override name = "NatsStartError";
}

/** The node's replication through NATS (see the module doc). */
export class NatsReplication implements ClusterView {
  readonly #nc: NatsConnection;
  readonly #replicator: StreamReplicator;
  readonly #presence: NatsPresence;
  readonly #unfollow: () => void;
  #connected = true;

  private constructor(
    nc: NatsConnection,
    replicator: StreamReplicator,
    presence: NatsPresence,
    unfollow: () => void,
  ) {
    this.#nc = nc;
    this.#replicator = replicator;
    this.#presence = presence;
    this.#unfollow = unfollow;
  }

  /**
   * Connects, replays the stream into the hub's log and starts presence.
   *
   * @param hub The hub (its log is replicated).
   * @param config Servers, auth, stream.
   * @param options Node id, data, snapshot store.
   * @returns Once the log holds everything the stream held at the start.
   * @throws {NatsStartError} When NATS is unreachable or refuses the stream.
   */
  static async start(
    hub: Hub,
    config: NatsConfig,
    options: NatsReplicationOptions,
  ): Promise<NatsReplication> {
    const { nodeId, dataDir, store, logger } = options;
    ignoreResetsOfClosedSockets(logger);
    const nc = await connectTo(config, nodeId);
    try {
      // No account check here: a NATS cluster still forming is waited for by ensureStream.
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      const info = await ensureStream(jsm, config);
      const identity = { stream: config.stream, created: info.created };
      const startAfter = options.restored ? readStreamPosition(dataDir, identity) : 0;
      const replicator = new StreamReplicator(hub.log, {
        js: jetstream(nc),
        jsm,
        stream: config.stream,
        nodeId,
        startAfter,
        logger,
      });
      logger.info("nats connected", {
        server: nc.getServer(),
        stream: config.stream,
        replicas: info.config.num_replicas,
        from: startAfter + 1,
      });
      await replicator.start();
      const presence = new NatsPresence(hub, {
        nc,
        stream: config.stream,
        nodeId,
        boot: crypto.randomUUID(),
        logger,
      });
      presence.start();
      const unfollow = store === undefined
        ? () => {}
        : followSnapshots(store, dataDir, identity, () => replicator.applied, logger);
      const replication = new NatsReplication(nc, replicator, presence, unfollow);
      replication.#watch(logger);
      return replication;
    } catch (error) {
      await nc.close().catch(() => {});
      if (error instanceof NatsStartError) throw error;
      throw new NatsStartError(`Cannot replicate through NATS: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Whether the connection to NATS is up now (for `/readyz`). */
  get connected(): boolean {
    return this.#connected;
  }

  /** The connection and the replicator's counts, for `/metrics`; no request to NATS. */
  status(): NatsStatus {
    return { connected: this.#connected, ...this.#replicator.status() };
  }

  /** Every node heard of, this one included. */
  members(): ReturnType<ClusterView["members"]> {
    return this.#presence.members();
  }

  /** None: what the stream no longer holds is its retention's choice, not a loss to report. */
  lostRanges(): readonly string[] {
    return [];
  }

  /**
   * Waits until JetStream has stored a local event.
   *
   * @param event An event this node originated.
   * @returns Resolves once it is stored.
   */
  replicated(event: ChatEvent): Promise<void> {
    return this.#replicator.replicated(event);
  }

  /** Says goodbye, lets publishes in flight finish (a few seconds at most), closes. */
  async stop(): Promise<void> {
    await this.#presence.stop();
    await this.#replicator.stop();
    await this.#nc.drain().catch(() => {});
    // The last snapshot follows (node.stop): the position it would write lags a snapshot anyway.
    this.#unfollow();
  }

  async #watch(logger: Logger): Promise<void> {
    for await (const status of this.#nc.status()) {
      switch (status.type) {
        case "disconnect":
          this.#connected = false;
          logger.warn("nats disconnected", { server: status.server });
          break;
        case "reconnect":
          this.#connected = true;
          logger.info("nats reconnected", { server: status.server });
          break;
        case "error":
          logger.warn("nats error", { error: String(status.error) });
          break;
      }
    }
  }
}

/**
 * Longest wait for one server's answer to a connection (the client's own
 * default is 20 s): a server that drops the connection after the TLS
 * handshake is only noticed by this timeout, and a node should not take
 * that long to say it cannot start.
 */
const CONNECT_TIMEOUT_MS = 5000;

async function connectTo(config: NatsConfig, nodeId: string): Promise<NatsConnection> {
  try {
    return await connect({
      servers: [...config.servers],
      name: `meshchat ${nodeId}`,
      // Forever: a NATS outage must not end the node; acks wait meanwhile.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: CONNECT_TIMEOUT_MS,
      ...(config.creds === undefined
        ? {}
        : { authenticator: credsAuthenticator(new TextEncoder().encode(config.creds)) }),
      ...(config.tls === undefined ? {} : { tls: { ...config.tls } }),
    });
  } catch (error) {
    const message = (error as Error).message;
    throw new NatsStartError(
      `Cannot connect to NATS at ${config.servers.join(",")}: ${message}${
        connectHint(message, config)
      }`,
      { cause: error },
    );
  }
}

/** What to check when the first connection fails for a reason of auth or TLS. */
function connectHint(message: string, config: NatsConfig): string {
  if (/authorization|authentication|user.*(revoked|expired)/i.test(message)) {
    return config.creds === undefined
      ? ": the NATS servers want credentials, give them with --nats-creds FILE"
      : ": the NATS servers refused --nats-creds (a user of an account their operator knows?)";
  }
  if (/certificate|self.signed|unable to verify/i.test(message)) {
    return config.tls?.ca === undefined
      ? ": the NATS servers' certificate is signed by a CA this node does not trust, " +
        "give it with --nats-tls-ca FILE"
      : ": the NATS servers' certificate is not signed by --nats-tls-ca (or names another host)";
  }
  if (config.tls !== undefined && /EPERM|EPIPE|ECONNRESET|hang up|closed|timeout/i.test(message)) {
    // A server that refuses a client certificate (or its absence) ends the connection after the
    // handshake without saying why; the client then waits for an answer (CONNECT_TIMEOUT_MS).
    return config.tls.cert === undefined
      ? ": if the NATS servers verify clients (tls verify), " +
        "give this node's certificate with --nats-tls-cert and --nats-tls-key"
      : ": if the NATS servers verify clients (tls verify), " +
        "--nats-tls-cert must be signed by a CA they trust (their ca_file)";
  }
  return "";
}

/** Tries of a stream set-up that failed for a passing reason, half a second apart. */
const STREAM_TRIES = 40;

/**
 * Creates the stream, or brings an existing one's retention and replicas to
 * the flags. A NATS cluster that is still forming (no leader yet, peers not
 * all known) is waited for, up to {@linkcode STREAM_TRIES} tries.
 */
async function ensureStream(jsm: JetStreamManager, config: NatsConfig): Promise<StreamInfo> {
  for (let attempt = 1;; attempt++) {
    try {
      return await setUpStream(jsm, config);
    } catch (error) {
      const passing = /no suitable peers|temporarily unavailable|timeout|no responders/i
        .test((error as Error).message);
      if (!passing || attempt >= STREAM_TRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** Creates the stream, or updates it (every node starting at once may race to create it). */
async function setUpStream(jsm: JetStreamManager, config: NatsConfig): Promise<StreamInfo> {
  const settings = {
    max_age: config.maxAgeMs * 1e6,
    max_bytes: config.maxBytes,
    num_replicas: config.replicas,
    duplicate_window: DUPLICATE_WINDOW_NS,
  };
  const existing = await jsm.streams.info(config.stream).catch(() => undefined);
  try {
    if (existing !== undefined) {
      const now = existing.config;
      const same = now.max_age === settings.max_age && now.max_bytes === settings.max_bytes &&
        now.num_replicas === settings.num_replicas;
      return same ? existing : await jsm.streams.update(config.stream, settings);
    }
    return await jsm.streams.add({
      name: config.stream,
      subjects: [`${config.stream}.events.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      ...settings,
    });
  } catch (error) {
    const message = (error as Error).message;
    const hint = /non-clustered|insufficient resources|no suitable peers/i.test(message)
      ? `: with fewer than ${config.replicas} NATS servers, use --nats-replicas 1`
      : /no responders|not enabled/i.test(message)
      ? ": is JetStream on in the NATS servers (nats-server -js)?"
      : "";
    throw new NatsStartError(`Cannot set up stream ${config.stream}: ${message}${hint}`, {
      cause: error,
    });
  }
}
