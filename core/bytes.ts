/**
 * Byte helpers shared by the codecs and stores.
 *
 * @module
 */

/**
 * Joins byte arrays into one new array.
 *
 * @param parts The arrays, in order.
 * @returns A fresh array holding all of them.
 */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
