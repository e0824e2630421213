/**
 * The mesh: encrypted links to every other node, membership and failure
 * detection, eager push of local events, anti-entropy, cluster-wide
 * presence, and acknowledgements that mean "a peer has it". It moves events;
 * it never interprets them — everything goes through the hub's apply path.
 *
 * Messages on a link are JSON objects with a `k` field: `m` (membership:
 * ping, ack, gossip…), `presence` (the sender's sessions), and the
 * replication messages of {@linkcode Replicator} (`ev`, `vv`, `have`, `gap`),
 * which also carry nick claims (events like the rest). A message of another
 * kind (such as an older node's `nicks`) is logged and ignored.
 *
 * @module
 */
import type { ChatEvent } from "../../core/event.ts";
import type { Hub } from "../chat/hub.ts";
import type { Logger } from "../logger.ts";
import { HandshakeSlots } from "./handshake_slots.ts";
import { addressKey } from "../../core/address_key.ts";
import { FailureLog } from "./failure_log.ts";
import type { ByteStream } from "./frame_reader.ts";
import {
  acceptChannel,
  DEFAULT_MAX_FRAME_BYTES,
  HandshakeError,
  initiateChannel,
  type MeshIdentity,
  type SecureChannel,
} from "./mesh_channel.ts";
import { type Member, Membership, parseMembershipMessage } from "./membership.ts";
import { type AckMode, type PeerLag, type ReplicationMessage, Replicator } from "./replicator.ts";
import type { MeshConnection, MeshListener, MeshTransport } from "./transport.ts";
import { tcpTransport } from "./tcp_transport.ts";

/** Options of {@linkcode Mesh}. */
export interface MeshOptions {
  /** Who this node is, and the cluster secret. */
  identity: MeshIdentity;
  /** Where the mesh listener binds. */
  hostname: string;
  /** Mesh port (0 = any). */
  port: number;
  /** Seed addresses, `host:port`. */
  seeds: readonly string[];
  /** `peer`: acks wait until a peer has the event (when any peer is up). @default "peer" */
  ackMode?: AckMode;
  /** Anti-entropy period (ms). @default 1000 */
  antiEntropyMs?: number;
  /** Membership tick (ms). @default 100 */
  tickMs?: number;
  /** Most events in one anti-entropy reply. @default 2000 */
  batchEvents?: number;
  /**
   * How the mesh listens and dials. Tests pass an in-memory transport, which
   * is also where they cut links. @default tcpTransport
   */
  transport?: MeshTransport;
  /**
   * Inbound handshakes in progress at once. When full, the longest-waiting
   * silent one makes room (see {@linkcode HandshakeSlots}), so idle sockets
   * cannot lock real peers out. @default 64
   */
  maxHandshakes?: number;
  /** Inbound handshakes in progress at once from one address (IPv6: one /64). @default 8 */
  maxHandshakesPerAddress?: number;
  /** Handshake slots only addresses of known members and seeds may take. @default 8 */
  reservedHandshakes?: number;
  /**
   * Time an inbound connection has to prove the secret (ms). Short, because
   * until then it is a stranger holding a slot; a real peer needs a couple
   * of round trips. @default 2000
   */
  handshakeTimeoutMs?: number;
  /**
   * The most bytes of one mesh message, both ways; every node of a cluster
   * must use the same. Replication batches are cut to fit it.
   * @default DEFAULT_MAX_FRAME_BYTES (1 MiB)
   */
  maxFrameBytes?: number;
  /** Logger. */
  logger: Logger;
}

interface Link {
  readonly channel: SecureChannel;
  readonly initiated: boolean;
}

const encoder = new TextEncoder();

/** How long a member declared dead keeps a working link, to refute a stale rumour (ms). */
const DEAD_GRACE_MS = 3000;

const decoder = new TextDecoder();

/** A node's membership in the cluster. */
export class Mesh {
  readonly #hub: Hub;
  readonly #options: Required<
    Omit<
      MeshOptions,
      | "identity"
      | "logger"
      | "transport"
      | "maxHandshakes"
      | "maxHandshakesPerAddress"
      | "reservedHandshakes"
      | "handshakeTimeoutMs"
      | "maxFrameBytes"
    >
  >;
  readonly #transport: MeshTransport;
  readonly #identity: MeshIdentity;
  readonly #logger: Logger;
  readonly #links = new Map<string, Link>();
  readonly #dialing = new Set<string>();
  /** Inbound handshakes in progress: bounded, idle ones make room for new ones. */
  readonly #handshakes: HandshakeSlots;
  readonly #handshakeTimeoutMs: number;
  readonly #maxFrameBytes: number;
  readonly #failures = new FailureLog();
  readonly #membership: Membership;
  readonly #replicator: Replicator;
  readonly #burials = new Map<string, ReturnType<typeof setTimeout>>();
  #listener: MeshListener | undefined;
  #timers: ReturnType<typeof setInterval>[] = [];
  #presenceTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /**
   * Creates the mesh; {@linkcode Mesh.start} binds and connects.
   *
   * @param hub The hub to replicate.
   * @param options Identity, addresses, seeds.
   */
  constructor(hub: Hub, options: MeshOptions) {
    const {
      identity,
      logger,
      ackMode = "peer",
      antiEntropyMs = 1000,
      tickMs = 100,
      batchEvents = 2000,
    } = options;
    this.#hub = hub;
    this.#handshakes = new HandshakeSlots({
      maxTotal: options.maxHandshakes ?? 64,
      maxPerAddress: options.maxHandshakesPerAddress ?? 8,
      reservedForMembers: options.reservedHandshakes ?? 8,
    });
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 2000;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#transport = options.transport ?? tcpTransport;
    this.#identity = identity;
    this.#logger = logger;
    this.#options = {
      hostname: options.hostname,
      port: options.port,
      seeds: options.seeds,
      ackMode,
      antiEntropyMs,
      tickMs,
      batchEvents,
    };
    this.#membership = new Membership(
      { id: identity.nodeId, addr: identity.advertise, boot: identity.boot },
      {
        send: (to, message) => this.#send(to, { k: "m", m: message }),
        dial: (_id, addr) => this.#dial(addr),
        changed: (member, previous, restarted) => this.#memberChanged(member, previous, restarted),
      },
      // A small full mesh: redialling a lost member every 3 s at most is cheap and heals fast.
      { config: { reconnectMaxMs: 3000 } },
    );
    this.#replicator = new Replicator(hub.log, {
      send: (peer, message) => this.#send(peer, message),
      upPeers: () => this.#membership.alivePeers(),
      // Old origins retire once every member not gone for good holds them complete.
      members: () => this.#membership.members().filter((m) => m.state !== "left").map((m) => m.id),
      ackMode,
      batchEvents,
      maxMessageBytes: this.#maxFrameBytes,
      logger,
    });
  }

  /** Where the mesh listener is bound. */
  get addr(): MeshListener["addr"] | undefined {
    return this.#listener?.addr;
  }

  /** Everyone known, including this node. */
  members(): Member[] {
    return this.#membership.members();
  }

  /** Ranges of events that no reachable peer holds any more, `origin:from-to`. */
  lostRanges(): readonly string[] {
    return this.#replicator.lostRanges();
  }

  /** Lost-range records dropped to keep their cap. */
  lostRangesDropped(): number {
    return this.#replicator.lostRangesDropped;
  }

  /** How far each linked peer is behind this node: {@linkcode Replicator.peerLag}. */
  replicationLag(): PeerLag[] {
    return this.#replicator.peerLag(Date.now());
  }

  /** Peers this node has a link up to now. */
  get links(): number {
    return this.#links.size;
  }

  /** Anti-entropy replies sent and received so far. */
  get antiEntropyBatches(): { readonly sent: number; readonly received: number } {
    return this.#replicator.antiEntropyBatches;
  }

  /** Binds the mesh port, dials the seeds and starts the timers. */
  start(): void {
    this.#listener = this.#transport.listen(this.#options.hostname, this.#options.port);
    this.#accept(this.#listener);
    this.#hub.onPresence(() => this.#schedulePresence());
    this.#membership.addSeeds([...this.#options.seeds]);
    this.#timers.push(
      setInterval(() => this.#membership.tick(), this.#options.tickMs),
      setInterval(() => this.#replicator.antiEntropy(), this.#options.antiEntropyMs),
    );
  }

  /**
   * Waits until the event is acknowledged per the ack mode: at once for
   * `local`, or when no peer is up; otherwise when a peer has applied it.
   *
   * @param event A local event.
   * @returns Resolves when the event may be acknowledged to the client.
   */
  replicated(event: ChatEvent): Promise<void> {
    return this.#replicator.replicated(event);
  }

  /** Leaves the cluster cleanly and closes every link. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#membership.leave();
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const timer of this.#timers) clearInterval(timer);
    clearTimeout(this.#presenceTimer);
    for (const timer of this.#burials.values()) clearTimeout(timer);
    this.#listener?.close();
    for (const link of this.#links.values()) link.channel.close();
    this.#links.clear();
    this.#replicator.releaseAcks(true);
  }

  async #accept(listener: MeshListener): Promise<void> {
    for await (const conn of listener) {
      const host = conn.remoteHostname;
      // Unauthenticated peers get nothing, not even a reason: closed without a word.
      const slot = this.#handshakes.admit(host, {
        member: this.#memberAddresses().has(addressKey(host)),
        evict: () => {
          if (this.#failures.shouldLog(`slots ${host}`)) {
            this.#logger.warn("mesh handshakes over limit: closed the longest-waiting", {
              peer: host,
              held: this.#handshakes.heldBy(host),
            });
          }
          closeQuietly(conn);
        },
      });
      if (slot === undefined) {
        if (this.#failures.shouldLog(`slots ${host}`)) {
          this.#logger.warn("mesh handshakes over limit: refused", { peer: host });
        }
        closeQuietly(conn);
        continue;
      }
      // A byte from the peer moves its handshake behind the silent ones in line to be closed.
      const stream: ByteStream = {
        read: async (p) => {
          const n = await conn.read(p);
          if (n !== null && n > 0) slot.progressed();
          return n;
        },
        write: (p) => conn.write(p),
        close: () => conn.close(),
      };
      this.#handshake(conn, false, host, () => slot.release(), stream);
    }
  }

  async #dial(addr: string): Promise<void> {
    if (this.#stopped || this.#dialing.has(addr)) return;
    this.#dialing.add(addr);
    try {
      const [hostname, port] = splitAddr(addr);
      await this.#handshake(await this.#transport.dial(hostname, port), true, addr);
    } catch (error) {
      if (!(error instanceof HandshakeError)) this.#membership.dialFailed(addr);
    } finally {
      this.#dialing.delete(addr);
    }
  }

  /** Address keys of known members and seeds: their handshakes are closed last. */
  #memberAddresses(): Set<string> {
    const keys = new Set<string>();
    const addrs = [...this.#options.seeds, ...this.#membership.members().map((m) => m.addr)];
    for (const addr of addrs) {
      try {
        keys.add(addressKey(splitAddr(addr)[0]));
      } catch {
        // not host:port: no address to favour
      }
    }
    return keys;
  }

  async #handshake(
    conn: MeshConnection,
    initiated: boolean,
    where: string,
    done?: () => void,
    stream: ByteStream = conn,
  ): Promise<void> {
    let channel: SecureChannel;
    try {
      channel = initiated
        ? await initiateChannel(conn, this.#identity, { maxFrameBytes: this.#maxFrameBytes })
        : await acceptChannel(stream, this.#identity, {
          admit: (peer) => this.#admit(peer),
          handshakeTimeoutMs: this.#handshakeTimeoutMs,
          maxFrameBytes: this.#maxFrameBytes,
        });
      done?.();
    } catch (error) {
      done?.();
      if (error instanceof HandshakeError) {
        if (error.reason === "refused") {
          this.#logger.error("mesh peer refused us", { peer: where, reason: error.message });
        } else if (this.#failures.shouldLog(where)) {
          this.#logger.warn("mesh handshake failed", { peer: where, reason: error.reason });
        }
        if (initiated) this.#membership.dialFailed(where);
      }
      try {
        conn.close();
      } catch {
        // already closed
      }
      if (initiated && !(error instanceof HandshakeError)) throw error;
      return;
    }
    this.#linkUp(channel, initiated);
  }

  #admit(peer: { nodeId: string; boot: string }): string | undefined {
    if (peer.nodeId === this.#identity.nodeId) {
      return `node id ${peer.nodeId} is already in the cluster (it is this node)`;
    }
    const existing = this.#links.get(peer.nodeId);
    if (existing && existing.channel.peer.boot !== peer.boot && !existing.channel.closed) {
      return `node id ${peer.nodeId} is already in the cluster`;
    }
    return undefined;
  }

  #linkUp(channel: SecureChannel, initiated: boolean): void {
    const id = channel.peer.nodeId;
    if (this.#stopped) {
      channel.close();
      return;
    }
    const existing = this.#links.get(id);
    if (existing && !existing.channel.closed) {
      // Both sides dialled at once: keep the link the smaller id initiated.
      const preferNew = initiated === (this.#identity.nodeId < id);
      if (!preferNew) {
        channel.close();
        return;
      }
      existing.channel.close();
    }
    const link: Link = { channel, initiated };
    this.#links.set(id, link);
    this.#logger.info("mesh link up", { peer: id, addr: channel.peer.advertise });
    this.#membership.linkUp({ id, addr: channel.peer.advertise, boot: channel.peer.boot });
    this.#sendTo(link, { k: "presence", entries: this.#hub.localPresence() });
    this.#replicator.linkUp(id);
    this.#readLink(id, link);
  }

  async #readLink(id: string, link: Link): Promise<void> {
    try {
      for await (const bytes of link.channel.messages()) {
        let message: Record<string, unknown>;
        try {
          message = JSON.parse(decoder.decode(bytes));
        } catch {
          this.#logger.warn("mesh message unreadable", { peer: id });
          continue;
        }
        this.#onMessage(id, message);
      }
    } finally {
      if (this.#links.get(id) === link) {
        this.#links.delete(id);
        this.#logger.info("mesh link down", { peer: id });
        if (!this.#stopped) this.#membership.linkDown(id);
        this.#replicator.linkDown(id);
      }
    }
  }

  #onMessage(id: string, message: Record<string, unknown>): void {
    try {
      switch (message.k) {
        case "m":
          this.#membership.receive(id, parseMembershipMessage(message.m));
          break;
        case "presence":
          this.#hub.updateRemotePresence(id, message.entries);
          break;
        default:
          this.#replicator.receive(id, message as unknown as ReplicationMessage);
      }
    } catch (error) {
      this.#logger.warn("mesh message rejected", { peer: id, error: String(error) });
    }
  }

  #schedulePresence(): void {
    if (this.#presenceTimer !== undefined) return;
    this.#presenceTimer = setTimeout(() => {
      this.#presenceTimer = undefined;
      const entries = this.#hub.localPresence();
      for (const link of this.#links.values()) this.#sendTo(link, { k: "presence", entries });
    }, 20);
  }

  #memberChanged(member: Member, previous: string | undefined, restarted: boolean): void {
    if (member.id === this.#identity.nodeId) return;
    this.#logger.info("mesh member", {
      node: member.id,
      state: member.state,
      was: previous ?? "new",
    });
    // A node that left or restarted takes its sessions with it.
    if (member.state === "left" || previous === undefined || restarted) {
      this.#hub.dropRemotePresence(member.id, restarted ? "restarted" : undefined);
    }
    if (member.state === "left") this.#links.get(member.id)?.channel.close();
    if (member.state === "dead") this.#buryLater(member.id);
    this.#replicator.releaseAcks();
  }

  /**
   * A member declared dead may only be the subject of a stale rumour while
   * our own link to it is healthy (it then refutes within a probe or two).
   * Give it a grace period; if it is still dead then, drop its link (so
   * nothing queues for a stopped process) and its people.
   */
  #buryLater(id: string): void {
    if (this.#burials.has(id)) return;
    const timer = setTimeout(() => {
      this.#burials.delete(id);
      if (this.#membership.member(id)?.state !== "dead") return;
      this.#hub.dropRemotePresence(id, "unreachable");
      this.#links.get(id)?.channel.close();
    }, this.#links.has(id) ? DEAD_GRACE_MS : 0);
    this.#burials.set(id, timer);
  }

  #send(to: string, message: unknown): void {
    const link = this.#links.get(to);
    if (link) this.#sendTo(link, message);
  }

  #sendTo(link: Link, message: unknown): void {
    if (link.channel.closed) return;
    const bytes = encoder.encode(JSON.stringify(message));
    link.channel.send(bytes).catch((error) => {
      // Too big for a frame is this node's fault, not the link's: closing would
      // make the peer reconnect and ask for the same thing again, forever.
      if (error instanceof RangeError) {
        this.#logger.error("mesh message too large to send, dropped", {
          peer: link.channel.peer.nodeId,
          kind: String((message as { k?: unknown }).k),
          bytes: bytes.length,
        });
        return;
      }
      link.channel.close();
    });
  }
}

/**
 * Splits `host:port`.
 *
 * @param addr The address.
 * @returns Host and port.
 * @throws {RangeError} When malformed.
 */
export function splitAddr(addr: string): [string, number] {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(addr);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) {
    throw new RangeError(`Invalid address "${addr}": use HOST:PORT`);
  }
  return [match[1]!, port];
}

function closeQuietly(conn: MeshConnection): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
