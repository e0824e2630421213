/**
 * When a replicator sends a peer its `have` ack. An ack goes at the end of
 * the event-loop turn that applied the peer's events (one ack for a whole
 * batch), and at most once per interval per peer: a peer pushing a message
 * every millisecond gets one ack per interval covering all of them, not one
 * per message, while the first ack after a quiet spell goes at once. Acks
 * only release the sender's "ok" in `--ack peer` mode and feed origin
 * retirement, so a few milliseconds of delay under load cost nothing a
 * person sees, and each ack saved is a frame sealed, written, read, opened
 * and parsed less on both nodes.
 *
 * @module
 */
import { setImmediate } from "node:timers";

/** Paces one kind of message per peer (see the module doc). */
export class AckPacer {
  readonly #send: (peer: string) => void;
  readonly #intervalMs: number;
  readonly #lastSent = new Map<string, number>();
  /** Peers with an ack scheduled, and the timer of a delayed one. */
  readonly #due = new Map<string, ReturnType<typeof setTimeout> | undefined>();

  /**
   * @param send Sends the ack to a peer (called when it is due).
   * @param intervalMs Least time between two acks to one peer; 0 = one per turn.
   */
  constructor(send: (peer: string) => void, intervalMs: number) {
    if (!(intervalMs >= 0)) {
      throw new RangeError(`Invalid ack interval ${intervalMs} ms: must be 0 or more`);
    }
    this.#send = send;
    this.#intervalMs = intervalMs;
  }

  /**
   * An ack is owed to `peer`: schedules one unless one is scheduled already.
   *
   * @param peer The peer.
   */
  owe(peer: string): void {
    if (this.#due.has(peer)) return;
    const wait = (this.#lastSent.get(peer) ?? -Infinity) + this.#intervalMs - performance.now();
    if (wait <= 0) {
      this.#due.set(peer, undefined);
      setImmediate(() => this.#fire(peer));
    } else {
      this.#due.set(peer, setTimeout(() => this.#fire(peer), wait));
    }
  }

  /**
   * The link to `peer` is gone: nothing is owed to it any more.
   *
   * @param peer The peer.
   */
  forget(peer: string): void {
    clearTimeout(this.#due.get(peer));
    this.#due.delete(peer);
    this.#lastSent.delete(peer);
  }

  #fire(peer: string): void {
    if (!this.#due.has(peer)) return; // forgotten meanwhile
    this.#due.delete(peer);
    this.#lastSent.set(peer, performance.now());
    this.#send(peer);
  }
}
