/**
 * The node's HTTP port (`node:http`): health for load balancers, metrics
 * for Prometheus, and the WebSocket of the web client. It holds no chat
 * logic: each route is a function the node passes in.
 *
 * | path | answer |
 * | --- | --- |
 * | `/healthz` | 200, JSON: alive |
 * | `/readyz` | 200 or 503, JSON: ready for people, or why not |
 * | `/metrics` | Prometheus text; on the metrics listener only, when there is one |
 * | `/ws` | the WebSocket route (node/frontends/web/ws_frontend.ts); 404 until one is given |
 * | `/signin`, `/keys`… | the `pages` given: web sign-in (signin.ts), key upload (key_upload.ts) |
 * | `/`, `/assets/…` | the web client (a `pages` route: static_assets.ts, client/web/) |
 *
 * With `metrics` set, a second listener at that address answers `/metrics`
 * (and `/healthz`, `/readyz`), and the main one answers `/metrics` with
 * 404: the figures need not be public. With `tls`, both speak HTTPS.
 *
 * Every response carries `X-Content-Type-Options: nosniff` and
 * `Referrer-Policy: no-referrer`, and `Content-Security-Policy:
 * default-src 'none'; frame-ancestors 'none'` unless its route set a policy
 * of its own (an HTML page will); a WebSocket upgrade (101) is left as is.
 *
 * It accepts with `Deno.listen` (`Deno.listenTls` for HTTPS) and parses
 * requests with `node:http`, rather than `Deno.serve`, for one reason: an
 * upgraded connection is the `Deno.Conn` itself, so the WebSocket frontend
 * frames its messages (ws_wire.ts) and writes them as the TCP port does, at
 * TCP's cost per message. (`Deno.serve` hands over only Deno's `WebSocket`,
 * which copies each message per reader; a `node:http` socket costs a
 * fan-out a third more per write in its stream machinery.)
 *
 * @module
 */
import http from "node:http";
import { Readable } from "node:stream";
import { writeAll } from "../../../core/bytes.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../../../core/metrics.ts";
import type { Logger } from "../../logger.ts";
import { ConnDuplex } from "../tcp/socket_stream.ts";
import type { HealthBody, ReadyBody } from "./health.ts";

/** Who sent a request. */
export interface RequestInfo {
  /** The peer's address. */
  readonly remoteAddr: { readonly hostname: string; readonly port: number };
}

/**
 * The `/ws` route's answer: a refusal, or the handshake's headers with what
 * takes over the connection once the 101 is written.
 */
export type WebSocketAnswer =
  | { readonly refused: Response }
  | {
    /** Headers of the 101 (Upgrade, Connection, Sec-WebSocket-Accept…). */
    readonly upgrade: Readonly<Record<string, string>>;
    /** Takes over the connection (`head`: bytes read past the request). */
    readonly accepted: (socket: ConnDuplex, head: Uint8Array) => void;
  };

/**
 * The `/ws` route: upgrades the request to the web client's WebSocket, or
 * refuses it. `upgradable` is false for a request that is not an HTTP
 * upgrade (no `Connection: Upgrade`): it can only be refused.
 */
export type WebSocketRoute = (
  request: Request,
  info: RequestInfo,
  upgradable: boolean,
) => WebSocketAnswer | Promise<WebSocketAnswer>;

/** What the routes answer with. */
export interface HttpRoutes {
  /** The `/healthz` body. */
  health(): HealthBody;
  /** The `/readyz` body; `status` picks 200 or 503. */
  ready(): ReadyBody;
  /** The `/metrics` body, in the Prometheus text format. */
  metrics(): string;
  /** The `/ws` route. @default none: `/ws` answers 404 */
  webSocket?: WebSocketRoute | undefined;
  /**
   * Pages and JSON APIs of the main listener (web sign-in, key upload),
   * asked in order before the built-in paths; each answers its own paths
   * and methods. @default none
   */
  pages?: readonly PageRoute[];
}

/**
 * A group of pages: the answer to a request for one of its paths (any
 * method), or undefined when the path is not its.
 */
export type PageRoute = (
  request: Request,
  info: RequestInfo,
) => Response | undefined | Promise<Response | undefined>;

/** Options of {@linkcode HttpServer.start}. */
export interface HttpServerOptions {
  /** Listen address. */
  hostname: string;
  /** Listen port (0: any free one). */
  port: number;
  /** Certificate and key (PEM text): HTTPS. @default plain HTTP */
  tls?: { readonly cert: string; readonly key: string } | undefined;
  /** A second listener for `/metrics` alone. @default none: `/metrics` on the main port */
  metrics?: { readonly host: string; readonly port: number } | undefined;
  /** Where listening and failures are logged. */
  logger: Logger;
  /** Request deadlines. @default 10 s for the head, 30 s in all */
  timeouts?: HttpTimeouts;
}

/** Which routes a listener serves. */
interface Listener {
  readonly main: boolean;
  readonly metrics: boolean;
}

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};
const DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'";

/** How long a request in progress may take to finish once the server closes. */
const CLOSE_GRACE_MS = 1000;

/** How often request heads and bodies are checked against their deadlines (at most). */
const CHECK_INTERVAL_MS = 1000;

/** Deadlines of a request, from its first byte. */
export interface HttpTimeouts {
  /** For the request line and headers (a slowloris peer is cut off). @default 10000 */
  headMs: number;
  /** For the whole request, body included. @default 30000 */
  requestMs: number;
}

const DEFAULT_TIMEOUTS: HttpTimeouts = { headMs: 10_000, requestMs: 30_000 };

/** The node's HTTP listeners; {@linkcode HttpServer.start} binds them. */
export class HttpServer {
  /** Where the main listener is bound. */
  readonly addr: Deno.NetAddr;
  /** Where the metrics listener is bound, when there is one. */
  readonly metricsAddr: Deno.NetAddr | undefined;
  readonly #ports: Port[];

  private constructor(ports: Port[], metrics: boolean) {
    this.#ports = ports;
    this.addr = ports[0]!.addr;
    this.metricsAddr = metrics ? ports[1]!.addr : undefined;
  }

  /**
   * Binds the main listener, and the metrics listener when asked, and logs
   * where each listens (`listening what=http|https|metrics addr=…`).
   *
   * @param routes What each path answers.
   * @param options Addresses, TLS, logger.
   * @returns The running server.
   * @throws {Deno.errors.AddrInUse} `HTTP port HOST:PORT is in use` (or `Metrics port …`).
   */
  static async start(routes: HttpRoutes, options: HttpServerOptions): Promise<HttpServer> {
    const { hostname, port, tls, metrics, logger, timeouts = DEFAULT_TIMEOUTS } = options;
    const scheme = tls ? "https" : "http";
    const listen = (host: string, at: number, listener: Listener, what: string) => {
      const server = http.createServer();
      server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
        serveRequest(routes, listener, scheme, logger, req, res).catch((error) => {
          // The peer went away mid-answer, or the answer could not be written.
          logger.debug("http response failed", { error: String(error) });
          res.destroy();
        });
      });
      server.on("upgrade", (req: http.IncomingMessage, socket: ConnDuplex, head: Uint8Array) => {
        serveUpgrade(routes, listener, scheme, logger, req, socket, head).catch((error) => {
          logger.debug("http upgrade failed", { error: String(error) });
          socket.destroy();
        });
      });
      let bound: Deno.Listener;
      try {
        bound = tls
          ? Deno.listenTls({ hostname: host, port: at, cert: tls.cert, key: tls.key })
          : Deno.listen({ hostname: host, port: at });
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse)) throw error;
        throw new Deno.errors.AddrInUse(`${what} port ${host}:${at} is in use`, { cause: error });
      }
      return new Port(bound, server, timeouts);
    };
    const ports = [listen(hostname, port, { main: true, metrics: metrics === undefined }, "HTTP")];
    if (metrics !== undefined) {
      try {
        ports.push(listen(metrics.host, metrics.port, { main: false, metrics: true }, "Metrics"));
      } catch (error) {
        await ports[0]!.close();
        throw error;
      }
    }
    const server = new HttpServer(ports, metrics !== undefined);
    const addr = (a: Deno.NetAddr) => `${a.hostname}:${a.port}`;
    logger.info("listening", { what: scheme, addr: addr(server.addr) });
    if (server.metricsAddr) {
      logger.info("listening", { what: "metrics", addr: addr(server.metricsAddr) });
    }
    return server;
  }

  /**
   * Stops accepting, ends idle keep-alive connections, and gives requests
   * in progress {@linkcode CLOSE_GRACE_MS} before their connections are cut
   * (a response to a reader that stopped reading would hold it forever).
   */
  async close(): Promise<void> {
    await Promise.all(this.#ports.map((port) => port.close()));
  }
}

/**
 * One listener: connections accepted with `Deno.listen(Tls)`, each handed
 * to `node:http` as a {@linkcode ConnDuplex}. The server is told it listens
 * (its `listening` event, and `listening` true until closed) so that it
 * keeps connections alive, tracks them, and times out slow request heads,
 * as it does on a socket of its own.
 */
class Port {
  readonly addr: Deno.NetAddr;
  readonly #listener: Deno.Listener;
  readonly #server: http.Server;
  readonly #sockets = new Set<ConnDuplex>();
  readonly #accepting: Promise<void>;
  #open = true;

  constructor(listener: Deno.Listener, server: http.Server, timeouts: HttpTimeouts) {
    this.#listener = listener;
    this.#server = server;
    this.addr = listener.addr as Deno.NetAddr;
    server.headersTimeout = timeouts.headMs;
    server.requestTimeout = timeouts.requestMs;
    // Read when "listening" sets up the checks.
    (server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.min(
      CHECK_INTERVAL_MS,
      timeouts.headMs,
    );
    Object.defineProperty(server, "listening", { get: () => this.#open });
    server.emit("listening");
    this.#accepting = this.#accept();
  }

  async #accept(): Promise<void> {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) return; // closed
        continue; // one failed accept (a TLS peer gone mid-handshake): keep serving
      }
      const socket = new ConnDuplex(conn);
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
      this.#server.emit("connection", socket);
    }
  }

  async close(): Promise<void> {
    this.#open = false;
    this.#listener.close();
    await this.#accepting;
    // Ends idle keep-alive connections and the head checks; `close` itself
    // reports "not running" (the server never bound a socket): ignored.
    this.#server.close(() => {});
    const sockets = this.#sockets;
    if (sockets.size === 0) return;
    await new Promise<void>((resolve) => {
      const cut = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, CLOSE_GRACE_MS);
      const check = () => {
        if (sockets.size > 0) return;
        clearTimeout(cut);
        resolve();
      };
      for (const socket of sockets) socket.once("close", check);
    });
  }
}

/** A `node:http` request as the fetch `Request` the routes take, and who sent it. */
function requestOf(
  req: http.IncomingMessage,
  scheme: string,
): { request: Request; info: RequestInfo } | undefined {
  const headers = new Headers();
  const raw = req.rawHeaders;
  let url: URL;
  try {
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
    url = new URL(req.url ?? "/", `${scheme}://${req.headers.host ?? "localhost"}`);
  } catch {
    return undefined;
  }
  const method = req.method ?? "GET";
  const body = method === "GET" || method === "HEAD"
    ? null
    : Readable.toWeb(req) as ReadableStream<Uint8Array>;
  const request = new Request(url, { method, headers, body, duplex: "half" } as RequestInit);
  const info = {
    remoteAddr: {
      hostname: req.socket.remoteAddress ?? "unknown",
      port: req.socket.remotePort ?? 0,
    },
  };
  return { request, info };
}

async function serveRequest(
  routes: HttpRoutes,
  listener: Listener,
  scheme: string,
  logger: Logger,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  let response: Response;
  const asked = requestOf(req, scheme);
  try {
    response = asked === undefined
      ? secure(text("Bad request\n", 400))
      : await answer(routes, listener, asked.request, asked.info);
  } catch (error) {
    logger.error("http request failed", { error: String(error) });
    response = secure(new Response("Internal error\n", { status: 500 }));
  }
  const body = response.body === null ? undefined : new Uint8Array(await response.arrayBuffer());
  const headers = headersOf(response);
  // Known in full: a length rather than chunks (and the end of the answer is plain to see).
  if (body !== undefined) headers["content-length"] = String(body.length);
  res.writeHead(response.status, headers);
  res.end(req.method === "HEAD" ? undefined : body);
}

async function serveUpgrade(
  routes: HttpRoutes,
  listener: Listener,
  scheme: string,
  logger: Logger,
  req: http.IncomingMessage,
  socket: ConnDuplex,
  head: Uint8Array,
): Promise<void> {
  // Handled here so an error is never unhandled; whoever takes the socket adds its own.
  socket.on("error", () => socket.destroy());
  const asked = requestOf(req, scheme);
  let response: Response;
  try {
    if (asked === undefined) response = secure(text("Bad request\n", 400));
    else if (new URL(asked.request.url).pathname === "/ws" && listener.main && routes.webSocket) {
      const reply = await routes.webSocket(asked.request, asked.info, true);
      if ("upgrade" in reply) {
        socket.setTimeout(0); // a keep-alive timer of an earlier request: the WebSocket has its own
        // Written before the WebSocket writes to the connection itself.
        await writeAll(socket.conn, responseHead(101, Object.entries(reply.upgrade)));
        return reply.accepted(socket, head);
      }
      response = secure(reply.refused);
    } else response = await answer(routes, listener, asked.request, asked.info);
  } catch (error) {
    logger.error("http request failed", { error: String(error) });
    response = secure(new Response("Internal error\n", { status: 500 }));
  }
  // Not upgraded: the answer, then the connection closes.
  const body = response.body === null
    ? new Uint8Array(0)
    : new Uint8Array(await response.arrayBuffer());
  const headers = Object.entries(headersOf(response)).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).map((one): [string, string] => [name, one])
  );
  headers.push(["Content-Length", String(body.length)], ["Connection", "close"]);
  socket.write(responseHead(response.status, headers));
  socket.end(body);
  // Input that follows is discarded (a peer still writing must not block), and a peer
  // that does not close its side is cut off.
  socket.resume();
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
}

/** A response's status line and headers, as written on a connection. */
function responseHead(status: number, headers: readonly [string, string][]): Uint8Array {
  const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}`];
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  return new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
}

/** A response's headers for `node:http`, each `Set-Cookie` kept apart. */
function headersOf(response: Response): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  return headers;
}

async function answer(
  routes: HttpRoutes,
  listener: Listener,
  request: Request,
  info: RequestInfo,
): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === "/ws" && listener.main && routes.webSocket) {
    // Not an upgrade (those come through serveUpgrade): the route refuses it.
    const reply = await routes.webSocket(request, info, false);
    return secure("refused" in reply ? reply.refused : text("Upgrade required\n", 426));
  }
  for (const page of listener.main ? routes.pages ?? [] : []) {
    const response = await page(request, info);
    if (response !== undefined) return secure(response);
  }
  const route = pageOf(routes, listener, path);
  if (route === undefined) return secure(text("Not found\n", 404));
  if (request.method !== "GET" && request.method !== "HEAD") {
    const response = text("Method not allowed: use GET\n", 405);
    response.headers.set("Allow", "GET, HEAD");
    return secure(response);
  }
  return secure(route());
}

/** The page a GET of `path` gets on this listener, or undefined for 404. */
function pageOf(
  routes: HttpRoutes,
  listener: Listener,
  path: string,
): (() => Response) | undefined {
  switch (path) {
    case "/healthz":
      return () => json(routes.health(), 200);
    case "/readyz":
      return () => {
        const body = routes.ready();
        return json(body, body.status === "ready" ? 200 : 503);
      };
    case "/metrics":
      if (!listener.metrics) return undefined;
      return () => {
        const response = new Response(routes.metrics(), {
          headers: { "Content-Type": PROMETHEUS_CONTENT_TYPE },
        });
        response.headers.set("Cache-Control", "no-store");
        return response;
      };
    default:
      return undefined;
  }
}

function json(body: unknown, status: number): Response {
  const response = Response.json(body, { status });
  response.headers.set("Cache-Control", "no-store");
  return response;
}

function text(body: string, status: number): Response {
  return new Response(body, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8" },
  });
}

/** Adds the security headers (see the module doc). */
function secure(response: Response): Response {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value);
  if (!response.headers.has("Content-Security-Policy")) {
    response.headers.set("Content-Security-Policy", DEFAULT_CSP);
  }
  return response;
}
