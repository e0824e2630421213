/**
 * Byte streams for the client port's two ends, in the shape of a
 * `Deno.Conn` (`read` into a buffer, `write`, `closeWrite`, `close`), so the
 * code that reads and writes frames does not care whether TLS is under it:
 * a plain `Deno.TcpConn` is one already. {@linkcode SocketStream} adapts a
 * `node:tls` socket — the one way Deno 2 offers to run TLS on a connection
 * the node has already read from (a server-side `startTls` does not exist),
 * and to see the certificate a client was shown. {@linkcode duplexOfConn}
 * goes the other way: a `Deno.TcpConn`, with bytes already read put back in
 * front, as the `Duplex` a `node:tls` socket runs over.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { writeAll } from "../../../core/bytes.ts";

/** What the frame reader and the outbound queue use of a connection. */
export interface ByteStream {
  /** Reads into `buffer`; resolves with the count, or `null` at end of stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes`, resolving with how many were written. */
  write(bytes: Uint8Array): Promise<number>;
  /** Sends end of stream (TLS: close_notify, then FIN) after what was written. */
  closeWrite(): Promise<void>;
  /** Closes both directions at once. */
  close(): void;
}

/** Received bytes held before a reader that stops reading pauses the socket. */
const HIGH_WATER_BYTES = 64 * 1024;

/**
 * A `node:net`/`node:tls` socket as a {@linkcode ByteStream}. A socket
 * error ends the stream (`read` resolves `null`): a failed handshake is a
 * closed connection to the code above, not a crash.
 */
export class SocketStream implements ByteStream {
  readonly #socket: Duplex;
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #wake: (() => void) | undefined;

  /**
   * @param socket The socket; this stream takes over its `data` events.
   */
  constructor(socket: Duplex) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      // Backpressure: a reader that waits (a rate-limited flood) leaves the bytes in TCP buffers.
      if (this.#queued >= HIGH_WATER_BYTES) socket.pause();
      this.#notify();
    });
    socket.on("end", () => this.#finish());
    socket.on("close", () => this.#finish());
    // Handled here so an error is never unhandled; the stream just ends.
    socket.on("error", () => this.#finish());
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    let n = 0;
    while (n < buffer.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(chunk.length, buffer.length - n);
      buffer.set(chunk.subarray(0, take), n);
      n += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    this.#queued -= n;
    if (this.#queued < HIGH_WATER_BYTES && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  write(bytes: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#socket.destroyed) {
        reject(new Deno.errors.BrokenPipe("Cannot write: the connection is closed"));
        return;
      }
      this.#socket.write(bytes, (error) => error ? reject(error) : resolve(bytes.length));
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#socket.writableEnded || this.#socket.destroyed) resolve();
      else this.#socket.end(() => resolve());
    });
  }

  close(): void {
    this.#socket.destroy();
    this.#finish();
  }

  #finish(): void {
    this.#ended = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** Largest read from the connection under a TLS socket (bytes): a full TLS record. */
const MAX_READ_BYTES = 16 * 1024;

/**
 * Read size while the peer sends little (bytes): an idle session waits in a
 * read holding this buffer, so 10,000 of them cost 10 MiB, not 160.
 */
const IDLE_READ_BYTES = 1024;

/**
 * A `Deno.TcpConn` as a Node `Duplex`, for `new tls.TLSSocket(duplex)`:
 * `first` (bytes already read, e.g. to see whether a client speaks TLS)
 * comes out before anything else. Reads happen only when the reader above
 * wants more, so backpressure reaches the TCP window.
 *
 * @param conn The connection (closed when the duplex is destroyed).
 * @param first Bytes read from it already.
 * @param onRead Sees each chunk read from `conn` (a client keeps what a node said instead of TLS).
 * @returns The duplex.
 */
export function duplexOfConn(
  conn: Deno.TcpConn,
  first: Uint8Array,
  onRead?: (bytes: Uint8Array) => void,
): Duplex {
  let pending: Uint8Array | undefined = first.length > 0 ? first : undefined;
  let buffer = new Uint8Array(IDLE_READ_BYTES);
  return new Duplex({
    read() {
      if (pending !== undefined) {
        const bytes = Buffer.from(pending);
        pending = undefined;
        // Not before the next turn: Deno's TLSSocket starts itself in a tick after it is made,
        // and a handshake that fails before then (garbage) crashes that start (Deno 2.9.6).
        setTimeout(() => this.push(bytes), 0);
        return;
      }
      conn.read(buffer).then(
        (n) => {
          if (n === null) return this.push(null);
          const bytes = Buffer.from(buffer.slice(0, n));
          onRead?.(bytes);
          // Grown for a bulk sender, small again when it stops.
          if (n === buffer.length && n < MAX_READ_BYTES) buffer = new Uint8Array(MAX_READ_BYTES);
          else if (n < IDLE_READ_BYTES && buffer.length > IDLE_READ_BYTES) {
            buffer = new Uint8Array(IDLE_READ_BYTES);
          }
          this.push(bytes);
        },
        () => this.push(null),
      );
    },
    write(chunk: Uint8Array, _encoding, done) {
      writeAll(conn, chunk).then(() => done(), done);
    },
    final(done) {
      conn.closeWrite().then(() => done(), () => done());
    },
    destroy(error, done) {
      try {
        conn.close();
      } catch {
        // already closed
      }
      done(error);
    },
  });
}
