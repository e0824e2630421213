// Copyright meshchat authors. All rights reserved.
// Internal to core/crypto: passphrase → 32 key bytes, shared by the in-process
// path (room_key.ts) and the Worker (argon2_worker.ts).

/**
 * The Argon2id step of room key derivation, and the message format between
 * {@linkcode deriveRoomKeyInWorker} and its Worker.
 *
 * @module
 */

import { argon2idRaw } from "./_argon2.ts";
import { decodeBase64 } from "./_base64.ts";
import { type SealParams, validateSealParams } from "./room_params.ts";

/** Bytes of Argon2id output that become the room key. */
export const ROOM_KEY_BYTES = 32;

/**
 * Stretches a passphrase into the 32 raw room-key bytes:
 * `Argon2id(P = UTF-8(NFC(passphrase)), S = salt, m, t, p, T = 32)`.
 *
 * @param passphrase The room passphrase, any Unicode normalisation form.
 * @param params Seal parameters; validated again here.
 * @returns 32 fresh bytes; the caller should zero them once imported.
 * @throws {TypeError} If the passphrase is not a string or the parameters
 * have the wrong shape.
 * @throws {RangeError} If the passphrase is empty or not well-formed Unicode,
 * or the parameters are outside the accepted limits.
 *
 * @example
 * ```ts
 * import { deriveRoomKeyBytes } from "./_derive.ts";
 * import { newSealParams } from "./room_params.ts";
 * const bytes = await deriveRoomKeyBytes("correct horse", newSealParams());
 * ```
 */
export async function deriveRoomKeyBytes(
  passphrase: string,
  params: SealParams,
): Promise<Uint8Array<ArrayBuffer>> {
  const checked = validateSealParams(params);
  const password = encodePassphrase(passphrase);
  try {
    return await argon2idRaw({
      password,
      salt: decodeBase64(checked.salt, "base64"),
      memoryKib: checked.m,
      iterations: checked.t,
      parallelism: checked.p,
      hashLength: ROOM_KEY_BYTES,
    });
  } finally {
    password.fill(0);
  }
}

/**
 * Encodes a passphrase the one way every client must: NFC, then UTF-8, so
 * "é" typed as one code point or as "e" + U+0301 gives the same key.
 *
 * @param passphrase The passphrase as typed.
 * @returns Its UTF-8 bytes after NFC normalisation.
 * @throws {TypeError} If it is not a string.
 * @throws {RangeError} If it is empty or contains a lone surrogate.
 *
 * @example
 * ```ts
 * import { encodePassphrase } from "./_derive.ts";
 * encodePassphrase("e\u0301"); // Uint8Array [0xc3, 0xa9]
 * ```
 */
export function encodePassphrase(passphrase: string): Uint8Array<ArrayBuffer> {
  if (typeof passphrase !== "string") {
    throw new TypeError(
      `Cannot derive room key: passphrase must be a string, got ${typeof passphrase}`,
    );
  }
  if (passphrase.length === 0) {
    throw new RangeError("Cannot derive room key: passphrase is empty");
  }
  if (!passphrase.isWellFormed()) {
    throw new RangeError(
      "Cannot derive room key: passphrase contains a lone surrogate",
    );
  }
  return new TextEncoder().encode(passphrase.normalize("NFC"));
}

/** What {@linkcode deriveRoomKeyInWorker} posts to the Worker. */
export interface DeriveRequest {
  /** The passphrase as typed. */
  passphrase: string;
  /** The room's seal parameters (validated again in the Worker). */
  params: SealParams;
}

/** What the Worker posts back: the key bytes, or the error it hit. */
export type DeriveResponse =
  | { ok: true; key: Uint8Array<ArrayBuffer> }
  | { ok: false; name: string; message: string };
