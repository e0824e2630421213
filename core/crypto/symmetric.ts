// Copyright meshchat authors. All rights reserved.

/**
 * HKDF-SHA-256 and AES-256-GCM, synchronous, from BearSSL's constant-time
 * code compiled to WebAssembly (`wasm/build.sh`, `wasm/aead.c`).
 *
 * Why not Web Crypto: every Web Crypto call is an asynchronous round trip
 * (about 20 µs in Deno), and a sealed message needs three on each side (HKDF,
 * key import, AES-GCM). Here a whole seal is a few microseconds, runs the
 * same in Deno and browsers, and needs no per-message key import. BearSSL's
 * `aes_ct64` and `ghash_ctmul64` use no secret-dependent table lookups or
 * branches, so the timing does not depend on keys or data. The tests check
 * these functions against RFC 5869 and NIST vectors and against Web Crypto
 * on random inputs.
 *
 * Inputs are copied into the module's memory and wiped after each call, so
 * no key outlives the call there.
 *
 * @module
 */

import { AEAD_WASM_BASE64 } from "./_aead_wasm.ts";

/** AES-256 key length in bytes. */
export const AES_KEY_BYTES = 32;
/** AES-GCM IV length in bytes (the 96-bit IV GCM is built for). */
export const GCM_IV_BYTES = 12;
/** AES-GCM tag length in bytes. */
export const GCM_TAG_BYTES = 16;
/** Most output one HKDF-SHA-256 call can give (RFC 5869: 255 · 32). */
export const HKDF_MAX_BYTES = 255 * 32;

/** AES-256-GCM in place over linear-memory addresses (see `wasm/aead.c`). */
type GcmFunction<R> = (
  key: number,
  iv: number,
  ad: number,
  adLen: number,
  data: number,
  len: number,
  tag: number,
) => R;

interface AeadExports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  mc_hkdf_state_size(): number;
  mc_hkdf_extract(ikm: number, ikmLen: number, salt: number, saltLen: number, state: number): void;
  mc_hkdf_expand(state: number, info: number, infoLen: number, out: number, outLen: number): void;
  mc_gcm_seal: GcmFunction<void>;
  /** Returns 1 when the tag matches. */
  mc_gcm_open: GcmFunction<number>;
}

const PAGE_BYTES = 65_536;
const wasm = (await WebAssembly.instantiate(
  Uint8Array.from(atob(AEAD_WASM_BASE64), (c) => c.charCodeAt(0)),
)).instance.exports as unknown as AeadExports;
const heapBase = wasm.__heap_base.value as number;

/**
 * Lays byte arrays out one after another from the heap base, growing the
 * module's memory when they do not fit, and wipes what it used.
 */
class Scratch {
  #end = heapBase;
  #view = new Uint8Array(wasm.memory.buffer);

  /** Copies `bytes` in (or reserves `length` zero bytes); returns the address. */
  put(bytes: Uint8Array | number): number {
    const length = typeof bytes === "number" ? bytes : bytes.length;
    const at = this.#end;
    this.#end += length;
    const needed = this.#end - wasm.memory.buffer.byteLength;
    if (needed > 0) {
      wasm.memory.grow(Math.ceil(needed / PAGE_BYTES));
      // Growing detaches the old buffer.
      this.#view = new Uint8Array(wasm.memory.buffer);
    }
    if (typeof bytes !== "number") this.#view.set(bytes, at);
    return at;
  }

  /** A copy of `length` bytes at `at`. */
  read(at: number, length: number): Uint8Array<ArrayBuffer> {
    return this.#view.slice(at, at + length);
  }

  /** Zeroes everything this scratch handed out. */
  wipe(): void {
    this.#view.fill(0, heapBase, this.#end);
    this.#end = heapBase;
  }
}

const scratch = new Scratch();

const HKDF_STATE_BYTES = wasm.mc_hkdf_state_size();
const EMPTY = new Uint8Array(0);

/**
 * HKDF-SHA-256 (RFC 5869) with the extract step done once, at
 * construction: each {@linkcode HkdfSha256.expand} then costs only the
 * expand's HMACs.
 *
 * @example
 * ```ts
 * const hkdf = new HkdfSha256(inputKeyMaterial);
 * const okm = hkdf.expand(new TextEncoder().encode("context"), 64);
 * ```
 */
export class HkdfSha256 {
  /** The PRK's HMAC key context, as the WebAssembly module lays it out. */
  #state: Uint8Array<ArrayBuffer>;

  /** Runs HKDF-Extract(salt, ikm); an empty salt means 32 zero bytes. */
  constructor(ikm: Uint8Array, salt: Uint8Array = EMPTY) {
    try {
      const ikmAt = scratch.put(ikm);
      const saltAt = scratch.put(salt);
      const stateAt = scratch.put(HKDF_STATE_BYTES);
      wasm.mc_hkdf_extract(ikmAt, ikm.length, saltAt, salt.length, stateAt);
      this.#state = scratch.read(stateAt, HKDF_STATE_BYTES);
    } finally {
      scratch.wipe();
    }
  }

  /** HKDF-Expand(PRK, info, length): `length` bytes, 1 to 8,160. */
  expand(info: Uint8Array, length: number): Uint8Array<ArrayBuffer> {
    if (!Number.isInteger(length) || length < 1 || length > HKDF_MAX_BYTES) {
      throw new RangeError(
        `Cannot run HKDF: length must be 1 to ${HKDF_MAX_BYTES} bytes, got ${length}`,
      );
    }
    try {
      const stateAt = scratch.put(this.#state);
      const infoAt = scratch.put(info);
      const outAt = scratch.put(length);
      wasm.mc_hkdf_expand(stateAt, infoAt, info.length, outAt, length);
      return scratch.read(outAt, length);
    } finally {
      scratch.wipe();
    }
  }
}

/**
 * AES-256-GCM encryption with a 96-bit IV: returns the ciphertext followed
 * by the 16-byte tag. Never reuse a (key, IV) pair.
 *
 * @example
 * ```ts
 * const sealed = aesGcmSeal(key, iv, plaintext, associatedData);
 * ```
 */
export function aesGcmSeal(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
): Uint8Array<ArrayBuffer> {
  checkKeyAndIv(key, iv);
  try {
    const keyAt = scratch.put(key);
    const ivAt = scratch.put(iv);
    const adAt = scratch.put(associatedData);
    const dataAt = scratch.put(plaintext);
    const tagAt = scratch.put(GCM_TAG_BYTES);
    wasm.mc_gcm_seal(keyAt, ivAt, adAt, associatedData.length, dataAt, plaintext.length, tagAt);
    // Data and tag are adjacent: one copy gives ciphertext ‖ tag.
    return scratch.read(dataAt, plaintext.length + GCM_TAG_BYTES);
  } finally {
    scratch.wipe();
  }
}

/**
 * AES-256-GCM decryption of ciphertext ‖ tag. Returns the plaintext, or
 * `null` when the tag does not verify (wrong key, IV, data or associated
 * data); no unauthenticated plaintext is ever returned.
 *
 * @example
 * ```ts
 * const plaintext = aesGcmOpen(key, iv, sealed, associatedData);
 * if (plaintext === null) throw new Error("tampered");
 * ```
 */
export function aesGcmOpen(
  key: Uint8Array,
  iv: Uint8Array,
  sealed: Uint8Array,
  associatedData: Uint8Array,
): Uint8Array<ArrayBuffer> | null {
  checkKeyAndIv(key, iv);
  if (sealed.length < GCM_TAG_BYTES) return null;
  const length = sealed.length - GCM_TAG_BYTES;
  try {
    const keyAt = scratch.put(key);
    const ivAt = scratch.put(iv);
    const adAt = scratch.put(associatedData);
    const dataAt = scratch.put(sealed);
    const ok = wasm.mc_gcm_open(
      keyAt,
      ivAt,
      adAt,
      associatedData.length,
      dataAt,
      length,
      dataAt + length,
    );
    return ok === 1 ? scratch.read(dataAt, length) : null;
  } finally {
    scratch.wipe();
  }
}

function checkKeyAndIv(key: Uint8Array, iv: Uint8Array): void {
  if (key.length !== AES_KEY_BYTES) {
    throw new RangeError(
      `Cannot run AES-256-GCM: key must be ${AES_KEY_BYTES} bytes, got ${key.length}`,
    );
  }
  if (iv.length !== GCM_IV_BYTES) {
    throw new RangeError(
      `Cannot run AES-256-GCM: IV must be ${GCM_IV_BYTES} bytes, got ${iv.length}`,
    );
  }
}
