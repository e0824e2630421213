/**
 * Web sign-in with an SSH key, as state: one-time tokens that `/web` issues
 * in an SSH session, and the browser credentials they are exchanged for. No
 * HTTP here (signin.ts serves it); time and randomness are injected.
 *
 * 1. `/web` in an SSH session signed in with a key: {@linkcode SignInTokens.issue}
 *    makes a token — 256 random bits, base64url — bound to the key's
 *    fingerprint and a nick the key owns, valid for `tokenTtlMs`, once.
 * 2. The browser's sign-in page posts it: {@linkcode SignInTokens.exchange}
 *    takes it (used or not, it is gone) and makes a credential, 256 random
 *    bits too, bound to the same key and nick, valid for `credentialTtlMs`.
 * 3. The credential rides in an `HttpOnly` cookie; the WebSocket handshake
 *    carries it, and {@linkcode SignInTokens.identityOf} names the key the
 *    session then speaks for.
 *
 * Everything is in this node's memory only: a link works on the node that
 * issued it, and a restart signs every browser out. Both maps are bounded:
 * a key holds at most `maxTokensPerKey` live tokens (a new one replaces its
 * oldest), and past `maxTokens` or `maxCredentials` the oldest entry goes.
 *
 * @module
 */
import { encodeBase64 } from "../../../core/crypto/_base64.ts";

/** Who a token or credential speaks for. */
export interface WebIdentity {
  /** The SSH key's `SHA256:` fingerprint. */
  readonly fingerprint: string;
  /** The nick the key owns that the browser is signed in as. */
  readonly nick: string;
}

/** A credential made from a token. */
export interface WebCredential {
  /** The secret the browser keeps (the cookie's value). */
  readonly value: string;
  /** Who it speaks for. */
  readonly identity: WebIdentity;
  /** How long it lasts (ms). */
  readonly ttlMs: number;
}

/** Options of {@linkcode SignInTokens}. */
export interface SignInTokensOptions {
  /** How long a `/web` link works (ms); shorter leaves less time to a leaked link. @default 300000 */
  tokenTtlMs?: number;
  /**
   * How long a browser stays signed in (ms); longer asks for `/web` less
   * often, shorter limits a stolen cookie. @default 43200000 (12 hours)
   */
  credentialTtlMs?: number;
  /** Live tokens one key may have; a new one replaces its oldest. @default 3 */
  maxTokensPerKey?: number;
  /** Live tokens in all; bounds memory. @default 10000 */
  maxTokens?: number;
  /** Browsers signed in at once; past it the oldest is signed out. @default 10000 */
  maxCredentials?: number;
  /** Clock (ms). @default Date.now */
  now?: () => number;
  /** Random bytes. @default crypto.getRandomValues */
  randomBytes?: (length: number) => Uint8Array;
}

interface Entry {
  readonly identity: WebIdentity;
  readonly expires: number;
}

/** The secret's size: 256 bits. */
const SECRET_BYTES = 32;

/** Tokens and credentials of web sign-in (see the module doc). */
export class SignInTokens {
  readonly #tokens = new Map<string, Entry>();
  readonly #credentials = new Map<string, Entry>();
  readonly #tokenTtlMs: number;
  readonly #credentialTtlMs: number;
  readonly #maxTokensPerKey: number;
  readonly #maxTokens: number;
  readonly #maxCredentials: number;
  readonly #now: () => number;
  readonly #randomBytes: (length: number) => Uint8Array;

  /** @param options See {@linkcode SignInTokensOptions}. */
  constructor(options: SignInTokensOptions = {}) {
    const {
      tokenTtlMs = 300_000,
      credentialTtlMs = 43_200_000,
      maxTokensPerKey = 3,
      maxTokens = 10_000,
      maxCredentials = 10_000,
      now = Date.now,
      randomBytes = (length) => crypto.getRandomValues(new Uint8Array(length)),
    } = options;
    this.#tokenTtlMs = tokenTtlMs;
    this.#credentialTtlMs = credentialTtlMs;
    this.#maxTokensPerKey = maxTokensPerKey;
    this.#maxTokens = maxTokens;
    this.#maxCredentials = maxCredentials;
    this.#now = now;
    this.#randomBytes = randomBytes;
  }

  /** How long a token works (ms). */
  get tokenTtlMs(): number {
    return this.#tokenTtlMs;
  }

  /**
   * Makes a one-time token for a key and a nick it owns (the caller checks
   * that it owns it).
   *
   * @param identity The key and nick.
   * @returns The token: 43 base64url characters.
   */
  issue(identity: WebIdentity): string {
    const now = this.#now();
    const ofKey = [...this.#tokens].filter(([, entry]) =>
      entry.identity.fingerprint === identity.fingerprint
    );
    for (const [token] of ofKey.slice(0, Math.max(0, ofKey.length - this.#maxTokensPerKey + 1))) {
      this.#tokens.delete(token);
    }
    return this.#put(this.#tokens, this.#maxTokens, { identity, expires: now + this.#tokenTtlMs });
  }

  /**
   * Takes a token: whatever the outcome, it cannot be used again.
   *
   * @param token What the browser posted.
   * @returns A new credential for the token's key and nick, or undefined
   *   when the token is unknown, used or expired.
   */
  exchange(token: string): WebCredential | undefined {
    const entry = this.#tokens.get(token);
    this.#tokens.delete(token);
    if (entry === undefined || entry.expires <= this.#now()) return undefined;
    const value = this.#put(this.#credentials, this.#maxCredentials, {
      identity: entry.identity,
      expires: this.#now() + this.#credentialTtlMs,
    });
    return { value, identity: entry.identity, ttlMs: this.#credentialTtlMs };
  }

  /**
   * Who a credential speaks for.
   *
   * @param credential The cookie's value.
   * @returns The key and nick, or undefined when it is unknown or expired.
   */
  identityOf(credential: string): WebIdentity | undefined {
    const entry = this.#credentials.get(credential);
    if (entry === undefined) return undefined;
    if (entry.expires > this.#now()) return entry.identity;
    this.#credentials.delete(credential);
    return undefined;
  }

  /**
   * Signs a browser out: its credential no longer works.
   *
   * @param credential The cookie's value.
   */
  revoke(credential: string): void {
    this.#credentials.delete(credential);
  }

  /** Stores a new random secret; drops expired entries, then the oldest, past the cap. */
  #put(map: Map<string, Entry>, max: number, entry: Entry): string {
    if (map.size >= max) {
      const now = this.#now();
      for (const [key, old] of map) if (old.expires <= now) map.delete(key);
    }
    // Oldest first: a Map iterates in insertion order.
    for (const key of map.keys()) {
      if (map.size < max) break;
      map.delete(key);
    }
    const secret = encodeBase64(this.#randomBytes(SECRET_BYTES), "base64url");
    map.set(secret, entry);
    return secret;
  }
}
