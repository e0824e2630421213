// Copyright meshchat authors. All rights reserved.

/**
 * Trust on first use for sender signing keys.
 *
 * @module
 */

/**
 * How a signed message's key relates to what this client knows:
 *
 * - `"unsigned"`: no signature (suite 1);
 * - `"unpinned"`: validly signed, but no {@linkcode SignerPins} was given;
 * - `"first_use"`: the first key seen for this sender; now pinned;
 * - `"trusted"`: the key pinned for this sender;
 * - `"changed"`: another key than the one pinned for this sender — show a
 *   warning; the pin is not replaced.
 */
export type SignerTrust =
  | "unsigned"
  | "unpinned"
  | "first_use"
  | "trusted"
  | "changed";

/**
 * Which signing key each sender nick is known by, pinned on first use. Only
 * messages that already opened under the room key (so came from a
 * passphrase holder) and carried a valid signature reach it.
 *
 * Persisting pins is the client's business: save {@linkcode SignerPins.entries}
 * and pass them back to the constructor.
 *
 * @example
 * ```ts
 * import { SignerPins } from "./signer_pins.ts";
 * const pins = new SignerPins();
 * pins.check("ada", "key-1"); // "first_use"
 * pins.check("ada", "key-1"); // "trusted"
 * pins.check("ada", "key-2"); // "changed"
 * ```
 */
export class SignerPins {
  #pins: Map<string, string>;

  /**
   * Builds the pin set.
   *
   * @param entries Saved (sender, public key) pairs.
   */
  constructor(entries: Iterable<readonly [string, string]> = []) {
    this.#pins = new Map(entries);
  }

  /**
   * Compares a sender's key with its pin, pinning it if there was none.
   *
   * @param sender The sender nick from the authenticated header.
   * @param publicKey The signer's public key (base64url).
   * @returns `"first_use"`, `"trusted"` or `"changed"`.
   */
  check(sender: string, publicKey: string): "first_use" | "trusted" | "changed" {
    const pinned = this.#pins.get(sender);
    if (pinned === undefined) {
      this.#pins.set(sender, publicKey);
      return "first_use";
    }
    return pinned === publicKey ? "trusted" : "changed";
  }

  /**
   * The key pinned for a sender.
   *
   * @param sender The sender nick.
   * @returns The public key, or `undefined`.
   */
  get(sender: string): string | undefined {
    return this.#pins.get(sender);
  }

  /**
   * Pins a key for a sender, replacing any pin (after the user accepted a
   * change, for instance).
   *
   * @param sender The sender nick.
   * @param publicKey The public key (base64url).
   */
  set(sender: string, publicKey: string): void {
    this.#pins.set(sender, publicKey);
  }

  /**
   * Forgets a sender's pin.
   *
   * @param sender The sender nick.
   * @returns Whether there was one.
   */
  delete(sender: string): boolean {
    return this.#pins.delete(sender);
  }

  /**
   * All pins, for saving.
   *
   * @returns (sender, public key) pairs.
   */
  entries(): Array<[string, string]> {
    return [...this.#pins];
  }
}
