/**
 * The web frontend: the node's HTTP port. {@linkcode HttpServer} routes
 * `/healthz` and `/readyz` (bodies from health.ts), `/metrics` (the node's
 * registry, node/node_metrics.ts) — optionally on a listener of its own —
 * and hands `/ws` to the WebSocket route the node passes in
 * (ws_frontend.ts), which frames its messages itself (ws_wire.ts). Web sign-in with an SSH key (`/web`, `/signin`:
 * signin.ts, signin_tokens.ts) and key upload (`/keys`: key_upload.ts) are
 * `pages` routes, their guessed secrets bounded per address (guess_limit.ts),
 * and so is the web client (`/`, `/assets/…`:
 * static_assets.ts serves client/web/dist/web_assets.ts).
 *
 * @module
 */
export {
  type HttpRoutes,
  HttpServer,
  type HttpServerOptions,
  type RequestInfo,
  type WebSocketAnswer,
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
export { webOrigin, WebSocketFrontend, type WebSocketFrontendOptions } from "./ws_frontend.ts";
export { type HttpEndpoint, linkBase, WebSignIn, type WebSignInOptions } from "./signin.ts";
export {
  SignInTokens,
  type SignInTokensOptions,
  type WebCredential,
  type WebIdentity,
} from "./signin_tokens.ts";
export { KeyUpload, type KeyUploadOptions, SIGNATURE_NAMESPACE } from "./key_upload.ts";
export { GuessLimit, type OffenceAccount } from "./guess_limit.ts";
export { type StaticAsset, staticAssets, WEB_CLIENT_CSP } from "./static_assets.ts";
