/**
 * Counts of what happened to a node's people that nothing else keeps: each
 * is incremented at the one place the thing happens (the hub's fan-out, a
 * sink that refuses a frame, the one input path), and read by `/metrics`
 * (node/node_metrics.ts). Counts since the process started.
 *
 * @module
 */

/** The hub's counters (`hub.counters`). */
export class ChatCounters {
  /** Message frames (messages, actions, private messages) queued to local sessions. */
  messagesDelivered = 0;
  /**
   * Frames a session's sink could not queue: the one that overflowed a slow
   * reader, those discarded with it, and any sent while it was closing.
   */
  framesDropped = 0;
  /** Sessions ended because their output queue overflowed (`too slow`). */
  slowReadersDropped = 0;
  readonly #refusals = new Map<string, number>();

  /**
   * Counts a line refused with an `error` frame.
   *
   * @param code The frame's code (`rate_limited`, `too_many_rooms`, ...).
   */
  lineRefused(code: string): void {
    this.#refusals.set(code, (this.#refusals.get(code) ?? 0) + 1);
  }

  /** Refused lines by error code. */
  get lineRefusals(): ReadonlyMap<string, number> {
    return this.#refusals;
  }
}
