/**
 * This node's connected sessions, by nick and by room: the index the hub
 * keeps as people connect, rename, join, leave and go, and reads when it
 * fans out. The parts around the hub read it as {@linkcode LocalSessions}.
 *
 * One nick may have several sessions here: the devices of one person, each
 * logged in with a key that owns the nick (the hub admits only those,
 * node/chat/nick_policy.ts). They are one person: `localSession` gives the
 * first, `devices` all of them.
 *
 * | operation | time |
 * | --- | --- |
 * | localSession, inRoom, occupied | O(1) |
 * | add, enter, exit | O(1) |
 * | remove, renamed, devices | O(d), d = devices of that nick (a handful) |
 *
 * @module
 */
import { nickKey } from "../../core/names.ts";
import type { LocalSessions } from "./presence_roster.ts";
import type { Session } from "./session.ts";

/** The listeners of a room without local members. */
const NOBODY: ReadonlySet<Session> = new Set();

/** This node's sessions (see the module doc). */
export class SessionTable implements LocalSessions {
  /** Sessions by nick key, oldest first: one per device of the person. */
  readonly #byNick = new Map<string, Session[]>();
  /** Only rooms with local members: a room nobody here is in costs nothing. */
  readonly #byRoom = new Map<string, Set<Session>>();

  /**
   * Every connected session.
   *
   * @returns The sessions, in the order they connected (a rename moves one last).
   */
  *sessions(): IterableIterator<Session> {
    for (const devices of this.#byNick.values()) yield* devices;
  }

  /**
   * A connected session by nick.
   *
   * @param nick The nick, in any case.
   * @returns The session, or undefined.
   */
  localSession(nick: string): Session | undefined {
    return this.#byNick.get(nickKey(nick))?.[0];
  }

  /**
   * Every connected session of a nick: the person's devices on this node.
   *
   * @param nick The nick, in any case.
   * @returns The sessions, oldest first (empty when none).
   */
  devices(nick: string): readonly Session[] {
    return this.#byNick.get(nickKey(nick)) ?? [];
  }

  /**
   * The sessions in a room.
   *
   * @param room Normalised room name.
   * @returns The sessions (empty when nobody here is in the room).
   */
  inRoom(room: string): ReadonlySet<Session> {
    return this.#byRoom.get(room) ?? NOBODY;
  }

  /**
   * Whether anyone here is in a room.
   *
   * @param room Normalised room name.
   * @returns True when a local session is in it.
   */
  occupied(room: string): boolean {
    return this.#byRoom.has(room);
  }

  /**
   * Adds a session under its nick.
   *
   * @param session A new session, in no room yet.
   */
  add(session: Session): void {
    const key = nickKey(session.nick);
    const devices = this.#byNick.get(key);
    if (devices === undefined) this.#byNick.set(key, [session]);
    else devices.push(session);
  }

  /**
   * Removes a session that left every room.
   *
   * @param session The session.
   */
  remove(session: Session): void {
    this.#removeUnder(nickKey(session.nick), session);
  }

  /**
   * Files a session under its new nick.
   *
   * @param session The session, `nick` already changed.
   * @param old Its nick before.
   */
  renamed(session: Session, old: string): void {
    this.#removeUnder(nickKey(old), session);
    this.add(session);
  }

  #removeUnder(key: string, session: Session): void {
    const devices = this.#byNick.get(key);
    const at = devices?.indexOf(session) ?? -1;
    if (at < 0) return;
    devices!.splice(at, 1);
    if (devices!.length === 0) this.#byNick.delete(key);
  }

  /**
   * A session entered a room.
   *
   * @param session The session.
   * @param room Normalised room name.
   */
  enter(session: Session, room: string): void {
    const listeners = this.#byRoom.get(room);
    if (listeners === undefined) this.#byRoom.set(room, new Set([session]));
    else listeners.add(session);
  }

  /**
   * A session left a room.
   *
   * @param session The session.
   * @param room Normalised room name.
   */
  exit(session: Session, room: string): void {
    const listeners = this.#byRoom.get(room);
    listeners?.delete(session);
    if (listeners?.size === 0) this.#byRoom.delete(room);
  }
}
