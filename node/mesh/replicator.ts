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
 * `vv` and `have` also carry `retired` (node id → epoch below which the
 * sender retired that node's old origins) and, for a peer that lags, `final`
 * (final seqs of retired origins it has not retired): see
 * node/mesh/origin_retirement.ts.
 *
 * ## Limits
 *
 * Every message must fit one mesh frame (`maxMessageBytes`, 1 MiB): a send
 * that does not is refused, and catch-up would ask for the same batch
 * forever. So `ev` messages are cut by encoded bytes as well as by count
 * (a `vv` is answered by {@linkcode EventLog.missingFor}, a push is cut
 * the same way), and every event is at most {@linkcode MAX_EVENT_BYTES}
 * (checked by the hub for local input and here for a peer's), so a batch
 * always holds at least one event.
 *
 * A `gap` report costs O(1): it is taken only when it starts right after
 * what this hub holds contiguously (an honest reply puts it there, after its
 * events) and spans at most {@linkcode MAX_SCAN_PER_REPLY} seqs (an honest
 * reply never scans more); anything else is logged and dropped, and an
 * honest peer reports a range again once this hub reaches it.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { type ChatEvent, nodeOf, parseEvent } from "../../core/event.ts";
import { eventBytes, MAX_EVENT_BYTES } from "../../core/event_size.ts";
import { epochOf, type RetiredJson, type VersionVectorJson } from "../../core/version_vector.ts";
import { EventBatch } from "../chat/event_batch.ts";
import type { EventLog } from "../chat/event_log.ts";
import { AckPacer } from "./ack_pacer.ts";
import { OriginRetirement, type PeerReport } from "./origin_retirement.ts";
import { type Logger, silentLogger } from "../logger.ts";

/**
 * Sequence numbers one anti-entropy reply looks at, at most (keeps each reply
 * short); so also the longest range one `gap` message may report.
 */
export const MAX_SCAN_PER_REPLY = 20_000;

/** The mesh channel's default frame limit, which every message must fit. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;

/** Bytes of an `ev` message around its events: `{"k":"ev","events":[],"more":false}`. */
const EV_WRAPPER_BYTES = JSON.stringify({ k: "ev", events: [], more: false }).length;

/** Gap ranges reported by some but not yet all peers, at most (oldest dropped first). */
const MAX_GAP_REPORTS = 1024;

/**
 * Lost-range records kept for `/nodes`, at most, after adjacent ranges of one
 * origin are merged; the oldest are dropped first and counted.
 */
export const MAX_LOST_RANGES = 256;

const ORIGIN_PATTERN = /^[A-Za-z0-9.~-]{1,64}$/;

/**
 * A replicator's vector as sent in `vv` and `have`: contiguous seqs, its
 * retirement watermarks, and final seqs of origins it retired that the
 * receiver has not (node/mesh/origin_retirement.ts).
 */
export interface VectorReport {
  readonly vv: VersionVectorJson;
  readonly retired?: RetiredJson;
  readonly final?: VersionVectorJson;
}

/** How far a linked peer is behind this node: {@linkcode Replicator.peerLag}. */
export interface PeerLag {
  /** The peer's node id. */
  readonly peer: string;
  /** Events this node holds that the peer's last report did not. */
  readonly events: number;
  /** Age (ms) of the oldest of them this node still retains; 0 when none. */
  readonly ms: number;
}

/** What replicators send each other. */
export type ReplicationMessage =
  | { readonly k: "ev"; readonly events: readonly ChatEvent[]; readonly more?: boolean }
  | ({ readonly k: "vv" } & VectorReport)
  | ({ readonly k: "have" } & VectorReport)
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
  /**
   * Most bytes of one message as UTF-8 JSON: the link's frame limit. Must
   * leave room for one event of {@linkcode MAX_EVENT_BYTES}.
   * @default 1048576
   */
  maxMessageBytes?: number;
  /** Logger. @default silentLogger */
  logger?: Logger;
  /**
   * Every member whose word a retirement of old origins waits for (see
   * node/mesh/origin_retirement.ts): the cluster's members, down ones included,
   * this node's own id optional. Fewer members retire sooner; a member left
   * out that held more of an old origin than the others loses that tail.
   * @default upPeers
   */
  members?(): readonly string[];
  /**
   * How long a peer's `gap` report counts (ms): a range that only some peers
   * reported is forgotten once the reports are this old, so reports that
   * never reach agreement do not pile up. Honest peers repeat theirs on
   * every anti-entropy round.
   * @default 600000
   */
  gapReportMaxAgeMs?: number;
  /** Clock (ms), for the age of gap reports. @default Date.now */
  now?: () => number;
  /**
   * Least time between two `have` acks to one peer (ms); 0 = one per
   * event-loop turn (see node/mesh/ack_pacer.ts). @default 10
   */
  ackIntervalMs?: number;
}

/** One range no reachable peer holds any more. */
interface LostRange {
  readonly origin: string;
  from: number;
  to: number;
}

interface PendingAck {
  readonly seq: number;
  readonly resolve: () => void;
}

/** Keeps one node's event log in step with its peers'. */
export class Replicator {
  readonly #log: EventLog;
  readonly #send: (peer: string, message: ReplicationMessage) => void;
  readonly #upPeers: () => readonly string[];
  readonly #ackMode: AckMode;
  readonly #batchEvents: number;
  readonly #maxMessageBytes: number;
  readonly #logger: Logger;
  readonly #linked = new Set<string>();
  readonly #have = new Map<string, VersionVectorJson>();
  readonly #pendingAcks: PendingAck[] = [];
  readonly #retirement: OriginRetirement;
  /** Range → reporting peer → when it last reported; oldest range first. */
  readonly #gapReports = new Map<string, Map<string, number>>();
  readonly #gapReportMaxAgeMs: number;
  readonly #now: () => number;
  /** Lost ranges, oldest first; adjacent ones of an origin merged. */
  #lost: LostRange[] = [];
  /** The newest lost range of each origin, the one a new adjacent range extends. */
  readonly #lastLost = new Map<string, LostRange>();
  #lostDropped = 0;
  /** Each linked peer's last `vv` or `have` report, for {@linkcode Replicator.peerLag}. */
  readonly #reported = new Map<string, PeerReport>();
  #batchesSent = 0;
  #batchesReceived = 0;
  #pushQueue: ChatEvent[] = [];
  readonly #acks: AckPacer;

  /**
   * Starts listening to the log's applied events.
   *
   * @param log The event log to replicate.
   * @param options Link callbacks and limits.
   * @throws {RangeError} When `batchEvents` is not a positive integer, or
   * `maxMessageBytes` leaves no room for the largest event.
   */
  constructor(log: EventLog, options: ReplicatorOptions) {
    const {
      ackMode = "peer",
      batchEvents = 2000,
      maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
      logger = silentLogger,
      gapReportMaxAgeMs = 600_000,
      now = Date.now,
      ackIntervalMs = 10,
    } = options;
    if (!(gapReportMaxAgeMs > 0)) {
      throw new RangeError(
        `Cannot create replicator: gapReportMaxAgeMs ${gapReportMaxAgeMs} must be positive`,
      );
    }
    if (!Number.isInteger(batchEvents) || batchEvents < 1) {
      throw new RangeError(
        `Cannot create replicator: batchEvents ${batchEvents} must be at least 1`,
      );
    }
    if (
      !Number.isInteger(maxMessageBytes) || maxMessageBytes < EV_WRAPPER_BYTES + MAX_EVENT_BYTES
    ) {
      throw new RangeError(
        `Cannot create replicator: maxMessageBytes ${maxMessageBytes} is below ${
          EV_WRAPPER_BYTES + MAX_EVENT_BYTES
        }, the largest event in a message`,
      );
    }
    this.#log = log;
    this.#send = options.send;
    this.#upPeers = options.upPeers;
    this.#ackMode = ackMode;
    this.#batchEvents = batchEvents;
    this.#maxMessageBytes = maxMessageBytes;
    this.#logger = logger;
    this.#acks = new AckPacer((peer) => {
      if (this.#linked.has(peer)) this.#send(peer, this.#vector("have", peer));
    }, ackIntervalMs);
    const versions = log.versions;
    this.#retirement = new OriginRetirement({
      retiredJSON: () => versions.retiredJSON(),
      origins: () => versions.origins(),
      contiguous: (origin) => versions.contiguous(origin),
      isGapFree: (origin) => versions.isGapFree(origin),
      retireBelow: (node, below) => log.retireBelow(node, below),
    }, {
      self: log.origin,
      members: options.members ?? options.upPeers,
      logger,
    });
    this.#gapReportMaxAgeMs = gapReportMaxAgeMs;
    this.#now = now;
    log.onApplied((event) => {
      if (event.origin === log.origin) this.#queuePush(event);
    });
  }

  /**
   * Ranges no reachable peer holds any more, `origin:from-to`, oldest first;
   * adjacent ranges of one origin are merged, and at most
   * {@linkcode MAX_LOST_RANGES} are kept (see {@linkcode Replicator.lostRangesDropped}).
   */
  lostRanges(): readonly string[] {
    return this.#lost.map(({ origin, from, to }) => `${origin}:${from}-${to}`);
  }

  /** Lost-range records dropped (oldest first) to keep {@linkcode MAX_LOST_RANGES}. */
  get lostRangesDropped(): number {
    return this.#lostDropped;
  }

  /** Anti-entropy replies (`ev` batches answering a `vv`) sent and received so far. */
  get antiEntropyBatches(): { readonly sent: number; readonly received: number } {
    return { sent: this.#batchesSent, received: this.#batchesReceived };
  }

  /**
   * How far each linked peer is behind this node, by its last report (a
   * `vv` each anti-entropy round, a `have` after it applies events).
   * O(peers × origins).
   *
   * @param now The current time (ms), for the age of the oldest event a peer lacks.
   * @returns One entry per linked peer.
   */
  peerLag(now: number): PeerLag[] {
    const versions = this.#log.versions;
    return [...this.#linked].map((peer) => {
      const report = this.#reported.get(peer);
      let events = 0;
      let oldest = Infinity;
      for (const origin of versions.origins()) {
        // An origin the peer retired, it holds complete.
        if ((report?.retired[nodeOf(origin)] ?? 0) > epochOf(origin)) continue;
        const has = report?.vv[origin] ?? 0;
        const held = versions.contiguous(origin);
        if (held <= has) continue;
        events += held - has;
        const first = this.#log.get(origin, has + 1);
        if (first !== undefined) oldest = Math.min(oldest, first.hlc.wall);
      }
      return { peer, events, ms: oldest === Infinity ? 0 : Math.max(0, now - oldest) };
    });
  }

  /** Ranges some but not all reachable peers reported lost, still counting. */
  get gapReportCount(): number {
    return this.#gapReports.size;
  }

  /**
   * A link to a peer is up: ask it for what we lack.
   *
   * @param peer Node id.
   */
  linkUp(peer: string): void {
    this.#linked.add(peer);
    this.#send(peer, this.#vector("vv", peer));
  }

  /**
   * A link is gone: acks no longer wait for that peer.
   *
   * @param peer Node id.
   */
  linkDown(peer: string): void {
    this.#linked.delete(peer);
    this.#reported.delete(peer);
    this.#acks.forget(peer);
    this.#have.delete(peer);
    this.releaseAcks();
  }

  /** One anti-entropy round: every linked peer gets our version vector. */
  antiEntropy(): void {
    this.#expireGapReports();
    this.#retirement.retireAgreed();
    for (const peer of this.#linked) this.#send(peer, this.#vector("vv", peer));
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
        // Pushes carry no `more`; anti-entropy replies do.
        if (message.more !== undefined) this.#batchesReceived++;
        // A full anti-entropy batch: ask for the next one now, not at the next round;
        // unless nothing in it was new (all refused, e.g. stamps too far ahead): asking
        // again would bring the same batch back at once, in a loop.
        if (this.#onEvents(peer, message.events) > 0 && message.more === true) {
          this.#send(peer, this.#vector("vv", peer));
        }
        break;
      case "vv": {
        const report = this.#retirement.report(peer, message);
        if (this.#linked.has(peer)) this.#reported.set(peer, report);
        this.#onVersionVector(peer, report);
        break;
      }
      case "have": {
        const report = this.#retirement.report(peer, message);
        if (this.#linked.has(peer)) this.#reported.set(peer, report);
        this.#have.set(peer, report.vv);
        this.releaseAcks();
        break;
      }
      case "gap":
        if (
          typeof message.origin !== "string" || !ORIGIN_PATTERN.test(message.origin) ||
          !Number.isSafeInteger(message.from) || !Number.isSafeInteger(message.to)
        ) {
          throw new TypeError(
            "Invalid gap message: origin must be a node id, from and to integers",
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
    const origin = this.#log.origin;
    return up.some((peer) => (this.#have.get(peer)?.[origin] ?? 0) >= seq);
  }

  /** Applies an `ev` message's events; returns how many were new. */
  #onEvents(peer: string, events: unknown): number {
    if (!Array.isArray(events)) {
      this.#logger.warn("replication message without events", { peer });
      return 0;
    }
    let applied = 0;
    for (const raw of events) {
      let event: ChatEvent;
      try {
        event = parseEvent(raw);
        this.#checkSize(event);
      } catch (error) {
        this.#logger.warn("replicated event rejected", { peer, error: String(error) });
        continue;
      }
      if (this.#log.apply(event)) applied++;
    }
    // What we now hold is the sender's ack (paced: see node/mesh/ack_pacer.ts).
    if (events.length > 0) this.#acks.owe(peer);
    if (applied > 0) this.#logger.debug("replicated events applied", { peer, applied });
    return applied;
  }

  /** Our vector as a `vv` or `have` message for `peer`, with what it needs to retire origins. */
  #vector(k: "vv" | "have", peer: string): ReplicationMessage {
    return { k, vv: this.#log.versions.toJSON(), ...this.#retirement.extrasFor(peer) };
  }

  #onVersionVector(peer: string, report: PeerReport): void {
    // Bounded work per request: a long run of lost seqs is reported a slice at a time.
    const { events, more, gaps } = this.#log.missingFor(report.vv, {
      maxEvents: this.#batchEvents,
      maxBytes: this.#maxMessageBytes - EV_WRAPPER_BYTES,
      maxScan: MAX_SCAN_PER_REPLY,
    }, {
      origins: this.#retirement.servedTo(report),
    });
    // Events first: a gap is taken only once what precedes it is held.
    if (events.length > 0) {
      this.#batchesSent++;
      this.#send(peer, { k: "ev", events, more });
    }
    for (const gap of gaps) this.#send(peer, { k: "gap", ...gap });
  }

  #onGap(peer: string, origin: string, from: number, to: number): void {
    const range = `${origin}:${from}-${to}`;
    if (from < 1 || to < from || to - from >= MAX_SCAN_PER_REPLY) {
      this.#logger.warn("gap message rejected: range out of bounds", {
        peer,
        range,
        max: MAX_SCAN_PER_REPLY,
      });
      return;
    }
    const held = this.#log.versions.contiguous(origin);
    if (held >= to) return;
    if (from > held + 1) {
      // Seqs before `from` are neither held nor reported lost: skipping to `to` would
      // need a record per seq. An honest peer reports this range again once we reach it.
      this.#logger.debug("gap message deferred: not adjacent to what is held", {
        peer,
        range,
        held,
      });
      return;
    }
    const now = this.#now();
    const reports = this.#gapReports.get(range) ?? new Map<string, number>();
    reports.set(peer, now);
    this.#gapReports.delete(range);
    this.#gapReports.set(range, reports);
    if (this.#gapReports.size > MAX_GAP_REPORTS) {
      this.#gapReports.delete(this.#gapReports.keys().next().value!);
    }
    // Lost only when every reachable peer says so (lately): another may still hold it.
    const fresh = (id: string) => now - (reports.get(id) ?? -Infinity) < this.#gapReportMaxAgeMs;
    if (![...this.#linked].every(fresh)) return;
    this.#gapReports.delete(range);
    // O(seqs held beyond the range), not O(range).
    this.#log.markLost(origin, to);
    this.#recordLost(origin, from, to);
    this.#logger.warn("events lost: no reachable peer holds them any more", { range });
  }

  /** Drops gap reports older than the maximum age, and ranges left with none. */
  #expireGapReports(): void {
    const oldest = this.#now() - this.#gapReportMaxAgeMs;
    for (const [range, reports] of this.#gapReports) {
      for (const [peer, at] of reports) if (at <= oldest) reports.delete(peer);
      if (reports.size === 0) this.#gapReports.delete(range);
    }
  }

  #recordLost(origin: string, from: number, to: number): void {
    const last = this.#lastLost.get(origin);
    if (last !== undefined && from <= last.to + 1 && to >= last.from - 1) {
      // Adjacent or overlapping: one record for the run.
      last.from = Math.min(last.from, from);
      last.to = Math.max(last.to, to);
      return;
    }
    const range: LostRange = { origin, from, to };
    this.#lost.push(range);
    this.#lastLost.set(origin, range);
    if (this.#lost.length > MAX_LOST_RANGES) {
      const dropped = this.#lost.length - MAX_LOST_RANGES;
      for (const old of this.#lost.slice(0, dropped)) {
        if (this.#lastLost.get(old.origin) === old) this.#lastLost.delete(old.origin);
      }
      this.#lost = this.#lost.slice(dropped);
      this.#lostDropped += dropped;
      if (this.#lostDropped === dropped || this.#lostDropped % MAX_LOST_RANGES === 0) {
        this.#logger.warn("lost-range records dropped, oldest first", {
          dropped: this.#lostDropped,
          kept: MAX_LOST_RANGES,
        });
      }
    }
  }

  #checkSize(event: ChatEvent): void {
    const bytes = eventBytes(event);
    if (bytes > MAX_EVENT_BYTES) {
      throw new RangeError(
        `Invalid event: too large, ${bytes} bytes as JSON exceeds maximum ${MAX_EVENT_BYTES}`,
      );
    }
  }

  /** A batch for one pushed `ev` message: cut like anti-entropy replies. */
  #newBatch(): EventBatch {
    return new EventBatch({
      maxEvents: this.#batchEvents,
      maxBytes: this.#maxMessageBytes - EV_WRAPPER_BYTES,
    });
  }

  #queuePush(event: ChatEvent): void {
    this.#pushQueue.push(event);
    if (this.#pushQueue.length > 1) return;
    // One message per peer for everything accepted in this turn of the event
    // loop: every line of a client's read, not one frame per line.
    setImmediate(() => {
      const queued = this.#pushQueue;
      this.#pushQueue = [];
      // Cut like anti-entropy replies, so that no push exceeds a frame either.
      let batch = this.#newBatch();
      const flush = () => {
        for (const peer of this.#linked) this.#send(peer, { k: "ev", events: batch.events });
        batch = this.#newBatch();
      };
      for (const event of queued) {
        if (!batch.add(event, eventBytes(event))) {
          flush();
          batch.add(event, eventBytes(event));
        }
      }
      if (batch.events.length > 0) flush();
    });
  }
}
