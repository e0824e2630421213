/**
 * Rate-limits failed SSH logins per address: each address may fail a burst
 * of times, then a few times a minute; past that its new connections are
 * closed before any cryptography is spent on them. IPv6 addresses count per
 * /64, the block one machine typically holds.
 *
 * @module
 */
import { addressKey } from "../../../core/address_key.ts";

/** Options of {@linkcode SshAuthLimiter}. */
export interface SshAuthLimiterOptions {
  /** Failures an address may have in a row before it is held back. @default 20 */
  burst?: number;
  /** Failures forgiven per minute. @default 10 */
  perMinute?: number;
  /** Addresses tracked at most; the least recently failing are forgotten. @default 10000 */
  maxAddresses?: number;
  /** Clock (ms). @default Date.now */
  now?: () => number;
}

interface Budget {
  tokens: number;
  at: number;
}

/**
 * The per-address budget of failed logins.
 *
 * @example
 * ```ts
 * import { SshAuthLimiter } from "./ssh_auth_limiter.ts";
 * import assert from "node:assert/strict";
 *
 * const limiter = new SshAuthLimiter({ burst: 2, now: () => 0 });
 * limiter.fail("192.0.2.1");
 * limiter.fail("192.0.2.1");
 * assert.equal(limiter.allows("192.0.2.1"), false);
 * assert.equal(limiter.allows("192.0.2.2"), true);
 * ```
 */
export class SshAuthLimiter {
  readonly #budgets = new Map<string, Budget>();
  readonly #burst: number;
  readonly #perMs: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;

  /**
   * @param options Budget and clock.
   * @throws {RangeError} When a limit is not positive.
   */
  constructor(options: SshAuthLimiterOptions = {}) {
    const { burst = 20, perMinute = 10, maxAddresses = 10_000, now = Date.now } = options;
    if (!(burst >= 1) || !(perMinute > 0) || !(maxAddresses >= 1)) {
      throw new RangeError(
        `Invalid auth limits: burst ${burst}, ${perMinute}/min, ${maxAddresses} addresses must be positive`,
      );
    }
    this.#burst = burst;
    this.#perMs = perMinute / 60_000;
    this.#maxAddresses = maxAddresses;
    this.#now = now;
  }

  /**
   * Whether a new connection from the address may try to log in.
   *
   * @param address Remote IP address.
   * @returns `false` while the address has used up its failures.
   */
  allows(address: string): boolean {
    const budget = this.#budgets.get(addressKey(address));
    return budget === undefined || this.#refill(budget) >= 1;
  }

  /**
   * Counts one failure (a rejected login, a handshake that timed out).
   *
   * @param address Remote IP address.
   */
  fail(address: string): void {
    const key = addressKey(address);
    let budget = this.#budgets.get(key);
    if (budget === undefined) {
      if (this.#budgets.size >= this.#maxAddresses) {
        // Maps iterate in insertion order: drop the least recently failing.
        const oldest = this.#budgets.keys().next().value;
        if (oldest !== undefined) this.#budgets.delete(oldest);
      }
      budget = { tokens: this.#burst, at: this.#now() };
    } else {
      this.#refill(budget);
      this.#budgets.delete(key);
    }
    budget.tokens = Math.max(0, budget.tokens - 1);
    this.#budgets.set(key, budget);
  }

  #refill(budget: Budget): number {
    const now = this.#now();
    budget.tokens = Math.min(this.#burst, budget.tokens + (now - budget.at) * this.#perMs);
    budget.at = now;
    return budget.tokens;
  }
}
