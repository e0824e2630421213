/**
 * What the web page shows, as data: one conversation per room the person is
 * in and per person they exchange private messages with, each with its
 * events in time order (history, scrollback and live events merged, none
 * twice), an unread count, whether it mentions the reader, and the room's
 * members. Pure: the page ({@linkcode ChatPage}) draws it.
 *
 * @module
 */
import { mentions } from "../../core/chat_format.ts";
import { nickKey } from "../../core/names.ts";
import type { MsgFrame } from "../../core/protocol.ts";
import type { Opening } from "../sealed_rooms.ts";

/** One line of a conversation: an event from the node, or a notice of the client's. */
export interface LogEntry {
  /** The event id, or `notice-N`. */
  readonly id: string;
  /** When (ms): the node's time, or the sealed send time of an opened message. */
  readonly time: number;
  /** The event, for an event line. */
  readonly frame?: MsgFrame;
  /** What its envelope opened to, for a sealed event. */
  readonly opening?: Opening;
  /** The text, for a notice line. */
  readonly text?: string;
  /** A notice that is an error. */
  readonly error?: boolean;
  /** A message by someone else that names the reader (or a private one to them). */
  readonly mention: boolean;
}

/** Someone in a room. */
export interface Member {
  readonly nick: string;
  /** The node they are on, when known. */
  readonly node?: string;
  /** Their away message, when away. */
  readonly away?: string;
}

/** A room (`lobby`) or a private conversation (`@bob`). */
export interface Conversation {
  /** `lobby` for a room, `@bob` for private messages with bob. */
  readonly key: string;
  /** Lines in time order. */
  readonly entries: LogEntry[];
  /** Messages that arrived while another conversation was shown. */
  unread: number;
  /** Whether one of the unread ones mentions the reader. */
  mentioned: boolean;
  /** Members by nick key (rooms only). */
  readonly members: Map<string, Member>;
  /** Whether the person is still in it (a room left stays readable until closed). */
  joined: boolean;
}

/** Most lines kept per conversation; the oldest go first. */
export const MAX_ENTRIES = 2000;

/** The conversation key of private messages with `nick`. */
export function privateKey(nick: string): string {
  return `@${nick}`;
}

/** The nick of a private conversation key, or undefined for a room. */
export function privatePeer(key: string): string | undefined {
  return key.startsWith("@") ? key.slice(1) : undefined;
}

/** Every conversation of a session, and which one is shown. */
export class Conversations {
  readonly #all = new Map<string, Conversation>();
  readonly #ids = new Map<string, Set<string>>();
  #shown = "";
  #nick = "";
  #notices = 0;

  /** The reader's nick (for mentions). */
  get nick(): string {
    return this.#nick;
  }

  set nick(nick: string) {
    this.#nick = nick;
  }

  /** The key of the conversation shown, `""` before any. */
  get shown(): string {
    return this.#shown;
  }

  /** Conversations: rooms first, then private ones, each by name. */
  list(): Conversation[] {
    return [...this.#all.values()].sort((a, b) =>
      Number(a.key.startsWith("@")) - Number(b.key.startsWith("@")) || a.key.localeCompare(b.key)
    );
  }

  /**
   * A conversation, made when new.
   *
   * @param key Its key.
   * @returns The conversation.
   */
  get(key: string): Conversation {
    let conversation = this.#all.get(key);
    if (conversation === undefined) {
      conversation = {
        key,
        entries: [],
        unread: 0,
        mentioned: false,
        members: new Map(),
        joined: true,
      };
      this.#all.set(key, conversation);
      this.#ids.set(key, new Set());
    }
    return conversation;
  }

  /**
   * Shows a conversation: its unread count is cleared.
   *
   * @param key Its key.
   */
  show(key: string): void {
    const conversation = this.get(key);
    conversation.unread = 0;
    conversation.mentioned = false;
    this.#shown = key;
  }

  /**
   * Forgets a conversation; another is shown when it was.
   *
   * @param key Its key.
   */
  close(key: string): void {
    this.#all.delete(key);
    this.#ids.delete(key);
    if (this.#shown === key) this.#shown = this.list()[0]?.key ?? "";
  }

  /**
   * Where an event belongs: its room, or the private conversation with the
   * other person.
   *
   * @param frame The event.
   * @returns The conversation key.
   */
  keyOf(frame: MsgFrame): string {
    if (frame.kind !== "private") return frame.room;
    const mine = nickKey(frame.from) === nickKey(this.#nick);
    return privateKey(mine ? frame.to ?? frame.from : frame.from);
  }

  /**
   * Adds an event (live, or from history): in time order, once.
   *
   * @param frame The event.
   * @param opening What its envelope opened to, when sealed.
   * @param live A live event counts as unread when its conversation is not shown.
   * @returns The conversation it went to, or undefined when it was there already.
   */
  add(frame: MsgFrame, opening: Opening | undefined, live: boolean): Conversation | undefined {
    const key = this.keyOf(frame);
    const conversation = this.get(key);
    const ids = this.#ids.get(key)!;
    if (ids.has(frame.id)) return undefined;
    ids.add(frame.id);
    const time = opening?.ok ? opening.sentAt : frame.time;
    const entry: LogEntry = {
      id: frame.id,
      time,
      frame,
      ...(opening === undefined ? {} : { opening }),
      mention: this.#nick !== "" && mentions(frame, this.#nick),
    };
    insertInOrder(conversation.entries, entry);
    this.#trim(conversation);
    if (live) {
      this.#track(conversation, frame);
      const counted = frame.kind === "message" || frame.kind === "action" ||
        frame.kind === "private";
      if (counted && key !== this.#shown) {
        conversation.unread++;
        if (entry.mention) conversation.mentioned = true;
      }
    }
    return conversation;
  }

  /**
   * Adds a notice of the client to the shown conversation (or a new
   * `lobby`-less one named `meshchat` before any).
   *
   * @param text The notice.
   * @param error Whether it is an error.
   * @param now The time to stamp it with.
   * @returns The conversation it went to.
   */
  notice(text: string, error: boolean, now: number): Conversation {
    const conversation = this.get(this.#shown || "meshchat");
    if (this.#shown === "") this.#shown = conversation.key;
    conversation.entries.push({
      id: `notice-${++this.#notices}`,
      time: now,
      text,
      ...(error ? { error } : {}),
      mention: false,
    });
    this.#trim(conversation);
    return conversation;
  }

  /**
   * Sets a room's members, as `/who` listed them.
   *
   * @param room The room.
   * @param members Who is in it.
   */
  setMembers(room: string, members: readonly Member[]): void {
    const conversation = this.get(room);
    conversation.members.clear();
    for (const member of members) conversation.members.set(nickKey(member.nick), member);
  }

  /** Keeps member lists current from live events: joins, leaves, nick changes, away. */
  #track(conversation: Conversation, frame: MsgFrame): void {
    const key = nickKey(frame.from);
    switch (frame.kind) {
      case "join":
        conversation.members.set(key, { nick: frame.from });
        break;
      case "leave":
        conversation.members.delete(key);
        break;
      case "away": {
        const member = conversation.members.get(key);
        if (member === undefined) break;
        const { away: _away, ...rest } = member;
        conversation.members.set(key, frame.text ? { ...rest, away: frame.text } : rest);
        break;
      }
      case "nick":
        // A nick change is sent to each room the person is in: rename everywhere.
        for (const other of this.#all.values()) {
          const member = other.members.get(key);
          if (member === undefined) continue;
          other.members.delete(key);
          other.members.set(nickKey(frame.text), { ...member, nick: frame.text });
        }
        break;
    }
  }

  #trim(conversation: Conversation): void {
    const extra = conversation.entries.length - MAX_ENTRIES;
    if (extra <= 0) return;
    const ids = this.#ids.get(conversation.key)!;
    for (const gone of conversation.entries.splice(0, extra)) ids.delete(gone.id);
  }
}

/** Inserts after every entry not later than it (live events land at the end in O(1)). */
function insertInOrder(entries: LogEntry[], entry: LogEntry): void {
  let at = entries.length;
  while (at > 0 && entries[at - 1]!.time > entry.time) at--;
  entries.splice(at, 0, entry);
}
