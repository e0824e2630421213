/**
 * Replication between hubs, independent of sockets: eager push of local
 * events, anti-entropy by version vectors, peer acknowledgements, and the
 * record of ranges no peer holds any more. The mesh feeds it authenticated
 * links; tests feed it an in-memory network with drops, duplicates, delays
 * and cuts.
 *
 * Messages (JSON-serialisable):
 *
 * | k | meaning |
 * | --- | --- |
 * | `ev` | events: eager push from their origin, or an anti-entropy reply (`more`: ask again at once) |
 * | `vv` | the sender's version vector: "send me what I lack" |
 * | `have` | the sender's version vector after applying events (its acks) |
 * | `gap` | "I no longer hold origin:from..to" |
 *
 * @module
 */
import { type ChatEvent, parseEvent } from "../core/event.ts";
import { parseVersionVector, type VersionVectorJson } from "../core/version_vector.ts";
import type { Hub } from "./hub.ts";
import { type Logger, silentLogger } from "./logger.ts";

/** Sequence numbers one anti-entropy reply looks at, at most (keeps each reply short). */
const MAX_SCAN_PER_REPLY = 20_000;

/** What replicators send each other. */
export type ReplicationMessage =
  | { readonly k: "ev"; readonly events: readonly ChatEvent[]; readonly more?: boolean }
  | { readonly k: "vv"; readonly vv: VersionVectorJson }
  | { readonly k: "have"; readonly vv: VersionVectorJson }
  | { readonly k: "gap"; readonly origin: string; readonly from: number; readonly to: number };

/** When a local message may be acknowledged to its sender. */
export type AckMode = "local" | "peer";

/** Options of {@linkcode Replicator}. */
export interface ReplicatorOptions {
  /** Sends a message over the link to a peer (dropped silently when there is none). */
  send(peer: string, message: ReplicationMessage): void;
  /** Peers that are up (linked and believed alive): acks wait for one of them. */
  upPeers(): readonly string[];
  /** `peer`: acks wait until a peer holds the event, when any is up. @default "peer" */
  ackMode?: AckMode;
  /** Most events in one anti-entropy reply. @default 2000 */
  batchEvents?: number;
  /** Logger. @default silentLogger */
  logger?: Logger;
}

interface PendingAck {
  readonly seq: number;
  readonly resolve: () => void;
}

/** Keeps one hub's event log in step with its peers'. */
export class Replicator {
  readonly #hub: Hub;
  readonly #send: (peer: string, message: ReplicationMessage) => void;
  readonly #upPeers: () => readonly string[];
  readonly #ackMode: AckMode;
  readonly #batchEvents: number;
  readonly #logger: Logger;
  readonly #linked = new Set<string>();
  readonly #have = new Map<string, VersionVectorJson>();
  readonly #pendingAcks: PendingAck[] = [];
  readonly #gapReports = new Map<string, Set<string>>();
  readonly #lost: string[] = [];
  #pushQueue: ChatEvent[] = [];

  /**
   * Starts listening to the hub's accepted events.
   *
   * @param hub The hub to replicate.
   * @param options Link callbacks and limits.
   */
  constructor(hub: Hub, options: ReplicatorOptions) {
    const { ackMode = "peer", batchEvents = 2000, logger = silentLogger } = options;
    this.#hub = hub;
    this.#send = options.send;
    this.#upPeers = options.upPeers;
    this.#ackMode = ackMode;
    this.#batchEvents = batchEvents;
    this.#logger = logger;
    hub.onEvent((event) => {
      if (event.origin === hub.origin) this.#queuePush(event);
    });
  }

  /** Ranges no reachable peer holds any more, `origin:from-to`. */
  lostRanges(): readonly string[] {
    return this.#lost;
  }

  /**
   * A link to a peer is up: ask it for what we lack.
   *
   * @param peer Node id.
   */
  linkUp(peer: string): void {
    this.#linked.add(peer);
    this.#send(peer, { k: "vv", vv: this.#hub.versions.toJSON() });
  }

  /**
   * A link is gone: acks no longer wait for that peer.
   *
   * @param peer Node id.
   */
  linkDown(peer: string): void {
    this.#linked.delete(peer);
    this.#have.delete(peer);
    this.releaseAcks();
  }

  /** One anti-entropy round: every linked peer gets our version vector. */
  antiEntropy(): void {
    const vv = this.#hub.versions.toJSON();
    for (const peer of this.#linked) this.#send(peer, { k: "vv", vv });
  }

  /**
   * Handles a message from a peer. Malformed content is logged and dropped.
   *
   * @param peer Node id of the sender.
   * @param message The message.
   */
  receive(peer: string, message: ReplicationMessage): void {
    try {
      this.#receive(peer, message);
    } catch (error) {
      this.#logger.warn("replication message rejected", { peer, error: String(error) });
    }
  }

  #receive(peer: string, message: ReplicationMessage): void {
    switch (message.k) {
      case "ev":
        this.#onEvents(peer, message.events);
        // A full anti-entropy batch: ask for the next one now, not at the next round.
        if (message.more === true) this.#send(peer, { k: "vv", vv: this.#hub.versions.toJSON() });
        break;
      case "vv":
        this.#onVersionVector(peer, parseVersionVector(message.vv));
        break;
      case "have":
        this.#have.set(peer, parseVersionVector(message.vv));
        this.releaseAcks();
        break;
      case "gap":
        if (
          typeof message.origin !== "string" || typeof message.from !== "number" ||
          typeof message.to !== "number"
        ) {
          throw new TypeError(
            "Invalid gap message: origin, from and to must be a string and numbers",
          );
        }
        this.#onGap(peer, message.origin, message.from, message.to);
        break;
      default:
        this.#logger.warn("replication message of unknown kind", { peer });
    }
  }

  /**
   * Waits until a local event may be acknowledged: at once for `local`, or
   * when no peer is up; otherwise when a peer has applied it.
   *
   * @param event A local event.
   * @returns Resolves when the event may be acknowledged.
   */
  replicated(event: ChatEvent): Promise<void> {
    if (this.#ackMode === "local" || this.#heldByPeer(event.seq)) return Promise.resolve();
    return new Promise((resolve) => this.#pendingAcks.push({ seq: event.seq, resolve }));
  }

  /**
   * Resolves the acks a peer now holds, or every one when no peer is up
   * (call after membership changes).
   *
   * @param all Resolve everything (shutting down).
   */
  releaseAcks(all = false): void {
    let kept = 0;
    for (const pending of this.#pendingAcks) {
      if (all || this.#heldByPeer(pending.seq)) pending.resolve();
      else this.#pendingAcks[kept++] = pending;
    }
    this.#pendingAcks.length = kept;
  }

  #heldByPeer(seq: number): boolean {
    const up = this.#upPeers().filter((peer) => this.#linked.has(peer));
    if (up.length === 0) return true;
    const origin = this.#hub.origin;
    return up.some((peer) => (this.#have.get(peer)?.[origin] ?? 0) >= seq);
  }

  #onEvents(peer: string, events: unknown): void {
    if (!Array.isArray(events)) {
      this.#logger.warn("replication message without events", { peer });
      return;
    }
    let applied = 0;
    for (const raw of events) {
      let event: ChatEvent;
      try {
        event = parseEvent(raw);
      } catch (error) {
        this.#logger.warn("replicated event rejected", { peer, error: String(error) });
        continue;
      }
      if (this.#hub.apply(event)) applied++;
    }
    // What we now hold is the sender's ack.
    if (events.length > 0) this.#send(peer, { k: "have", vv: this.#hub.versions.toJSON() });
    if (applied > 0) this.#logger.debug("replicated events applied", { peer, applied });
  }

  #onVersionVector(peer: string, theirs: VersionVectorJson): void {
    const versions = this.#hub.versions;
    const out: ChatEvent[] = [];
    // Bounded work per request: a long run of lost seqs is reported a slice at a time.
    let budget = MAX_SCAN_PER_REPLY;
    for (const origin of versions.origins()) {
      const mine = versions.contiguous(origin);
      const known = Object.hasOwn(theirs, origin) ? theirs[origin]! : 0;
      let next = known + 1;
      let gapStart = 0;
      for (; next <= mine && out.length < this.#batchEvents && budget > 0; next++, budget--) {
        const event = this.#hub.event(origin, next);
        if (event) {
          if (gapStart) this.#send(peer, { k: "gap", origin, from: gapStart, to: next - 1 });
          gapStart = 0;
          out.push(event);
        } else if (!gapStart) {
          gapStart = next;
        }
      }
      if (gapStart) this.#send(peer, { k: "gap", origin, from: gapStart, to: next - 1 });
      if (out.length >= this.#batchEvents || budget <= 0) break;
    }
    if (out.length > 0) {
      this.#send(peer, { k: "ev", events: out, more: out.length >= this.#batchEvents });
    }
  }

  #onGap(peer: string, origin: string, from: number, to: number): void {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || to < from) return;
    if (this.#hub.versions.contiguous(origin) >= to) return;
    const key = `${origin}:${from}-${to}`;
    const reports = this.#gapReports.get(key) ?? new Set<string>();
    reports.add(peer);
    this.#gapReports.set(key, reports);
    // Lost only when every reachable peer says so: another may still hold it.
    if (![...this.#linked].every((id) => reports.has(id))) return;
    this.#gapReports.delete(key);
    for (let seq = from; seq <= to && seq - from < 1_000_000; seq++) {
      this.#hub.versions.add(origin, seq);
    }
    this.#lost.push(key);
    this.#logger.warn("events lost: no reachable peer holds them any more", { range: key });
  }

  #queuePush(event: ChatEvent): void {
    this.#pushQueue.push(event);
    if (this.#pushQueue.length > 1) return;
    // One message per peer for everything accepted in this turn of the event loop.
    queueMicrotask(() => {
      const events = this.#pushQueue;
      this.#pushQueue = [];
      for (const peer of this.#linked) this.#send(peer, { k: "ev", events });
    });
  }
}
