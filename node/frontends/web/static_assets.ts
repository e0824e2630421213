/**
 * Serves the web client's files from memory (client/web/dist/web_assets.ts,
 * built by `deno task web:build`): `/` is the page, `/assets/…` its script,
 * style sheet and key-derivation Worker. Each answer carries its type, an
 * ETag (a conditional GET gets 304) and `Cache-Control: no-cache` (cached,
 * revalidated on each load, so a new node version shows at once), and the
 * page's Content-Security-Policy: scripts, styles, the Worker and the
 * WebSocket from this origin only, no inline script or style, WebAssembly
 * allowed (Argon2id and AES-GCM run in it).
 *
 * @module
 */

/** One file of the web client. */
export interface StaticAsset {
  /** The path it answers, e.g. `/assets/app.js`. */
  readonly path: string;
  /** Its `Content-Type`. */
  readonly contentType: string;
  /** Its ETag, quoted. */
  readonly etag: string;
  /** Its content. */
  readonly body: string;
}

/** The policy of the web client's page and files. */
export const WEB_CLIENT_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "connect-src 'self'",
  "worker-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The page route (`HttpRoutes.pages`) of a set of files: a GET or HEAD of
 * one of their paths gets the file, another method 405.
 *
 * @param assets The files.
 * @returns The route: undefined for a path it does not serve.
 *
 * @example
 * ```ts
 * import { staticAssets } from "./static_assets.ts";
 * import assert from "node:assert/strict";
 *
 * const route = staticAssets([
 *   { path: "/", contentType: "text/html", etag: '"1"', body: "<p>hi</p>" },
 * ]);
 * assert.equal(route(new Request("http://x/"))?.status, 200);
 * const again = new Request("http://x/", { headers: { "If-None-Match": '"1"' } });
 * assert.equal(route(again)?.status, 304);
 * assert.equal(route(new Request("http://x/nope")), undefined);
 * ```
 */
export function staticAssets(
  assets: readonly StaticAsset[],
): (request: Request) => Response | undefined {
  const byPath = new Map(assets.map((asset) => [asset.path, asset]));
  return (request) => {
    const asset = byPath.get(new URL(request.url).pathname);
    if (asset === undefined) return undefined;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed: use GET\n", {
        status: 405,
        headers: { "Allow": "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" },
      });
    }
    const headers = {
      "Content-Type": asset.contentType,
      "ETag": asset.etag,
      "Cache-Control": "no-cache",
      "Content-Security-Policy": WEB_CLIENT_CSP,
    };
    const cached = request.headers.get("If-None-Match")?.split(/\s*,\s*/);
    if (cached?.includes(asset.etag)) return new Response(null, { status: 304, headers });
    return new Response(request.method === "HEAD" ? null : asset.body, { headers });
  };
}
