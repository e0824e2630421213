// Copyright meshchat authors. All rights reserved.
// Internal to core/crypto: passphrase → 32 key bytes, shared by the in-process
// path (room_key.ts) and the Worker path (argon2_worker.ts runs only Argon2id).

/**
 * The Argon2id step of room key derivation, and the message format between
 * {@linkcode deriveRoomKeyInWorker} and its Worker.
 *
 * @module
 */

import { type Argon2idInput, argon2idRaw } from "./_argon2.ts";
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
  const input = roomKeyArgon2Input(passphrase, params);
  try {
    return await argon2idRaw(input);
  } finally {
    input.password.fill(0);
  }
}

/**
 * The checked Argon2id input of a room key: what
 * {@linkcode deriveRoomKeyBytes} runs, and what the Worker is sent (it runs
 * Argon2id only, so every check happens here, in the caller).
 *
 * @param passphrase The room passphrase, any Unicode normalisation form.
 * @param params Seal parameters; validated again here.
 * @returns Fresh password bytes (zero them after use), salt and cost.
 * @throws {TypeError} If the passphrase or parameters have the wrong type.
 * @throws {RangeError} If the passphrase or parameters are refused.
 *
 * @example
 * ```ts
 * import { roomKeyArgon2Input } from "./_derive.ts";
 * import { newSealParams } from "./room_params.ts";
 * const input = roomKeyArgon2Input("correct horse", newSealParams());
 * input.hashLength; // 32
 * ```
 */
export function roomKeyArgon2Input(
  passphrase: string,
  params: SealParams,
): DeriveRequest {
  const checked = validateSealParams(params);
  return {
    password: encodePassphrase(passphrase),
    salt: decodeBase64(checked.salt, "base64"),
    memoryKib: checked.m,
    iterations: checked.t,
    parallelism: checked.p,
    hashLength: ROOM_KEY_BYTES,
  };
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

/**
 * What {@linkcode deriveRoomKeyInWorker} posts to the Worker: the checked
 * Argon2id input (from {@linkcode roomKeyArgon2Input}), the password
 * transferred so the caller keeps no copy.
 */
export interface DeriveRequest extends Argon2idInput {
  /** UTF-8 of the NFC passphrase; the Worker zeroes it. */
  password: Uint8Array<ArrayBuffer>;
  /** The 16 salt bytes. */
  salt: Uint8Array<ArrayBuffer>;
}

/** What the Worker posts back: the key bytes, or the error it hit. */
export type DeriveResponse =
  | { ok: true; key: Uint8Array<ArrayBuffer> }
  | { ok: false; name: string; message: string };
