/**
 * Web sign-in with an SSH key, over HTTP: the `/web` link, the page that
 * trades its token for a cookie, and the cookie the WebSocket handshake
 * carries. The tokens and credentials themselves are signin_tokens.ts.
 *
 * | path | answer |
 * | --- | --- |
 * | `GET /signin` | the sign-in page (its script and style under `/signin/`) |
 * | `POST /signin/token` | `{"token"}` → `{"nick","fingerprint"}` and the cookie; 401 used, expired or unknown; 429 after too many of those from one address |
 * | `GET /signin/session` | who this browser is signed in as, or 401 |
 * | `POST /signin/out` | signs this browser out |
 *
 * **Why the token is in the fragment** (`/signin#TOKEN`): a browser never
 * sends a fragment, so the token is in no request line, access log, proxy
 * log or `Referer`; the page's script reads it, takes it out of the
 * address bar, and posts it. The node logs who signed in, never a token or
 * a credential.
 *
 * **Why a cookie, not a ticket in `hello`:** the credential is `HttpOnly`,
 * so no script — an injected one included — can read it and carry it off;
 * the browser sends it with the WebSocket handshake by itself, so protocol v1
 * needs no new field and the web client no code. The cookie is
 * `SameSite=Strict` (no other site's request carries it), `Path=/`, and
 * `Secure` when the browser is on HTTPS (the node's TLS, or a page from an
 * `https:` origin such as a reverse proxy's). The WebSocket's `Origin`
 * check stops another site's page from opening a socket that would carry
 * it; the POSTs are checked the same way (json_api.ts). Cookies are not
 * kept apart by port, so each node names its own (`meshchat_<id>`): nodes
 * on one host do not overwrite each other's.
 *
 * A link works on the node that printed it, and a credential on the node
 * that made it; they live in its memory and are gone when it restarts.
 *
 * @module
 */
import type { Logger } from "../../logger.ts";
import { ConnectionLimits } from "../connection_limits.ts";
import { GuessLimit, type OffenceAccount } from "./guess_limit.ts";
import type { PageRoute } from "./http_server.ts";
import {
  apiAnswer,
  ApiError,
  jsonAnswer,
  type Page,
  pageFile,
  postedJson,
  stringField,
} from "./json_api.ts";
import type { SignInTokens, WebIdentity } from "./signin_tokens.ts";
import SIGNIN_HTML from "./pages/signin.html" with { type: "text" };
import SIGNIN_JS from "./pages/signin.js" with { type: "text" };

/** The sign-in page. */
const SIGNIN_PAGE: Page = { name: "signin", html: SIGNIN_HTML, script: SIGNIN_JS };

/** Options of {@linkcode WebSignIn}. */
export interface WebSignInOptions {
  /** This node's id: the cookie's name is `meshchat_<id>`. */
  readonly nodeId: string;
  /** The tokens and credentials. */
  readonly tokens: SignInTokens;
  /** Origins besides the node's own whose pages may post (`--web-origin`), normalised. */
  readonly webOrigins: ReadonlySet<string>;
  /** Whether the node speaks HTTPS itself (`--tls-cert`): the cookie is `Secure`. */
  readonly tls: boolean;
  /** Where sign-ins are logged (never a token). */
  readonly logger: Logger;
  /**
   * The node's connection account: a wrong token is an offence of its
   * address there (guess_limit.ts). @default a new ConnectionLimits()
   */
  readonly limits?: OffenceAccount;
}

/** Where the node's HTTP port listens, for {@linkcode linkBase}. */
export interface HttpEndpoint {
  /** The address it is bound to (`0.0.0.0` or `::`: every one). */
  readonly hostname: string;
  /** Its port. */
  readonly port: number;
  /** Whether it speaks HTTPS. */
  readonly tls: boolean;
  /** Public origins of the node's pages (`--web-origin`), in the order given. */
  readonly webOrigins: readonly string[];
}

/**
 * Where a person's browser reaches this node's pages: the first
 * `--web-origin` (a reverse proxy) when there is one; else the HTTP port on
 * the address it is bound to, or, when it is bound to every address, on the
 * one the person's SSH connection reached — a host they can reach.
 *
 * @param http The HTTP port.
 * @param localAddress The local address of the person's SSH connection.
 * @returns The base URL, no trailing `/`.
 */
export function linkBase(http: HttpEndpoint, localAddress: string): string {
  if (http.webOrigins.length > 0) return http.webOrigins[0]!;
  const wildcard = http.hostname === "0.0.0.0" || http.hostname === "::" || http.hostname === "";
  const host = (wildcard ? localAddress : http.hostname).replace(/^::ffff:(?=\d+\.)/, "");
  return `${http.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${http.port}`;
}

/** Longest token or credential read (they are 43 characters). */
const MAX_SECRET_LENGTH = 64;

/** The web sign-in routes, and the WebSocket's view of the cookie. */
export class WebSignIn {
  readonly #tokens: SignInTokens;
  readonly #cookieName: string;
  readonly #webOrigins: ReadonlySet<string>;
  readonly #tls: boolean;
  readonly #logger: Logger;
  readonly #guesses: GuessLimit;

  /** @param options See {@linkcode WebSignInOptions}. */
  constructor(options: WebSignInOptions) {
    this.#guesses = new GuessLimit(options.limits ?? new ConnectionLimits());
    this.#tokens = options.tokens;
    this.#cookieName = `meshchat_${options.nodeId}`;
    this.#webOrigins = options.webOrigins;
    this.#tls = options.tls;
    this.#logger = options.logger;
  }

  /**
   * Makes a `/web` link for a key and a nick it owns.
   *
   * @param identity The key and nick.
   * @param base Where browsers reach this node's HTTP port, e.g. `http://10.0.0.1:8090`.
   * @returns The link: `BASE/signin#TOKEN`.
   */
  link(identity: WebIdentity, base: string): string {
    return `${base}/signin#${this.#tokens.issue(identity)}`;
  }

  /** How long a link works (ms). */
  get linkTtlMs(): number {
    return this.#tokens.tokenTtlMs;
  }

  /**
   * The key a request's cookie speaks for (the WebSocket's `identify`).
   *
   * @param request A request.
   * @returns The key's fingerprint, or undefined for a guest.
   */
  readonly identify = (request: Request): string | undefined =>
    this.#identityOf(request)?.fingerprint;

  /** The sign-in routes, for the HTTP server's `pages`. */
  readonly route: PageRoute = (request, info) => {
    const path = new URL(request.url).pathname;
    const get = request.method === "GET" || request.method === "HEAD";
    const post = request.method === "POST";
    const file = get ? pageFile(SIGNIN_PAGE, path) : undefined;
    if (file !== undefined) return file;
    if (path === "/signin/token" && post) {
      return apiAnswer(() => this.#exchange(request, info.remoteAddr.hostname));
    }
    if (path === "/signin/session" && get) {
      const identity = this.#identityOf(request);
      return identity === undefined
        ? jsonAnswer({ error: "Not signed in" }, 401)
        : jsonAnswer({ nick: identity.nick, fingerprint: identity.fingerprint });
    }
    if (path === "/signin/out" && post) return apiAnswer(() => this.#signOut(request));
    if (path === "/signin" || path.startsWith("/signin/")) {
      return jsonAnswer({ error: "Not found" }, 404);
    }
    return undefined;
  };

  async #exchange(request: Request, address: string): Promise<Response> {
    const body = await postedJson(request, this.#webOrigins, 1024);
    // After the body is read, so that from here to the count nothing waits:
    // guesses posted at once are counted one by one, not all let through.
    this.#guesses.admit(address);
    const credential = this.#tokens.exchange(stringField(body, "token", MAX_SECRET_LENGTH));
    if (credential === undefined) {
      this.#guesses.wrong(address);
      this.#logger.info("web sign-in refused", { addr: address });
      throw new ApiError(
        401,
        "This sign-in link is used, expired or unknown: type /web in your SSH session for a new one",
      );
    }
    const { identity } = credential;
    this.#logger.info("web sign-in", {
      addr: address,
      nick: identity.nick,
      fingerprint: identity.fingerprint,
    });
    const response = jsonAnswer({ nick: identity.nick, fingerprint: identity.fingerprint });
    response.headers.set(
      "Set-Cookie",
      this.#cookie(credential.value, Math.floor(credential.ttlMs / 1000), request),
    );
    return response;
  }

  async #signOut(request: Request): Promise<Response> {
    await postedJson(request, this.#webOrigins, 1024);
    const credential = this.#credentialOf(request);
    if (credential !== undefined) this.#tokens.revoke(credential);
    const response = jsonAnswer({ signedOut: true });
    response.headers.set("Set-Cookie", this.#cookie("", 0, request));
    return response;
  }

  /** The cookie (see the module doc for its flags). */
  #cookie(value: string, maxAgeSeconds: number, request: Request): string {
    const https = this.#tls || request.headers.get("origin")?.startsWith("https:") === true;
    return `${this.#cookieName}=${value}; Max-Age=${maxAgeSeconds}; Path=/; HttpOnly; ` +
      `SameSite=Strict${https ? "; Secure" : ""}`;
  }

  #identityOf(request: Request): WebIdentity | undefined {
    const credential = this.#credentialOf(request);
    return credential === undefined ? undefined : this.#tokens.identityOf(credential);
  }

  #credentialOf(request: Request): string | undefined {
    for (const pair of (request.headers.get("cookie") ?? "").split(";")) {
      const at = pair.indexOf("=");
      if (at < 0 || pair.slice(0, at).trim() !== this.#cookieName) continue;
      const value = pair.slice(at + 1).trim();
      if (value.length <= MAX_SECRET_LENGTH) return value;
    }
    return undefined;
  }
}
