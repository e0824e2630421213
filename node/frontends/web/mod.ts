/**
 * The web frontend: the node's HTTP port. {@linkcode HttpServer} routes
 * `/healthz` and `/readyz` (bodies from health.ts), `/metrics` (the node's
 * registry, node/node_metrics.ts) — optionally on a listener of its own —
 * and hands `/ws` to the WebSocket route the node passes in
 * (ws_frontend.ts). The browser client at `/` is not served yet.
 *
 * @module
 */
export {
  type HttpRoutes,
  HttpServer,
  type HttpServerOptions,
  type WebSocketRoute,
} from "./http_server.ts";
export {
  type HealthBody,
  healthBody,
  type MeshStanding,
  type ReadinessState,
  type ReadyBody,
  readyBody,
} from "./health.ts";
export {
  webOrigin,
  WebSocketFrontend,
  type WebSocketFrontendOptions,
  type WebSocketHandler,
} from "./ws_frontend.ts";
