// Copyright meshchat authors. All rights reserved.

/**
 * Seal parameters: the public metadata that says how a sealed room's key is
 * derived from its passphrase, and the rules a client applies before it
 * spends any memory or time on them.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./_base64.ts";

/**
 * The public metadata a room's `seal` event carries: Argon2id's salt and cost.
 * Nothing here is secret.
 *
 * Clients take these parameters only from the room's metadata, never from a
 * message, and only after {@linkcode validateSealParams} accepted them.
 *
 * @example
 * ```json
 * { "v": 1, "kdf": "argon2id", "salt": "q0qTfOZ9vX3kP1b0n1eLkA==", "m": 65536, "t": 3, "p": 4,
 *   "check": "f18e73d6fd8b43c5" }
 * ```
 */
export interface SealParams {
  /** Format version of this object: always `1`. */
  v: 1;
  /** The key derivation function: always `"argon2id"` (RFC 9106, v 0x13). */
  kdf: "argon2id";
  /** The room salt: 16 random bytes, padded standard base64 (24 chars). */
  salt: string;
  /** Memory in KiB (hash-wasm's unit): 65536 = 64 MiB. */
  m: number;
  /** Passes over memory. */
  t: number;
  /** Lanes. */
  p: number;
  /**
   * Key check value: the room key's id (`RoomKey.id`, 16 lowercase
   * hex digits), so a member with a wrong passphrase is told as soon as the
   * key is made instead of at the first message. It is the very key id every
   * envelope of the room carries in clear, so it gives an offline guesser
   * nothing one sealed message does not: each guess still costs Argon2id.
   * Absent in rooms sealed before December 2026.
   */
  check?: string;
}

/** What a {@linkcode SealParams.check} looks like: 16 lowercase hex digits. */
const KEY_CHECK = /^[0-9a-f]{16}$/;

/** Bytes of random salt in {@linkcode SealParams.salt}. */
export const SALT_BYTES = 16;

/**
 * Smallest memory a client accepts, in KiB: 64 MiB, RFC 9106's second
 * recommended option. Anything lower is treated as a downgrade.
 */
export const MIN_MEMORY_KIB = 65_536;

/**
 * Largest memory a client accepts, in KiB: 1 GiB. Anything higher is treated
 * as a denial-of-service attempt on the people joining the room.
 */
export const MAX_MEMORY_KIB = 1_048_576;

/** Fewest passes a client accepts: 3, RFC 9106's second recommended option. */
export const MIN_ITERATIONS = 3;

/** Most passes a client accepts. */
export const MAX_ITERATIONS = 10;

/**
 * Fewest lanes a client accepts: 4, RFC 9106's second recommended option.
 *
 * Lanes do not change what a guess costs an attacker (that is memory × passes);
 * the floor only keeps every room on the same well-studied setting.
 */
export const MIN_PARALLELISM = 4;

/** Most lanes a client accepts. */
export const MAX_PARALLELISM = 255;

/**
 * Largest total work `m × t` (KiB × passes) a client accepts: 1 GiB over 3
 * passes, 16 times the default. Memory and passes are each capped too, but a
 * room at 1 GiB × 10 passes would still make every join take tens of seconds.
 */
export const MAX_COST = MAX_MEMORY_KIB * MIN_ITERATIONS;

/** The defaults {@linkcode newSealParams} uses: RFC 9106's second option. */
export const DEFAULT_SEAL_COST: Readonly<
  { memoryKib: number; iterations: number; parallelism: number }
> = Object.freeze({
  memoryKib: MIN_MEMORY_KIB,
  iterations: MIN_ITERATIONS,
  parallelism: MIN_PARALLELISM,
});

/** Options of {@linkcode newSealParams}. */
export interface NewSealParamsOptions {
  /**
   * Argon2id memory in KiB.
   *
   * @default {65536}
   */
  memoryKib?: number;
  /**
   * Argon2id passes.
   *
   * @default {3}
   */
  iterations?: number;
  /**
   * Argon2id lanes.
   *
   * @default {4}
   */
  parallelism?: number;
}

/**
 * Makes the seal parameters for a room being sealed now: a fresh 16-byte salt
 * from `crypto.getRandomValues` and the given (or default) cost.
 *
 * @param options Cost overrides; every value must pass
 * {@linkcode validateSealParams}.
 * @returns Parameters ready to publish in the room's metadata.
 * @throws {RangeError} If a cost is outside the limits clients accept.
 *
 * @example
 * ```ts
 * import { newSealParams } from "./room_params.ts";
 * const params = newSealParams();
 * // { v: 1, kdf: "argon2id", salt: "…24 chars…", m: 65536, t: 3, p: 4 }
 * ```
 */
export function newSealParams(options: NewSealParamsOptions = {}): SealParams {
  const {
    memoryKib = DEFAULT_SEAL_COST.memoryKib,
    iterations = DEFAULT_SEAL_COST.iterations,
    parallelism = DEFAULT_SEAL_COST.parallelism,
  } = options;
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  return validateSealParams({
    v: 1,
    kdf: "argon2id",
    salt: encodeBase64(salt, "base64"),
    m: memoryKib,
    t: iterations,
    p: parallelism,
  });
}

/**
 * Checks untrusted room metadata and returns a clean copy of it.
 *
 * A client calls this on whatever the network says a room's seal parameters
 * are, before deriving anything. It refuses a downgrade (memory, passes or
 * lanes under RFC 9106's second recommended option), a denial of service
 * (memory over 1 GiB, more than 10 passes, or m × t over
 * {@linkcode MAX_COST}), and anything it does not understand. Unknown extra
 * fields are dropped from the copy.
 *
 * @param value Parsed JSON from the room's metadata.
 * @returns The same parameters as a fresh {@linkcode SealParams}.
 * @throws {TypeError} If the value or a field has the wrong type.
 * @throws {RangeError} If the version or KDF is unknown, the salt is not 16
 * bytes of base64, a cost is outside the accepted limits, or a key check is
 * not 16 lowercase hex digits.
 *
 * @example
 * ```ts
 * import { validateSealParams } from "./room_params.ts";
 * import assert from "node:assert/strict";
 * const fromNetwork: unknown = JSON.parse(
 *   '{"v":1,"kdf":"argon2id","salt":"AAAAAAAAAAAAAAAAAAAAAA==","m":8,"t":3,"p":4}',
 * );
 * assert.throws(() => validateSealParams(fromNetwork), {
 *   name: "RangeError",
 *   message: "Cannot use seal parameters: memory 8 KiB is below the minimum 65536 KiB",
 * });
 * ```
 */
export function validateSealParams(value: unknown): SealParams {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Cannot use seal parameters: expected an object, got ${kindOf(value)}`,
    );
  }
  // Read every field once: a getter cannot answer differently later.
  const fields = { ...value } as Record<string, unknown>;
  const { v, kdf, salt: saltText } = fields;

  if (typeof v !== "number") {
    throw new TypeError(
      `Cannot use seal parameters: version must be a number, got ${kindOf(v)}`,
    );
  }
  if (v !== 1) {
    throw new RangeError(
      `Cannot use seal parameters: unknown version ${v}`,
    );
  }
  if (typeof kdf !== "string") {
    throw new TypeError(
      `Cannot use seal parameters: kdf must be a string, got ${kindOf(kdf)}`,
    );
  }
  if (kdf !== "argon2id") {
    throw new RangeError(
      `Cannot use seal parameters: unknown key derivation function ${
        JSON.stringify(kdf.slice(0, 32))
      }`,
    );
  }

  if (typeof saltText !== "string") {
    throw new TypeError(
      `Cannot use seal parameters: salt must be a base64 string, got ${kindOf(saltText)}`,
    );
  }
  if (saltText.length !== 24) {
    throw new RangeError(
      `Cannot use seal parameters: salt must be ${SALT_BYTES} bytes as 24 base64 characters, got ${saltText.length} characters`,
    );
  }
  let salt: Uint8Array;
  try {
    salt = decodeBase64(saltText, "base64");
  } catch (cause) {
    throw new RangeError(
      `Cannot use seal parameters: salt is not base64`,
      { cause },
    );
  }
  if (salt.length !== SALT_BYTES) {
    throw new RangeError(
      `Cannot use seal parameters: salt must be ${SALT_BYTES} bytes, got ${salt.length}`,
    );
  }

  const m = integerField(fields.m, "m", "memory");
  const t = integerField(fields.t, "t", "iterations");
  const p = integerField(fields.p, "p", "parallelism");
  if (m < MIN_MEMORY_KIB) {
    throw new RangeError(
      `Cannot use seal parameters: memory ${m} KiB is below the minimum ${MIN_MEMORY_KIB} KiB`,
    );
  }
  if (m > MAX_MEMORY_KIB) {
    throw new RangeError(
      `Cannot use seal parameters: memory ${m} KiB exceeds the maximum ${MAX_MEMORY_KIB} KiB`,
    );
  }
  if (t < MIN_ITERATIONS) {
    throw new RangeError(
      `Cannot use seal parameters: iterations ${t} is below the minimum ${MIN_ITERATIONS}`,
    );
  }
  if (t > MAX_ITERATIONS) {
    throw new RangeError(
      `Cannot use seal parameters: iterations ${t} exceeds the maximum ${MAX_ITERATIONS}`,
    );
  }
  if (p < MIN_PARALLELISM) {
    throw new RangeError(
      `Cannot use seal parameters: parallelism ${p} is below the minimum ${MIN_PARALLELISM}`,
    );
  }
  if (p > MAX_PARALLELISM) {
    throw new RangeError(
      `Cannot use seal parameters: parallelism ${p} exceeds the maximum ${MAX_PARALLELISM}`,
    );
  }
  if (m * t > MAX_COST) {
    throw new RangeError(
      `Cannot use seal parameters: cost m × t = ${m * t} exceeds the maximum ${MAX_COST}`,
    );
  }
  const { check } = fields;
  if (check === undefined) return { v: 1, kdf: "argon2id", salt: saltText, m, t, p };
  if (typeof check !== "string") {
    throw new TypeError(
      `Cannot use seal parameters: key check must be a string, got ${kindOf(check)}`,
    );
  }
  if (!KEY_CHECK.test(check)) {
    throw new RangeError(
      "Cannot use seal parameters: key check must be 16 lowercase hex digits",
    );
  }
  return { v: 1, kdf: "argon2id", salt: saltText, m, t, p, check };
}

/**
 * Decodes the salt of parameters that {@linkcode validateSealParams} accepted.
 *
 * @param params Validated parameters.
 * @returns The 16 salt bytes.
 * @throws {RangeError} If the salt is not 16 bytes of base64.
 *
 * @example
 * ```ts
 * import { newSealParams, sealParamsSalt } from "./room_params.ts";
 * sealParamsSalt(newSealParams()).length; // 16
 * ```
 */
export function sealParamsSalt(params: SealParams): Uint8Array<ArrayBuffer> {
  return decodeBase64(validateSealParams(params).salt, "base64");
}

function integerField(
  value: unknown,
  key: "m" | "t" | "p",
  name: string,
): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new TypeError(
      `Cannot use seal parameters: ${name} (${key}) must be an integer, got ${
        typeof value === "number" ? String(value) : kindOf(value)
      }`,
    );
  }
  return value;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}
