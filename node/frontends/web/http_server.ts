/**
 * The node's HTTP port (`Deno.serve`): health for load balancers, metrics
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
 * @module
 */
import { PROMETHEUS_CONTENT_TYPE } from "../../../core/metrics.ts";
import type { Logger } from "../../logger.ts";
import type { HealthBody, ReadyBody } from "./health.ts";

/** The `/ws` route: upgrades the request to the web client's WebSocket, or refuses it. */
export type WebSocketRoute = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

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
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
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

/** The node's HTTP listeners; {@linkcode HttpServer.start} binds them. */
export class HttpServer {
  /** Where the main listener is bound. */
  readonly addr: Deno.NetAddr;
  /** Where the metrics listener is bound, when there is one. */
  readonly metricsAddr: Deno.NetAddr | undefined;
  readonly #servers: Deno.HttpServer<Deno.NetAddr>[];

  private constructor(servers: Deno.HttpServer<Deno.NetAddr>[], metrics: boolean) {
    this.#servers = servers;
    this.addr = servers[0]!.addr;
    this.metricsAddr = metrics ? servers[1]!.addr : undefined;
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
  static start(routes: HttpRoutes, options: HttpServerOptions): HttpServer {
    const { hostname, port, tls, metrics, logger } = options;
    const listen = (host: string, at: number, listener: Listener, what: string) => {
      try {
        return Deno.serve({
          hostname: host,
          port: at,
          ...(tls ?? {}),
          onListen: () => {},
          onError: (error) => {
            logger.error("http request failed", { error: String(error) });
            return secure(new Response("Internal error\n", { status: 500 }));
          },
        }, (request, info) => answer(routes, listener, request, info));
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse)) throw error;
        throw new Deno.errors.AddrInUse(`${what} port ${host}:${at} is in use`, { cause: error });
      }
    };
    const servers = [
      listen(hostname, port, { main: true, metrics: metrics === undefined }, "HTTP"),
    ];
    if (metrics !== undefined) {
      try {
        servers.push(
          listen(metrics.host, metrics.port, { main: false, metrics: true }, "Metrics"),
        );
      } catch (error) {
        servers[0]!.shutdown();
        throw error;
      }
    }
    const server = new HttpServer(servers, metrics !== undefined);
    const addr = (a: Deno.NetAddr) => `${a.hostname}:${a.port}`;
    logger.info("listening", { what: tls ? "https" : "http", addr: addr(server.addr) });
    if (server.metricsAddr) {
      logger.info("listening", { what: "metrics", addr: addr(server.metricsAddr) });
    }
    return server;
  }

  /** Stops accepting, lets requests in progress finish. */
  async close(): Promise<void> {
    await Promise.all(this.#servers.map((server) => server.shutdown()));
  }
}

async function answer(
  routes: HttpRoutes,
  listener: Listener,
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === "/ws" && listener.main && routes.webSocket) {
    return secure(await routes.webSocket(request, info));
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

/** Adds the security headers (see the module doc); a 101 upgrade is left as is. */
function secure(response: Response): Response {
  if (response.status === 101) return response;
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value);
  if (!response.headers.has("Content-Security-Policy")) {
    response.headers.set("Content-Security-Policy", DEFAULT_CSP);
  }
  return response;
}
