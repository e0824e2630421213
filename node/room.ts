/**
 * A room: its event log (a ring buffer in hybrid-clock order), the state
 * derived from that log (members, topic) and the local sessions listening.
 *
 * @module
 */
import { type ChatEvent, compareEvents, isSpoken } from "../core/event.ts";
import { compareStamps, type HlcStamp } from "../core/hybrid_clock.ts";
import { nickKey } from "../core/names.ts";
import { RingBuffer } from "../core/ring_buffer.ts";

/** Someone present in a room, on this node or another. */
export interface Member {
  /** Current nick, as typed. */
  nick: string;
  /** Node the member is connected to. */
  node: string;
  /** Away message, or undefined when present. */
  away?: string;
}

/** One chat room. */
export class Room {
  /** Normalised room name. */
  readonly name: string;
  /** Events in hybrid-clock order; the oldest are evicted when full. */
  readonly log: RingBuffer<ChatEvent>;
  /** Members by nick key, derived from join/leave/nick/away events. */
  readonly members = new Map<string, Member>();
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
   */
  record(event: ChatEvent): void {
    this.log.insertSorted(event, compareEvents);
    this.#derive(event);
  }

  /**
   * Updates derived state only (used when restoring a log whose presence
   * is stale: only the topic is taken).
   *
   * @param event An event of this room.
   */
  restoreTopic(event: ChatEvent): void {
    if (event.kind === "topic") this.#derive(event);
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

  #derive(event: ChatEvent): void {
    const key = nickKey(event.from);
    switch (event.kind) {
      case "join":
        this.members.set(key, { nick: event.from, node: event.origin });
        break;
      case "leave":
        this.members.delete(key);
        break;
      case "nick": {
        const member = this.members.get(key);
        this.members.delete(key);
        this.members.set(nickKey(event.text), {
          ...member,
          nick: event.text,
          node: event.origin,
        });
        break;
      }
      case "away": {
        const member = this.members.get(key);
        if (member) {
          if (event.text === "") delete member.away;
          else member.away = event.text;
        }
        break;
      }
      case "topic":
        // A late topic event older than the current one must not win.
        if (
          this.#topicStamp === undefined ||
          compareStamps(event.hlc, this.#topicStamp) > 0
        ) {
          this.#topic = event.text;
          this.#topicStamp = event.hlc;
        }
        break;
      default:
        break;
    }
  }
}
