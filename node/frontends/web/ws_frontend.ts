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
 *   frame as its JSON body. A refused peer is never upgraded: Deno cannot
 *   force a WebSocket shut once upgraded (see below).
 * - **Batched output** (opt-in): a client that offers the subprotocol
 *   {@linkcode NDJSON_PROTOCOL} gets it echoed, and then the frames of one
 *   burst as one text message of NDJSON lines (ndjson_messages.ts), as TCP
 *   writes them: a WebSocket message costs Deno about as much as a TCP
 *   write, whatever its size. What it sends stays one frame per message.
 * - **Frames**: a text message is one frame; a binary message is told
 *   `bad_frame` and closed (1003); a message over `maxLineBytes` is told
 *   `line_too_long` and closed (1009) — it was already read whole, unlike a
 *   TCP line, which is skipped.
 * - **Slow readers**: the socket's `bufferedAmount` is the output queue.
 *   Deno writes WebSocket messages only when the event loop is free, so a
 *   busy node's output waits there even for a fast reader: a reader is
 *   dropped (`overflow`) when its backlog is still over `maxQueueBytes` once
 *   the event loop comes round to timers, or at once past eight times that.
 *   Either way after the fan-out in progress, like TCP.
 * - **Close codes** say why: 1000 quit (or the hub's words: a kick), 1001
 *   shutdown, 1003 binary message, 1008 policy (`overflow`, `flood`,
 *   `no_hello`, `idle_timeout`), 1009 message too big, 1011 server error;
 *   the reason is the `error` code, and an `error` frame comes first.
 *
 * Unlike a TCP socket, an upgraded WebSocket closes only when its peer
 * answers the close frame (Deno has no forced close, and stops its pings
 * once closing): a peer that neither reads nor answers keeps its socket. Its
 * session is gone and nothing more is sent to it, and it keeps its slot in
 * `ConnectionLimits` until the socket is really closed, so such
 * peers cost at most `maxConnsPerAddress` sockets per address.
 *
 * @module
 */
import { decodeFrameText, encodeFrameText } from "../../../core/ndjson.ts";
import { utf8Length } from "../../../core/event_size.ts";
import type { ServerFrame } from "../../../core/protocol.ts";
import type { Hub } from "../../chat/hub.ts";
import type { Logger } from "../../logger.ts";
import type { Refusal } from "../connection_limits.ts";
import {
  encodedOncePerFrame,
  frameLine,
  type FrameOutput,
  ProtocolConnection,
  type ProtocolOptions,
  protocolOptions,
  startIdleSweep,
} from "../protocol_connection.ts";
import { holdWrites } from "../write_batches.ts";
import { NdjsonMessages } from "./ndjson_messages.ts";

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

/** The handler of `GET /ws` the HTTP server calls. */
export type WebSocketHandler = (request: Request, info: Deno.ServeHandlerInfo) => Response;

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

/**
 * How far past `maxQueueBytes` a WebSocket's backlog may grow within one
 * busy stretch of the event loop before its reader is dropped at once
 * rather than judged when the writes have had their turn.
 */
const BUSY_SLACK = 8;

/** The longest close reason the protocol allows (bytes). */
const MAX_CLOSE_REASON_BYTES = 123;

/** The HTTP status of each refusal of a new connection. */
const REFUSAL_STATUS: Readonly<Record<Refusal["code"], number>> = {
  too_many_connections: 429,
  refused: 429,
  server_full: 503,
};

/** A frame as sent: JSON text, and its size in UTF-8 for the queue bound. */
interface EncodedFrame {
  readonly text: string;
  readonly bytes: number;
}

/** One frame per message: the shared NDJSON line without its newline. */
const encodeShared = encodedOncePerFrame((frame): EncodedFrame => {
  const line = frameLine(frame);
  return { text: line.text.slice(0, -1), bytes: line.bytes - 1 };
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

  /** The handler of `GET /ws`: checks the origin and the limits, then upgrades. */
  readonly handler: WebSocketHandler = (request, info) => this.#serve(request, info);

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

  #serve(request: Request, info: Deno.ServeHandlerInfo): Response {
    const remote = remoteOf(info.remoteAddr);
    if (this.#closed) return plain(503, "Service unavailable: the node is shutting down");
    const origin = request.headers.get("origin");
    if (origin !== null && !this.#originAllowed(origin, request.headers.get("host"))) {
      this.#logger.info("websocket refused", { addr: remote.hostname, origin, code: "origin" });
      return plain(
        403,
        "Forbidden: this WebSocket opens only from the node's own pages (--web-origin adds others)",
      );
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return plain(426, "Upgrade required: /ws speaks WebSocket only", { upgrade: "websocket" });
    }
    const admission = this.#options.limits.admit(remote.hostname);
    if (!admission.ok) {
      const { code, message } = admission.refusal;
      this.#logger.debug("connection refused", { addr: remote.hostname, via: "web", code });
      return new Response(JSON.stringify({ t: "error", code, message }), {
        status: REFUSAL_STATUS[code],
        headers: { "content-type": "application/json" },
      });
    }
    const batched = offers(request.headers.get("sec-websocket-protocol"), NDJSON_PROTOCOL);
    // Before the upgrade: once upgraded, the request's headers can no longer be read.
    const fingerprint = this.#identify(request);
    let upgrade: Deno.WebSocketUpgrade;
    try {
      upgrade = Deno.upgradeWebSocket(request, batched ? { protocol: NDJSON_PROTOCOL } : {});
    } catch (error) {
      admission.release();
      return plain(400, `Bad request: ${(error as Error).message}`);
    }
    const connection = new WsConnection(this.#hub, upgrade.socket, {
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
    return upgrade.response;
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
  readonly #socket: WebSocket;
  readonly #maxLineBytes: number;
  readonly #maxQueueBytes: number;
  readonly #closeGraceMs: number;
  /** The protocol over this socket, and the hub's sink for its session. */
  readonly protocol: ProtocolConnection;
  /** Resolves when the socket is closed. */
  readonly closed: Promise<void>;
  /** Frames are served one after another, in the order they came. */
  #serving: Promise<void> = Promise.resolve();
  #backlogCheck: ReturnType<typeof setTimeout> | undefined;
  /** Frames waiting for the end of their burst, with {@linkcode NDJSON_PROTOCOL}. */
  readonly #messages: NdjsonMessages | undefined;
  /**
   * The socket's `bufferedAmount` as read at the first frame of the burst
   * that is waiting: reading it is a call into Deno, too dear for every
   * frame of a fan-out, and nothing of this burst has reached the socket yet.
   */
  #bufferedAtBurst = 0;

  constructor(
    hub: Hub,
    socket: WebSocket,
    init: ConstructorParameters<typeof ProtocolConnection>[2],
    batched: boolean,
  ) {
    this.#socket = socket;
    this.#messages = batched
      ? new NdjsonMessages((text) => this.#sendNow(text), () => socket.bufferedAmount > 0)
      : undefined;
    this.#maxLineBytes = init.options.maxLineBytes;
    this.#maxQueueBytes = init.options.maxQueueBytes;
    this.#closeGraceMs = init.options.closeGraceMs;
    this.protocol = new ProtocolConnection(hub, this, init);
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    socket.onopen = () => this.protocol.start();
    socket.onmessage = (event: MessageEvent) => this.#receive(event.data);
    socket.onerror = (event) => {
      init.logger.debug("websocket error", {
        addr: this.protocol.address,
        error: (event as ErrorEvent).message,
      });
    };
    socket.onclose = () => {
      clearTimeout(this.#backlogCheck);
      this.#messages?.discard();
      this.protocol.ended();
      resolve();
    };
  }

  enqueue(frame: ServerFrame): boolean {
    if (this.#socket.readyState !== WebSocket.OPEN) return true; // closing: nothing leaves
    const messages = this.#messages;
    if (messages === undefined) {
      const encoded = encodeShared(frame);
      if (!this.#admit(this.#socket.bufferedAmount + encoded.bytes)) return false;
      this.#socket.send(encoded.text);
      return true;
    }
    const line = frameLine(frame);
    const pending = messages.pendingBytes;
    if (pending === 0) this.#bufferedAtBurst = this.#socket.bufferedAmount;
    if (!this.#admit(this.#bufferedAtBurst + pending + line.bytes)) return false;
    messages.add(line);
    return true;
  }

  /**
   * Whether a frame may join an output of `queued` bytes (itself included):
   * refused far past the limit, judged soon past it.
   */
  #admit(queued: number): boolean {
    if (queued > this.#maxQueueBytes * BUSY_SLACK) return false;
    if (queued > this.#maxQueueBytes) this.#checkBacklogSoon();
    return true;
  }

  /** Sends a text message, unless the socket is closing (a batch can outlive its turn). */
  #sendNow(text: string): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(text);
  }

  /**
   * Deno writes a WebSocket's messages only when the event loop is free, so
   * a node busy with input holds its output in `bufferedAmount` however fast
   * the reader reads. Over the limit, the reader is judged once the event
   * loop comes round to timers, when the writes have had their turn.
   */
  #checkBacklogSoon(): void {
    if (this.#backlogCheck !== undefined) return;
    this.#backlogCheck = setTimeout(() => {
      this.#backlogCheck = undefined;
      if (this.#socket.readyState === WebSocket.OPEN && this.queuedBytes > this.#maxQueueBytes) {
        this.protocol.overflowed();
      }
    }, 0);
  }

  enqueueLast(frame: ServerFrame): number {
    // What the socket holds cannot be taken back: the frame goes after it.
    const messages = this.#messages;
    if (messages === undefined) {
      this.#sendNow(JSON.stringify(frame));
      return 0;
    }
    const dropped = messages.discard();
    this.#sendNow(encodeFrameText(frame));
    return dropped;
  }

  get queuedBytes(): number {
    return this.#socket.bufferedAmount + (this.#messages?.pendingBytes ?? 0);
  }

  close(reason: string): void {
    // The frames of this burst (the error frame that says why among them) go before the close.
    this.#messages?.flush();
    const socket = this.#socket;
    const code = CLOSE_CODES[reason] ?? 1000;
    if (socket.readyState === WebSocket.CONNECTING) socket.close(code, closeReason(reason));
    // Deno sends a close frame ahead of messages still buffered: wait until
    // they are out (the error frame that says why is among them), or the grace is over.
    const deadline = Date.now() + this.#closeGraceMs;
    const closeWhenSent = () => {
      if (socket.readyState !== WebSocket.OPEN) return;
      if (socket.bufferedAmount > 0 && Date.now() < deadline) setTimeout(closeWhenSent, 10);
      else socket.close(code, closeReason(reason));
    };
    closeWhenSent();
  }

  #receive(data: unknown): void {
    const protocol = this.protocol;
    if (protocol.closing) return;
    const text = typeof data === "string" ? data : undefined;
    const size = text === undefined ? byteLengthOf(data) : utf8Length(text);
    if (!protocol.received(size)) return;
    if (text === undefined) {
      protocol.drop(
        "bad_frame",
        "Cannot decode frame: binary messages are not accepted, send each frame as JSON text",
        false,
      );
      return;
    }
    if (size > this.#maxLineBytes) {
      protocol.drop(
        "line_too_long",
        `Cannot decode frame: message of ${size} bytes exceeds maximum ${this.#maxLineBytes}`,
        false,
      );
      return;
    }
    const decoded = decodeFrameText(text);
    if (decoded === undefined) return;
    // Messages read in one turn answer together: one message per batched reader.
    holdWrites();
    // After the frames before it: handling one may wait (a command), and order matters.
    this.#serving = this.#serving.then(() => {
      if (protocol.closing) return;
      if (decoded.ok) return protocol.handle(decoded.value);
      protocol.refuseFrame(decoded.error);
    });
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

function remoteOf(addr: Deno.Addr): { hostname: string; port: number } {
  return "hostname" in addr ? { hostname: addr.hostname, port: addr.port } : {
    hostname: "local",
    port: 0,
  };
}

/** Whether a `Sec-WebSocket-Protocol` header (a comma-separated list) offers `protocol`. */
function offers(header: string | null, protocol: string): boolean {
  return header !== null && header.split(",").some((offered) => offered.trim() === protocol);
}

function byteLengthOf(data: unknown): number {
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (data instanceof Blob) return data.size;
  return 0;
}

/** The reason of a close frame: the reason itself, cut to what the protocol allows. */
function closeReason(reason: string): string {
  let cut = reason;
  while (utf8Length(cut) > MAX_CLOSE_REASON_BYTES) cut = cut.slice(0, -1);
  return cut;
}

function plain(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(text + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}
