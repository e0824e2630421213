/**
 * Slow readers leave after the fan-out, not inside it. A sink overflows
 * while the hub sends it a frame in a fan-out loop; ending its session
 * there would fan out a leave in the middle of that loop, and part of the
 * room would see the session leave before the frame that overflowed it.
 *
 * So the hub sends every frame meant for several sessions inside
 * {@linkcode SlowReaders.fanningOut}; a sink that overflows reports its
 * session with {@linkcode SlowReaders.drop}; once the outermost fan-out is
 * over, the sessions found are disconnected, in the order found (their
 * leaves are a fan-out too, and may find more).
 *
 * ```ts ignore
 * const slow = new SlowReaders((session) => hub.disconnect(session, "too slow"));
 * slow.fanningOut(() => { for (const s of room) s.sink.send(frame); });
 * ```
 *
 * @module
 */
import type { Session } from "./session.ts";

/** The slow readers found during the fan-outs in progress (see the module doc). */
export class SlowReaders {
  readonly #disconnect: (session: Session) => void;
  /** Fan-outs in progress: one may apply events (a leave) that fan out in turn. */
  #fanOuts = 0;
  /** Sessions whose sink overflowed during the fan-outs in progress. */
  readonly #found = new Set<Session>();

  /** @param disconnect Ends a slow reader's session (as `too slow`). */
  constructor(disconnect: (session: Session) => void) {
    this.#disconnect = disconnect;
  }

  /**
   * Runs a fan-out (`deliver` sends frames to sinks); the slow readers it
   * finds are disconnected once the outermost fan-out is over, even one
   * that threw.
   *
   * @param deliver Sends the frames.
   */
  fanningOut(deliver: () => void): void {
    this.#fanOuts++;
    try {
      deliver();
    } finally {
      this.#fanOuts--;
      if (this.#fanOuts === 0) this.#dropFound();
    }
  }

  /**
   * A session's sink overflowed: it is disconnected after the fan-out in
   * progress, or at once outside any.
   *
   * @param session The session (ignored when it is closed already).
   */
  drop(session: Session): void {
    if (!session.open) return;
    this.#found.add(session);
    if (this.#fanOuts === 0) this.#dropFound();
  }

  /**
   * Whether a session waits to be disconnected as a slow reader: any other
   * disconnect of it waits too, so it leaves once, as `too slow`.
   *
   * @param session The session.
   * @returns True while it waits.
   */
  waiting(session: Session): boolean {
    return this.#found.has(session);
  }

  /** Disconnects the slow readers found, and any their leaves overflow in turn. */
  #dropFound(): void {
    if (this.#found.size === 0) return;
    this.#fanOuts++;
    try {
      // A Set iterates over what is added while it runs: later slow readers too.
      for (const session of this.#found) {
        this.#found.delete(session);
        this.#disconnect(session);
      }
    } finally {
      this.#fanOuts--;
    }
  }
}
