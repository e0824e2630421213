/**
 * Public-key upload: a person registers a nick to an OpenSSH public key on
 * the web by proving they hold the key, without an SSH session.
 *
 * | path | answer |
 * | --- | --- |
 * | `GET /keys` | the page (its script and style under `/keys/`) |
 * | `POST /keys/challenge` | `{"nick","key"}` → `{"challenge","text","command","expiresInSeconds"}` |
 * | `POST /keys/register` | `{"challenge","signature"}` → `{"nick","fingerprint","outcome"}`; 429 after too many unknown challenges from one address |
 *
 * 1. The page posts the nick and the public key line. The node checks both
 *    (a valid nick, not another key's; a key type and size SSH logins
 *    accept) and answers a challenge: 256 random bits in a line that also
 *    names the nick and the key's fingerprint, so the signature itself says
 *    what it registers. It is held in memory for `challengeTtlMs`, bound to
 *    that nick and key, and the page shows the command that signs it:
 *    `echo 'LINE' | ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n meshchat`.
 * 2. The page posts the challenge and the armored signature. The challenge
 *    is taken whatever the outcome (used once, so a signature cannot be
 *    replayed); the signature must verify (core/crypto/sshsig.ts) for the
 *    namespace `meshchat`, by that key, over the line (with `echo`'s newline,
 *    or without it as `printf` writes it).
 * 3. The nick is then claimed as an SSH login claims it: a claim event in
 *    the log, replicated and snapshotted like the rest. Refused, with the
 *    reason, when another key owns it or the key owns as many as it may.
 *
 * A guest using the nick at that moment keeps it until they leave; from
 * then on it is the key's.
 *
 * @module
 */
import { encodeBase64 } from "../../../core/crypto/_base64.ts";
import {
  parsePublicKeyLine,
  sshKeyFingerprint,
  type SshPublicKey,
  SshSignatureError,
  verifySshSignature,
} from "../../../core/crypto/sshsig.ts";
import { EventRuleError } from "../../chat/event_log.ts";
import type { ModerationView } from "../../chat/moderation.ts";
import type { NickRegistryView } from "../../chat/nick_registry.ts";
import { validNick } from "../../chat/nick_policy.ts";
import type { Logger } from "../../logger.ts";
import { ConnectionLimits } from "../connection_limits.ts";
import { weakKeyReason } from "../ssh/ssh_key_policy.ts";
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
import KEYS_HTML from "./pages/keys.html" with { type: "text" };
import KEYS_JS from "./pages/keys.js" with { type: "text" };

/** The key page. */
const KEYS_PAGE: Page = { name: "keys", html: KEYS_HTML, script: KEYS_JS };

/** The namespace signatures must be made for (`ssh-keygen -n`). */
export const SIGNATURE_NAMESPACE = "meshchat";

/** Options of {@linkcode KeyUpload}. */
export interface KeyUploadOptions {
  /** Who owns which nick; a registration claims through it. */
  readonly nicks: Pick<NickRegistryView, "ownerOf" | "claim">;
  /** Bans: a banned key, nick or address registers nothing. */
  readonly moderation: Pick<ModerationView, "banOf">;
  /** Origins besides the node's own whose pages may post (`--web-origin`), normalised. */
  readonly webOrigins: ReadonlySet<string>;
  /** Where registrations are logged. */
  readonly logger: Logger;
  /** How long a challenge may be signed (ms). @default 300000 */
  readonly challengeTtlMs?: number;
  /** Challenges waiting at once, in all; bounds memory. @default 1000 */
  readonly maxChallenges?: number;
  /** Challenges waiting at once from one address. @default 8 */
  readonly maxChallengesPerAddress?: number;
  /**
   * The node's connection account: an unknown, used or expired challenge is
   * an offence of its address there (guess_limit.ts). @default a new ConnectionLimits()
   */
  readonly limits?: OffenceAccount;
  /** Clock (ms). @default Date.now */
  readonly now?: () => number;
}

/** A challenge waiting for its signature. */
interface Challenge {
  readonly text: string;
  readonly nick: string;
  readonly key: SshPublicKey;
  readonly fingerprint: string;
  readonly address: string;
  readonly expires: number;
}

/** Where `ssh-keygen -t TYPE` puts a key of each type, for the command shown. */
const KEY_FILES: Readonly<Record<string, string>> = {
  "ssh-ed25519": "~/.ssh/id_ed25519",
  "ssh-rsa": "~/.ssh/id_rsa",
};

/** The key upload routes (see the module doc). */
export class KeyUpload {
  readonly #nicks: KeyUploadOptions["nicks"];
  readonly #moderation: KeyUploadOptions["moderation"];
  readonly #webOrigins: ReadonlySet<string>;
  readonly #logger: Logger;
  readonly #challengeTtlMs: number;
  readonly #maxChallenges: number;
  readonly #maxPerAddress: number;
  readonly #now: () => number;
  readonly #guesses: GuessLimit;
  /** Waiting challenges by their random part, oldest first. */
  readonly #challenges = new Map<string, Challenge>();

  /** @param options See {@linkcode KeyUploadOptions}. */
  constructor(options: KeyUploadOptions) {
    this.#nicks = options.nicks;
    this.#moderation = options.moderation;
    this.#webOrigins = options.webOrigins;
    this.#logger = options.logger;
    this.#challengeTtlMs = options.challengeTtlMs ?? 300_000;
    this.#maxChallenges = options.maxChallenges ?? 1000;
    this.#maxPerAddress = options.maxChallengesPerAddress ?? 8;
    this.#now = options.now ?? Date.now;
    this.#guesses = new GuessLimit(options.limits ?? new ConnectionLimits());
  }

  /** The key upload routes, for the HTTP server's `pages`. */
  readonly route: PageRoute = (request, info) => {
    const path = new URL(request.url).pathname;
    const get = request.method === "GET" || request.method === "HEAD";
    const post = request.method === "POST";
    const address = info.remoteAddr.hostname;
    const file = get ? pageFile(KEYS_PAGE, path) : undefined;
    if (file !== undefined) return file;
    if (path === "/keys/challenge" && post) {
      return apiAnswer(() => this.#challenge(request, address));
    }
    if (path === "/keys/register" && post) {
      return apiAnswer(() => this.#register(request, address));
    }
    if (path === "/keys" || path.startsWith("/keys/")) {
      return jsonAnswer({ error: "Not found" }, 404);
    }
    return undefined;
  };

  async #challenge(request: Request, address: string): Promise<Response> {
    const body = await postedJson(request, this.#webOrigins, 16_384);
    const nick = this.#validNick(stringField(body, "nick", 64));
    const key = parseKey(stringField(body, "key", 8192));
    const weak = weakKeyReason({
      type: key.type,
      // The signature's hash is checked when it comes: sshsig.ts refuses SHA-1.
      hashAlgo: key.type === "ssh-rsa" ? "sha512" : undefined,
      ...(key.rsaBits === undefined ? {} : { rsaBits: key.rsaBits }),
    });
    if (weak !== undefined) throw new ApiError(400, weak);
    const fingerprint = await sshKeyFingerprint(key);
    const owner = this.#nicks.ownerOf(nick);
    if (owner !== undefined && owner !== fingerprint) {
      throw taken(nick);
    }
    this.#refuseBanned(nick, fingerprint, address);
    this.#makeRoom(address);
    const random = encodeBase64(crypto.getRandomValues(new Uint8Array(32)), "base64url");
    const text = `meshchat register ${nick} ${fingerprint} ${random}`;
    this.#challenges.set(random, {
      text,
      nick,
      key,
      fingerprint,
      address,
      expires: this.#now() + this.#challengeTtlMs,
    });
    const keyFile = KEY_FILES[key.type] ?? "~/.ssh/id_ecdsa";
    return jsonAnswer({
      challenge: random,
      text,
      command: `echo '${text}' | ssh-keygen -Y sign -f ${keyFile} -n ${SIGNATURE_NAMESPACE}`,
      expiresInSeconds: Math.floor(this.#challengeTtlMs / 1000),
    });
  }

  async #register(request: Request, address: string): Promise<Response> {
    const body = await postedJson(request, this.#webOrigins, 32_768);
    this.#guesses.admit(address); // after the body is read: see signin.ts
    const random = stringField(body, "challenge", 64);
    const signature = stringField(body, "signature", 16_384);
    const challenge = this.#challenges.get(random);
    this.#challenges.delete(random); // used once, whatever comes of it
    if (challenge === undefined || challenge.expires <= this.#now()) {
      // A guess of the secret. (A bad signature is not: it uses up a real challenge.)
      this.#guesses.wrong(address);
      throw new ApiError(400, "This challenge is used, expired or unknown: get a new one");
    }
    await verifyChallenge(challenge, signature);
    // Again: a ban may have come while the person signed.
    this.#refuseBanned(challenge.nick, challenge.fingerprint, address);
    let outcome;
    try {
      outcome = this.#nicks.claim(challenge.nick, challenge.fingerprint);
    } catch (error) {
      if (!(error instanceof EventRuleError)) throw error;
      throw new ApiError(400, error.message);
    }
    if (outcome === "taken") {
      throw taken(challenge.nick);
    }
    if (outcome === "quota") {
      throw new ApiError(
        409,
        "Your key owns as many nicks as one key may: it cannot register more",
      );
    }
    if (outcome === "full") {
      throw new ApiError(503, "The nick registry is full: ask the operators");
    }
    this.#logger.info("nick registered by key upload", {
      addr: address,
      nick: challenge.nick,
      fingerprint: challenge.fingerprint,
      outcome,
    });
    return jsonAnswer({ nick: challenge.nick, fingerprint: challenge.fingerprint, outcome });
  }

  /** Throws when a ban applies to the key, the nick or the address. */
  #refuseBanned(nick: string, fingerprint: string, address: string): void {
    // A bare IPv6 host in brackets: bans read `host:port` addresses.
    const bracketed = address.includes(":") ? `[${address}]` : address;
    const ban = this.#moderation.banOf({ nick, fingerprint, address: bracketed }, this.#now());
    if (ban !== undefined) {
      throw new ApiError(403, "You are banned from this chat: a banned key registers no nick");
    }
  }

  #validNick(nick: string): string {
    try {
      return validNick(nick);
    } catch (error) {
      throw new ApiError(400, (error as Error).message);
    }
  }

  /** Drops expired challenges; refuses a new one past the caps. */
  #makeRoom(address: string): void {
    const now = this.#now();
    let fromAddress = 0;
    for (const [random, challenge] of this.#challenges) {
      if (challenge.expires <= now) this.#challenges.delete(random);
      else if (challenge.address === address) fromAddress++;
    }
    if (fromAddress >= this.#maxPerAddress || this.#challenges.size >= this.#maxChallenges) {
      throw new ApiError(429, "Too many registrations waiting: sign one, or try again later");
    }
  }
}

function taken(nick: string): ApiError {
  return new ApiError(409, `Nick ${nick} is registered to another SSH key: choose another`);
}

function parseKey(line: string): SshPublicKey {
  try {
    return parsePublicKeyLine(line);
  } catch (error) {
    if (!(error instanceof SshSignatureError)) throw error;
    throw new ApiError(400, error.message);
  }
}

/** The signature must be of the challenge line, by its key, for meshchat. */
async function verifyChallenge(challenge: Challenge, signature: string): Promise<void> {
  const encoder = new TextEncoder();
  // `echo` ends the file with a newline, `printf '%s'` does not: either is the line.
  const messages = [`${challenge.text}\n`, challenge.text];
  for (const [i, message] of messages.entries()) {
    try {
      await verifySshSignature(signature, {
        message: encoder.encode(message),
        namespace: SIGNATURE_NAMESPACE,
        publicKey: challenge.key,
      });
      return;
    } catch (error) {
      if (!(error instanceof SshSignatureError)) throw error;
      const last = i === messages.length - 1;
      if (last || !/does not verify/.test(error.message)) throw new ApiError(400, error.message);
    }
  }
}
