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

/** Anything that writes some of the bytes it is given (a socket, a stream). */
export interface ByteWriter {
  /** Writes some of `bytes`, resolving with how many were written. */
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * Writes every byte, however many writes the writer needs.
 *
 * @param writer The writer.
 * @param bytes What to write.
 * @throws {Error} When the writer accepts no bytes, or whatever its write throws.
 */
export async function writeAll(writer: ByteWriter, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) {
    const n = await writer.write(bytes.subarray(at));
    if (!(n > 0)) throw new Error("Cannot write: the stream accepted no bytes");
    at += n;
  }
}
