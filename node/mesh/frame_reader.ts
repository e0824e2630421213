/**
 * Length-prefixed frames on a byte stream, the mesh channel's framing
 * (node/mesh/mesh_channel.ts): every frame is a 4-byte unsigned big-endian
 * length `L`, then `L` bytes of body. {@linkcode FrameReader} reads them
 * through one buffer that the handshake and the open channel share;
 * {@linkcode framed} makes them, and `writeAll` (core/bytes.ts) writes them.
 *
 * A length above what the reader allows is refused before its body is read
 * ({@linkcode FrameSizeError}), so garbage costs no memory; a stream that
 * ends inside a frame is a {@linkcode TruncatedFrameError}.
 *
 * @module
 */

/** Anything with the `Deno.Conn` read/write/close shape. */
export interface ByteStream {
  /** Reads into `p`; resolves to the number of bytes read, or `null` at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves to the number of bytes written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes both directions. */
  close(): void;
}

/** A frame's length is above the most the reader allows; its body was not read. */
export class FrameSizeError extends RangeError {
  /**
   * @param length The length the frame announced.
   * @param max The most allowed.
   */
  constructor(length: number, max: number) {
    super(`Cannot read mesh frame: length ${length} exceeds maximum ${max}`);
    this.name = "FrameSizeError";
  }
}

/** The stream ended inside a frame. */
export class TruncatedFrameError extends Error {
  constructor() {
    super("Cannot read mesh frame: connection ended inside a frame");
    this.name = "TruncatedFrameError";
  }
}

/** Reads length-prefixed frames through one buffer (see the module doc). */
export class FrameReader {
  #stream: ByteStream;
  #size: number;
  #buffer: Uint8Array<ArrayBuffer>;
  #start = 0;
  #end = 0;

  /**
   * @param stream Where the frames come from.
   * @param bufferBytes The usual buffer size (it grows beyond it for one large frame).
   */
  constructor(stream: ByteStream, bufferBytes: number) {
    this.#stream = stream;
    this.#size = bufferBytes;
    this.#buffer = new Uint8Array(bufferBytes);
  }

  /**
   * Sets the usual buffer size (it grows beyond it for one large frame).
   *
   * @param bytes The size.
   */
  resize(bytes: number): void {
    this.#size = bytes;
    if (this.#buffer.length < bytes) this.#buffer = this.#moved(bytes);
  }

  /**
   * Reads the next frame.
   *
   * @param maxBody The longest body accepted.
   * @returns The body, or `null` at end of stream between frames.
   * @throws {FrameSizeError} When the frame's length is above `maxBody`.
   * @throws {TruncatedFrameError} When the stream ends inside the frame.
   */
  async read(maxBody: number): Promise<Uint8Array<ArrayBuffer> | null> {
    if (!(await this.#fill(4))) return null;
    const b = this.#buffer;
    const s = this.#start;
    const length = b[s]! * 0x1000000 + (b[s + 1]! << 16 | b[s + 2]! << 8 | b[s + 3]!);
    if (length > maxBody) throw new FrameSizeError(length, maxBody);
    if (!(await this.#fill(4 + length))) throw new TruncatedFrameError();
    const body = this.#buffer.slice(this.#start + 4, this.#start + 4 + length);
    this.#start += 4 + length;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      if (this.#buffer.length > this.#size) this.#buffer = new Uint8Array(this.#size);
    }
    return body;
  }

  /**
   * Reads and discards up to `maxBytes`, until the end of stream or an error.
   *
   * @param maxBytes The most bytes to read.
   */
  async drain(maxBytes: number): Promise<void> {
    let total = 0;
    while (total < maxBytes) {
      const got = await this.#stream.read(this.#buffer);
      if (got === null) return;
      total += got;
    }
  }

  /** Buffers `n` bytes; false at end of stream with nothing buffered. */
  async #fill(n: number): Promise<boolean> {
    while (this.#end - this.#start < n) {
      if (this.#start + n > this.#buffer.length) {
        this.#buffer = this.#moved(Math.max(n, this.#buffer.length));
      }
      const got = await this.#stream.read(this.#buffer.subarray(this.#end));
      if (got === null) {
        if (this.#end === this.#start) return false;
        throw new TruncatedFrameError();
      }
      this.#end += got;
    }
    return true;
  }

  /** Moves the unread bytes to the start of a buffer of `bytes` (this one if big enough). */
  #moved(bytes: number): Uint8Array<ArrayBuffer> {
    const kept = this.#buffer.subarray(this.#start, this.#end);
    const next = bytes > this.#buffer.length ? new Uint8Array(bytes) : this.#buffer;
    next.set(kept, 0);
    this.#end -= this.#start;
    this.#start = 0;
    return next;
  }
}

/**
 * Concatenates frames, each with its length prefix, for one write.
 *
 * @param bodies The frame bodies.
 * @returns The bytes to write.
 */
export function framed(...bodies: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const body of bodies) size += 4 + body.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const body of bodies) {
    view.setUint32(at, body.length);
    out.set(body, at + 4);
    at += 4 + body.length;
  }
  return out;
}

/**
 * Closes a stream, ignoring that it may be closed already.
 *
 * @param stream The stream.
 */
export function closeQuietly(stream: ByteStream): void {
  try {
    stream.close();
  } catch {
    // Already closed.
  }
}
