/**
 * The WebSocket frontend: client protocol v1 at `GET /ws` on the node's
 * HTTP port, for the web client. One JSON frame per WebSocket text message,
 * both ways; the frames, limits and errors are the TCP port's, because both
 * run on one {@linkcode ProtocolConnection} (../protocol_connection.ts):
 * hello deadline, idle timeout, bytes per minute, connection counts and
 * offences per address (`ConnectionLimits`, shared with TCP and SSH), rate
 * limits and acks on the one input path. Sessions say `via: "web"`. A
 * handshake whose cookie carries a web sign-in credential (signin.ts,
 * `identify`) speaks for that SSH key: its session's origin has the key's
 * fingerprint, as an SSH session's does, so the key's nicks are allowed and
 * moderation by key applies. Without one the visitor is a guest, under the
 * rules of SSH guests: no nick an SSH key owns.
 *
 * What is the WebSocket's own:
 *
 * - **Origin** (cross-site WebSocket hijacking): a browser sends the page's
 *   origin with the handshake. It must name the host:port the request was
 *   sent to (the `Host` header: the node's own page), or one of the
 *   `webOrigins` (`--web-origin`, a reverse proxy's public origin); any
 *   other is refused with 403 before the upgrade. A handshake without
 *   `Origin` is not from a browser page, and a hijacking needs one: it is
 *   served like a TCP client.
 * - **Refusals before the upgrade**: over the per-address or total limit,
 *   or cooling off, the handshake is answered 429 or 503 with the `error`
 *   frame as its JSON body, and the connection closes.
 * - **The wire is framed here** (ws_wire.ts), on the connection the HTTP
 *   server hands over after the 101: each frame's bytes are made once per
 *   fan-out and shared by every reader, and written through the TCP port's
 *   {@linkcode OutboundQueue}, so a WebSocket reader costs the node about
 *   what a TCP reader does. (`Deno.upgradeWebSocket` copies each message
 *   per reader: four times the CPU, tests/bench/ws_fanout.ts.)
 * - **Batched output** (opt-in): a client that offers the subprotocol
 *   {@linkcode NDJSON_PROTOCOL} gets it echoed, and then each write the
 *   queue makes (the frames of a burst, and whatever queued while the
 *   last write was in flight: what TCP would write at once) is one text
 *   message of NDJSON lines. What it sends stays one frame per message.
 * - **Frames**: a text message is one frame; a binary message is told
 *   `bad_frame` and closed (1003), and so is a frame RFC 6455 does not allow
 *   from a client (unmasked, reserved bits, a split control frame) or text
 *   that is not UTF-8; a message whose declared size is over `maxLineBytes`
 *   is told `line_too_long` and closed (1009) before it is read. Pings are
 *   answered.
 * - **Slow readers**: the queue and the socket's own buffer are the output
 *   queue, bounded by `maxQueueBytes` as TCP's is: a reader too far behind
 *   is dropped (`overflow`) after the fan-out in progress.
 * - **Close codes** say why: 1000 quit (or the hub's words: a kick), 1001
 *   shutdown, 1003 bad frame, 1008 policy (`overflow`, `flood`,
 *   `no_hello`, `idle_timeout`), 1009 message too big, 1011 server error;
 *   the reason is the `error` code, and an `error` frame comes first. The
 *   close frame follows what was queued (within the close grace period), and
 *   a peer that does not close its side within the grace period is cut off.
 *
 * @module
 */
import { decodeFrameText, encodeFrame } from "../../../core/ndjson.ts";
import type { ServerFrame } from "../../../core/protocol.ts";
import type { Hub } from "../../chat/hub.ts";
import type { Logger } from "../../logger.ts";
import type { Refusal } from "../connection_limits.ts";
import {
  encodedOncePerFrame,
  frameBytes,
  type FrameOutput,
  ProtocolConnection,
  type ProtocolOptions,
  protocolOptions,
  startIdleSweep,
} from "../protocol_connection.ts";
import { concatBytes } from "../../../core/bytes.ts";
import { OutboundQueue } from "../tcp/outbound_queue.ts";
import { readClient } from "../read_loop.ts";
import { sharedJoin } from "../write_batches.ts";
import type { ConnDuplex } from "../tcp/socket_stream.ts";
import type { RequestInfo, WebSocketAnswer, WebSocketRoute } from "./http_server.ts";
import {
  acceptKey,
  closeFrame,
  pongFrame,
  textFrame,
  textFrameOf,
  validKey,
  type WireEvent,
  WireReader,
} from "./ws_wire.ts";

/**
 * The WebSocket subprotocol (`Sec-WebSocket-Protocol`) of batched output:
 * node → client messages carry one or more frames, each a line of JSON
 * ending in `\n` (docs/protocol.md#websocket).
 */
export const NDJSON_PROTOCOL = "meshchat.ndjson";

/** Options of {@linkcode WebSocketFrontend}. */
export interface WebSocketFrontendOptions extends ProtocolOptions {
  /**
   * Origins, besides the node's own, whose pages may open the WebSocket:
   * a reverse proxy's public origin such as `https://chat.example.com`
   * (`--web-origin`). Each an `http:` or `https:` origin.
   * @default none
   */
  webOrigins?: readonly string[];
  /**
   * The SSH key a handshake's request speaks for: the web sign-in
   * credential its cookie carries (signin.ts), as a `SHA256:` fingerprint;
   * undefined makes the visitor a guest. @default everyone is a guest
   */
  identify?: (request: Request) => string | undefined;
}

/** The close code of each reason a connection is closed for; others close with 1000. */
const CLOSE_CODES: Readonly<Record<string, number>> = {
  shutdown: 1001,
  bad_frame: 1003,
  overflow: 1008,
  flood: 1008,
  no_hello: 1008,
  idle_timeout: 1008,
  line_too_long: 1009,
  server_error: 1011,
};

/** The HTTP status of each refusal of a new connection. */
const REFUSAL_STATUS: Readonly<Record<Refusal["code"], number>> = {
  too_many_connections: 429,
  refused: 429,
  server_full: 503,
};

/** Pongs and close frames queued among the NDJSON lines of batched connections. */
const controlFrames = new WeakSet<Uint8Array>();

/**
 * A batched connection's batch as written: each run of NDJSON lines one
 * text message, a control frame as it is. Built once for every reader of a
 * fan-out given the same chunks (write_batches.ts).
 */
const batchedMessages = sharedJoin((chunks: readonly Uint8Array[]) => {
  if (!chunks.some((chunk) => controlFrames.has(chunk))) return textFrameOf(chunks);
  const frames: Uint8Array[] = [];
  let lines: Uint8Array[] = [];
  for (const chunk of chunks) {
    if (!controlFrames.has(chunk)) {
      lines.push(chunk);
      continue;
    }
    if (lines.length > 0) frames.push(textFrameOf(lines));
    lines = [];
    frames.push(chunk);
  }
  if (lines.length > 0) frames.push(textFrameOf(lines));
  return concatBytes(...frames);
});

/** One frame as one text message (its NDJSON line without the newline), framed once per fan-out. */
const messageOf = encodedOncePerFrame((frame) => {
  const line = frameBytes(frame);
  return textFrame(line.subarray(0, line.length - 1));
});

/**
 * Serves protocol v1 over WebSockets: hand {@linkcode WebSocketFrontend.handler}
 * to the HTTP server for `GET /ws`.
 *
 * @example
 * ```ts ignore
 * const web = new WebSocketFrontend(hub, logger, { limits, webOrigins: ["https://chat.example.com"] });
 * Deno.serve({ port: 8090 }, (request, info) =>
 *   new URL(request.url).pathname === "/ws" ? web.handler(request, info) : new Response(null, { status: 404 }));
 * // at shutdown:
 * await web.close();
 * ```
 */
export class WebSocketFrontend {
  readonly #hub: Hub;
  readonly #logger: Logger;
  readonly #options: Required<ProtocolOptions>;
  readonly #webOrigins: ReadonlySet<string>;
  readonly #identify: (request: Request) => string | undefined;
  readonly #connections = new Set<WsConnection>();
  #idleSweep: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /**
   * @param hub The hub to serve.
   * @param logger Logger.
   * @param options Limits (share `limits` with the other frontends) and extra origins.
   * @throws {RangeError} When `maxBytesPerMinute` is neither 0 nor at least
   *   65536, or a web origin is not an `http:` or `https:` origin.
   */
  constructor(hub: Hub, logger: Logger, options: WebSocketFrontendOptions = {}) {
    const { webOrigins = [], identify = () => undefined, ...protocol } = options;
    this.#hub = hub;
    this.#logger = logger;
    this.#options = protocolOptions(protocol);
    this.#webOrigins = new Set(webOrigins.map(webOrigin));
    this.#identify = identify;
  }

  /** Connections open now (closing ones included until their socket is gone). */
  get connections(): number {
    return this.#connections.size;
  }

  /** The route of `GET /ws`: checks the origin and the limits, then upgrades. */
  readonly handler: WebSocketRoute = (request, info, upgradable) =>
    this.#serve(request, info, upgradable);

  /**
   * Refuses new connections, closes every open one (`shutdown`, 1001) and
   * waits for their sockets to close, at most the close grace period: the
   * HTTP server's shutdown ends the rest.
   *
   * @returns Resolves when they closed, or the grace period is over.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const open = [...this.#connections];
    for (const connection of open) connection.protocol.close("shutdown");
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(open.map((connection) => connection.closed)),
      new Promise((resolve) => timer = setTimeout(resolve, this.#options.closeGraceMs)),
    ]);
    clearTimeout(timer);
    this.#stopIdleSweep();
  }

  async #serve(request: Request, info: RequestInfo, upgradable: boolean): Promise<WebSocketAnswer> {
    const remote = info.remoteAddr;
    if (this.#closed) return plain(503, "Service unavailable: the node is shutting down");
    const origin = request.headers.get("origin");
    if (origin !== null && !this.#originAllowed(origin, request.headers.get("host"))) {
      this.#logger.info("websocket refused", { addr: remote.hostname, origin, code: "origin" });
      return plain(
        403,
        "Forbidden: this WebSocket opens only from the node's own pages (--web-origin adds others)",
      );
    }
    if (!upgradable || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return plain(426, "Upgrade required: /ws speaks WebSocket only", { upgrade: "websocket" });
    }
    const key = request.headers.get("sec-websocket-key");
    if (request.method !== "GET" || !validKey(key)) {
      return plain(400, "Bad request: not a WebSocket handshake (GET with Sec-WebSocket-Key)");
    }
    if (request.headers.get("sec-websocket-version") !== "13") {
      return plain(426, "Upgrade required: WebSocket version 13", {
        "sec-websocket-version": "13",
      });
    }
    const admission = this.#options.limits.admit(remote.hostname);
    if (!admission.ok) {
      const { code, message } = admission.refusal;
      this.#logger.debug("connection refused", { addr: remote.hostname, via: "web", code });
      return {
        refused: new Response(JSON.stringify({ t: "error", code, message }), {
          status: REFUSAL_STATUS[code],
          headers: { "content-type": "application/json" },
        }),
      };
    }
    const batched = offers(request.headers.get("sec-websocket-protocol"), NDJSON_PROTOCOL);
    const fingerprint = this.#identify(request);
    const upgrade: Record<string, string> = {
      "Upgrade": "websocket",
      "Connection": "Upgrade",
      "Sec-WebSocket-Accept": await acceptKey(key),
      ...(batched ? { "Sec-WebSocket-Protocol": NDJSON_PROTOCOL } : {}),
    };
    const accepted = (socket: ConnDuplex, head: Uint8Array) => {
      const connection = new WsConnection(this.#hub, socket, {
        via: "web",
        remote,
        logger: this.#logger,
        options: this.#options,
        ...(fingerprint === undefined ? {} : { fingerprint }),
      }, batched);
      this.#connections.add(connection);
      this.#idleSweep ??= startIdleSweep(this.#options.idleTimeoutMs, () => this.#protocols());
      connection.closed.then(() => {
        admission.release();
        this.#connections.delete(connection);
        if (this.#connections.size === 0) this.#stopIdleSweep();
      });
      connection.start(head);
    };
    return { upgrade, accepted };
  }

  *#protocols(): Iterable<ProtocolConnection> {
    for (const connection of this.#connections) yield connection.protocol;
  }

  #stopIdleSweep(): void {
    clearInterval(this.#idleSweep);
    this.#idleSweep = undefined;
  }

  #originAllowed(origin: string, host: string | null): boolean {
    return pageOriginAllowed(origin, host, this.#webOrigins);
  }
}

/**
 * Whether a request's `Origin` is one of the node's own pages: the
 * request's `Host`, with either scheme, or one of the configured web
 * origins. The WebSocket and the sign-in and key pages' POSTs ask it.
 *
 * @param origin The `Origin` header.
 * @param host The `Host` header.
 * @param webOrigins Other origins allowed (`--web-origin`), as {@linkcode webOrigin} writes them.
 * @returns Whether the page may.
 */
export function pageOriginAllowed(
  origin: string,
  host: string | null,
  webOrigins: ReadonlySet<string>,
): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (a sandboxed page, a file) and anything else unparsable
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  if (webOrigins.has(url.origin)) return true;
  return host !== null && url.host === hostOf(host);
}

/** One WebSocket: the socket side of a {@linkcode ProtocolConnection}. */
class WsConnection implements FrameOutput {
  readonly #socket: ConnDuplex;
  readonly #batched: boolean;
  readonly #queue: OutboundQueue;
  readonly #reader: WireReader;
  readonly #maxLineBytes: number;
  readonly #closeGraceMs: number;
  /** The protocol over this socket, and the hub's sink for its session. */
  readonly protocol: ProtocolConnection;
  /** Resolves when the socket is closed. */
  readonly closed: Promise<void>;
  /** The close frame is sent: nothing more is. */
  #closeSent = false;
  #destroyTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    hub: Hub,
    socket: ConnDuplex,
    init: ConstructorParameters<typeof ProtocolConnection>[2],
    batched: boolean,
  ) {
    this.#socket = socket;
    this.#batched = batched;
    // Written to the connection itself, as the TCP port writes (node:stream
    // would cost a fan-out a third more). Batched: each write of the queue
    // (the frames of a burst, as TCP would write them) is one message;
    // otherwise each frame is framed already.
    const conn = socket.conn;
    this.#queue = new OutboundQueue({ write: (bytes) => conn.write(bytes) }, {
      maxBytes: init.options.maxQueueBytes,
      ...(batched ? { join: batchedMessages } : {}),
    });
    this.#reader = new WireReader(init.options.maxLineBytes);
    this.#maxLineBytes = init.options.maxLineBytes;
    this.#closeGraceMs = init.options.closeGraceMs;
    this.protocol = new ProtocolConnection(hub, this, init);
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    socket.setNoDelay(true);
    socket.on("error", (error: Error) => {
      init.logger.debug("websocket error", { addr: this.protocol.address, error: error.message });
      socket.destroy();
    });
    socket.on("close", () => {
      clearTimeout(this.#destroyTimer);
      this.#closeSent = true;
      this.#queue.close();
      this.protocol.ended();
      resolve();
    });
  }

  /**
   * Starts the protocol and reads the connection as the TCP port reads its
   * own (read_loop.ts): what came with the handshake first, then each read
   * handled before the next, so a sender faster than the node waits in its
   * own buffers and the output of one read leaves in one write per reader.
   */
  async start(head: Uint8Array): Promise<void> {
    const protocol = this.protocol;
    // Straight from the connection into the read loop's buffer, as TCP reads.
    const input = this.#socket.takeReads(head);
    protocol.start();
    try {
      const end = await readClient(input, protocol, (chunk) => this.#consume(chunk));
      // Closing: input is read and dropped until the peer's FIN (unread input would reset the close).
      while (protocol.closing && (await input.read(end.buffer)) !== null) {
        // discarded
      }
    } catch {
      // The connection failed under the read.
    }
    // A peer's FIN ends the connection: a WebSocket has no half-open state.
    this.#socket.destroy();
  }

  /** Handles the frames one read completes, one after another. */
  async #consume(chunk: Uint8Array): Promise<void> {
    for (const event of this.#reader.push(chunk)) {
      if (this.protocol.closing) return;
      const handled = this.#receive(event);
      if (handled !== undefined) await handled;
    }
  }

  enqueue(frame: ServerFrame): boolean {
    if (this.#closeSent) return true; // closing: nothing leaves
    return this.#queue.enqueue(this.#batched ? frameBytes(frame) : messageOf(frame));
  }

  enqueueLast(frame: ServerFrame): number {
    if (this.#closeSent) return 0; // the close frame is queued: nothing goes after it
    const dropped = this.#queue.discardPending();
    const line = encodeFrame(frame);
    this.#queue.enqueue(this.#batched ? line : textFrame(line.subarray(0, -1)), true);
    return dropped;
  }

  get queuedBytes(): number {
    return this.#queue.queuedBytes;
  }

  close(reason: string): void {
    const code = CLOSE_CODES[reason] ?? 1000;
    // What is queued (the error frame that says why among it) goes before the close frame.
    const timer = setTimeout(() => this.#shut(code, reason), this.#closeGraceMs);
    this.#queue.drained().then(() => {
      clearTimeout(timer);
      this.#shut(code, reason);
    });
  }

  /**
   * Sends the close frame and a FIN; a peer that does not close its side
   * within the grace period loses the connection anyway.
   */
  #shut(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    this.#queue.discardPending();
    this.#queue.enqueue(this.#control(closeFrame(code, reason)), true);
    // After the batch in flight, if any, and the close frame: the FIN.
    this.#queue.drained().then(() => {
      this.#queue.close();
      this.#socket.end();
    });
    this.#destroyTimer = setTimeout(() => this.#socket.destroy(), this.#closeGraceMs);
  }

  /** A control frame to queue: on a batched connection, kept out of the text messages. */
  #control(frame: Uint8Array): Uint8Array {
    if (this.#batched) controlFrames.add(frame);
    return frame;
  }

  /** Handles one event; a text message's frame may take a while (a command). */
  #receive(event: WireEvent): Promise<void> | undefined {
    const protocol = this.protocol;
    switch (event.kind) {
      case "ping":
        if (this.#closeSent) return;
        // Pongs are queued: a peer that pings and never reads is a slow reader too.
        if (!this.#queue.enqueue(this.#control(pongFrame(event.payload)))) protocol.overflowed();
        return;
      case "close":
        // The peer is leaving: answer its close, as RFC 6455 asks.
        this.#shut(event.code === 1005 ? 1000 : event.code, "");
        return;
      case "protocol_error":
        protocol.drop("bad_frame", `Cannot decode frame: ${event.message}`, false);
        return;
      case "binary":
        protocol.drop(
          "bad_frame",
          "Cannot decode frame: binary messages are not accepted, send each frame as JSON text",
          false,
        );
        return;
      case "too_big":
        protocol.drop(
          "line_too_long",
          `Cannot decode frame: message of ${event.size} bytes exceeds maximum ${this.#maxLineBytes}`,
          false,
        );
        return;
    }
    const decoded = decodeFrameText(event.text);
    if (decoded === undefined) return;
    if (decoded.ok) return protocol.handle(decoded.value);
    protocol.refuseFrame(decoded.error);
  }
}

/**
 * Checks an origin a page may open the WebSocket from, and writes it as
 * `URL.origin` does, to compare with a handshake's `Origin`.
 *
 * @param origin An origin such as `https://chat.example.com`.
 * @returns The origin, normalised (`https://chat.example.com`, no default port).
 * @throws {RangeError} When it is not an `http:` or `https:` origin (a path,
 *   a query or a user name is not part of one).
 */
export function webOrigin(origin: string): string {
  let url: URL | undefined;
  try {
    url = new URL(origin);
  } catch {
    // reported below
  }
  const web = url !== undefined && (url.protocol === "http:" || url.protocol === "https:");
  if (
    !web || url!.pathname !== "/" || url!.search !== "" || url!.hash !== "" ||
    url!.username !== "" || url!.password !== ""
  ) {
    throw new RangeError(
      `"${origin}" is not a web origin: use http(s)://HOST[:PORT], e.g. https://chat.example.com`,
    );
  }
  return url!.origin;
}

/** A `Host` header as `URL.host` writes it (lower case, no default port), or "" if not a host. */
function hostOf(host: string): string {
  try {
    return new URL(`http://${host}`).host;
  } catch {
    return "";
  }
}

/** Whether a `Sec-WebSocket-Protocol` header (a comma-separated list) offers `protocol`. */
function offers(header: string | null, protocol: string): boolean {
  return header !== null && header.split(",").some((offered) => offered.trim() === protocol);
}

function plain(
  status: number,
  text: string,
  headers: Record<string, string> = {},
): WebSocketAnswer {
  return {
    refused: new Response(text + "\n", {
      status,
      headers: { "content-type": "text/plain; charset=utf-8", ...headers },
    }),
  };
}
