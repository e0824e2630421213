/**
 * What the node's small JSON APIs (web sign-in, key upload) share: a POST
 * from one of the node's own pages, a bounded JSON body, JSON answers that
 * are never cached, and their static pages ({@linkcode pageFile}) under a
 * strict policy.
 *
 * A POST must come from the node's own page: its `Origin`, when a browser
 * sends one, must be the node's (or a `--web-origin`), and its body must be
 * `application/json` — a type a cross-site form cannot send, and that makes
 * a cross-site `fetch` ask first (CORS preflight), which nothing here
 * answers. So another site can neither sign a visitor in as someone else
 * nor post on their behalf.
 *
 * @module
 */
import { concatBytes } from "../../../core/bytes.ts";
import { pageOriginAllowed } from "./ws_frontend.ts";
import PAGE_CSS from "./pages/page.css" with { type: "text" };
import PAGE_JS from "./pages/page.js" with { type: "text" };

/** The policy of the sign-in and key pages: their own script and style, nothing else. */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; " +
  "frame-ancestors 'none'";

/** A refusal of an API request: its status and what the page shows. */
export class ApiError extends Error {
  /** Always `"ApiError"`. */
  override name = "ApiError";
  /** The HTTP status. */
  readonly status: number;
  /** When to ask again (seconds), sent as `Retry-After`; none when undefined. */
  readonly retryAfterSeconds: number | undefined;

  /**
   * @param status HTTP status.
   * @param message For the person, sentence case.
   * @param retryAfterSeconds When to ask again (seconds), for a 429 or 503.
   */
  constructor(status: number, message: string, retryAfterSeconds?: number) {
    super(message);
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A JSON answer, never cached (it may carry who is signed in).
 *
 * @param body The body.
 * @param status HTTP status. @default 200
 * @returns The response.
 */
export function jsonAnswer(body: unknown, status = 200): Response {
  const response = Response.json(body, { status });
  response.headers.set("Cache-Control", "no-store");
  return response;
}

/**
 * Serves one API request: its refusals ({@linkcode ApiError}) become
 * `{ "error": message }` with their status (and `Retry-After` when they
 * say when to ask again).
 *
 * @param serve The request's handling.
 * @returns The answer.
 */
export async function apiAnswer(serve: () => Promise<Response> | Response): Promise<Response> {
  try {
    return await serve();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const answer = jsonAnswer({ error: error.message }, error.status);
    if (error.retryAfterSeconds !== undefined) {
      answer.headers.set("Retry-After", String(error.retryAfterSeconds));
    }
    return answer;
  }
}

/**
 * Reads the JSON object a page posted, after the checks of the module doc.
 *
 * @param request The POST.
 * @param webOrigins Origins besides the node's own whose pages may post.
 * @param maxBytes Largest body read.
 * @returns The object.
 * @throws {ApiError} 403 another site's page, 415 not JSON, 413 too big, 400 not an object.
 */
export async function postedJson(
  request: Request,
  webOrigins: ReadonlySet<string>,
  maxBytes: number,
): Promise<Record<string, unknown>> {
  const origin = request.headers.get("origin");
  if (origin !== null && !pageOriginAllowed(origin, request.headers.get("host"), webOrigins)) {
    throw new ApiError(403, "Forbidden: post from the node's own page");
  }
  if (request.headers.get("content-type")?.split(";")[0]?.trim() !== "application/json") {
    throw new ApiError(415, "Unsupported content type: send application/json");
  }
  const text = await boundedText(request, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, "Bad request: the body is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ApiError(400, "Bad request: expected a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * A string field of a posted object.
 *
 * @param body The object.
 * @param field Its name.
 * @param max Longest value.
 * @returns The value.
 * @throws {ApiError} 400 when it is missing, not a string or too long.
 */
export function stringField(body: Record<string, unknown>, field: string, max: number): string {
  const value = Object.hasOwn(body, field) ? body[field] : undefined;
  if (typeof value !== "string" || value.length > max) {
    throw new ApiError(
      400,
      `Bad request: "${field}" must be a string of at most ${max} characters`,
    );
  }
  return value;
}

/** Reads a body up to `maxBytes`, without buffering more. */
async function boundedText(request: Request, maxBytes: number): Promise<string> {
  const tooBig = () => new ApiError(413, `Request too large: at most ${maxBytes} bytes`);
  if (Number(request.headers.get("content-length") ?? 0) > maxBytes) throw tooBig();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body ?? []) {
    size += chunk.length;
    if (size > maxBytes) throw tooBig();
    chunks.push(chunk);
  }
  return new TextDecoder().decode(concatBytes(...chunks));
}

const JAVASCRIPT = "text/javascript; charset=utf-8";

/**
 * One of the node's own pages (in `pages/`): its HTML at `/NAME`, its script
 * at `/NAME/NAME.js`, and beside them what every page shares: the style
 * sheet `page.css` and the script module `page.js`.
 */
export interface Page {
  /** The page's path, without the slash. */
  readonly name: string;
  /** Its HTML. */
  readonly html: string;
  /** Its script, a module. */
  readonly script: string;
}

/**
 * A file of a page, for a GET or HEAD.
 *
 * @param page The page.
 * @param path The request's path.
 * @returns The file with the page policy; undefined when `path` is none of the page's.
 */
export function pageFile(page: Page, path: string): Response | undefined {
  const base = `/${page.name}`;
  if (path === base) return staticFile(page.html, "text/html; charset=utf-8");
  if (path === `${base}/${page.name}.js`) return staticFile(page.script, JAVASCRIPT);
  if (path === `${base}/page.js`) return staticFile(PAGE_JS, JAVASCRIPT);
  if (path === `${base}/page.css`) return staticFile(PAGE_CSS, "text/css; charset=utf-8");
  return undefined;
}

/** A static file of a page, with its type and the page policy. */
function staticFile(body: string, type: string): Response {
  return new Response(body, {
    headers: {
      "Content-Type": type,
      "Content-Security-Policy": PAGE_CSP,
      "Cache-Control": "no-cache",
    },
  });
}
