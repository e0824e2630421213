/**
 * Who is on which node, across a NATS cluster: each node publishes its
 * presence table on `<stream>.presence.<node id>` (core NATS, not the
 * stream: presence is not history) when it changes and every second, and
 * says goodbye when it stops. A node not heard from for three seconds is
 * dead to the others: its people leave their `/who`, and those who shared
 * a room with them are told (the same notices as the mesh's). A node heard
 * again with another boot id restarted: its old sessions are gone.
 *
 * Heartbeats also catch two nodes started with the same `--id` (their boot
 * ids differ): each logs an error, since their events would collide.
 *
 * @module
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Hub } from "../chat/hub.ts";
import type { ClusterView } from "../chat/hub_types.ts";
import { type Logger, silentLogger } from "../logger.ts";

/** What the presence needs of the hub. */
export type PresenceHub = Pick<
  Hub,
  "localPresence" | "updateRemotePresence" | "dropRemotePresence" | "onPresence"
>;

/** Options of {@linkcode NatsPresence}. */
export interface NatsPresenceOptions {
  /** The NATS connection. */
  readonly nc: NatsConnection;
  /** The stream name: subjects are `<stream>.presence.<node id>`. */
  readonly stream: string;
  /** This node's id. */
  readonly nodeId: string;
  /** This run's id: another one under this node id is a restart, or a clash. */
  readonly boot: string;
  /** Time between two heartbeats (ms). @default 1000 */
  readonly heartbeatMs?: number;
  /** Silence after which a node is dead (ms). @default 3000 */
  readonly timeoutMs?: number;
  /** Logger. @default silentLogger */
  readonly logger?: Logger;
}

/** A heartbeat: the sender's table, or its goodbye. */
interface Heartbeat {
  readonly node: string;
  readonly boot: string;
  /** The NATS server it is connected to, shown by `/nodes`. */
  readonly server?: string;
  readonly entries?: unknown;
  readonly left?: boolean;
}

interface Peer {
  boot: string;
  server: string;
  lastSeen: number;
  state: "alive" | "dead" | "left";
}

const NODE_ID = /^[A-Za-z0-9-]{1,32}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Presence and liveness of the cluster's nodes over NATS (see the module doc). */
export class NatsPresence {
  readonly #hub: PresenceHub;
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #nodeId: string;
  readonly #boot: string;
  readonly #heartbeatMs: number;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #peers = new Map<string, Peer>();
  #subscription: Subscription | undefined;
  #timers: ReturnType<typeof setInterval>[] = [];
  #soon: ReturnType<typeof setTimeout> | undefined;
  #unlisten: (() => void) | undefined;
  #clashLoggedAt = -Infinity;

  /**
   * Creates the presence; {@linkcode NatsPresence.start} subscribes and beats.
   *
   * @param hub The hub whose presence is told and whose peers' tables are kept.
   * @param options Connection, names, timings.
   */
  constructor(hub: PresenceHub, options: NatsPresenceOptions) {
    const { heartbeatMs = 1000, timeoutMs = 3000, logger = silentLogger } = options;
    this.#hub = hub;
    this.#nc = options.nc;
    this.#prefix = `${options.stream}.presence`;
    this.#nodeId = options.nodeId;
    this.#boot = options.boot;
    this.#heartbeatMs = heartbeatMs;
    this.#timeoutMs = timeoutMs;
    this.#logger = logger;
  }

  /** Subscribes to the other nodes' heartbeats and starts this node's. */
  start(): void {
    this.#subscription = this.#nc.subscribe(`${this.#prefix}.*`, {
      callback: (error, message) => {
        if (error === null) this.#receive(message.subject, message.data);
      },
    });
    this.#unlisten = this.#hub.onPresence(() => this.#beatSoon());
    this.#beat();
    this.#timers.push(
      setInterval(() => this.#beat(), this.#heartbeatMs),
      setInterval(() => this.#sweep(), Math.max(50, this.#timeoutMs / 6)),
    );
  }

  /** Every node heard of, this one included, for `/nodes`. */
  members(): ReturnType<ClusterView["members"]> {
    const self = {
      id: this.#nodeId,
      addr: this.#server(),
      state: "alive",
      incarnation: 0,
      connected: true,
    };
    return [
      self,
      ...[...this.#peers].map(([id, peer]) => ({
        id,
        addr: peer.server,
        state: peer.state,
        incarnation: 0,
        connected: peer.state === "alive",
      })),
    ];
  }

  /** Says goodbye (the others drop this node's people at once) and stops. */
  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    clearTimeout(this.#soon);
    this.#unlisten?.();
    this.#subscription?.unsubscribe();
    this.#send({ node: this.#nodeId, boot: this.#boot, left: true });
    await this.#nc.flush().catch(() => {});
  }

  #server(): string {
    try {
      return this.#nc.getServer();
    } catch {
      return "";
    }
  }

  /** A change of this node's sessions: tell the others within 20 ms, once per burst. */
  #beatSoon(): void {
    if (this.#soon !== undefined) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.#beat();
    }, 20);
  }

  #beat(): void {
    this.#send({
      node: this.#nodeId,
      boot: this.#boot,
      server: this.#server(),
      entries: this.#hub.localPresence(),
    });
  }

  #send(heartbeat: Heartbeat): void {
    try {
      this.#nc.publish(
        `${this.#prefix}.${this.#nodeId}`,
        encoder.encode(JSON.stringify(heartbeat)),
      );
    } catch (error) {
      // Closed or draining: the next heartbeat tries again.
      this.#logger.debug("presence heartbeat not sent", { error: String(error) });
    }
  }

  #receive(subject: string, data: Uint8Array): void {
    let beat: Heartbeat;
    try {
      beat = JSON.parse(decoder.decode(data));
    } catch {
      this.#logger.warn("presence heartbeat unreadable", { subject });
      return;
    }
    const node = subject.slice(this.#prefix.length + 1);
    if (beat?.node !== node || !NODE_ID.test(node) || typeof beat.boot !== "string") {
      this.#logger.warn("presence heartbeat rejected: bad node id or boot", { subject });
      return;
    }
    if (node === this.#nodeId) {
      if (beat.boot !== this.#boot) this.#clash();
      return;
    }
    const peer = this.#peers.get(node);
    if (beat.left === true) {
      if (peer !== undefined && peer.boot === beat.boot) peer.state = "left";
      this.#hub.dropRemotePresence(node);
      this.#logger.info("nats node left", { node });
      return;
    }
    const server = typeof beat.server === "string" ? beat.server.slice(0, 256) : "";
    if (peer === undefined) {
      this.#logger.info("nats node up", { node, server });
    } else if (peer.boot !== beat.boot) {
      this.#logger.info("nats node restarted", { node });
      this.#hub.dropRemotePresence(node, "restarted");
    } else if (peer.state !== "alive") {
      this.#logger.info("nats node back", { node, was: peer.state });
    }
    this.#peers.set(node, { boot: beat.boot, server, lastSeen: Date.now(), state: "alive" });
    this.#hub.updateRemotePresence(node, beat.entries ?? []);
  }

  #sweep(): void {
    const silentSince = Date.now() - this.#timeoutMs;
    for (const [node, peer] of this.#peers) {
      if (peer.state !== "alive" || peer.lastSeen > silentSince) continue;
      peer.state = "dead";
      this.#logger.warn("nats node silent: its people leave", {
        node,
        silent_ms: Date.now() - peer.lastSeen,
      });
      this.#hub.dropRemotePresence(node, "unreachable");
    }
  }

  #clash(): void {
    if (Date.now() - this.#clashLoggedAt < 60_000) return;
    this.#clashLoggedAt = Date.now();
    this.#logger.error(
      "another node runs with this node's id: give each node its own --id, their events collide",
      { node: this.#nodeId },
    );
  }
}
