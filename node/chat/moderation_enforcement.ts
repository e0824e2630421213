/**
 * Moderation as this node's people feel it. The moderation state itself is
 * derived from `mod` events by the event log, the same on every node
 * (node/chat/moderation.ts); this is the local half:
 *
 * - who is an operator here: a key in this node's ops file (`--ops`) or
 *   granted cluster-wide with `/op`;
 * - refusing a banned person at the door and a muted person's lines, with
 *   a clear message;
 * - carrying out a `mod` event the log applied on the sessions of this node:
 *   kicks, bans in force, and notices to the people concerned;
 * - keeping a mute on the person, not just the nick: a mute is remembered
 *   per session (a `/nick` does not shake it off) and per key or host (nor
 *   does a quit and a new nick), oldest dropped past
 *   {@linkcode MAX_MUTED_HOSTS}.
 *
 * ```ts ignore
 * const enforcement = new ModerationEnforcement(log.moderation, { local, expel });
 * enforcement.checkMute(session); // throws `muted`
 * log.onSettled((event, _, mod) => mod && enforcement.enforce(event, mod));
 * ```
 *
 * @module
 */
import type { ChatEvent } from "../../core/event.ts";
import { addressKey } from "../../core/address_key.ts";
import { nickKey } from "../../core/names.ts";
import { ProtocolError } from "../../core/protocol.ts";
import { sanitizeText } from "../../core/text_sanitizer.ts";
import type { ModEffect } from "./event_log.ts";
import {
  type Ban,
  formatModAction,
  formatUntil,
  hostOf,
  type ModAction,
  type ModerationView,
} from "./moderation.ts";
import type { LocalSessions } from "./presence_roster.ts";
import type { Session } from "./session.ts";

/** People whose mute this node remembers by who they are (key, else host). */
export const MAX_MUTED_HOSTS = 4096;

/** Options of {@linkcode ModerationEnforcement}. */
export interface ModerationEnforcementOptions {
  /** This node's sessions. */
  local: LocalSessions;
  /** Tells a session why, then ends it (the hub disconnects it). */
  expel(session: Session, message: string, reason: string): void;
  /** SSH key fingerprints that are operators on this node (`--ops`). @default none */
  ops?: Iterable<string>;
  /** The key fingerprint that owns a nick, if any (binds a mute to it). @default none */
  ownerOf?(nick: string): string | undefined;
  /** Clock in ms. @default Date.now */
  now?: () => number;
}

/** A mute in force: when it ends (null: never) and who muted. */
export interface MuteInForce {
  /** When it ends (ms), null for never. */
  readonly until: number | null;
  /** The operator's nick. */
  readonly by: string;
}

/** Who a session's person is, for a mute: their key, else their host (IPv6: its /64). */
function whoOf(session: Session): string {
  const { fingerprint, address } = session.origin;
  return fingerprint !== undefined ? `fp ${fingerprint}` : `addr ${addressKey(hostOf(address))}`;
}

function describeBan(ban: Ban, now: number): string {
  const what = ban.target.type === "nick"
    ? `nick ${ban.target.value}`
    : ban.target.type === "fp"
    ? "your SSH key"
    : "your address";
  return `${what} is banned ${formatUntil(ban.until, now)}`;
}

function notice(session: Session, cmd: string, line: string): void {
  session.sink.send({ t: "info", cmd, lines: [line] });
}

/** Moderation enforced on one node's sessions (see the module doc). */
export class ModerationEnforcement {
  readonly #moderation: ModerationView;
  readonly #local: LocalSessions;
  readonly #expel: (session: Session, message: string, reason: string) => void;
  readonly #localOps: ReadonlySet<string>;
  readonly #ownerOf: (nick: string) => string | undefined;
  readonly #now: () => number;
  /** Sessions muted on this node, and the nick they were muted under (survives /nick). */
  readonly #mutedAs = new WeakMap<Session, string>();
  /**
   * Who was muted here (key, else host; IPv6 per /64) → the nick muted: a
   * mute issued elsewhere names only the nick, and a quit and a new nick
   * must not shake it off. Oldest dropped past {@linkcode MAX_MUTED_HOSTS}.
   */
  readonly #mutedHosts = new Map<string, string>();

  /**
   * @param moderation The log's moderation state.
   * @param options See {@linkcode ModerationEnforcementOptions}.
   */
  constructor(moderation: ModerationView, options: ModerationEnforcementOptions) {
    this.#moderation = moderation;
    this.#local = options.local;
    this.#expel = options.expel;
    this.#localOps = new Set(options.ops ?? []);
    this.#ownerOf = options.ownerOf ?? (() => undefined);
    this.#now = options.now ?? Date.now;
  }

  /**
   * Whether a session is an operator: its SSH key is listed in this node's
   * ops file or was granted op cluster-wide with `/op`. People without a
   * key (TCP clients, SSH guests) are never operators.
   *
   * @param session The session.
   * @returns True for an operator.
   */
  isOp(session: Session): boolean {
    const fp = session.origin.fingerprint;
    return fp !== undefined && (this.#localOps.has(fp) || this.#moderation.isOp(fp));
  }

  /**
   * The body of the `mod` event an operator issues: the action, who issues
   * it, and for a mute who the person is (their key, else their host, when
   * connected here; else the key that owns the nick).
   *
   * @param session The operator (the caller checked {@linkcode ModerationEnforcement.isOp}).
   * @param action The change.
   * @returns The event's text.
   * @throws {ProtocolError} `forbidden` for a session without a key.
   */
  bodyOf(session: Session, action: ModAction): string {
    const fp = session.origin.fingerprint;
    if (fp === undefined) {
      throw new ProtocolError("forbidden", "Moderation is for operators only");
    }
    return formatModAction(this.#bindMute(action), { fp, root: this.#localOps.has(fp) });
  }

  /**
   * Refuses a banned person with a clear message.
   *
   * @param nick The nick they ask for.
   * @param fingerprint Their key, if any.
   * @param address Their address (`host:port`), if checked.
   * @throws {ProtocolError} `banned`.
   */
  checkBan(nick: string, fingerprint: string | undefined, address: string | undefined): void {
    const now = this.#now();
    const ban = this.#moderation.banOf({ nick, fingerprint, address }, now);
    if (ban === undefined) return;
    throw new ProtocolError("banned", `Cannot join: ${describeBan(ban, now)}`);
  }

  /**
   * Refuses a muted person's line with a clear message.
   *
   * @param session The speaker.
   * @throws {ProtocolError} `muted`.
   */
  checkMute(session: Session): void {
    const mute = this.muteOf(session);
    if (mute === undefined) return;
    throw new ProtocolError(
      "muted",
      `You are muted ${formatUntil(mute.until, this.#now())}: your messages are not sent`,
    );
  }

  /**
   * The mute in force on a session: on its nick, its key or (without a
   * key) its host, or on the nick it was muted under on this node before a
   * `/nick`.
   *
   * @param session The session.
   * @returns The mute, or undefined.
   */
  muteOf(session: Session): MuteInForce | undefined {
    const now = this.#now();
    const { fingerprint, address } = session.origin;
    const mute = this.#moderation.muted({ nick: session.nick, fingerprint, address }, now);
    if (mute !== undefined) return mute;
    const mutedAs = this.#mutedAs.get(session) ??
      (this.#mutedHosts.size === 0 ? undefined : this.#mutedHosts.get(whoOf(session)));
    return mutedAs === undefined ? undefined : this.#moderation.muted(mutedAs, now);
  }

  /**
   * Carries out a moderation event the log applied on this node's sessions:
   * kicks, bans in force, and notices to the people concerned. Runs for
   * events applied live (not restored from a snapshot), from the state as
   * it now is, so a stale event that lost to a newer one does nothing.
   *
   * @param event The `mod` event.
   * @param effect What it did to the moderation state.
   */
  enforce(event: ChatEvent, effect: ModEffect): void {
    const { action, current } = effect;
    // An issuer who was no operator at that point of the log order changes nothing.
    if (!current && action.a === "kick") return;
    const now = this.#now();
    const by = event.from;
    switch (action.a) {
      case "kick": {
        const why = action.reason === "" ? "" : `: ${sanitizeText(action.reason)}`;
        // Every device of the person; one who connected after the kick was issued is not kicked.
        for (const session of [...this.#local.devices(action.nick)]) {
          if (session.since > event.hlc.wall) continue;
          this.#expel(session, `You were kicked by ${by}${why}`, `kicked by ${by}`);
        }
        return;
      }
      case "ban": {
        for (const session of [...this.#local.sessions()]) {
          const { fingerprint, address } = session.origin;
          const ban = this.#moderation.banOf({ nick: session.nick, fingerprint, address }, now);
          if (ban === undefined) continue;
          this.#expel(session, `You were banned by ${ban.by}: ${describeBan(ban, now)}`, "banned");
        }
        return;
      }
      case "mute": {
        const session = this.#local.localSession(action.nick);
        const mute = this.#moderation.muted(action.nick, now);
        if (session === undefined || mute === undefined) return;
        this.#remember(session, action.nick);
        notice(session, "mute", `You were muted by ${mute.by} ${formatUntil(mute.until, now)}`);
        return;
      }
      case "unseal": {
        if (!current) return;
        // The log voided the seal; the people in the room are told.
        for (const session of this.#local.inRoom(action.room)) {
          notice(
            session,
            "unseal",
            `#${action.room} was unsealed by ${by}: it takes plain text now`,
          );
        }
        return;
      }
      case "unmute": {
        let session: Session | undefined;
        for (const s of this.#local.sessions()) {
          if (nickKey(s.nick) === nickKey(action.nick) || this.#mutedAs.get(s) === action.nick) {
            session = s;
            break;
          }
        }
        if (session === undefined || this.muteOf(session)) return;
        notice(session, "mute", `You were unmuted by ${by}`);
        return;
      }
      case "op":
      case "deop": {
        for (const session of this.#local.sessions()) {
          if (session.origin.fingerprint !== action.fp) continue;
          notice(
            session,
            "op",
            this.isOp(session)
              ? `You are an operator now (by ${by}): /help lists the operator commands`
              : `You are no longer an operator (by ${by})`,
          );
        }
        return;
      }
      default:
        return;
    }
  }

  /**
   * Binds a mute to the session too (a /nick does not shake it off) and to
   * who it is, here (nor does a quit and a new nick).
   */
  #remember(session: Session, nick: string): void {
    this.#mutedAs.set(session, nick);
    this.#mutedHosts.delete(whoOf(session));
    this.#mutedHosts.set(whoOf(session), nick);
    if (this.#mutedHosts.size > MAX_MUTED_HOSTS) {
      this.#mutedHosts.delete(this.#mutedHosts.keys().next().value!);
    }
  }

  /**
   * Adds who the person is to a mute: their key, else their host, when
   * they are connected here; else the key that owns the nick, if any.
   */
  #bindMute(action: ModAction): ModAction {
    if (action.a !== "mute" || action.fp !== undefined || action.addr !== undefined) return action;
    const local = this.#local.localSession(action.nick);
    const fp = local?.origin.fingerprint ?? (local ? undefined : this.#ownerOf(action.nick));
    if (fp !== undefined) return { ...action, fp };
    return local === undefined ? action : { ...action, addr: hostOf(local.origin.address) };
  }
}
