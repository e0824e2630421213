/**
 * Which SSH user keys and signature algorithms prove an identity here:
 * ed25519, ECDSA (P-256, P-384, P-521), and RSA of at least 2048 bits signed
 * with SHA-2 (`rsa-sha2-256`, `rsa-sha2-512`). Refused, with a reason the
 * person is shown:
 *
 * - `ssh-dss` (DSA): 1024-bit keys with SHA-1, removed from OpenSSH 10;
 * - RSA signatures with SHA-1 (`ssh-rsa`): SHA-1 collisions are practical
 *   (the SHAmbles attack), and OpenSSH 8.8 stopped using it by default;
 * - RSA keys under 2048 bits, too short for today (OpenSSH refuses under
 *   1024; NIST has disallowed under 2048 since 2013);
 * - anything else (security-key types, certificates, unknown algorithms),
 *   which this server cannot verify.
 *
 * Pure: knows nothing of ssh2 or sockets; the listener asks it and tells.
 *
 * @module
 */

/** Key types whose signatures are accepted (RSA also needs SHA-2 and 2048 bits). */
export const ACCEPTED_KEY_TYPES: readonly string[] = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
];

/** Shortest RSA modulus accepted (bits). */
export const MIN_RSA_BITS = 2048;

/** What is known about a key offered for login. */
export interface OfferedKey {
  /** Algorithm of the key blob itself (`ssh-rsa`, `ssh-ed25519`...). */
  readonly type: string;
  /**
   * Hash of the signature, as the client named it: `sha256` for
   * `rsa-sha2-256`, `sha512` for `rsa-sha2-512`; undefined for `ssh-rsa`
   * (SHA-1) and for the types that fix their own hash.
   */
  readonly hashAlgo: string | undefined;
  /** RSA modulus size (bits), when the key is RSA. */
  readonly rsaBits?: number;
}

/**
 * Says why a key may not be used to log in.
 *
 * @example
 * ```ts
 * import { weakKeyReason } from "./ssh_key_policy.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(weakKeyReason({ type: "ssh-ed25519", hashAlgo: undefined }), undefined);
 * assert.match(weakKeyReason({ type: "ssh-dss", hashAlgo: undefined })!, /DSA/);
 * ```
 *
 * @param key The key type, signature hash and RSA size.
 * @returns A sentence for the person (what was refused and what to do), or
 *   undefined when the key is fine.
 */
export function weakKeyReason(key: OfferedKey): string | undefined {
  const { type, hashAlgo, rsaBits } = key;
  const advice = "use an ed25519 key (ssh-keygen -t ed25519)";
  if (type === "ssh-dss") {
    return `Refused ssh-dss (DSA) key: DSA keys are weak and no longer accepted; ${advice}`;
  }
  if (!ACCEPTED_KEY_TYPES.includes(type)) {
    return `Refused ${
      type.replace(/[^\x21-\x7e]/g, "?").slice(0, 40)
    } key: accepted are ed25519, ECDSA and RSA with SHA-2; ${advice}`;
  }
  if (type !== "ssh-rsa") return undefined;
  if (hashAlgo !== "sha256" && hashAlgo !== "sha512") {
    return "Refused RSA signature with SHA-1 (ssh-rsa): SHA-1 is broken; let ssh sign with " +
      `rsa-sha2-256 or rsa-sha2-512 (OpenSSH 7.2 and later do by default), or ${advice}`;
  }
  if (rsaBits !== undefined && rsaBits < MIN_RSA_BITS) {
    return `Refused ${rsaBits}-bit RSA key: at least ${MIN_RSA_BITS} bits are needed; ${advice}`;
  }
  return undefined;
}

/**
 * Why a public key given as a key line (not yet signing anything) may not
 * be used: {@linkcode weakKeyReason} for its type and size. Its signatures'
 * hash is checked when they come (core/crypto/sshsig.ts refuses SHA-1).
 *
 * @param key The key's type and RSA size.
 * @returns A sentence for the person, or undefined when the key is fine.
 */
export function weakPublicKeyReason(
  key: { readonly type: string; readonly rsaBits?: number },
): string | undefined {
  return weakKeyReason({
    type: key.type,
    hashAlgo: key.type === "ssh-rsa" ? "sha512" : undefined,
    ...(key.rsaBits === undefined ? {} : { rsaBits: key.rsaBits }),
  });
}
