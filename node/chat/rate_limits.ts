/**
 * How fast one person may act: each session has a token bucket of `burst`
 * tokens refilled at `perSecond`; every line or command takes one, and a
 * change announced in each of the session's rooms (`/away`, `/nick`) takes
 * more the more rooms it is in. A person over budget is told how long to
 * wait (`rate_limited`); the others are not slowed.
 *
 * ```ts ignore
 * const rates = new RateLimits({ burst: 10, perSecond: 5, now: Date.now });
 * const session = new Session(id, nick, sink, origin, rates.limiter(), now);
 * rates.spend(session); // throws `rate_limited` when over budget
 * ```
 *
 * @module
 */
import { countOf } from "../../core/chat_format.ts";
import { ProtocolError } from "../../core/protocol.ts";
import { TokenBucket } from "../../core/rate_limiter.ts";
import type { Session } from "./session.ts";

/** Options of {@linkcode RateLimits}. */
export interface RateLimitsOptions {
  /** Actions a person may take at once; 0 disables rate limits. */
  burst: number;
  /** Sustained actions per second per person. */
  perSecond: number;
  /** Clock in ms. */
  now: () => number;
}

/** Per-session rate limits (see the module doc). */
export class RateLimits {
  readonly #burst: number;
  readonly #perSecond: number;
  readonly #now: () => number;

  /**
   * @param options See {@linkcode RateLimitsOptions}.
   * @throws {RangeError} When `burst` is negative or `perSecond` not above 0.
   */
  constructor(options: RateLimitsOptions) {
    const { burst, perSecond, now } = options;
    if (burst < 0 || perSecond <= 0) {
      throw new RangeError(
        `Invalid rate limit ${burst} burst at ${perSecond}/s: burst must be >= 0 and rate > 0`,
      );
    }
    this.#burst = burst;
    this.#perSecond = perSecond;
    this.#now = now;
  }

  /**
   * A new session's token bucket.
   *
   * @returns A full bucket, or undefined when rate limits are off.
   */
  limiter(): TokenBucket | undefined {
    if (this.#burst === 0) return undefined;
    return new TokenBucket({
      capacity: this.#burst,
      refillPerSecond: this.#perSecond,
      now: this.#now,
    });
  }

  /**
   * Counts one action against the session's rate limit, and notes it active.
   *
   * @param session The session.
   * @throws {ProtocolError} `rate_limited` when over budget.
   */
  spend(session: Session): void {
    session.lastActive = this.#now();
    if (session.limiter && !session.limiter.tryTake()) {
      const wait = Math.ceil(session.limiter.msUntilAvailable() / 100) / 10;
      throw new ProtocolError(
        "rate_limited",
        `Slow down: too many messages, try again in ${wait} s`,
      );
    }
  }

  /**
   * Charges a change announced in each of the session's rooms (`/away`,
   * `/nick`) one more token per 8 rooms past the first 8 (the line paid one),
   * at most a burst: else one line in 64 rooms makes 64 events, and a toggle
   * loop makes 64 times the events of the rate limit.
   *
   * @param session The session (its rate limiter is charged).
   * @throws {ProtocolError} `rate_limited` when over budget.
   */
  spendPerRoom(session: Session): void {
    const extra = Math.min(Math.ceil(session.rooms.size / 8) - 1, this.#burst - 1);
    if (extra <= 0 || session.limiter === undefined || session.limiter.tryTake(extra)) return;
    const wait = Math.ceil(session.limiter.msUntilAvailable(extra) / 100) / 10;
    throw new ProtocolError(
      "rate_limited",
      `Slow down: a change shown in ${
        countOf(session.rooms.size, "room")
      } costs more, try again in ${wait} s`,
    );
  }
}
