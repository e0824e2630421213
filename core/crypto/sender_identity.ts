// Copyright meshchat authors. All rights reserved.

/**
 * Per-client Ed25519 signing keys for sealed messages (suite 2), through Web
 * Crypto.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./_base64.ts";

/** Bytes of an Ed25519 public key. */
export const SIGNER_KEY_BYTES = 32;

/** Bytes of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;

/**
 * A client's signing identity: an Ed25519 key pair whose private half stays
 * inside Web Crypto. Its public key (43 base64url characters) travels inside
 * every signed envelope, encrypted, so nodes cannot see who signed.
 *
 * Persisting it is the client's business: generate it extractable and store
 * the PKCS #8 export, or keep the `CryptoKeyPair` itself in IndexedDB, then
 * rebuild it with {@linkcode SenderIdentity.fromKeyPair}.
 *
 * @example
 * ```ts
 * import { SenderIdentity } from "./sender_identity.ts";
 * const me = await SenderIdentity.generate();
 * me.publicKey; // e.g. "r3Vd…" (43 characters)
 * ```
 */
export class SenderIdentity {
  #privateKey: CryptoKey;
  #publicKey: Uint8Array<ArrayBuffer>;

  private constructor(privateKey: CryptoKey, publicKey: Uint8Array<ArrayBuffer>) {
    this.#privateKey = privateKey;
    this.#publicKey = publicKey;
  }

  /**
   * Generates a fresh identity.
   *
   * @param extractable Whether the private key may be exported (to persist
   * it as PKCS #8). Defaults to `false`.
   * @returns The identity.
   *
   * @example
   * ```ts
   * import { SenderIdentity } from "./sender_identity.ts";
   * const me = await SenderIdentity.generate();
   * ```
   */
  static async generate(extractable = false): Promise<SenderIdentity> {
    const pair = await crypto.subtle.generateKey(
      { name: "Ed25519" },
      extractable,
      ["sign", "verify"],
    ) as CryptoKeyPair;
    return await SenderIdentity.fromKeyPair(pair);
  }

  /**
   * Wraps an existing Ed25519 key pair (for instance one restored from
   * storage).
   *
   * @param pair An Ed25519 key pair whose private key can sign.
   * @returns The identity.
   * @throws {TypeError} If the keys are not Ed25519 or cannot sign.
   *
   * @example
   * ```ts
   * import { SenderIdentity } from "./sender_identity.ts";
   * const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
   * const me = await SenderIdentity.fromKeyPair(pair as CryptoKeyPair);
   * ```
   */
  static async fromKeyPair(pair: CryptoKeyPair): Promise<SenderIdentity> {
    if (
      pair?.privateKey?.algorithm?.name !== "Ed25519" ||
      !pair.privateKey.usages.includes("sign") ||
      pair.publicKey?.algorithm?.name !== "Ed25519"
    ) {
      throw new TypeError(
        "Cannot use sender identity: expected an Ed25519 key pair that can sign",
      );
    }
    const publicKey = new Uint8Array(
      await crypto.subtle.exportKey("raw", pair.publicKey),
    );
    return new SenderIdentity(pair.privateKey, publicKey);
  }

  /**
   * The public key as unpadded base64url: what receivers pin and show.
   *
   * @returns 43 characters.
   */
  get publicKey(): string {
    return encodeBase64(this.#publicKey, "base64url");
  }

  /**
   * The raw public key.
   *
   * @returns A copy of the 32 bytes.
   */
  publicKeyBytes(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.#publicKey);
  }

  /**
   * Signs bytes with Ed25519.
   *
   * @param data The bytes to sign.
   * @returns The 64-byte signature.
   *
   * @example
   * ```ts
   * import { SenderIdentity, verifySignature } from "./sender_identity.ts";
   * const me = await SenderIdentity.generate();
   * const data = new TextEncoder().encode("hi");
   * const signature = await me.sign(data);
   * await verifySignature(me.publicKeyBytes(), signature, data); // true
   * ```
   */
  async sign(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(
      await crypto.subtle.sign("Ed25519", this.#privateKey, data),
    );
  }
}

/**
 * Verifies an Ed25519 signature.
 *
 * @param publicKey The signer's 32-byte public key.
 * @param signature The 64-byte signature.
 * @param data The signed bytes.
 * @returns Whether the signature is valid; `false` for a malformed key too.
 *
 * @example
 * ```ts
 * import { verifySignature } from "./sender_identity.ts";
 * await verifySignature(new Uint8Array(32), new Uint8Array(64), new Uint8Array(0)); // false
 * ```
 */
export async function verifySignature(
  publicKey: Uint8Array<ArrayBuffer>,
  signature: Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  if (
    publicKey.length !== SIGNER_KEY_BYTES ||
    signature.length !== SIGNATURE_BYTES
  ) {
    return false;
  }
  try {
    const key = await crypto.subtle.importKey(
      "raw",
      publicKey,
      "Ed25519",
      true,
      ["verify"],
    );
    return await crypto.subtle.verify("Ed25519", key, signature, data);
  } catch {
    return false;
  }
}

/**
 * Decodes a public key from its base64url form.
 *
 * @param publicKey 43 base64url characters.
 * @returns The 32 bytes.
 * @throws {SyntaxError} If it is not base64url.
 * @throws {RangeError} If it is not 32 bytes.
 *
 * @example
 * ```ts
 * import { decodeSignerKey, SenderIdentity } from "./sender_identity.ts";
 * const me = await SenderIdentity.generate();
 * decodeSignerKey(me.publicKey).length; // 32
 * ```
 */
export function decodeSignerKey(publicKey: string): Uint8Array<ArrayBuffer> {
  const bytes = decodeBase64(publicKey, "base64url");
  if (bytes.length !== SIGNER_KEY_BYTES) {
    throw new RangeError(
      `Cannot decode signer key: expected ${SIGNER_KEY_BYTES} bytes, got ${bytes.length}`,
    );
  }
  return bytes;
}
