/**
 * The TCP frontend for the terminal client: protocol v1 (NDJSON) over
 * `Deno.listen`. A thin adapter — it splits the stream into lines, decodes
 * them, and hands each frame to its {@linkcode ProtocolConnection}
 * (../protocol_connection.ts, shared with the WebSocket): hello, the one
 * input path, acks, and the limits of a connection. It writes what the hub
 * sends back through a bounded {@linkcode OutboundQueue}. Bad input gets an
 * `error` frame; the connection and everyone else carry on.
 *
 * Limits (the options below): connections per address and in total, bytes
 * per minute, a hello deadline, an idle timeout; an offender is told why in
 * an `error` frame before it is closed. A connection flooding rate-limited
 * lines is read slowly, so the flood waits in its own TCP buffers rather
 * than in the node's event loop.
 *
 * TLS (./client_tls.ts): with the `tls` option the first bytes of each
 * connection say whether it is a TLS handshake; the rest of the connection
 * is then read and written through the TLS session, the same code above it.
 *
 * @module
 */
import { encodeFrame, FrameDecoder } from "../../../core/ndjson.ts";
import type { Hub } from "../../chat/hub.ts";
import type { Logger } from "../../logger.ts";
import { OutboundQueue } from "./outbound_queue.ts";
import { IDLE_READ_BYTES, readClient } from "../read_loop.ts";
import type { ErrorCode, ServerFrame } from "../../../core/protocol.ts";
import { type ClientPortTls, openClientStream } from "./client_tls.ts";
import type { ByteStream } from "./socket_stream.ts";
import {
  frameBytes,
  type FrameOutput,
  ProtocolConnection,
  type ProtocolOptions,
  protocolOptions,
  startIdleSweep,
} from "../protocol_connection.ts";

/** Options of {@linkcode ClientListener}: the limits every client protocol connection has. */
export interface ClientListenerOptions extends ProtocolOptions {
  /** TLS on this port (see ./client_tls.ts). @default {none: plain text only, nothing sniffed} */
  tls?: ClientPortTls;
}

/** A fanned-out frame's bytes, from the JSON every transport shares. */

/** Accepts terminal-client connections and serves each one. */
export class ClientListener {
  readonly #hub: Hub;
  readonly #listener: Deno.TcpListener;
  readonly #logger: Logger;
  readonly #options: Required<ProtocolOptions>;
  readonly #tls: ClientPortTls | undefined;
  readonly #connections = new Map<ClientConnection, Promise<void>>();
  #idleSweep: ReturnType<typeof setInterval> | undefined;

  /**
   * @param hub The hub to serve.
   * @param listener A bound TCP listener.
   * @param logger Logger.
   * @param options Limits.
   * @throws {RangeError} When `maxBytesPerMinute` is neither 0 nor at least 65536.
   */
  constructor(
    hub: Hub,
    listener: Deno.TcpListener,
    logger: Logger,
    options: ClientListenerOptions = {},
  ) {
    this.#hub = hub;
    this.#listener = listener;
    this.#logger = logger;
    this.#options = protocolOptions(options);
    this.#tls = options.tls;
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /**
   * Accepts connections until {@linkcode ClientListener.close} is called.
   *
   * @returns Resolves when the listener is closed.
   */
  async serve(): Promise<void> {
    this.#idleSweep = startIdleSweep(
      this.#options.idleTimeoutMs,
      () => [...this.#connections.keys()].map((connection) => connection.protocol),
    );
    try {
      for await (const conn of this.#listener) {
        const admission = this.#options.limits.admit(conn.remoteAddr.hostname);
        if (!admission.ok) {
          refuse(conn, admission.refusal.code, admission.refusal.message);
          this.#logger.debug("connection refused", {
            addr: conn.remoteAddr.hostname,
            code: admission.refusal.code,
          });
          continue;
        }
        const connection = new ClientConnection(
          this.#hub,
          conn,
          this.#logger,
          this.#options,
          this.#tls,
        );
        const running = connection.run().finally(() => {
          admission.release();
          this.#connections.delete(connection);
        });
        this.#connections.set(connection, running);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    } finally {
      clearInterval(this.#idleSweep);
    }
  }

  /**
   * Stops accepting, closes every connection (after its queued output, within
   * the grace period) and waits for them to end.
   *
   * @returns Resolves when all connections are closed.
   */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    clearInterval(this.#idleSweep);
    for (const connection of this.#connections.keys()) connection.protocol.close("shutdown");
    await Promise.all(this.#connections.values());
  }
}

/** One terminal-client connection: its socket, framing and output queue. */
class ClientConnection implements FrameOutput {
  readonly #conn: Deno.TcpConn;
  /** What frames are read from and written to: the TCP connection, or its TLS session. */
  #stream: ByteStream;
  readonly #tls: ClientPortTls | undefined;
  readonly #options: Required<ProtocolOptions>;
  readonly #queue: OutboundQueue;
  readonly #decoder: FrameDecoder;
  readonly #logger: Logger;
  /** The protocol over this socket, and the hub's sink for its session. */
  readonly protocol: ProtocolConnection;

  constructor(
    hub: Hub,
    conn: Deno.TcpConn,
    logger: Logger,
    options: Required<ProtocolOptions>,
    portTls: ClientPortTls | undefined,
  ) {
    this.#conn = conn;
    this.#stream = conn;
    this.#tls = portTls;
    this.#logger = logger;
    this.#options = options;
    this.#queue = new OutboundQueue({ write: (bytes) => this.#stream.write(bytes) }, {
      maxBytes: options.maxQueueBytes,
    });
    this.#decoder = new FrameDecoder({ maxLineBytes: options.maxLineBytes });
    this.protocol = new ProtocolConnection(hub, this, {
      via: "tcp",
      remote: conn.remoteAddr,
      logger,
      options,
    });
    try {
      conn.setNoDelay(true);
    } catch {
      // not fatal: only latency
    }
  }

  enqueue(frame: ServerFrame): boolean {
    return this.#queue.enqueue(frameBytes(frame));
  }

  enqueueLast(frame: ServerFrame): number {
    const dropped = this.#queue.discardPending();
    this.#queue.enqueue(encodeFrame(frame), true);
    return dropped;
  }

  get queuedBytes(): number {
    return this.#queue.queuedBytes;
  }

  close(_reason: string): void {
    const timer = setTimeout(() => this.#shut(), this.#options.closeGraceMs);
    this.#queue.drained().then(() => {
      clearTimeout(timer);
      this.#shut();
    });
  }

  async run(): Promise<void> {
    const protocol = this.protocol;
    protocol.start();
    let flooded = false;
    let buffer: Uint8Array = new Uint8Array(IDLE_READ_BYTES);
    try {
      let first: Uint8Array | undefined;
      if (this.#tls !== undefined) {
        const opened = await openClientStream(this.#conn, buffer, this.#tls);
        if (opened === null) return;
        if ("refusal" in opened) {
          this.#logger.debug("connection refused", {
            addr: protocol.address,
            tls: opened.wantedTls,
          });
          // Lingering: the rest of a ClientHello left unread would turn the close into a reset.
          protocol.drop(
            opened.wantedTls ? "bad_frame" : "tls_required",
            opened.refusal,
            false,
            true,
          );
          await this.#linger(buffer);
          return;
        }
        this.#stream = opened.stream;
        first = opened.first;
        if (opened.encrypted) this.#logger.debug("tls connection", { addr: protocol.address });
      }
      const end = await readClient(this.#stream, protocol, async (chunk) => {
        for (const line of this.#decoder.push(chunk)) {
          if (protocol.closing) break;
          if (line.ok) await protocol.handle(line.value);
          else protocol.refuseFrame(line.error);
        }
      }, { first, linger: true });
      flooded = end.flooded;
      buffer = end.buffer;
    } catch (error) {
      if (!protocol.closing && !isConnectionError(error)) {
        this.#logger.warn("connection failed", { addr: protocol.address, error: String(error) });
      }
    } finally {
      protocol.ended();
      if (flooded) await this.#linger(buffer);
      this.#queue.drained().then(() => this.#shut());
    }
  }

  /**
   * Sends what is queued and a FIN, then discards input for up to the close
   * grace period: closing with unread input would send a reset, and a reset
   * can destroy the error frame that says why.
   */
  async #linger(buffer: Uint8Array): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#options.closeGraceMs);
    });
    const drain = async () => {
      await this.#queue.drained();
      await this.#stream.closeWrite();
      while ((await this.#stream.read(buffer)) !== null) {
        // discarded
      }
    };
    await Promise.race([drain().catch(() => {}), deadline]);
    clearTimeout(timer);
  }

  #shut(): void {
    this.#queue.close();
    const closeAll = () => {
      for (const stream of [this.#stream, this.#conn]) {
        try {
          stream.close();
        } catch {
          // already closed
        }
      }
    };
    if (this.#stream === this.#conn) return closeAll();
    // TLS: close_notify after the last frame, so the peer reads it rather than a truncation.
    const timer = setTimeout(closeAll, this.#options.closeGraceMs);
    this.#stream.closeWrite().finally(() => {
      clearTimeout(timer);
      closeAll();
    });
  }
}

/** Tells a refused connection why, without waiting on it, and closes it. */
function refuse(conn: Deno.TcpConn, code: ErrorCode, message: string): void {
  const close = () => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  // One small frame fits any socket buffer; never wait long on a refused peer.
  const timer = setTimeout(close, 1000);
  conn.write(encodeFrame({ t: "error", code, message })).catch(() => {}).finally(() => {
    clearTimeout(timer);
    close();
  });
}

function isConnectionError(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.Interrupted;
}
