// Copyright meshchat authors. All rights reserved.
// Internal to core/crypto: the only module that imports hash-wasm.

/**
 * Raw Argon2id (RFC 9106, version 0x13) through the hash-wasm WASM build.
 *
 * This is the one place WASM enters the crypto core. It checks nothing beyond
 * what Argon2 itself requires: production code must reach it only through
 * {@linkcode deriveRoomKey} / the worker, which validate {@linkcode SealParams}
 * first. Tests call it directly with small parameters and published vectors.
 *
 * hash-wasm accepts a secret (`K`) but has no associated-data (`X`)
 * parameter, so it always hashes with an empty `X`.
 *
 * @module
 */

import { argon2id } from "hash-wasm";

/**
 * The specifier this module imports hash-wasm by, for the one other place
 * that imports it: the key derivation Worker, whose source is not a file
 * (see `argon2_worker.ts`). It goes through the same import map, so both get
 * the same pinned build. The bare name matters: Deno loads an `npm:` package
 * without file permissions, but the `file:` URL of its cache copy (what
 * `import.meta.resolve` gives once it is loaded) would need read access.
 */
export const HASH_WASM_SPECIFIER = "hash-wasm";

/** Inputs of one raw Argon2id run. */
export interface Argon2idInput {
  /** The password `P`, already encoded (room keys use UTF-8 of NFC). */
  password: Uint8Array;
  /** The salt `S`: at least 8 bytes. */
  salt: Uint8Array;
  /** Memory `m` in KiB: at least 8 × `parallelism`. */
  memoryKib: number;
  /** Passes `t`: at least 1. */
  iterations: number;
  /** Lanes `p`: 1 to 2^24 − 1. */
  parallelism: number;
  /** Tag length `T` in bytes: at least 4. */
  hashLength: number;
  /** Optional secret `K`. */
  secret?: Uint8Array;
}

/**
 * Runs Argon2id once and returns the raw tag.
 *
 * @param input The password, salt and cost parameters.
 * @returns The `hashLength`-byte tag in a fresh buffer.
 * @throws {RangeError} If the parameters violate Argon2's own limits.
 *
 * @example
 * ```ts
 * import { argon2idRaw } from "./_argon2.ts";
 * const enc = new TextEncoder();
 * const tag = await argon2idRaw({
 *   password: enc.encode("password"),
 *   salt: enc.encode("somesalt"),
 *   memoryKib: 256,
 *   iterations: 2,
 *   parallelism: 1,
 *   hashLength: 32,
 * });
 * ```
 */
export async function argon2idRaw(
  input: Argon2idInput,
): Promise<Uint8Array<ArrayBuffer>> {
  const { memoryKib, iterations, parallelism, hashLength } = input;
  if (
    !Number.isSafeInteger(parallelism) || parallelism < 1 ||
    parallelism > 0xffffff
  ) {
    throw new RangeError(
      `Cannot run Argon2id: parallelism ${parallelism} is outside 1..16777215`,
    );
  }
  if (!Number.isSafeInteger(memoryKib) || memoryKib < 8 * parallelism) {
    throw new RangeError(
      `Cannot run Argon2id: memory ${memoryKib} KiB is below 8 × parallelism`,
    );
  }
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new RangeError(
      `Cannot run Argon2id: iterations ${iterations} is below 1`,
    );
  }
  if (!Number.isSafeInteger(hashLength) || hashLength < 4) {
    throw new RangeError(
      `Cannot run Argon2id: hash length ${hashLength} is below 4`,
    );
  }
  if (input.salt.length < 8) {
    throw new RangeError(
      `Cannot run Argon2id: salt of ${input.salt.length} bytes is below 8`,
    );
  }
  const tag = await argon2id({
    password: input.password,
    salt: input.salt,
    ...(input.secret === undefined ? {} : { secret: input.secret }),
    memorySize: memoryKib,
    iterations,
    parallelism,
    hashLength,
    outputType: "binary",
  });
  const out = new Uint8Array(hashLength);
  out.set(tag);
  tag.fill(0);
  return out;
}
