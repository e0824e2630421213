/**
 * Replication through one JetStream stream: the stream is the cluster's
 * event log, and every node's {@linkcode EventLog} is a replay of it.
 *
 * - **Out**: every event this node originates (messages, joins, nick
 *   claims, moderation, seals: all events) is published to
 *   `<stream>.events.<origin>` with `Nats-Msg-Id` = `<origin>:<seq>`, so a
 *   resend within the stream's duplicate window is dropped by the server.
 *   A failed publish (NATS down, no quorum, a timeout) is retried with the
 *   same id until it is stored; {@linkcode StreamReplicator.replicated}
 *   resolves only then, so a client's ack means "stored by JetStream" (on a
 *   quorum of a replicated stream).
 * - **In**: an ordered consumer reads the stream from the first sequence
 *   the node's snapshot does not hold ({@linkcode StreamPosition}), and
 *   every event goes through {@linkcode EventLog.apply}: the same checks as
 *   a mesh peer's, and a duplicate (this node's own events coming back, a
 *   resend stored twice after the window) is dropped by the version vector.
 *   A watchdog replaces the consumer when the replay stalls while the
 *   stream holds more (its NATS server died and it did not come back).
 * - **Restart**: {@linkcode StreamReplicator.start} first publishes what
 *   this node holds of its own origins past the last of theirs the stream
 *   has (events taken just before a stop, before JetStream acknowledged
 *   them), then replays the stream and resolves once it has applied what
 *   the stream held when it started: catch-up is a replay, not a peer's
 *   ring buffer.
 *
 * @module
 */
import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { type ChatEvent, nodeOf, parseEvent } from "../../core/event.ts";
import { MAX_EVENT_BYTES } from "../../core/event_size.ts";
import type { EventLog } from "../chat/event_log.ts";
import { type Logger, silentLogger } from "../logger.ts";

/** Options of {@linkcode StreamReplicator}. */
export interface StreamReplicatorOptions {
  /** Publishes and consumes. */
  readonly js: JetStreamClient;
  /** Reads the stream's state and its last message per subject. */
  readonly jsm: JetStreamManager;
  /** The stream's name, also its subjects' first token. */
  readonly stream: string;
  /** This node's id: its own origins are `<id>` and `<id>.<epoch>`. */
  readonly nodeId: string;
  /** The last stream sequence the restored snapshot holds; 0 replays the whole stream. */
  readonly startAfter: number;
  /** Longest wait for one publish's acknowledgement before it is retried (ms). @default 5000 */
  readonly publishTimeoutMs?: number;
  /** Longest pause between two tries of a failed publish (ms). @default 2000 */
  readonly maxRetryMs?: number;
  /**
   * Time between two checks that the replay moves on while the stream holds
   * more; two checks without progress replace the consumer (ms). @default 2000
   */
  readonly stallCheckMs?: number;
  /** Logger. @default silentLogger */
  readonly logger?: Logger;
}

/** The subject of an origin's events in a stream. */
export function eventSubject(stream: string, origin: string): string {
  return `${stream}.events.${origin}`;
}

/** What a replicator has done so far, for `/metrics`. */
export interface ReplicatorStatus {
  /** Own events waiting for JetStream to store them. */
  readonly unpublished: number;
  /** The last stream sequence applied to the log (0 before the first). */
  readonly appliedSeq: number;
  /**
   * The stream's last sequence as last seen: from each message read (its
   * sequence plus what the consumer still had pending), the start, and the
   * watchdog's checks. Never a request of its own.
   */
  readonly lastSeq: number;
  /** Publishes that failed and were tried again. */
  readonly publishRetries: number;
  /** Consumers the watchdog replaced because the replay stalled. */
  readonly consumerRestarts: number;
}

/** One of this node's events on its way to the stream. */
interface Outgoing {
  readonly event: ChatEvent;
  readonly stored: PromiseWithResolvers<void>;
}

/** Keeps one node's event log in step with a JetStream stream (see the module doc). */
export class StreamReplicator {
  readonly #log: EventLog;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  readonly #nodeId: string;
  readonly #startAfter: number;
  readonly #publishTimeoutMs: number;
  readonly #maxRetryMs: number;
  readonly #logger: Logger;
  /** Own events not yet stored by JetStream, by seq of the current origin and others. */
  readonly #outgoing = new Map<string, Outgoing>();
  readonly #retries = new Set<ReturnType<typeof setTimeout>>();
  #applied = 0;
  #lastSeen = 0;
  #publishRetries = 0;
  #consumerRestarts = 0;
  #failing = false;
  #stopped = false;
  #messages: { close(): Promise<void | Error> } | undefined;
  #consuming: Promise<void> = Promise.resolve();
  readonly #stallCheckMs: number;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #appliedAtCheck = 0;
  #stalledChecks = 0;
  #refollowing = false;
  #onProgress: () => void = () => {};
  #onFailure: (error: unknown) => void = () => {};

  /**
   * Starts publishing the log's own events at once (they wait for NATS if
   * it is not there yet); {@linkcode StreamReplicator.start} starts the replay.
   *
   * @param log The event log to replicate.
   * @param options The stream and where the snapshot ends.
   */
  constructor(log: EventLog, options: StreamReplicatorOptions) {
    const {
      publishTimeoutMs = 5000,
      maxRetryMs = 2000,
      stallCheckMs = 2000,
      logger = silentLogger,
    } = options;
    this.#stallCheckMs = stallCheckMs;
    this.#log = log;
    this.#js = options.js;
    this.#jsm = options.jsm;
    this.#stream = options.stream;
    this.#nodeId = options.nodeId;
    this.#startAfter = options.startAfter;
    this.#publishTimeoutMs = publishTimeoutMs;
    this.#maxRetryMs = maxRetryMs;
    this.#logger = logger;
    log.onApplied((event) => {
      if (event.origin === log.origin) this.#publish(event);
    });
  }

  /** The last stream sequence applied to the log (0 before the first). */
  get applied(): number {
    return this.#applied;
  }

  /** Counts and sequences for `/metrics` (see {@linkcode ReplicatorStatus}); no request. */
  status(): ReplicatorStatus {
    return {
      unpublished: this.#outgoing.size,
      appliedSeq: this.#applied,
      lastSeq: Math.max(this.#lastSeen, this.#applied),
      publishRetries: this.#publishRetries,
      consumerRestarts: this.#consumerRestarts,
    };
  }

  /**
   * Publishes this node's events the stream lacks, then replays the stream
   * from where the snapshot ends.
   *
   * @returns Resolves once every event the stream held at the start is applied.
   * @throws {Error} When the stream cannot be read (NATS unreachable, no such stream).
   */
  async start(): Promise<void> {
    await this.#publishOwnTail();
    const { state } = await this.#jsm.streams.info(this.#stream);
    let from = this.#startAfter + 1;
    if (from < state.first_seq) {
      // Retention took them: expected for a new node, a loss to say for one that had a snapshot.
      if (this.#startAfter > 0) {
        this.#logger.warn("stream no longer holds every event past the snapshot", {
          stream: this.#stream,
          from,
          first: state.first_seq,
        });
      }
      from = state.first_seq;
    }
    const target = state.last_seq;
    this.#lastSeen = Math.max(this.#lastSeen, target);
    const caughtUp = Promise.withResolvers<void>();
    if (target < from) caughtUp.resolve();
    this.#onProgress = () => {
      if (this.#applied >= target) caughtUp.resolve();
    };
    this.#onFailure = (error) => caughtUp.reject(error);
    await this.#follow(from);
    await caughtUp.promise;
    this.#onFailure = () => {};
    this.#watchdog = setInterval(() => this.#checkProgress(), this.#stallCheckMs);
    this.#logger.info("stream replayed", {
      stream: this.#stream,
      from,
      to: this.#applied,
      events: Math.max(0, this.#applied - from + 1),
    });
  }

  /** Reads the stream from `from` on with an ordered consumer, until stopped or replaced. */
  async #follow(from: number): Promise<void> {
    const consumer = await this.#js.consumers.get(
      this.#stream,
      from <= 1
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from },
    );
    const messages = await consumer.consume();
    if (this.#stopped) {
      await messages.close();
      return;
    }
    this.#messages = messages;
    this.#consuming = (async () => {
      for await (const message of messages) {
        // A consumer that replaced a stalled one may bring back what was applied.
        if (message.seq <= this.#applied) continue;
        this.#take(message);
        this.#onProgress();
      }
    })().catch((error) => {
      if (this.#stopped) return;
      this.#logger.error("stream replay stopped", { error: String(error) });
      this.#onFailure(error);
    });
  }

  /**
   * The watchdog of the replay: when nothing was applied since the last
   * check twice in a row while the stream holds more, the consumer is stuck
   * (its server went away and it did not come back): read on with a new one.
   */
  async #checkProgress(): Promise<void> {
    const applied = this.#applied;
    if (this.#stopped || this.#refollowing || applied !== this.#appliedAtCheck) {
      this.#appliedAtCheck = applied;
      this.#stalledChecks = 0;
      return;
    }
    const last = await this.#jsm.streams.info(this.#stream).then(
      (info) => info.state.last_seq,
      () => 0,
    );
    this.#lastSeen = Math.max(this.#lastSeen, last);
    if (last <= applied || this.#applied !== applied) {
      this.#stalledChecks = 0;
      return;
    }
    if (++this.#stalledChecks < 2 || this.#stopped) return;
    this.#stalledChecks = 0;
    this.#refollowing = true;
    this.#logger.warn("stream replay stalled, reading on with a new consumer", {
      from: applied + 1,
      last,
    });
    try {
      await this.#messages?.close();
      await this.#consuming;
      if (!this.#stopped) {
        await this.#follow(applied + 1);
        this.#consumerRestarts++;
      }
    } catch (error) {
      this.#logger.warn("stream consumer not replaced, trying again", { error: String(error) });
    } finally {
      this.#refollowing = false;
    }
  }

  /**
   * Waits until a local event is stored by JetStream.
   *
   * @param event An event this node originated.
   * @returns Resolves once the stream holds it (at once when it is not waiting).
   */
  replicated(event: ChatEvent): Promise<void> {
    return this.#outgoing.get(`${event.origin}:${event.seq}`)?.stored.promise ?? Promise.resolve();
  }

  /**
   * Stops reading the stream and gives publishes in flight a last chance.
   *
   * @param waitMs Longest wait for unpublished events; those still waiting
   *   then are published at the next start (they are in the snapshot).
   */
  async stop(waitMs = 5000): Promise<void> {
    const pending = [...this.#outgoing.values()].map((o) => o.stored.promise);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(pending),
      new Promise((resolve) => timer = setTimeout(resolve, waitMs)),
    ]);
    clearTimeout(timer);
    this.#stopped = true;
    clearInterval(this.#watchdog);
    for (const retry of this.#retries) clearTimeout(retry);
    this.#retries.clear();
    await this.#messages?.close();
    await this.#consuming;
    // Those still unpublished are never acked: they are in the snapshot and go out at the next start.
  }

  #take(message: JsMsg): void {
    this.#applied = message.seq;
    // What the consumer still has to deliver: the stream's end as of this message.
    this.#lastSeen = Math.max(this.#lastSeen, message.seq + message.info.pending);
    let event: ChatEvent;
    try {
      // Bounded before it is parsed: the payload is the event as JSON.
      const bytes = message.data.length;
      if (bytes > MAX_EVENT_BYTES) {
        throw new RangeError(`too large, ${bytes} bytes as JSON exceeds ${MAX_EVENT_BYTES}`);
      }
      event = parseEvent(JSON.parse(message.string()));
      if (message.subject !== eventSubject(this.#stream, event.origin)) {
        throw new TypeError(`origin ${event.origin} does not match subject ${message.subject}`);
      }
    } catch (error) {
      this.#logger.warn("stream event rejected", { seq: message.seq, error: String(error) });
      return;
    }
    this.#log.apply(event);
  }

  #publish(event: ChatEvent): void {
    const outgoing: Outgoing = { event, stored: Promise.withResolvers<void>() };
    this.#outgoing.set(`${event.origin}:${event.seq}`, outgoing);
    this.#try(outgoing, 0);
  }

  #try(outgoing: Outgoing, attempt: number): void {
    if (this.#stopped) return;
    const { event } = outgoing;
    const id = `${event.origin}:${event.seq}`;
    this.#js.publish(eventSubject(this.#stream, event.origin), JSON.stringify(event), {
      msgID: id,
      timeout: this.#publishTimeoutMs,
    }).then(() => {
      this.#outgoing.delete(id);
      outgoing.stored.resolve();
      if (this.#failing) {
        this.#failing = false;
        this.#logger.info("stream publishing again", { waiting: this.#outgoing.size });
      }
    }, (error) => {
      if (this.#stopped) return;
      this.#publishRetries++;
      if (!this.#failing) {
        this.#failing = true;
        // Once per outage: every event waiting retries on its own.
        this.#logger.warn("stream publish failed, retrying; messages wait for their ack", {
          error: String(error),
        });
      }
      const retry = setTimeout(() => {
        this.#retries.delete(retry);
        this.#try(outgoing, attempt + 1);
      }, Math.min(this.#maxRetryMs, 100 * 2 ** attempt));
      this.#retries.add(retry);
    });
  }

  /**
   * Publishes the events of this node's origins that it holds past the last
   * one the stream has of each (a resend is harmless: the server drops it
   * within its duplicate window, every node's version vector after it).
   */
  async #publishOwnTail(): Promise<void> {
    const log = this.#log;
    const origins = new Set([log.origin]);
    for (const origin of log.versions.origins()) {
      if (nodeOf(origin) === this.#nodeId) origins.add(origin);
    }
    for (const origin of origins) {
      const held = origin === log.origin ? log.lastSeq : log.versions.contiguous(origin);
      if (held === 0) continue;
      const last = await this.#jsm.streams.getMessage(this.#stream, {
        last_by_subj: eventSubject(this.#stream, origin),
      }).catch(() => null);
      const stored = last === null ? 0 : storedSeq(last.json());
      let resent = 0;
      for (let seq = stored + 1; seq <= held; seq++) {
        const event = log.get(origin, seq);
        if (event === undefined || this.#outgoing.has(`${origin}:${seq}`)) continue;
        this.#publish(event);
        resent++;
      }
      if (resent > 0) {
        this.#logger.info("own events the stream lacked published again", { origin, resent });
      }
    }
  }
}

/** The seq of a stored event; 0 for a message that is not one (it is skipped on replay too). */
function storedSeq(json: unknown): number {
  try {
    return parseEvent(json).seq;
  } catch {
    return 0;
  }
}
