// Copyright meshchat authors. All rights reserved.

/**
 * The room key: Argon2id(passphrase, room salt), derived once per room per
 * session and held as the HKDF-SHA-256 pseudorandom key it extracts to.
 *
 * @module
 */

import { encodeHex } from "./_base64.ts";
import {
  type DeriveResponse,
  deriveRoomKeyBytes,
  ROOM_KEY_BYTES,
  roomKeyArgon2Input,
} from "./_derive.ts";
import { argon2WorkerUrl } from "./argon2_worker.ts";
import type { SealParams } from "./room_params.ts";
import { HkdfSha256 } from "./symmetric.ts";

export { ROOM_KEY_BYTES };

/** Bytes of the random per-message nonce in HKDF's info. */
export const MESSAGE_NONCE_BYTES = 24;

/** Bytes of the per-message key commitment. */
export const COMMITMENT_BYTES = 32;

/** Bytes of a room key id. */
export const KEY_ID_BYTES = 8;

const MESSAGE_INFO = new TextEncoder().encode("meshchat/v1 msg");
const KEY_ID_INFO = new TextEncoder().encode("meshchat/v1 key id");

/**
 * The one-message secrets {@linkcode RoomKey.deriveMessageKey} returns.
 */
export interface MessageKey {
  /** The AES-256-GCM key, used for exactly one message; zero it after use. */
  key: Uint8Array<ArrayBuffer>;
  /** The 32-byte key commitment stored in the envelope. */
  commitment: Uint8Array<ArrayBuffer>;
}

/**
 * A sealed room's key. Holds the HKDF-SHA-256 pseudorandom key extracted
 * from the 32 Argon2id bytes (salt "", so every member extracts the same),
 * plus a public key id. Each message key is then one HKDF-Expand: two
 * HMAC-SHA-256 calls in WebAssembly, no Web Crypto round trip.
 *
 * Make one with {@linkcode deriveRoomKeyInWorker} (preferred in a UI) or
 * {@linkcode deriveRoomKey}, once per room per session, and reuse it for
 * every message: deriving per message would cost every receiver Argon2id per
 * frame, junk included.
 *
 * @example
 * ```ts
 * import { deriveRoomKey, newSealParams } from "./mod.ts";
 * const key = await deriveRoomKey("correct horse battery staple", newSealParams());
 * key.id; // 16 hex digits, the same for everyone with the same passphrase
 * ```
 */
export class RoomKey {
  #hkdf: HkdfSha256;
  #id: Uint8Array<ArrayBuffer>;

  private constructor(hkdf: HkdfSha256) {
    this.#hkdf = hkdf;
    this.#id = hkdf.expand(KEY_ID_INFO, KEY_ID_BYTES);
  }

  /**
   * Imports 32 bytes that already came out of Argon2id (for instance from a
   * Worker, or a key cache). It does not stretch anything: never pass a
   * passphrase's bytes here.
   *
   * The key id is `HKDF-SHA-256(IKM = bytes, salt = "", info = "meshchat/v1
   * key id")`, first 8 bytes. It identifies the key in envelopes so that a
   * wrong passphrase can be told apart from tampering. It reveals nothing
   * that the per-message commitment does not: both let someone holding an
   * envelope test passphrase guesses at Argon2id's cost, which is what the
   * Argon2id floor is for. The same id is published as the room's key check
   * (`SealParams.check`), so the seal tells a guesser no more than one
   * envelope does, and a member with a wrong passphrase learns it at once.
   *
   * @param bytes Exactly 32 bytes; the caller may zero them afterwards.
   * @returns The room key.
   * @throws {RangeError} If `bytes` is not 32 bytes long.
   *
   * @example
   * ```ts
   * import { RoomKey } from "./room_key.ts";
   * const key = RoomKey.fromBytes(crypto.getRandomValues(new Uint8Array(32)));
   * ```
   */
  static fromBytes(bytes: Uint8Array): RoomKey {
    if (!(bytes instanceof Uint8Array) || bytes.length !== ROOM_KEY_BYTES) {
      throw new RangeError(
        `Cannot import room key: expected ${ROOM_KEY_BYTES} bytes, got ${
          bytes instanceof Uint8Array ? bytes.length : typeof bytes
        }`,
      );
    }
    return new RoomKey(new HkdfSha256(bytes));
  }

  /**
   * The key id as 16 lowercase hex digits. Public: it travels in every
   * envelope.
   *
   * @returns The key id.
   */
  get id(): string {
    return encodeHex(this.#id);
  }

  /**
   * The key id bytes.
   *
   * @returns A copy of the 8 key id bytes.
   */
  idBytes(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.#id);
  }

  /**
   * Derives one message's AES key and key commitment:
   * `HKDF-SHA-256(IKM = room key, salt = "", info = "meshchat/v1 msg" ‖
   * nonce)`, 64 bytes; bytes 0–31 are the AES-256-GCM key, bytes 32–63 the
   * commitment. The nonce goes in `info` rather than `salt` so the extract
   * step is the same for every message and runs once, in
   * {@linkcode RoomKey.fromBytes}.
   *
   * @param nonce The message's 24 random bytes.
   * @returns The AES key and the commitment.
   * @throws {RangeError} If the nonce is not 24 bytes.
   *
   * @example
   * ```ts
   * import { RoomKey } from "./room_key.ts";
   * const key = RoomKey.fromBytes(new Uint8Array(32));
   * const { commitment } = key.deriveMessageKey(new Uint8Array(24));
   * commitment.length; // 32
   * ```
   */
  deriveMessageKey(nonce: Uint8Array): MessageKey {
    if (nonce.length !== MESSAGE_NONCE_BYTES) {
      throw new RangeError(
        `Cannot derive message key: nonce must be ${MESSAGE_NONCE_BYTES} bytes, got ${nonce.length}`,
      );
    }
    const info = new Uint8Array(MESSAGE_INFO.length + MESSAGE_NONCE_BYTES);
    info.set(MESSAGE_INFO);
    info.set(nonce, MESSAGE_INFO.length);
    const bits = this.#hkdf.expand(info, 32 + COMMITMENT_BYTES);
    return { key: bits.subarray(0, 32), commitment: bits.slice(32) };
  }
}

/**
 * Derives a room key in this thread (Argon2id blocks it for ~0.3 s); prefer
 * {@linkcode deriveRoomKeyInWorker} in a UI. Same result.
 *
 * @param passphrase The room passphrase.
 * @param params The room's seal parameters, straight from its metadata.
 * @returns The room key.
 * @throws {TypeError} If the parameters have the wrong shape.
 * @throws {RangeError} If the passphrase or parameters are refused.
 *
 * @example
 * ```ts
 * import { deriveRoomKey, newSealParams } from "./mod.ts";
 * const key = await deriveRoomKey("correct horse battery staple", newSealParams());
 * ```
 */
export async function deriveRoomKey(
  passphrase: string,
  params: SealParams,
): Promise<RoomKey> {
  const bytes = await deriveRoomKeyBytes(passphrase, params);
  try {
    return RoomKey.fromBytes(bytes);
  } finally {
    bytes.fill(0);
  }
}

/** Options of {@linkcode deriveRoomKeyInWorker}. */
export interface DeriveRoomKeyInWorkerOptions {
  /**
   * Aborts the derivation: the Worker is terminated and the promise rejects
   * with the signal's reason.
   */
  signal?: AbortSignal;
  /**
   * The Worker script: it receives a `DeriveRequest` and answers with a
   * `DeriveResponse` (see `argon2_worker.ts`). Override only where the default
   * cannot resolve hash-wasm (a bundle without an import map).
   *
   * @default {argon2WorkerUrl(): a data: URL, so no file is read}
   */
  workerUrl?: string | URL;
}

/**
 * Derives a room key in a module Worker, so the caller's event loop keeps
 * running (typing, rendering, network) during Argon2id. One Worker per call;
 * it is terminated when the key arrives, on error, or on abort. Same result
 * as {@linkcode deriveRoomKey}.
 *
 * The Worker's script is a `data:` URL (see `argon2_worker.ts`): starting
 * it reads no file, so under Deno it needs no permission and never prompts
 * (a prompt cannot be answered while a terminal is in raw mode).
 *
 * @param passphrase The room passphrase.
 * @param params The room's seal parameters, straight from its metadata.
 * @param options Abort signal and Worker location.
 * @returns The room key.
 * @throws {TypeError} If the parameters have the wrong shape.
 * @throws {RangeError} If the passphrase or parameters are refused.
 * @throws {Error} If the Worker cannot start or dies.
 *
 * @example
 * ```ts
 * import { deriveRoomKeyInWorker, newSealParams } from "./mod.ts";
 * const key = await deriveRoomKeyInWorker("correct horse battery staple", newSealParams(), {
 *   signal: AbortSignal.timeout(30_000),
 * });
 * ```
 */
export async function deriveRoomKeyInWorker(
  passphrase: string,
  params: SealParams,
  options: DeriveRoomKeyInWorkerOptions = {},
): Promise<RoomKey> {
  const { signal, workerUrl } = options;
  // Every check happens here, before a Worker exists: it only runs Argon2id.
  const request = roomKeyArgon2Input(passphrase, params);
  try {
    signal?.throwIfAborted();
    if (typeof Worker !== "function") {
      throw new Error(
        "Cannot derive room key in worker: Worker is not available here",
      );
    }
  } catch (error) {
    request.password.fill(0);
    throw error;
  }
  let worker: Worker;
  try {
    worker = new Worker(workerUrl ?? argon2WorkerUrl(), { type: "module" });
  } catch (error) {
    request.password.fill(0);
    throw new Error(
      `Cannot derive room key in worker: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const bytes = await new Promise<Uint8Array<ArrayBuffer>>(
    (resolve, reject) => {
      const finish = () => {
        worker.terminate();
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        finish();
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      worker.onmessage = (event: MessageEvent<DeriveResponse>) => {
        finish();
        const response = event.data;
        if (response.ok) {
          resolve(response.key);
        } else {
          reject(reviveError(response.name, response.message));
        }
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        finish();
        reject(
          new Error(`Cannot derive room key in worker: ${event.message}`),
        );
      };
      worker.onmessageerror = () => {
        finish();
        reject(
          new Error("Cannot derive room key in worker: unreadable reply"),
        );
      };
      // Transferred: the password bytes leave this thread.
      worker.postMessage(request, [request.password.buffer]);
    },
  );
  try {
    return RoomKey.fromBytes(bytes);
  } finally {
    bytes.fill(0);
  }
}

function reviveError(name: string, message: string): Error {
  switch (name) {
    case "TypeError":
      return new TypeError(message);
    case "RangeError":
      return new RangeError(message);
    default:
      return new Error(message);
  }
}
