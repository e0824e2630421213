/**
 * Coming back: what a person whose key owns their nick (an identity: an SSH
 * key, a web sign-in, the terminal client's key) finds when they return, on
 * any node.
 *
 * The node remembers where they stopped reading, per room and for their
 * private messages, as `seen` events (node/chat/last_seen.ts): replicated
 * and snapshotted like everything else. A mark moves when the person
 * leaves a room or the chat, and every {@linkcode SEEN_INTERVAL_MS} while
 * they stay (so a crash loses little), and only when the room moved on:
 * never one event per message delivered.
 *
 * On return they get, after the `welcome`:
 *
 * - a "since you left" replay of the room they start in: the welcome's
 *   history ends at their mark, then an `info` frame (`cmd: "since"`) with
 *   the marker line, then the newest {@linkcode REPLAY_LIMIT} new messages
 *   as `msg` frames (a `/join` of a room they had left does the same);
 * - the unread counts of their other rooms (`info`, `cmd: "unread"`);
 * - the private messages kept for them since their private mark
 *   (node/chat/offline_mail.ts; `info`, `cmd: "mail"`, then `msg` frames).
 *
 * `/unread` and `/mentions` (commands.ts) read the same marks; mentions are
 * counted from the marks as they were at login, so "since you were last
 * seen" does not move while the person reads.
 *
 * ```ts ignore
 * const upTo = comingBack.arrive(session, room.name, asked);
 * sendWelcome(sink, room, asked, { ...details, upTo });
 * comingBack.welcomeBack(session, room, upTo);
 * ```
 *
 * @module
 */
import { type ChatEvent, compareEvents } from "../../core/event.ts";
import { mentions } from "../../core/chat_format.ts";
import { nickKey } from "../../core/names.ts";
import { type MsgFrame, toMsgFrame } from "../../core/protocol.ts";
import { formatSeenMark, isAfterMark, type SeenMark } from "../../core/seen_mark.ts";
import type { EventLog, RoomView } from "./event_log.ts";
import { budgetOf, frameLength, newestThatFit } from "./reply_budget.ts";
import { shownInHistory } from "./room.ts";
import type { Session } from "./session.ts";

/** Most new messages a "since you left" replay shows (the newest). */
export const REPLAY_LIMIT = 100;

/** Most messages `/mentions` lists (the newest). */
export const MENTIONS_LIMIT = 50;

/** How often the node moves the marks of the people who stay (ms). */
export const SEEN_INTERVAL_MS = 60_000;

/**
 * Most new messages counted in one room: past it a count says `1000+`, so
 * a login into many busy rooms scans at most this many events per room.
 */
export const COUNT_LIMIT = 1000;

/** Bytes kept free, when a replay is cut to the reader's queue, for the frames after it. */
const REPLAY_RESERVE = 1024;

/** A room with messages the person has not seen. */
export interface Unread {
  /** The room. */
  readonly room: string;
  /** Messages after their mark (that this node still holds), at most {@linkcode COUNT_LIMIT}. */
  readonly count: number;
  /** Set when there are more than `count`. */
  readonly more?: true;
}

/** A count as people read it: `12`, or `1000+` past {@linkcode COUNT_LIMIT}. */
export function countText(unread: { count: number; more?: true }): string {
  return `${unread.count}${unread.more ? "+" : ""}`;
}

/** Options of {@linkcode ComingBack}. */
export interface ComingBackOptions {
  /**
   * The nick a session is remembered by: its nick when the session's key
   * owns it, else undefined (a guest is remembered by nobody).
   */
  identity(session: Session): string | undefined;
}

/** What is new in a room after a mark: how many (up to {@linkcode COUNT_LIMIT}), and the newest. */
function newSince(
  room: RoomView,
  mark: SeenMark,
  limit: number,
): { count: number; more?: true; newest: ChatEvent[] } {
  const newest: ChatEvent[] = [];
  let count = 0;
  for (let i = room.log.length - 1; i >= 0; i--) {
    const event = room.log.at(i)!;
    if (!isAfterMark(event, mark)) break;
    if (!shownInHistory(event)) continue;
    if (count === COUNT_LIMIT) return { count, more: true, newest: newest.reverse() };
    count++;
    if (newest.length < limit) newest.push(event);
  }
  return { count, newest: newest.reverse() };
}

/** Sends a marker line, then as many of the frames (the newest) as the reader's queue takes. */
function sendReplay(
  session: Session,
  frames: MsgFrame[],
  cmd: string,
  marker: (shown: number) => string,
  data: Record<string, unknown>,
): void {
  const { sink } = session;
  const overhead = frameLength({ t: "info", cmd, lines: [marker(0)], data }) + REPLAY_RESERVE;
  const shown = newestThatFit(frames, budgetOf(sink), overhead);
  sink.send({
    t: "info",
    cmd,
    lines: [marker(shown.length)],
    data: { ...data, shown: shown.length },
  });
  for (const frame of shown) sink.send(frame);
}

/** Where people stopped reading and what they find when they return (see the module doc). */
export class ComingBack {
  readonly #log: EventLog;
  readonly #identity: (session: Session) => string | undefined;
  /** Each identity session's marks as they were at login, for `/mentions`. */
  readonly #atLogin = new WeakMap<Session, Map<string, SeenMark>>();

  /**
   * @param log The event log: the marks and the mail are its, and a moved
   *   mark is appended to it.
   * @param options Who is an identity.
   */
  constructor(log: EventLog, options: ComingBackOptions) {
    this.#log = log;
    this.#identity = options.identity;
  }

  /**
   * Whether the node remembers where a session's person stopped reading
   * (its key owns its nick).
   *
   * @param session The session.
   * @returns True for an identity, false for a guest.
   */
  remembers(session: Session): boolean {
    return this.#identity(session) !== undefined;
  }

  /**
   * A session logs in: remembers where its person had stopped reading.
   *
   * @param session The new session (its nick taken, not yet in any room).
   * @param room The room it starts in.
   * @param asked Most messages of history it asked for (0: no replay).
   * @returns The mark of that room when a replay follows the welcome (its
   *   history ends there), else undefined.
   */
  arrive(session: Session, room: string, asked: number): SeenMark | undefined {
    const nick = this.#identity(session);
    if (nick === undefined) return undefined;
    const marks = this.#log.seen.marksOf(nick);
    this.#atLogin.set(session, marks);
    return asked > 0 ? marks.get(room) : undefined;
  }

  /**
   * After the welcome: the replay of its room, the unread counts of the
   * person's other rooms and the private messages kept for them.
   *
   * @param session The session.
   * @param room The room it starts in.
   * @param upTo What {@linkcode ComingBack.arrive} returned.
   */
  welcomeBack(session: Session, room: RoomView, upTo: SeenMark | undefined): void {
    const nick = this.#identity(session);
    if (nick === undefined) return;
    if (upTo !== undefined) this.replay(session, room, upTo);
    const unread = this.unread(session, room.name);
    if (unread.length > 0) {
      const rooms = unread.map((u) => `#${u.room} ${countText(u)}`).join(", ");
      session.sink.send({
        t: "info",
        cmd: "unread",
        lines: [`Unread since you left: ${rooms} (/join a room to read it)`],
        data: unread,
      });
    }
    this.#deliverMail(session, nick);
  }

  /**
   * The mark of a room a session enters anew (`/join`), when a replay
   * should follow the `joined` reply.
   *
   * @param session The session, not yet in the room.
   * @param room The room.
   * @param asked Most messages of history its joins carry (0: no replay).
   * @returns The mark, or undefined.
   */
  entering(session: Session, room: string, asked: number): SeenMark | undefined {
    const nick = this.#identity(session);
    if (nick === undefined || asked === 0 || session.rooms.has(room)) return undefined;
    return this.#log.seen.markOf(nick, room);
  }

  /**
   * Whether private messages to a nick are kept for it (a key owns it), so
   * it may be sent one while offline.
   *
   * @param nick The nick as typed.
   * @returns The nick as it was registered, or undefined when no key owns it.
   */
  keptFor(nick: string): string | undefined {
    const owner = this.#log.nicks.ownerOf(nick);
    if (owner === undefined) return undefined;
    return this.#log.nicks.nicksOf(owner).find((owned) => nickKey(owned) === nickKey(nick));
  }

  /**
   * Sends the "since you left" marker and the newest messages after a mark.
   *
   * @param session The session.
   * @param room The room.
   * @param upTo Where its person stopped reading.
   */
  replay(session: Session, room: RoomView, upTo: SeenMark): void {
    const found = newSince(room, upTo, REPLAY_LIMIT);
    const { count, newest } = found;
    if (count === 0) return;
    const frames = newest.filter((e) => !session.ignored.has(nickKey(e.from))).map(toMsgFrame);
    sendReplay(
      session,
      frames,
      "since",
      (shown) =>
        `—— since you left #${room.name}: ${countText(found)} new` +
        (shown < count || found.more ? `, the last ${shown} shown (/history for more)` : "") +
        " ——",
      { room: room.name, count, ...(found.more ? { more: true } : {}) },
    );
  }

  /**
   * A session leaves a room (or the chat): its person's mark there moves to
   * the newest message, if it moved on.
   *
   * @param session The session, still in the room.
   * @param room The room.
   */
  left(session: Session, room: string): void {
    const nick = this.#identity(session);
    const view = this.#log.rooms.get(room);
    if (nick !== undefined && view !== undefined) this.#markRoom(nick, view);
  }

  /**
   * A session ends: its person's private mark moves past the messages
   * kept for them (they were shown). Rooms are marked as it leaves them.
   *
   * @param session The session.
   */
  gone(session: Session): void {
    const nick = this.#identity(session);
    if (nick !== undefined) this.#markPrivate(nick);
  }

  /**
   * Moves the marks of people who stay (every {@linkcode SEEN_INTERVAL_MS}).
   *
   * @param sessions This node's sessions.
   * @returns How many marks moved.
   */
  markAll(sessions: Iterable<Session>): number {
    let moved = 0;
    for (const session of sessions) {
      const nick = this.#identity(session);
      if (nick === undefined) continue;
      for (const room of session.rooms) {
        const view = this.#log.rooms.get(room);
        if (view !== undefined && this.#markRoom(nick, view)) moved++;
      }
      if (this.#markPrivate(nick)) moved++;
    }
    return moved;
  }

  /**
   * The person's rooms with messages after their mark, but those the
   * session is in (it sees them as they come).
   *
   * @param session The session.
   * @param except A room to leave out too (the one being entered).
   * @returns Rooms by name; empty for a guest.
   */
  unread(session: Session, except?: string): Unread[] {
    const nick = this.#identity(session);
    if (nick === undefined) return [];
    const out: Unread[] = [];
    for (const [room, mark] of this.#log.seen.marksOf(nick)) {
      const view = this.#log.rooms.get(room);
      if (view === undefined || room === except || session.rooms.has(room)) continue;
      const { count, more } = newSince(view, mark, 0);
      if (count > 0) out.push({ room, count, ...(more ? { more } : {}) });
    }
    return out.sort((a, b) => a.room.localeCompare(b.room));
  }

  /**
   * Messages that named the session's nick (as a word) since its person
   * was last seen: after their marks at login, and in rooms without one
   * since the session began.
   *
   * @param session The session.
   * @param limit Most messages (the newest).
   * @returns Oldest first.
   */
  mentions(session: Session, limit = MENTIONS_LIMIT): ChatEvent[] {
    const marks = this.#atLogin.get(session) ?? new Map<string, SeenMark>();
    const sessionStart: SeenMark = { hlc: { wall: session.since, counter: 0, node: "" }, seq: 0 };
    const found: ChatEvent[] = [];
    for (const room of new Set([...marks.keys(), ...session.rooms])) {
      const view = this.#log.rooms.get(room);
      if (view === undefined) continue;
      const mark = marks.get(room) ?? sessionStart;
      let inRoom = 0;
      for (let i = view.log.length - 1; i >= 0 && inRoom < limit; i--) {
        const event = view.log.at(i)!;
        if (!isAfterMark(event, mark)) break;
        if (mentions(event, session.nick) && !session.ignored.has(nickKey(event.from))) {
          found.push(event);
          inRoom++;
        }
      }
    }
    found.sort(compareEvents);
    return found.slice(Math.max(0, found.length - limit));
  }

  /** Delivers the private messages kept for a nick after its private mark. */
  #deliverMail(session: Session, nick: string): void {
    const mark = this.#log.seen.markOf(nick, "");
    const waiting = this.#log.mail.to(nick)
      .filter((e) => isAfterMark(e, mark) && !session.ignored.has(nickKey(e.from)));
    if (waiting.length === 0) return;
    const count = waiting.length;
    sendReplay(
      session,
      waiting.map(toMsgFrame),
      "mail",
      (shown) =>
        `—— while you were away: ${count} private message${count === 1 ? "" : "s"}` +
        (shown < count ? `, the last ${shown} shown` : "") + " ——",
      { count },
    );
  }

  /**
   * Appends a room mark at its newest shown event (in a room where nothing
   * was said yet, its newest event: a join), when past the nick's mark.
   */
  #markRoom(nick: string, room: RoomView): boolean {
    const newest = room.recent(1)[0] ?? room.log.at(room.log.length - 1);
    return newest !== undefined && this.#mark(nick, room.name, newest);
  }

  /** Appends a private mark at the newest message kept for the nick, when past its mark. */
  #markPrivate(nick: string): boolean {
    const newest = this.#log.mail.to(nick).at(-1);
    return newest !== undefined && this.#mark(nick, "", newest);
  }

  #mark(nick: string, room: string, newest: ChatEvent): boolean {
    if (!isAfterMark(newest, this.#log.seen.markOf(nick, room))) return false;
    this.#log.append({ room, kind: "seen", from: nick, text: formatSeenMark(newest) });
    return true;
  }
}
