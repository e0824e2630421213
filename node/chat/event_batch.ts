/**
 * A batch of events cut to a count and a byte budget: what one message of
 * events may carry. The event log fills one with what a peer lacks
 * (`EventLog.missingFor`); the replicator fills them with its eager
 * pushes. Both cut the same way, so neither ever sends a message larger
 * than a mesh frame.
 *
 * ```ts
 * import { EventBatch } from "./event_batch.ts";
 * import assert from "node:assert/strict";
 *
 * const batch = new EventBatch({ maxEvents: 10, maxBytes: 250 });
 * const event = {
 *   origin: "n1", seq: 1, hlc: { wall: 1, counter: 0, node: "n1" },
 *   room: "lobby", kind: "message" as const, from: "ann", text: "hi",
 * };
 * assert.equal(batch.add(event, 200), true); // the first event always fits
 * assert.equal(batch.add({ ...event, seq: 2 }, 200), false); // 200 + 1 + 200 > 250
 * assert.equal(batch.full, true);
 * ```
 *
 * @module
 */
import type { ChatEvent } from "../../core/event.ts";

/** Options of {@linkcode EventBatch}. */
export interface EventBatchOptions {
  /** Most events in the batch. */
  readonly maxEvents: number;
  /**
   * Most bytes of the events as JSON array elements: their UTF-8 JSON plus
   * a comma between two. The first event is taken whatever its size (the
   * caller bounds every event below this).
   */
  readonly maxBytes: number;
}

/** Events for one message, within a count and a byte budget. */
export class EventBatch {
  /** The events taken, in the order offered. */
  readonly events: ChatEvent[] = [];
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  #bytes = 0;
  #full = false;

  /** @param options The count and byte budget. */
  constructor(options: EventBatchOptions) {
    this.#maxEvents = options.maxEvents;
    this.#maxBytes = options.maxBytes;
  }

  /** Whether the last event offered did not fit, or the count is reached. */
  get full(): boolean {
    return this.#full || this.events.length >= this.#maxEvents;
  }

  /**
   * Takes an event if it fits.
   *
   * @param event The event.
   * @param bytes Its size as UTF-8 JSON (`eventBytes`; callers cache it).
   * @returns `false` (and the batch is full) when it does not fit.
   */
  add(event: ChatEvent, bytes: number): boolean {
    const cost = bytes + (this.events.length > 0 ? 1 : 0);
    if (this.full || (this.events.length > 0 && this.#bytes + cost > this.#maxBytes)) {
      this.#full = true;
      return false;
    }
    this.events.push(event);
    this.#bytes += cost;
    return true;
  }
}
