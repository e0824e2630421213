/**
 * Who may use which nick on this node: a valid nick that nobody in the
 * cluster uses, and that the {@linkcode NickGuard} (nicks owned by SSH keys,
 * node/chat/nick_registry.ts) allows to this person. One who must give up a
 * nick (a lost nick race) gets the first free variant, `ann_2`, `ann_3`...
 *
 * ```ts ignore
 * const nicks = new NickPolicy({ inUse: (nick) => sessions.has(nickKey(nick)), guard });
 * const nick = nicks.checkFree("ann", fingerprint); // throws `nick_taken`
 * nicks.use(nick, fingerprint);
 * ```
 *
 * @module
 */
import { validateNick } from "../../core/names.ts";
import { ProtocolError } from "../../core/protocol.ts";

/** The longest nick (`NICK_PATTERN`, core/names.ts): a variant is cut to fit it. */
const MAX_NICK_LENGTH = 16;

/**
 * Who may use which nick beyond "not in use", e.g. nicks owned by SSH keys
 * (node/chat/nick_registry.ts). The hub asks before a session takes a nick and
 * reports each nick a session took.
 */
export interface NickGuard {
  /**
   * Why a person may not use a nick; must not change anything.
   *
   * @param nick A valid nick.
   * @param fingerprint The person's key fingerprint, undefined without a key.
   * @returns A message for the person, or undefined when the nick may be used.
   */
  check(nick: string, fingerprint: string | undefined): string | undefined;
  /**
   * A session now uses the nick (the guard may register it to the key).
   *
   * @param nick The nick.
   * @param fingerprint The person's key fingerprint, undefined without a key.
   */
  use(nick: string, fingerprint: string | undefined): void;
  /**
   * The key fingerprint that owns a nick, for `/whois`.
   *
   * @param nick The nick.
   * @returns The fingerprint, or undefined when nobody owns it.
   */
  ownerOf(nick: string): string | undefined;
  /**
   * Whether a key owns a nick: it is the nick's owner or a key linked to it.
   * Per-identity state (unread marks, offline messages...) is keyed by a nick
   * its session's key owns.
   *
   * @param nick The nick.
   * @param fingerprint A key fingerprint, undefined without a key (then false).
   * @returns True when that key owns the nick.
   */
  owns(nick: string, fingerprint: string | undefined): boolean;
}

/** Options of {@linkcode NickPolicy}. */
export interface NickPolicyOptions {
  /** Whether someone uses a nick (in any case) anywhere in the cluster. */
  inUse(nick: string): boolean;
  /** Extra rules for nicks. @default none */
  guard?: NickGuard | undefined;
}

/**
 * A nick as typed, checked.
 *
 * @param nick The nick.
 * @returns The nick, valid.
 * @throws {ProtocolError} `nick_invalid`.
 */
export function validNick(nick: string): string {
  try {
    return validateNick(nick);
  } catch (error) {
    throw new ProtocolError("nick_invalid", (error as Error).message, { cause: error });
  }
}

/** Who may use which nick (see the module doc). */
export class NickPolicy {
  readonly #inUse: (nick: string) => boolean;
  readonly #guard: NickGuard | undefined;

  /** @param options See {@linkcode NickPolicyOptions}. */
  constructor(options: NickPolicyOptions) {
    this.#inUse = options.inUse;
    this.#guard = options.guard;
  }

  /**
   * A nick a person may take: valid, used by nobody (or only by the same
   * person: a key that owns the nick may use it on several devices at once),
   * allowed by the guard.
   *
   * @param requested The nick as typed.
   * @param fingerprint The person's key fingerprint, undefined without a key.
   * @returns The nick, valid.
   * @throws {ProtocolError} `nick_invalid`, `nick_taken`.
   */
  checkFree(requested: string, fingerprint: string | undefined): string {
    const nick = validNick(requested);
    if (this.#inUse(nick) && !this.owns(nick, fingerprint)) {
      throw new ProtocolError("nick_taken", `Nick ${nick} is taken: choose another`);
    }
    const refusal = this.#guard?.check(nick, fingerprint);
    if (refusal !== undefined) throw new ProtocolError("nick_taken", refusal);
    return nick;
  }

  /**
   * The first free variant of a nick (`ann_2`, `ann_3`...), cut to fit the
   * nick length, for a person who must give it up.
   *
   * @param nick A valid nick.
   * @param fingerprint The person's key fingerprint, undefined without a key.
   * @returns A nick {@linkcode NickPolicy.checkFree} accepts.
   */
  freeVariant(nick: string, fingerprint: string | undefined): string {
    for (let i = 2;; i++) {
      const suffix = `_${i}`;
      const candidate = nick.slice(0, MAX_NICK_LENGTH - suffix.length) + suffix;
      if (!this.#inUse(candidate) && this.#guard?.check(candidate, fingerprint) === undefined) {
        return candidate;
      }
    }
  }

  /**
   * A session now uses a nick: the guard may register it to the key.
   *
   * @param nick The nick.
   * @param fingerprint The person's key fingerprint, undefined without a key.
   */
  use(nick: string, fingerprint: string | undefined): void {
    this.#guard?.use(nick, fingerprint);
  }

  /**
   * The key fingerprint that owns a nick.
   *
   * @param nick The nick.
   * @returns The fingerprint, or undefined when nobody owns it (or there is no guard).
   */
  ownerOf(nick: string): string | undefined {
    return this.#guard?.ownerOf(nick);
  }

  /**
   * Whether a key owns a nick (its owner or a linked key).
   *
   * @param nick The nick.
   * @param fingerprint A key fingerprint, undefined without a key.
   * @returns True when that key owns the nick; false without a guard.
   */
  owns(nick: string, fingerprint: string | undefined): boolean {
    return this.#guard?.owns(nick, fingerprint) ?? false;
  }
}
