/**
 * A per-address bound on guessing the web's one-time secrets: a sign-in
 * token (`POST /signin/token`) and a key-upload challenge
 * (`POST /keys/register`). Each wrong one is an offence in the node's
 * {@linkcode ConnectionLimits}, the account TCP, SSH and the WebSocket
 * share; an address with `--max-offences` of them within a minute is
 * answered 429 with `Retry-After` for `--cool-off` — and, a repeat offender
 * like any other, refused on the other frontends too.
 *
 * Why, when the secrets are 256 random bits and guessing them is hopeless:
 * every other entry point is bounded per address, and an unbounded one
 * still costs the node a request, a lookup and a log line per guess. Memory
 * stays bounded: `ConnectionLimits` remembers a bounded number of offenders.
 *
 * @module
 */
import type { ConnectionLimits } from "../connection_limits.ts";
import { ApiError } from "./json_api.ts";

/** What {@linkcode GuessLimit} needs of the node's connection account. */
export type OffenceAccount = Pick<ConnectionLimits, "offend" | "refusedForMs">;

/**
 * Refuses an address that sent too many wrong secrets (see the module doc).
 *
 * @example
 * ```ts
 * import { ConnectionLimits } from "../connection_limits.ts";
 * import { GuessLimit } from "./guess_limit.ts";
 * import assert from "node:assert/strict";
 *
 * const guesses = new GuessLimit(new ConnectionLimits({ maxOffences: 2, now: () => 0 }));
 * guesses.wrong("192.0.2.1");
 * guesses.admit("192.0.2.1"); // one wrong secret: still admitted
 * guesses.wrong("192.0.2.1");
 * assert.throws(() => guesses.admit("192.0.2.1"), /try again in 60 s/);
 * ```
 */
export class GuessLimit {
  readonly #offences: OffenceAccount;

  /** @param offences The node's connection account, where wrong secrets count as offences. */
  constructor(offences: OffenceAccount) {
    this.#offences = offences;
  }

  /**
   * Lets a request that carries a secret be checked, or refuses it.
   *
   * @param address The request's remote IP address.
   * @throws {ApiError} 429 with `Retry-After` while the address is refused.
   */
  admit(address: string): void {
    const waitMs = this.#offences.refusedForMs(address);
    if (waitMs <= 0) return;
    const seconds = Math.ceil(waitMs / 1000);
    throw new ApiError(
      429,
      `Too many wrong sign-in links or challenges from your address: try again in ${seconds} s`,
      seconds,
    );
  }

  /**
   * Counts a wrong (unknown, used or expired) secret from an address.
   *
   * @param address The request's remote IP address.
   */
  wrong(address: string): void {
    this.#offences.offend(address);
  }
}
