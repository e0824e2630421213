// Copyright meshchat authors. All rights reserved.
// Internal to core/crypto: strict base64 and hex codecs.

/**
 * Strict base64 (RFC 4648 section 4, padded) and base64url (section 5,
 * unpadded) codecs, plus lowercase hex.
 *
 * The decoders accept exactly one spelling per byte string: no whitespace, no
 * missing or extra padding, and the unused low bits of the last character must
 * be zero. Envelopes and seal parameters are therefore canonical: two
 * different strings never decode to the same bytes.
 *
 * @module
 */

const STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function decodeTable(alphabet: string): Int8Array {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) {
    table[alphabet.charCodeAt(i)] = i;
  }
  return table;
}

const STANDARD_TABLE = decodeTable(STANDARD);
const URL_SAFE_TABLE = decodeTable(URL_SAFE);

/** Which base64 flavour to use. */
export type Base64Alphabet = "base64" | "base64url";

/**
 * Encodes bytes as base64: `"base64"` is the padded standard alphabet,
 * `"base64url"` the unpadded URL-safe one.
 *
 * @param bytes The bytes to encode.
 * @param alphabet The flavour.
 * @returns The encoded text.
 *
 * @example
 * ```ts
 * import { encodeBase64 } from "./_base64.ts";
 * encodeBase64(new Uint8Array([0xfb, 0xff]), "base64url"); // "-_8"
 * ```
 */
export function encodeBase64(
  bytes: Uint8Array,
  alphabet: Base64Alphabet,
): string {
  // The built-in encoder (ES2026; Deno 2.5+, every current browser) is
  // several times faster than a loop and just as canonical.
  return bytes.toBase64({ alphabet, omitPadding: alphabet === "base64url" });
}

/**
 * Decodes strict base64 text (see the module doc for what strict means).
 *
 * @param text The text to decode.
 * @param alphabet The flavour: `"base64"` requires padding, `"base64url"`
 * forbids it.
 * @returns The decoded bytes.
 * @throws {SyntaxError} If the text is not canonical base64 of that flavour;
 * the error carries the character `offset`.
 *
 * @example
 * ```ts
 * import { decodeBase64 } from "./_base64.ts";
 * decodeBase64("-_8", "base64url"); // Uint8Array [0xfb, 0xff]
 * ```
 */
export function decodeBase64(
  text: string,
  alphabet: Base64Alphabet,
): Uint8Array<ArrayBuffer> {
  const table = alphabet === "base64" ? STANDARD_TABLE : URL_SAFE_TABLE;
  let end = text.length;
  if (alphabet === "base64") {
    if (end % 4 !== 0) {
      throw base64Error(`length ${end} is not a multiple of 4`, end);
    }
    if (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
    if (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
  }
  if (end % 4 === 1) {
    throw base64Error(`length ${end} cannot be base64`, end);
  }
  const out = new Uint8Array(Math.floor(end * 3 / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? table[code]! : -1;
    if (value < 0) {
      throw base64Error(`unexpected character at offset ${i}`, i);
    }
    acc = ((acc << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) {
    throw base64Error("non-zero padding bits", end - 1);
  }
  return out;
}

/** A {@linkcode SyntaxError} that says where decoding stopped. */
export class Base64SyntaxError extends SyntaxError {
  /** The character offset where decoding failed. */
  readonly offset: number;

  /**
   * Builds the error.
   *
   * @param message The full message.
   * @param offset The character offset where decoding failed.
   */
  constructor(message: string, offset: number) {
    super(message);
    this.name = "Base64SyntaxError";
    this.offset = offset;
  }
}

function base64Error(detail: string, offset: number): Base64SyntaxError {
  return new Base64SyntaxError(`Cannot decode base64: ${detail}`, offset);
}

/**
 * Encodes bytes as lowercase hex.
 *
 * @param bytes The bytes to encode.
 * @returns Two lowercase hex digits per byte.
 *
 * @example
 * ```ts
 * import { encodeHex } from "./_base64.ts";
 * encodeHex(new Uint8Array([1, 171])); // "01ab"
 * ```
 */
export function encodeHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += (b < 16 ? "0" : "") + b.toString(16);
  return out;
}

/**
 * Decodes hex (either case).
 *
 * @param text An even number of hex digits.
 * @returns The decoded bytes.
 * @throws {SyntaxError} If the text is not hex.
 *
 * @example
 * ```ts
 * import { decodeHex } from "./_base64.ts";
 * decodeHex("01ab"); // Uint8Array [1, 171]
 * ```
 */
export function decodeHex(text: string): Uint8Array<ArrayBuffer> {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new SyntaxError(
      `Cannot decode hex: input of length ${text.length} is not hex`,
    );
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}
