/**
 * Byte streams for the client port's two ends, in the shape of a
 * `Deno.Conn` (`read` into a buffer, `write`, `closeWrite`, `close`), so the
 * code that reads and writes frames does not care whether TLS is under it:
 * a plain `Deno.TcpConn` is one already. {@linkcode SocketStream} adapts a
 * `node:tls` socket — the one way Deno 2 offers to run TLS on a connection
 * the node has already read from (a server-side `startTls` does not exist),
 * and to see the certificate a client was shown. {@linkcode ConnDuplex}
 * goes the other way: a `Deno.Conn`, with bytes already read put back in
 * front, as the `Duplex` a `node:tls` socket runs over, and as the socket
 * the HTTP port gives `node:http`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { writeAll } from "../../../core/bytes.ts";
import type { ByteReader } from "../read_loop.ts";

/** What the frame reader and the outbound queue use of a connection. */
export interface ByteStream extends ByteReader {
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
 * A `Deno.Conn` as a Node `Duplex` with a `net.Socket`'s address fields:
 * what `new tls.TLSSocket(duplex)` runs over, and what the HTTP port hands
 * `node:http` for each connection it accepts (a WebSocket then writes to
 * {@linkcode ConnDuplex.conn} itself, as the TCP port does). `first` (bytes
 * already read, e.g. to see whether a client speaks TLS) comes out before
 * anything else. Reads happen only when the reader above wants more, so
 * backpressure reaches the TCP window.
 */
export class ConnDuplex extends Duplex {
  /** The connection (closed when the duplex is destroyed). */
  readonly conn: Deno.Conn;
  /** The peer's address, as `net.Socket` has it. */
  readonly remoteAddress: string;
  /** The peer's port. */
  readonly remotePort: number;
  #pending: Uint8Array | undefined;
  #buffer = new Uint8Array(IDLE_READ_BYTES);
  readonly #onRead: ((bytes: Uint8Array) => void) | undefined;
  /** The read from `conn` in flight, if any: bytes, or null at its end. */
  #reading: Promise<Uint8Array | null> | undefined;
  /** Reads were taken over ({@linkcode ConnDuplex.takeReads}): nothing more is pushed. */
  #takenOver = false;
  /** `conn` ended (or failed) under a read. */
  #ended = false;
  /** See {@linkcode ConnDuplex.setTimeout}. */
  #idleMs = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param conn The connection (closed when the duplex is destroyed).
   * @param first Bytes read from it already.
   * @param onRead Sees each chunk read from `conn` (a client keeps what a node said instead of TLS).
   */
  constructor(conn: Deno.Conn, first = new Uint8Array(0), onRead?: (bytes: Uint8Array) => void) {
    // Half-open, as net.Server gives node:http: the side above ends its half itself.
    super({ allowHalfOpen: true });
    this.conn = conn;
    const remote = conn.remoteAddr as Deno.NetAddr;
    this.remoteAddress = remote.hostname;
    this.remotePort = remote.port;
    this.#pending = first.length > 0 ? first : undefined;
    this.#onRead = onRead;
  }

  /** As `net.Socket`: turns Nagle's algorithm off (or on), on TCP. */
  setNoDelay(noDelay = true): this {
    try {
      (this.conn as Partial<Deno.TcpConn>).setNoDelay?.(noDelay);
    } catch {
      // closed already: nothing to tune
    }
    return this;
  }

  /**
   * As `net.Socket`: emits `timeout` once nothing was read or written for
   * `ms` (0: never), as `node:http` asks of an idle keep-alive connection.
   */
  setTimeout(ms: number, callback?: () => void): this {
    this.#idleMs = ms;
    if (callback !== undefined) {
      if (ms === 0) this.off("timeout", callback);
      else this.once("timeout", callback);
    }
    this.#active();
    return this;
  }

  /** As `net.Socket`; keep-alive probes stay at the system's setting. */
  setKeepAlive(_enable?: boolean, _delayMs?: number): this {
    return this;
  }

  override _read(): void {
    if (this.#pending !== undefined) {
      const bytes = Buffer.from(this.#pending);
      // Not before the next turn: Deno's TLSSocket starts itself in a tick after it is made,
      // and a handshake that fails before then (garbage) crashes that start (Deno 2.9.6).
      // Held until then, so that a takeover meanwhile gets them.
      setTimeout(() => {
        if (this.#takenOver) return;
        this.#pending = undefined;
        this.push(bytes);
      }, 0);
      return;
    }
    if (this.#takenOver) return;
    const buffer = this.#buffer;
    const reading = this.conn.read(buffer).then((n) => {
      if (n === null) return null;
      const bytes = Buffer.from(buffer.subarray(0, n));
      this.#onRead?.(bytes);
      if (this.#idleMs > 0) this.#active();
      // Grown for a bulk sender, small again when it stops.
      if (n === buffer.length && n < MAX_READ_BYTES) {
        this.#buffer = new Uint8Array(MAX_READ_BYTES);
      } else if (n < IDLE_READ_BYTES && buffer.length > IDLE_READ_BYTES) {
        this.#buffer = new Uint8Array(IDLE_READ_BYTES);
      }
      return bytes;
    }, () => null);
    this.#reading = reading;
    reading.then((bytes) => {
      this.#reading = undefined;
      if (bytes === null) this.#ended = true;
      // Taken over meanwhile: the new reader gets these bytes (or the end) from #reading.
      if (!this.#takenOver) this.push(bytes);
    });
  }

  /**
   * Takes the connection's input away from the stream: from now on it is
   * read with the returned reader, straight from `conn` into the caller's
   * buffer (a WebSocket after its upgrade: no stream machinery and no copy
   * per read). What the stream had read already comes first.
   *
   * @param head Bytes read past what the stream's consumer used (an
   *   upgrade's `head`), which come before those.
   * @returns The reader.
   */
  takeReads(head: Uint8Array): ByteReader {
    this.#takenOver = true;
    // Bytes not yet given to the stream come before anything it gave its consumer.
    const backlog: Uint8Array[] = [this.#pending, head].filter((bytes) =>
      bytes?.length
    ) as Uint8Array[];
    for (let chunk = this.read(); chunk !== null; chunk = this.read()) backlog.push(chunk);
    // Held here: the stream forgets the read when it settles, perhaps while the backlog is read.
    let inFlight = this.#reading;
    let ended = this.#ended;
    return {
      read: async (buffer) => {
        if (backlog.length === 0 && inFlight !== undefined) {
          const bytes = await inFlight;
          inFlight = undefined;
          if (bytes === null) ended = true;
          else backlog.push(bytes);
        }
        if (backlog.length === 0) return ended ? null : this.conn.read(buffer);
        const chunk = backlog[0]!;
        const n = Math.min(chunk.length, buffer.length);
        buffer.set(chunk.subarray(0, n));
        if (n === chunk.length) backlog.shift();
        else backlog[0] = chunk.subarray(n);
        return n;
      },
    };
  }

  override _write(chunk: Uint8Array, _encoding: string, done: (error?: Error) => void): void {
    writeAll(this.conn, chunk).then(() => {
      if (this.#idleMs > 0) this.#active();
      done();
    }, done);
  }

  /** Something was read or written: the idle timer starts again. */
  #active(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = this.#idleMs > 0 && !this.destroyed
      ? setTimeout(() => this.emit("timeout"), this.#idleMs)
      : undefined;
  }

  override _final(done: (error?: Error) => void): void {
    // The peer may have gone: its FIN is as good as ours.
    this.conn.closeWrite().then(() => done(), () => done());
  }

  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    clearTimeout(this.#idleTimer);
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    done(error);
  }
}
