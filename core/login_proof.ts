/**
 * Proving a key in the client protocol's `hello`: the node's challenge and
 * the client's answer, an SSH signature (core/crypto/sshsig.ts) in the
 * namespace {@linkcode LOGIN_NAMESPACE} of the line
 * `meshchat-login NODE NONCE`. The nonce is fresh per `hello` and the node
 * keeps it only for that connection, so an answer proves the key to this
 * node, now, once: it cannot be replayed to another connection or node.
 *
 * ```
 * client → {"t":"hello","v":1,"user":"alice","key":"ssh-ed25519 AAAA…"}
 * node   → {"t":"challenge","node":"n1","nonce":"…","namespace":"meshchat-login"}
 * client → {"t":"auth","signature":"-----BEGIN SSH SIGNATURE-----…"}
 * node   → {"t":"welcome",…}   (or an `error` auth_failed)
 * ```
 *
 * Pure: the client and the node both use it.
 *
 * @module
 */
import { encodeBase64 } from "./crypto/_base64.ts";
import { sshKeyFingerprint, type SshPublicKey, verifySshSignature } from "./crypto/sshsig.ts";

/** The SSH signature namespace of a login proof: a signature made for anything else does not log in. */
export const LOGIN_NAMESPACE = "meshchat-login";

/** A key that can answer a login challenge (an `SshEd25519Key` can). */
export interface LoginSigner {
  /** The public key line (`ssh-ed25519 AAAA…`), sent in `hello`. */
  publicKeyLine(): string;
  /**
   * Signs a message as `ssh-keygen -Y sign` does.
   *
   * @returns The armored signature.
   */
  sign(message: Uint8Array, namespace: string): Promise<string>;
}

/**
 * The line a login proof signs.
 *
 * @param node The node's id, as its challenge names it.
 * @param nonce The challenge's nonce.
 * @returns The bytes signed.
 */
export function loginMessage(node: string, nonce: string): Uint8Array {
  return new TextEncoder().encode(`${LOGIN_NAMESPACE} ${node} ${nonce}`);
}

/**
 * A fresh nonce for a challenge: 32 random bytes, base64url.
 *
 * @returns The nonce.
 */
export function newLoginNonce(): string {
  return encodeBase64(crypto.getRandomValues(new Uint8Array(32)), "base64url");
}

/**
 * Answers a node's challenge.
 *
 * @param signer The key.
 * @param node The node's id from the challenge.
 * @param nonce The challenge's nonce.
 * @returns The armored signature for the `auth` frame.
 */
export function signLogin(signer: LoginSigner, node: string, nonce: string): Promise<string> {
  return signer.sign(loginMessage(node, nonce), LOGIN_NAMESPACE);
}

/**
 * Checks a client's answer to this node's challenge.
 *
 * @param signature The armored signature from the `auth` frame.
 * @param challenge The key the `hello` named, this node's id and the nonce sent.
 * @returns The key's `SHA256:` fingerprint: the identity the connection proved.
 * @throws {SshSignatureError} When the signature is malformed, by another
 *   key, for another namespace, or not of this node's nonce (the message says which).
 */
export async function verifyLogin(
  signature: string,
  challenge: { readonly key: SshPublicKey; readonly node: string; readonly nonce: string },
): Promise<string> {
  await verifySshSignature(signature, {
    message: loginMessage(challenge.node, challenge.nonce),
    namespace: LOGIN_NAMESPACE,
    publicKey: challenge.key,
  });
  return await sshKeyFingerprint(challenge.key);
}
