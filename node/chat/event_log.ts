/**
 * The event log of one node: every event it holds and the state that every
 * node derives from the same events. It is the only writer of the version
 * vector, the hybrid clock, the room logs, the private and moderation logs,
 * the id and line-id indexes, the moderation state, the nick registry (its
 * claim events are the nick log), the bot marks, the seen marks
 * (last_seen.ts), the mail kept for owned nicks (offline_mail.ts) and the
 * history budget.
 * It does no I/O, keeps no timers and knows nothing of sessions.
 *
 * Three ways in, one path:
 *
 * - {@linkcode EventLog.append}: an event this node originates (stamped here);
 * - {@linkcode EventLog.apply}: an event from a peer, which first passes the
 *   checks a person's input passes (a peer is authenticated, not trusted);
 * - {@linkcode EventLog.restore}: events from a snapshot, told to nobody.
 *
 * An applied event is deduplicated by id, inserted in hybrid-clock order
 * into its log, indexed, counted against the history budget and added to
 * the version vector. Then, in this order: the `onApplied` listeners
 * (replication, snapshots: they only record), the history budget is held
 * (the oldest events node-wide are forgotten, `onForget`), and the
 * `onSettled` listeners (the hub: fan-out, moderation enforcement; they may
 * append events of their own).
 *
 * Everyone else reads through views without writers (`versions`, `clock`,
 * `rooms` as {@linkcode RoomView}, `moderation`), and a replicator asks
 * {@linkcode EventLog.missingFor} what a peer lacks.
 *
 * Which rooms may expire is the owner's call (it knows who is in them):
 * {@linkcode EventLog.setRoomExpiry}. The log asks when the budget leaves a
 * room at its floor and after a restore; the owner calls
 * {@linkcode EventLog.expireIfIdle} when people leave.
 *
 * ```ts ignore
 * const log = new EventLog({ origin: "n1.1" });
 * log.onSettled((event) => fanOut(event));
 * log.append({ room: "lobby", kind: "message", from: "ann", text: "hi" });
 * log.apply(eventFromPeer); // false: a duplicate or refused
 * ```
 *
 * @module
 */
import { type ChatEvent, compareEvents, type EventKind } from "../../core/event.ts";
import { checkEventRules } from "../../core/event_rules.ts";
import { eventBytes, MAX_EVENT_BYTES } from "../../core/event_size.ts";
import { type HlcStamp, HybridClock } from "../../core/hybrid_clock.ts";
import { nickKey } from "../../core/names.ts";
import { RingBuffer } from "../../core/ring_buffer.ts";
import {
  type RetiredJson,
  type VersionVector,
  VersionVector as Versions,
  type VersionVectorJson,
} from "../../core/version_vector.ts";
import { EventBatch } from "./event_batch.ts";
import { HistoryBudget } from "./history_budget.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { type ModAction, Moderation, type ModerationView } from "./moderation.ts";
import { NickRegistry, type NickRegistryOptions, type NickRegistryView } from "./nick_registry.ts";
import { BotRegistry, type BotRegistryView } from "./bots.ts";
import { SeenMarks, type SeenMarksView } from "./last_seen.ts";
import { OfflineMail, type OfflineMailView } from "./offline_mail.ts";
import { Room } from "./room.ts";

/** The default room everyone starts in; never sealed, never expired. */
export const DEFAULT_ROOM = "lobby";

/**
 * Events every room (and the private log) keeps whatever the history budget,
 * so a quiet room still shows its last lines.
 */
export const KEPT_PER_ROOM = 8;

/** The default `historyBudgetBytes`: 256 MiB, for a small VM. */
export const DEFAULT_HISTORY_BUDGET_BYTES = 256 * 1024 * 1024;

/** Private messages live in a log of their own, not in any room. */
const PRIVATE_LOG_SIZE = 4096;

/**
 * Moderation events live in a log of their own, retained (for replication
 * and snapshots) until this many newer ones push them out; the state they
 * set outlives them in {@linkcode Moderation}.
 */
const MODERATION_LOG_SIZE = 16_384;

/** The version vector without its writers. */
export type VersionsView = Pick<
  VersionVector,
  | "isRetired"
  | "has"
  | "contiguous"
  | "origins"
  | "outOfOrderCount"
  | "isGapFree"
  | "retiredJSON"
  | "toJSON"
>;

/** The hybrid clock without its writers. */
export type ClockView = Pick<HybridClock, "last" | "leadOf">;

/** A room's event log without its writers. */
export type RoomLogView = Pick<
  RingBuffer<ChatEvent>,
  | "capacity"
  | "length"
  | "firstPosition"
  | "nextPosition"
  | "at"
  | "latest"
  | "from"
  | "toArray"
  | typeof Symbol.iterator
>;

/** A room without its writers: only the log records, evicts and unseals. */
export type RoomView =
  & Pick<
    Room,
    "name" | "topic" | "sealed" | "sealEvent" | "spokenIn" | "olderGone" | "reachesGone" | "recent"
  >
  & { readonly log: RoomLogView };

/** How much one answer of {@linkcode EventLog.missingFor} may carry and look at. */
export interface MissingBudget {
  /** Most events. */
  readonly maxEvents: number;
  /**
   * Most bytes of the events as JSON array elements (their UTF-8 JSON, a
   * comma between two); the first event is taken whatever its size.
   */
  readonly maxBytes: number;
  /** Most seqs looked at, held or not: bounds the work of one answer. */
  readonly maxScan: number;
}

/** Options of {@linkcode EventLog.missingFor}. */
export interface MissingForOptions {
  /**
   * The origins to serve, each with the last seq to serve up to (a
   * replicator also serves origins it retired).
   * @default every origin of `versions`, up to its contiguous seq
   */
  readonly origins?: Iterable<readonly [origin: string, upTo: number]>;
}

/** Seqs `from..to` of one origin. */
export interface SeqRange {
  /** The origin. */
  readonly origin: string;
  /** The first seq. */
  readonly from: number;
  /** The last seq. */
  readonly to: number;
}

/** What a peer lacks, as far as one {@linkcode EventLog.missingFor} answer goes. */
export interface Missing {
  /** Events it lacks that this log holds: origin by origin, in seq order. */
  readonly events: ChatEvent[];
  /** Whether the events stopped at the count or byte budget: ask again for more. */
  readonly more: boolean;
  /** Ranges it lacks that this log does not hold either (evicted, or never seen), in scan order. */
  readonly gaps: SeqRange[];
}

/** What a moderation event did to the moderation state. */
export interface ModEffect {
  /** The parsed action. */
  readonly action: ModAction;
  /** Whether its issuer was an operator at that point of the log order. */
  readonly current: boolean;
}

/**
 * Told about every applied event and the event it evicted from its log (if
 * any). Must not append events.
 */
export type EventListener = (event: ChatEvent, evicted: ChatEvent | undefined) => void;

/**
 * Told about every applied event once the log settled (listeners told, the
 * history budget held), with what a moderation event did. May append.
 */
export type SettledListener = (
  event: ChatEvent,
  evicted: ChatEvent | undefined,
  mod: ModEffect | undefined,
) => void;

/** An event this node originates, before the log stamps it. */
export interface EventDraft {
  /** Room, `""` for a private message. */
  readonly room: string;
  /** Kind. */
  readonly kind: EventKind;
  /** Sender nick. */
  readonly from: string;
  /** Text (already sanitised). */
  readonly text: string;
  /** Recipient of a private message. */
  readonly to?: string;
  /** The client's id for the line. */
  readonly cid?: string;
  /** A sealed envelope. */
  readonly sealed?: string;
}

/** Options of {@linkcode EventLog}. */
export interface EventLogOptions {
  /** Origin stamped on events appended here. */
  origin: string;
  /** Sequence number of the last event already issued under `origin`. @default 0 */
  lastSeq?: number;
  /** Events kept per room. @default 10000 */
  historySize?: number;
  /**
   * Bytes of history retained across rooms and the private log; past it
   * the oldest events node-wide are forgotten, each log keeping its last
   * {@linkcode KEPT_PER_ROOM}. @default 268435456 (256 MiB)
   */
  historyBudgetBytes?: number;
  /**
   * How far a peer's event stamp may lead the clock (ms); further ahead,
   * it is refused until the clock catches up. @default 600000 (10 minutes)
   */
  maxLeadMs?: number;
  /** Clock in ms (moderation expiry). @default Date.now */
  now?: () => number;
  /** Hybrid clock. @default a new HybridClock(origin, { now }) */
  clock?: HybridClock;
  /** Logger. @default silentLogger */
  logger?: Logger;
  /** Limits of the nick registry (its clock is `now`). @default NickRegistry's defaults */
  nicks?: Omit<NickRegistryOptions, "now">;
}

function isClaim(event: ChatEvent): boolean {
  return event.kind === "claim";
}

function cidKey(nick: string, cid: string): string {
  return `${nickKey(nick)}\u0000${cid}`;
}

/**
 * A local event that breaks a rule every peer applies (core/event_rules.ts):
 * refused before it takes an id, since peers would refuse it for good.
 */
export class EventRuleError extends Error {
  override name = "EventRuleError";
}

/** The event log of one node (see the module doc). */
export class EventLog {
  /** Origin of events appended here. */
  readonly origin: string;
  readonly #versions = new Versions();
  readonly #clock: HybridClock;
  readonly #moderation = new Moderation();
  readonly #rooms = new Map<string, Room>();
  readonly #privateLog = new RingBuffer<ChatEvent>(PRIVATE_LOG_SIZE);
  readonly #modLog = new RingBuffer<ChatEvent>(MODERATION_LOG_SIZE);
  /** Nick ownership; its live claim events are the nick log (one per nick). */
  readonly #nicks: NickRegistry;
  /** Bot marks; their live events are the bot log (one per nick). */
  readonly #bots = new BotRegistry();
  /** Where each person stopped reading; their live `seen` events (one per nick and room). */
  readonly #seen = new SeenMarks();
  /** Private messages to owned nicks, kept for their recipient instead of the private log. */
  readonly #mail = new OfflineMail();
  /** Every retained event by id, for replication. */
  readonly #byId = new Map<string, ChatEvent>();
  /** Retained events that carry a client line id, by sender and that id. */
  readonly #byCid = new Map<string, ChatEvent>();
  /** Retained history across rooms and the private log (not the moderation log). */
  readonly #budget: HistoryBudget;
  readonly #applied = new Set<EventListener>();
  readonly #settled = new Set<SettledListener>();
  readonly #forget = new Set<(event: ChatEvent) => void>();
  /** Ids of refused peer events already warned about (peers resend them). */
  readonly #refusedIds = new Set<string>();
  readonly #historySize: number;
  readonly #maxLeadMs: number;
  readonly #now: () => number;
  readonly #logger: Logger;
  #mayExpire: (room: RoomView) => boolean = () => false;
  #lastSeq: number;

  /**
   * @param options See {@linkcode EventLogOptions}.
   * @throws {RangeError} When `historySize` is not a positive integer.
   */
  constructor(options: EventLogOptions) {
    const {
      origin,
      lastSeq = 0,
      historySize = 10_000,
      historyBudgetBytes = DEFAULT_HISTORY_BUDGET_BYTES,
      maxLeadMs = 600_000,
      now = Date.now,
      logger = silentLogger,
    } = options;
    if (!Number.isInteger(historySize) || historySize < 1) {
      throw new RangeError(`Invalid history size ${historySize}: must be a positive integer`);
    }
    this.origin = origin;
    this.#lastSeq = lastSeq;
    this.#historySize = historySize;
    this.#budget = new HistoryBudget(historyBudgetBytes);
    this.#maxLeadMs = maxLeadMs;
    this.#now = now;
    this.#logger = logger;
    this.#clock = options.clock ?? new HybridClock(origin, { now });
    // A claim made here is an event like a peer's: appended, then applied to the registry.
    this.#nicks = new NickRegistry(
      (nick, fingerprint) =>
        this.append({ room: "", kind: "claim", from: nick, text: fingerprint }),
      { ...options.nicks, now },
    );
  }

  /** Which events this node holds (read-only). */
  get versions(): VersionsView {
    return this.#versions;
  }

  /** The hybrid clock (read-only: the log stamps and receives). */
  get clock(): ClockView {
    return this.#clock;
  }

  /** Operators, bans, mutes, motd and unseals, derived from `mod` events (read-only). */
  get moderation(): ModerationView {
    return this.#moderation;
  }

  /**
   * Nick ownership by SSH key, derived from `claim` events. Claiming through
   * it appends a claim event here; only this log applies claims.
   */
  get nicks(): NickRegistryView {
    return this.#nicks;
  }

  /** Which nicks are bots, derived from `bot` events (read-only). */
  get bots(): BotRegistryView {
    return this.#bots;
  }

  /** Where each person stopped reading, derived from `seen` events (read-only). */
  get seen(): SeenMarksView {
    return this.#seen;
  }

  /** Private messages to nicks a key owns, kept for their recipient (read-only). */
  get mail(): OfflineMailView {
    return this.#mail;
  }

  /** The sequence number of the last event this node originated. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Rooms by name (read-only: the log writes their logs). */
  get rooms(): ReadonlyMap<string, RoomView> {
    return this.#rooms;
  }

  /**
   * Bytes of history retained, as the history budget counts them (rooms and
   * the private log; the moderation and nick logs have their own caps).
   */
  get historyBytes(): number {
    return this.#budget.retainedBytes;
  }

  /**
   * A room, opened (empty) when it does not exist yet.
   *
   * @param name A normalised room name.
   * @returns The room (read-only).
   */
  openRoom(name: string): RoomView {
    return this.#openRoom(name);
  }

  #openRoom(name: string): Room {
    let room = this.#rooms.get(name);
    if (room === undefined) {
      room = new Room(name, this.#historySize);
      this.#rooms.set(name, room);
    }
    return room;
  }

  /**
   * Stamps and applies an event this node originates.
   *
   * @param draft The event without origin, seq and stamp.
   * @returns The applied event.
   * @throws {RangeError} When the event as JSON exceeds `MAX_EVENT_BYTES`
   *   (nothing changes but the clock).
   */
  append(draft: EventDraft): ChatEvent {
    const { room, kind, from, text, to, cid, sealed } = draft;
    const event: ChatEvent = {
      origin: this.origin,
      seq: this.#lastSeq + 1,
      hlc: this.#clock.now(),
      room,
      kind,
      from,
      text,
      ...(to === undefined ? {} : { to }),
      ...(cid === undefined ? {} : { cid }),
      ...(sealed === undefined ? {} : { sealed }),
    };
    // Bounded at input so that any accepted event fits one mesh frame.
    const bytes = eventBytes(event);
    if (bytes > MAX_EVENT_BYTES) {
      throw new RangeError(
        `Cannot accept ${kind}: ${bytes} bytes as JSON exceeds maximum ${MAX_EVENT_BYTES}`,
      );
    }
    // Peers apply these rules to every event they take: one they would refuse
    // would leave a hole in this origin's log that they re-ask for forever
    // (and that holds back the acks of every later line).
    try {
      checkEventRules(event);
    } catch (error) {
      throw new EventRuleError(`Cannot accept ${kind}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.#lastSeq = event.seq;
    this.#accept(event);
    return event;
  }

  /**
   * Applies an event from a peer (or a snapshot replayed live): dedupe by
   * id, then the checks a person's input passes — not this node's own
   * origin, the rules of core/event_rules.ts, a stamp at most `maxLeadMs`
   * ahead of the clock, no seal of the default room — then the apply path.
   *
   * A refused event is logged (once per id) and never stored. One that
   * claims this node's origin, or whose stamp is too far ahead, is not
   * recorded either (the id stays free; a stamp ahead is taken when a peer
   * sends it again after the clock caught up). One that breaks a rule every
   * node applies is recorded as seen, so its origin's log goes on past it.
   *
   * @param event A replicated event (parsed by `parseEvent`).
   * @returns `false` when the event was a duplicate or refused and nothing changed.
   */
  apply(event: ChatEvent): boolean {
    if (this.#versions.has(event.origin, event.seq)) return false;
    const refusal = this.#refusal(event);
    if (refusal !== undefined) {
      this.#warnRefused(event, refusal.why);
      // Refused for good (a rule every node applies): its id counts as seen,
      // or this origin's log would stop there and be re-asked every round.
      // A peer could burn the id with a forged valid event anyway.
      if (refusal.final) this.#versions.add(event.origin, event.seq);
      return false;
    }
    // The clock may refuse a stamp (counter overflow): refuse the event before recording it.
    this.#clock.receive(event.hlc);
    this.#accept(event);
    return true;
  }

  /**
   * Loads events without telling any listener (restoring a snapshot), then
   * voids the seals an operator's unseal lifted and expires the rooms the
   * owner says may expire.
   *
   * @param events Events in any order.
   */
  restore(events: Iterable<ChatEvent>): void {
    // Claims first: whether a private message is kept as mail depends on them.
    const all = [...events];
    for (const event of [...all.filter(isClaim), ...all.filter((e) => !isClaim(e))]) {
      if (this.#versions.add(event.origin, event.seq)) {
        this.#store(event, false);
        this.#holdBudget(); // per event: a restore never holds more than the budget
      }
    }
    // Once every seal is in: an operator's unseal voids the seals before it.
    for (const room of this.#rooms.values()) {
      const unseal = this.#moderation.unsealOf(room.name);
      if (unseal !== undefined) room.unseal(unseal);
    }
    for (const name of [...this.#rooms.keys()]) this.expireIfIdle(name);
  }

  /**
   * Restores what a snapshot says was held beyond its events: seqs (held or
   * known lost) and retired origins. Call after {@linkcode EventLog.restore}.
   *
   * @param vv Contiguous seq per origin.
   * @param retired Retirement watermark per node id.
   */
  restoreVersions(vv: VersionVectorJson, retired: RetiredJson): void {
    this.#versions.merge(vv);
    for (const [node, below] of Object.entries(retired)) this.#versions.retireBelow(node, below);
  }

  /**
   * Moves the clock past what it stamped before a restart and past the
   * newest stamp received from others.
   *
   * @param own Stamps this node issued (its last clock, its own events).
   * @param remote The newest stamp of another node's event, if any.
   */
  restoreClock(own: Iterable<{ wall: number; counter: number }>, remote?: HlcStamp): void {
    for (const stamp of own) this.#clock.advanceTo(stamp);
    const last = this.#clock.last;
    if (
      remote !== undefined &&
      (remote.wall > last.wall || (remote.wall === last.wall && remote.counter > last.counter))
    ) {
      this.#clock.receive(remote);
    }
  }

  /**
   * Records that an origin's seqs up to `to` are lost (no peer holds them):
   * counted as held, so anti-entropy stops asking for them.
   *
   * @param origin The origin.
   * @param to The last lost seq.
   */
  markLost(origin: string, to: number): void {
    this.#versions.merge({ [origin]: to });
  }

  /**
   * Retires a node's origins older than `epoch` (see node/mesh/origin_retirement.ts).
   *
   * @param nodeId The node id.
   * @param epoch Origins of epochs below it are retired.
   * @returns The retired origins and their contiguous seqs.
   */
  retireBelow(nodeId: string, epoch: number): Map<string, number> {
    return this.#versions.retireBelow(nodeId, epoch);
  }

  /**
   * A retained event by id.
   *
   * @param origin Origin.
   * @param seq Sequence number.
   * @returns The event, or undefined when never seen or already evicted.
   */
  get(origin: string, seq: number): ChatEvent | undefined {
    return this.#byId.get(`${origin}:${seq}`);
  }

  /**
   * What a peer lacks, given its version vector: the retained events past
   * its contiguous seq of each origin, and the ranges this log does not hold
   * either (to report them lost rather than be asked for them forever). Cut
   * by `budget`: an answer never outgrows one message, and a long run of
   * ranges not held is looked at a slice at a time.
   *
   * @example
   * ```ts ignore
   * const { events, more, gaps } = log.missingFor({ n1: 40 }, {
   *   maxEvents: 2000, maxBytes: 1 << 20, maxScan: 20_000,
   * });
   * ```
   *
   * @param versions The peer's contiguous seq per origin.
   * @param budget Most events, bytes and seqs looked at.
   * @param options The origins to serve, and a size cache.
   * @returns The events, whether more remain, and the ranges not held.
   */
  missingFor(
    versions: VersionVectorJson,
    budget: MissingBudget,
    options: MissingForOptions = {},
  ): Missing {
    const { origins = this.#heldOrigins() } = options;
    const batch = new EventBatch(budget);
    const gaps: SeqRange[] = [];
    let scan = budget.maxScan;
    for (const [origin, upTo] of origins) {
      let next = (Object.hasOwn(versions, origin) ? versions[origin]! : 0) + 1;
      let gapStart = 0;
      for (; next <= upTo && !batch.full && scan > 0; next++, scan--) {
        const event = this.get(origin, next);
        if (event === undefined) {
          if (!gapStart) gapStart = next;
          continue;
        }
        if (!batch.add(event, eventBytes(event))) break;
        if (gapStart) gaps.push({ origin, from: gapStart, to: next - 1 });
        gapStart = 0;
      }
      if (gapStart) gaps.push({ origin, from: gapStart, to: next - 1 });
      if (batch.full || scan <= 0) break;
    }
    return { events: batch.events, more: batch.full, gaps };
  }

  /** Every origin of the version vector with its contiguous seq. */
  *#heldOrigins(): Generator<[string, number]> {
    for (const origin of this.#versions.origins()) {
      yield [origin, this.#versions.contiguous(origin)];
    }
  }

  /**
   * The retained event a person sent with a client line id.
   *
   * @param from Sender nick.
   * @param cid The line id.
   * @returns The event, or undefined.
   */
  sentWith(from: string, cid: string): ChatEvent | undefined {
    return this.#byCid.get(cidKey(from, cid));
  }

  /** Every retained event, room by room (unordered across rooms). */
  *events(): IterableIterator<ChatEvent> {
    for (const room of this.#rooms.values()) yield* room.log;
    yield* this.#privateLog;
    yield* this.#modLog;
    yield* this.#nicks.claims();
    yield* this.#nicks.links();
    yield* this.#bots.marks();
    yield* this.#seen.events();
    yield* this.#mail.events();
  }

  /**
   * Private messages to or from a nick, newest last.
   *
   * @param nick The nick.
   * @param limit How many at most.
   * @returns The events.
   */
  privateHistory(nick: string, limit: number): ChatEvent[] {
    const key = nickKey(nick);
    // Those to owned nicks are kept as mail, the others in the private log.
    const involved = [...this.#privateLog, ...this.#mail.events()]
      .filter((event) => nickKey(event.from) === key || nickKey(event.to ?? "") === key)
      .sort(compareEvents);
    return involved.slice(Math.max(0, involved.length - limit));
  }

  /**
   * Says which rooms may expire (empty everywhere, idle): the owner knows
   * who is in them.
   *
   * @param mayExpire True for a room that may go with its history.
   */
  setRoomExpiry(mayExpire: (room: RoomView) => boolean): void {
    this.#mayExpire = mayExpire;
  }

  /**
   * Drops a room the owner says may expire, with its log, like an eviction
   * (`onForget` per event). The default room stays.
   *
   * @param name The room.
   * @returns True when the room expired.
   */
  expireIfIdle(name: string): boolean {
    const room = this.#rooms.get(name);
    if (room === undefined || name === DEFAULT_ROOM || !this.#mayExpire(room)) return false;
    this.#rooms.delete(name);
    for (const event of room.log) {
      this.#index(event, event); // unindexed as an event evicted on arrival is
      this.#budget.remove(event);
      for (const listener of this.#forget) listener(event);
    }
    return true;
  }

  /**
   * Listens to every applied event (not restored ones), before the history
   * budget is held. Replication and snapshots listen here.
   *
   * @param listener Must not append events.
   * @returns A function that removes the listener.
   */
  onApplied(listener: EventListener): () => void {
    this.#applied.add(listener);
    return () => this.#applied.delete(listener);
  }

  /**
   * Listens to every applied event after the `onApplied` listeners and the
   * history budget; the hub fans out and enforces moderation here.
   *
   * @param listener May append events.
   * @returns A function that removes the listener.
   */
  onSettled(listener: SettledListener): () => void {
    this.#settled.add(listener);
    return () => this.#settled.delete(listener);
  }

  /**
   * Listens to events no longer retained because their room expired or
   * the history budget evicted them: like an eviction, without a new event.
   *
   * @param listener Called once per forgotten event.
   * @returns A function that removes the listener.
   */
  onForget(listener: (event: ChatEvent) => void): () => void {
    this.#forget.add(listener);
    return () => this.#forget.delete(listener);
  }

  /** The apply path proper, shared by local and accepted peer events. */
  #accept(event: ChatEvent): void {
    this.#versions.add(event.origin, event.seq);
    const { evicted, mod } = this.#store(event, true);
    for (const listener of this.#applied) listener(event, evicted);
    this.#holdBudget();
    for (const listener of this.#settled) listener(event, evicted, mod);
  }

  /**
   * Why an event from a peer must not be applied: the rules a person's
   * input obeys (core/event_rules.ts), plus those that depend on this
   * node's state. A peer is authenticated, not trusted with everything.
   */
  #refusal(event: ChatEvent): { why: string; final: boolean } | undefined {
    if (event.origin === this.origin) {
      // Never recorded: this node's own next ids must stay free.
      return {
        why: "it claims this node's own origin (only this node issues those ids)",
        final: false,
      };
    }
    const lead = this.#clock.leadOf(event.hlc);
    if (lead > this.#maxLeadMs) {
      // Not recorded: taken when a peer sends it again after the clock caught up.
      return {
        why: `its stamp leads this node's clock by ${lead} ms, more than ${this.#maxLeadMs} ms`,
        final: false,
      };
    }
    try {
      checkEventRules(event);
    } catch (error) {
      return { why: (error as Error).message, final: true };
    }
    if (event.kind === "seal" && event.room === DEFAULT_ROOM) {
      return { why: `#${DEFAULT_ROOM} is everyone's room and is never sealed`, final: true };
    }
    // Rules that depend on this node's view (a seal over others' history,
    // plain text after a seal) are checked where the person is: a concurrent
    // race would make nodes disagree, refuse each other's events forever and
    // never converge. Every rule above gives the same answer on every node.
    return undefined;
  }

  /** Logs a refused peer event, once per id for the last few ids (peers resend). */
  #warnRefused(event: ChatEvent, why: string): void {
    const id = `${event.origin}:${event.seq}`;
    if (this.#refusedIds.has(id)) return;
    this.#refusedIds.add(id);
    if (this.#refusedIds.size > 1024) {
      this.#refusedIds.delete(this.#refusedIds.values().next().value!);
    }
    this.#logger.warn("peer event refused", { id, kind: event.kind, why });
  }

  #store(event: ChatEvent, live: boolean): { evicted: ChatEvent | undefined; mod?: ModEffect } {
    let evicted: ChatEvent | undefined;
    let mod: ModEffect | undefined;
    if (this.#isMail(event)) {
      evicted = this.#mail.apply(event);
    } else if (event.kind === "private") {
      evicted = this.#privateLog.insertSorted(event, compareEvents);
    } else if (event.kind === "claim") {
      // One live claim per nick: the loser (or the claim replaced) is dropped.
      evicted = this.#nicks.apply(event, live);
    } else if (event.kind === "link") {
      evicted = this.#nicks.applyLink(event); // one live event per nick and key
    } else if (event.kind === "bot") {
      evicted = this.#bots.apply(event); // one live mark per nick, like claims
    } else if (event.kind === "seen") {
      evicted = this.#seen.apply(event); // one live mark per nick and room
    } else if (event.kind === "mod") {
      // Kept even when malformed or unauthorised: peers may ask this node for it by id.
      evicted = this.#modLog.insertSorted(event, compareEvents);
      try {
        const result = this.#moderation.apply(event);
        mod = { action: result.action, current: result.current };
        // Expired and lifted bans and mutes are forgotten (amortised: when the state doubled).
        this.#moderation.purgeExpired(this.#now());
        if (!result.authorised) {
          this.#logger.warn("moderation event ignored: its issuer was no operator then", {
            id: `${event.origin}:${event.seq}`,
            action: result.action.a,
          });
        }
      } catch (error) {
        this.#logger.warn("malformed moderation event ignored", {
          id: `${event.origin}:${event.seq}`,
          error: (error as Error).message,
        });
      }
      // Live only: a restore voids seals once every event is in.
      if (live && mod?.action.a === "unseal" && mod.current) {
        this.#openRoom(mod.action.room).unseal(event);
      }
    } else {
      evicted = this.#openRoom(event.room).record(event);
    }
    this.#index(event, evicted);
    // Moderation, nick claims and bot marks are state, capped on their own: the budget never
    // evicts them.
    if (
      event.kind !== "mod" && event.kind !== "claim" && event.kind !== "bot" &&
      event.kind !== "link" &&
      // Nor seen marks and messages kept for owned nicks (last_seen.ts, offline_mail.ts).
      event.kind !== "seen" && !this.#isMail(event)
    ) {
      if (evicted !== event) this.#budget.add(event);
      if (evicted !== undefined) this.#budget.remove(evicted);
    }
    return mod === undefined ? { evicted } : { evicted, mod };
  }

  /**
   * Evicts the oldest events node-wide while the history budget is spent.
   * A log down to its last {@linkcode KEPT_PER_ROOM} keeps them (the budget
   * parks its oldest); such a room may be quiet enough to expire instead.
   */
  #holdBudget(): void {
    const budget = this.#budget;
    for (let old = budget.oldestOver(); old !== undefined; old = budget.oldestOver()) {
      const room = old.kind === "private" ? undefined : this.#rooms.get(old.room);
      const log = room === undefined ? this.#privateLog : room.log;
      // Behind a parked event of its log (the log is at its floor): parked too.
      if (log.length <= KEPT_PER_ROOM || log.at(0) !== old) {
        budget.park(old);
        if (room !== undefined) this.expireIfIdle(room.name);
        continue;
      }
      if (room === undefined) log.shift();
      else room.evictOldest();
      budget.remove(old);
      this.#index(old, old);
      for (const listener of this.#forget) listener(old);
    }
  }

  /**
   * A private message to a nick a key owns: kept for its recipient
   * (offline_mail.ts), outside the history budget.
   */
  #isMail(event: ChatEvent): boolean {
    return event.kind === "private" && this.#nicks.ownerOf(event.to ?? "") !== undefined;
  }

  #index(event: ChatEvent, evicted: ChatEvent | undefined): void {
    if (evicted !== event) {
      this.#byId.set(`${event.origin}:${event.seq}`, event);
      if (event.cid !== undefined) this.#byCid.set(cidKey(event.from, event.cid), event);
    }
    if (evicted !== undefined) {
      this.#byId.delete(`${evicted.origin}:${evicted.seq}`);
      if (evicted.cid !== undefined) this.#byCid.delete(cidKey(evicted.from, evicted.cid));
    }
  }
}
