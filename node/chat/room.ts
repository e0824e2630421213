/**
 * A room: its event log (a ring buffer in hybrid-clock order) and the state
 * derived from that log (the topic). Who is in a room is presence, kept by
 * the hub, not derived from the log: join/leave events are history.
 *
 * A room nobody has spoken in (no message, action, topic or seal) holds only
 * such history: the hub lets it expire once it is empty, so `/join` spam
 * leaves nothing behind (see {@linkcode Room.spokenIn}).
 *
 * @module
 */
import { type ChatEvent, compareEvents, isSpoken } from "../../core/event.ts";
import { compareStamps, type HlcStamp } from "../../core/hybrid_clock.ts";
import { RingBuffer } from "../../core/ring_buffer.ts";
import { isAfterMark, type SeenMark } from "../../core/seen_mark.ts";
import { type SealParams, validateSealParams } from "../../core/crypto/room_params.ts";

/**
 * The line shown after a history reply that reaches back past what a room
 * still holds.
 *
 * @param room The room's name.
 * @returns The notice.
 */
export function olderGoneLine(room: string): string {
  return `Older history of #${room} is gone: this node keeps only its most recent events`;
}

/**
 * Whether an event is part of what a room's history shows: something said,
 * a topic change or a seal (not joins, leaves, nick changes or away).
 *
 * @param event An event of the room.
 * @returns True when history replies carry it.
 */
export function shownInHistory(event: ChatEvent): boolean {
  return isSpoken(event) || event.kind === "topic" || event.kind === "seal";
}

/** One chat room. */
export class Room {
  /** Normalised room name. */
  readonly name: string;
  /** Events in hybrid-clock order; the oldest are evicted when full. */
  readonly log: RingBuffer<ChatEvent>;
  #topic = "";
  #topicStamp: HlcStamp | undefined;
  #seal: { event: ChatEvent; params: SealParams } | undefined;
  /** The newest operator's unseal (see {@linkcode Room.unseal}). */
  #unsealedAt: ChatEvent | undefined;
  #spokenIn = false;
  /** An event arrived older than a full log and was never kept. */
  #droppedOnArrival = false;

  /**
   * @param name Normalised room name.
   * @param historySize Ring buffer capacity (rounded up to a power of two).
   */
  constructor(name: string, historySize: number) {
    this.name = name;
    this.log = new RingBuffer(historySize);
  }

  /** The current topic, `""` when none. */
  get topic(): string {
    return this.#topic;
  }

  /**
   * The seal parameters when the room is sealed: those of its earliest valid
   * `seal` event in hybrid-clock order, so every node agrees.
   */
  get sealed(): SealParams | undefined {
    return this.#seal?.params;
  }

  /**
   * Whether the room ever recorded something said in it: a message, an
   * action, a topic or a seal. A room that did not holds only presence
   * history (joins, leaves, nick changes), which may go when it is empty.
   */
  get spokenIn(): boolean {
    return this.#spokenIn;
  }

  /**
   * Whether events of this room were evicted since this node loaded it (by
   * the log's capacity or the node's history budget): history older than
   * the oldest retained event is gone from this node.
   */
  get olderGone(): boolean {
    return this.log.firstPosition > 0 || this.#droppedOnArrival;
  }

  /**
   * Whether a history reply that asked for `asked` messages and got `got`
   * reaches back to the oldest event retained while older ones are gone:
   * then the reply says so (`olderGone`).
   *
   * @param got Messages the room returned ({@linkcode Room.recent}).
   * @param asked Messages asked for.
   * @returns True when the reply should say that older history is gone.
   */
  reachesGone(got: number, asked: number): boolean {
    return this.olderGone && got < asked;
  }

  /**
   * Evicts the oldest event of the log (the node's history budget needs the
   * memory). Derived state (topic, seal) is kept.
   *
   * @returns The evicted event, or undefined when the log is empty.
   */
  evictOldest(): ChatEvent | undefined {
    return this.log.shift();
  }

  /** The `seal` event that sealed the room, if any. */
  get sealEvent(): ChatEvent | undefined {
    return this.#seal?.event;
  }

  /**
   * Inserts an event into the log in order and updates derived state.
   * The caller has already deduplicated it.
   *
   * @param event The event.
   * @returns The event evicted to make room (possibly `event` itself when it
   *   is older than a full log), or undefined.
   */
  record(event: ChatEvent): ChatEvent | undefined {
    const evicted = this.log.insertSorted(event, compareEvents);
    if (evicted === event) this.#droppedOnArrival = true;
    if (isSpoken(event) || event.kind === "topic" || event.kind === "seal") this.#spokenIn = true;
    // The topic is room state, not history: a topic event older than a full
    // log still counts (a snapshot restores it that way), the newest wins.
    if (event.kind === "topic") this.#takeTopic(event);
    if (event.kind === "seal") this.#takeSeal(event);
    return evicted;
  }

  /**
   * The newest spoken events (and topic changes), oldest first.
   *
   * @param limit How many at most.
   * @param upTo Only those at or before this position (where a person
   *   stopped reading: core/seen_mark.ts). @default {the newest}
   * @returns Up to `limit` events.
   */
  recent(limit: number, upTo?: SeenMark): ChatEvent[] {
    const out: ChatEvent[] = [];
    for (let i = this.log.length - 1; i >= 0 && out.length < limit; i--) {
      const event = this.log.at(i);
      if (event && shownInHistory(event) && !(upTo && isAfterMark(event, upTo))) out.push(event);
    }
    return out.reverse();
  }

  /**
   * An operator took the seal away (a `mod` unseal event): seals ordered
   * before `at` no longer count; the first seal after it (if any) does.
   *
   * @param at The unseal event.
   */
  unseal(at: ChatEvent): void {
    if (this.#unsealedAt !== undefined && compareEvents(at, this.#unsealedAt) <= 0) return;
    this.#unsealedAt = at;
    this.#seal = undefined;
    for (const event of this.log) if (event.kind === "seal") this.#takeSeal(event);
  }

  #takeSeal(event: ChatEvent): void {
    if (this.#unsealedAt !== undefined && compareEvents(event, this.#unsealedAt) < 0) return;
    // The first valid seal wins; a later (or invalid) one changes nothing.
    if (this.#seal !== undefined && compareEvents(event, this.#seal.event) >= 0) return;
    let params: SealParams;
    try {
      params = validateSealParams(JSON.parse(event.text));
    } catch {
      return;
    }
    this.#seal = { event, params };
  }

  #takeTopic(event: ChatEvent): void {
    // A late topic event older than the current one must not win.
    if (this.#topicStamp === undefined || compareStamps(event.hlc, this.#topicStamp) > 0) {
      this.#topic = event.text;
      this.#topicStamp = event.hlc;
    }
  }
}
