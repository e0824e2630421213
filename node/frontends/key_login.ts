/**
 * A `hello` that names a key, on the client protocol (TCP and WebSocket
 * alike): the node answers with a fresh challenge, and only a signature of
 * it by that key (core/login_proof.ts) lets the `hello` through, with the
 * key's fingerprint as the session's identity — as an SSH key login does.
 *
 * One challenge is outstanding per connection, and it is used once: an
 * `auth` frame consumes it whether or not it verifies, and a new `hello`
 * replaces it. A signature made for another connection's nonce, another
 * node, or another namespace does not verify.
 *
 * @module
 */
import {
  parsePublicKeyLine,
  type SshPublicKey,
  SshSignatureError,
} from "../../core/crypto/sshsig.ts";
import { LOGIN_NAMESPACE, newLoginNonce, verifyLogin } from "../../core/login_proof.ts";
import { type ClientFrame, ProtocolError, type ServerFrame } from "../../core/protocol.ts";
import { weakPublicKeyReason } from "./ssh/ssh_key_policy.ts";

/** Largest RSA modulus a login may use: WebCrypto here verifies no larger. */
export const MAX_RSA_BITS = 4096;

/** A `hello` frame. */
export type HelloFrame = Extract<ClientFrame, { t: "hello" }>;

/** The key login of one connection (see the module doc). */
export class KeyLogin {
  readonly #node: string;
  #pending: { hello: HelloFrame; key: SshPublicKey; nonce: string } | undefined;

  /** @param node This node's id, which every challenge names. */
  constructor(node: string) {
    this.#node = node;
  }

  /**
   * The challenge for a `hello` that names a key.
   *
   * @param hello The `hello`, with its `key`.
   * @returns The `challenge` frame to send.
   * @throws {ProtocolError} `auth_failed` for a key line that cannot be
   *   read or a key too weak to log in with.
   */
  challenge(hello: HelloFrame & { key: string }): ServerFrame {
    this.#pending = undefined;
    let key: SshPublicKey;
    try {
      key = parsePublicKeyLine(hello.key);
    } catch (error) {
      if (!(error instanceof SshSignatureError)) throw error;
      throw new ProtocolError("auth_failed", `Cannot log in with your key: ${error.message}`, {
        cause: error,
      });
    }
    const weak = weakPublicKeyReason(key);
    if (weak !== undefined) throw new ProtocolError("auth_failed", weak);
    if ((key.rsaBits ?? 0) > MAX_RSA_BITS) {
      throw new ProtocolError(
        "auth_failed",
        `Cannot log in with your key: RSA keys of more than ${MAX_RSA_BITS} bits cannot be ` +
          `checked here (yours has ${key.rsaBits}); use an ed25519 key`,
      );
    }
    const nonce = newLoginNonce();
    this.#pending = { hello, key, nonce };
    return { t: "challenge", node: this.#node, nonce, namespace: LOGIN_NAMESPACE };
  }

  /**
   * Checks the answer to the outstanding challenge, which is used up either way.
   *
   * @param signature The `auth` frame's signature.
   * @returns The `hello` it answers and the key's fingerprint.
   * @throws {ProtocolError} `bad_frame` when no challenge is outstanding,
   *   `auth_failed` when the signature does not prove the key (saying why).
   */
  async answer(signature: string): Promise<{ hello: HelloFrame; fingerprint: string }> {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined) {
      throw new ProtocolError(
        "bad_frame",
        "No challenge to answer: send a hello with your key first",
      );
    }
    try {
      const fingerprint = await verifyLogin(signature, {
        key: pending.key,
        node: this.#node,
        nonce: pending.nonce,
      });
      return { hello: pending.hello, fingerprint };
    } catch (error) {
      // Whatever fails to verify proves nothing: WebCrypto refusing a key it cannot
      // import (an RSA exponent too large) is a failed login, not an internal error.
      const why = error instanceof SshSignatureError ? error.message : "the key cannot be checked";
      throw new ProtocolError(
        "auth_failed",
        `Cannot log in with your key: ${why} (send hello again for a new challenge)`,
        { cause: error },
      );
    }
  }
}
