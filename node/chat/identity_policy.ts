/**
 * Who a person is, by their keys: the hub's rules over the keys that own a
 * nick (the one that registered it and those linked to it,
 * node/chat/linked_keys.ts) and the bot marks (node/chat/bots.ts). A key
 * that owns a nick is the person, so:
 *
 * - only such a key changes which keys own the nick (`/keys add`,
 *   `/keys remove`: {@linkcode IdentityPolicy.linkKey}); the registering key
 *   stays, and a nick has at most {@linkcode MAX_KEYS_PER_NICK} keys;
 * - a key unlinked, here or on another node, logs its devices here out at
 *   once, so a stolen device stops being the person
 *   ({@linkcode IdentityPolicy.revokeUnlinked});
 * - a ban on any of a person's keys bans the person, whichever key they
 *   come with: refused at the door ({@linkcode IdentityPolicy.checkKeyBan})
 *   and put out when the ban arrives ({@linkcode IdentityPolicy.expelKeyBanned});
 * - only a registered nick is a bot: its own key marks it, or an operator
 *   ({@linkcode IdentityPolicy.markBot}).
 *
 * The log holds the state (`link` and `bot` events, cluster-wide); this
 * holds none, and the hub calls it from its actions and its fan-out.
 *
 * ```ts ignore
 * const identity = new IdentityPolicy({ log, nicks, local, devicesOf, emit, isOp, expel, now });
 * identity.checkKeyBan(nick, fingerprint); // throws `banned`
 * log.onSettled((event) => event.kind === "link" && identity.revokeUnlinked(event.from));
 * ```
 *
 * @module
 */
import { nickKey } from "../../core/names.ts";
import { ProtocolError } from "../../core/protocol.ts";
import type { EventLog } from "./event_log.ts";
import { linkText } from "./linked_keys.ts";
import { type NickPolicy, validNick } from "./nick_policy.ts";
import type { Session } from "./session.ts";

/** Keys one nick may have: its registering key and the ones linked to it (`/keys add`). */
export const MAX_KEYS_PER_NICK = 8;

/** What {@linkcode IdentityPolicy} works with: the hub's parts. */
export interface IdentityPolicyOptions {
  /** The log: the keys of each nick, the bans in force and the bot marks. */
  readonly log: Pick<EventLog, "nicks" | "moderation" | "bots">;
  /** Which key owns which nick. */
  readonly nicks: Pick<NickPolicy, "owns" | "ownerOf">;
  /** This node's sessions. */
  sessions(): Iterable<Session>;
  /** The sessions here of a nick: its person's devices. */
  devicesOf(nick: string): readonly Session[];
  /** Appends a cluster-wide event from a nick (refusals as a `ProtocolError`). */
  emit(kind: "link" | "bot", nick: string, text: string): void;
  /** Whether a session is an operator here. */
  isOp(session: Session): boolean;
  /** Tells a session why, then ends it. */
  expel(session: Session, message: string, reason: string): void;
  /** Clock in ms. */
  now(): number;
}

/** The rules of a person's keys and bot mark (see the module doc). */
export class IdentityPolicy {
  readonly #options: IdentityPolicyOptions;

  /** @param options The hub's parts. */
  constructor(options: IdentityPolicyOptions) {
    this.#options = options;
  }

  /**
   * Whether the key a session logged in with owns its nick.
   *
   * @param session The session.
   * @returns True when the session is its nick's person.
   */
  ownsNick(session: Session): boolean {
    return this.#options.nicks.owns(session.nick, session.origin.fingerprint);
  }

  /**
   * Whether a session is a bot whose key owns its nick (such a bot gets no
   * history on entering a room unless it asks).
   *
   * @param session The session.
   * @returns True for an owned bot.
   */
  ownedBot(session: Session): boolean {
    return this.isBot(session.nick) && this.ownsNick(session);
  }

  /**
   * Links a key to the session's nick, or unlinks one (a `link` event,
   * cluster-wide; node/chat/linked_keys.ts). The session's own key must own
   * its nick. The key that registered the nick stays: it cannot be unlinked.
   *
   * @param session Who links.
   * @param action `+` to link, `-` to unlink.
   * @param fingerprint The key's `SHA256:` fingerprint.
   * @returns False when there was nothing to do (linked already, or not linked).
   * @throws {ProtocolError} `forbidden` (the session's key does not own its
   *   nick; unlinking the registering key), `bad_args` (too many keys).
   */
  linkKey(session: Session, action: "+" | "-", fingerprint: string): boolean {
    const nick = session.nick;
    if (!this.ownsNick(session)) {
      throw new ProtocolError(
        "forbidden",
        `Only a key that owns ${nick} can change its keys: log in with one of them`,
      );
    }
    const keys = this.#options.log.nicks.keysOf(nick);
    if (action === "-" && fingerprint === keys[0]) {
      throw new ProtocolError(
        "forbidden",
        `${fingerprint} registered ${nick} and stays its key: remove another one`,
      );
    }
    if (keys.includes(fingerprint) === (action === "+")) return false;
    if (action === "+" && keys.length >= MAX_KEYS_PER_NICK) {
      throw new ProtocolError(
        "bad_args",
        `${nick} has ${keys.length} keys, the most a nick may have: remove one first`,
      );
    }
    this.#options.emit("link", nick, linkText(action, fingerprint));
    return true;
  }

  /**
   * Marks a registered nick as a bot, or no longer (a `bot` event,
   * cluster-wide): the session's own nick, which its key must own, or any
   * registered nick for an operator.
   *
   * @param session Who marks.
   * @param nick The nick to mark, or undefined for the session's own.
   * @param on True to mark it a bot, false to take the mark away.
   * @returns The nick marked.
   * @throws {ProtocolError} `forbidden` (own nick not owned by the session's
   *   key; another's nick by a non-operator), `nick_invalid`, `no_such_user`
   *   (a nick no key owns).
   */
  markBot(session: Session, nick: string | undefined, on: boolean): string {
    const own = nick === undefined || nickKey(nick) === nickKey(session.nick);
    const target = own ? session.nick : validNick(nick);
    if (own && !this.ownsNick(session)) {
      throw new ProtocolError(
        "forbidden",
        `Only a registered nick can be a bot: ${target} is not owned by the key you logged in with`,
      );
    }
    if (!own && !this.#options.isOp(session)) {
      throw new ProtocolError("forbidden", "Marking someone else as a bot is for operators only");
    }
    if (!own && this.#options.nicks.ownerOf(target) === undefined) {
      throw new ProtocolError("no_such_user", `${target} is not a registered nick: no key owns it`);
    }
    this.#options.emit("bot", target, on ? "on" : "off");
    return target;
  }

  /**
   * Whether a nick is marked as a bot (`/bot`), cluster-wide.
   *
   * @param nick Any case.
   * @returns True for a bot.
   */
  isBot(nick: string): boolean {
    return this.#options.log.bots.isBot(nick);
  }

  /**
   * Refuses a person one of whose keys is banned, whichever of their keys
   * they come with (a ban on the key they come with is the moderation's own
   * check).
   *
   * @param nick The nick asked for.
   * @param fingerprint The key logged in with, undefined without a key.
   * @throws {ProtocolError} `banned`.
   */
  checkKeyBan(nick: string, fingerprint: string | undefined): void {
    if (this.#keyBanOf(nick, fingerprint)) {
      throw new ProtocolError("banned", `Cannot join: a key of ${nick} is banned`);
    }
  }

  /** After a ban: puts out the devices here of people one of whose keys it bans. */
  expelKeyBanned(): void {
    for (const session of [...this.#options.sessions()]) {
      if (!this.#keyBanOf(session.nick, session.origin.fingerprint)) continue;
      this.#options.expel(session, `You were banned: a key of ${session.nick} is banned`, "banned");
    }
  }

  /**
   * Puts out this node's devices of a nick whose key no longer owns it: a
   * key unlinked (`/keys remove`, here or on another node) logs out at
   * once, so a stolen device stops being the person.
   *
   * @param nick The nick whose keys changed.
   */
  revokeUnlinked(nick: string): void {
    const { nicks } = this.#options;
    if (nicks.ownerOf(nick) === undefined) return; // nothing registered: nothing to revoke
    for (const device of [...this.#options.devicesOf(nick)]) {
      const fingerprint = device.origin.fingerprint;
      if (fingerprint === undefined || nicks.owns(nick, fingerprint)) continue;
      this.#options.expel(
        device,
        `The key you logged in with (${fingerprint}) was unlinked from ${nick}`,
        "key unlinked",
      );
    }
  }

  /** Whether one of the keys of a person whose key owns their nick is banned. */
  #keyBanOf(nick: string, fingerprint: string | undefined): boolean {
    const { log, nicks } = this.#options;
    if (!nicks.owns(nick, fingerprint)) return false;
    const now = this.#options.now();
    return log.nicks.keysOf(nick).some((key) =>
      log.moderation.banOf({ fingerprint: key }, now) !== undefined
    );
  }
}
