/**
 * The fingerprint of a TLS certificate as meshchat shows and pins it:
 * `SHA256:` and the unpadded base64 of the SHA-256 of the certificate's DER
 * bytes — the same form as an OpenSSH key fingerprint, so a node's start-up
 * log, the client's pin file and its warnings all read alike.
 *
 * @module
 */
import { encodeBase64 } from "./_base64.ts";

/**
 * The `SHA256:` fingerprint of a certificate.
 *
 * @example
 * ```ts
 * import { certificateFingerprint } from "./certificate_fingerprint.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(await certificateFingerprint(new Uint8Array([1])), /^SHA256:[A-Za-z0-9+/]{43}$/);
 * ```
 *
 * @param der The certificate, DER bytes.
 * @returns The fingerprint.
 */
export async function certificateFingerprint(der: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new Uint8Array(der)),
  );
  return `SHA256:${encodeBase64(digest, "base64").replace(/=+$/, "")}`;
}
