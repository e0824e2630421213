/**
 * A room: its event log (a ring buffer in hybrid-clock order) and the state
 * derived from that log (the topic). Who is in a room is presence, kept by
 * the hub, not derived from the log: join/leave events are history.
 *
 * @module
 */
import { type ChatEvent, compareEvents, isSpoken } from "../core/event.ts";
import { compareStamps, type HlcStamp } from "../core/hybrid_clock.ts";
import { RingBuffer } from "../core/ring_buffer.ts";

/** One chat room. */
export class Room {
  /** Normalised room name. */
  readonly name: string;
  /** Events in hybrid-clock order; the oldest are evicted when full. */
  readonly log: RingBuffer<ChatEvent>;
  #topic = "";
  #topicStamp: HlcStamp | undefined;

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
   * Inserts an event into the log in order and updates derived state.
   * The caller has already deduplicated it.
   *
   * @param event The event.
   * @returns The event evicted to make room (possibly `event` itself when it
   *   is older than a full log), or undefined.
   */
  record(event: ChatEvent): ChatEvent | undefined {
    const evicted = this.log.insertSorted(event, compareEvents);
    if (evicted !== event && event.kind === "topic") this.#takeTopic(event);
    return evicted;
  }

  /**
   * The newest spoken events (and topic changes), oldest first.
   *
   * @param limit How many at most.
   * @returns Up to `limit` events.
   */
  recent(limit: number): ChatEvent[] {
    const out: ChatEvent[] = [];
    for (let i = this.log.length - 1; i >= 0 && out.length < limit; i--) {
      const event = this.log.at(i);
      if (event && (isSpoken(event) || event.kind === "topic")) out.push(event);
    }
    return out.reverse();
  }

  #takeTopic(event: ChatEvent): void {
    // A late topic event older than the current one must not win.
    if (this.#topicStamp === undefined || compareStamps(event.hlc, this.#topicStamp) > 0) {
      this.#topic = event.text;
      this.#topicStamp = event.hlc;
    }
  }
}
