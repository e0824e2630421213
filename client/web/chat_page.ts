/**
 * The chat page: the room list with unread counts, the shown conversation's
 * log, its members, and the live region that announces new messages. It is
 * the view the terminal client's {@linkcode ChatClient} drives (`show` takes
 * every frame with what its sealed events opened to, `print` the client's
 * own notices), so both clients say the same things; it draws them as a page
 * instead of lines. Text from the wire only ever goes into `textContent`.
 *
 * @module
 */
import { clockTime, formatMsg, nickColor } from "../../core/chat_format.ts";
import type { MsgFrame, ServerFrame } from "../../core/protocol.ts";
import { sanitizeText } from "../../core/text_sanitizer.ts";
import { ChatView, type Openings, sealedRemarks, type ViewLine } from "../chat_view.ts";
import type { RoomStatus } from "../sealed_rooms.ts";
import {
  type Conversation,
  Conversations,
  type LogEntry,
  type Member,
  privatePeer,
} from "./conversations.ts";
import { xtermColor } from "./xterm_color.ts";

/** The page's elements the chat draws into (index.html). */
export interface ChatPageParts {
  /** The list of conversations (`<ul>`). */
  readonly rooms: HTMLElement;
  /** The shown conversation's lines (`<ol role="log">`). */
  readonly log: HTMLElement;
  /** The shown room's members (`<ul>`). */
  readonly members: HTMLElement;
  /** The shown conversation's name and topic. */
  readonly title: HTMLElement;
  readonly topic: HTMLElement;
  /** Which node, as whom. */
  readonly status: HTMLElement;
  /** Asks for older messages of the shown room. */
  readonly older: HTMLButtonElement;
  /** Announces messages of other conversations to screen readers (`aria-live`). */
  readonly announcer: HTMLElement;
}

/** Options of {@linkcode ChatPage}. */
export interface ChatPageOptions {
  /** A sealed room's state, for its lock. */
  sealStatus: (room: string) => RoomStatus;
  /** Asks the node something on the person's behalf (`/join`, `/who`, `/history`). */
  command: (line: string) => void;
  /** The clock of notices. @default Date.now */
  now?: () => number;
}

/** Messages asked for per click on "Older messages". */
const OLDER_PAGE = 50;

/** What a room's lock says, by its state. */
const LOCKS: Record<RoomStatus, string> = {
  plain: "",
  open: "🔒",
  locked: "🔒 no key",
  wrong: "🔒 wrong passphrase",
};

/** The chat page. */
export class ChatPage {
  readonly conversations = new Conversations();
  readonly #parts: ChatPageParts;
  readonly #options: ChatPageOptions;
  readonly #now: () => number;
  /** Formats what the page shows as text: events other than messages, sealed-message failures. */
  readonly #text = new ChatView({ color: false, timestamps: false });
  readonly #topics = new Map<string, string>();
  /** `/who` replies the page asked for itself, by room: drawn as members, not shown as lines. */
  readonly #quietWho = new Map<string, number>();
  #node = "";
  /** The room plain lines go to (the client's current room). */
  #current = "";

  /**
   * @param parts The page's elements.
   * @param options Seal states and the command channel.
   */
  constructor(parts: ChatPageParts, options: ChatPageOptions) {
    this.#parts = parts;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    // Assigned, not added: a page signed in again replaces the last one.
    parts.older.onclick = () => this.#askOlder();
  }

  /** The room plain lines go to now. */
  get currentRoom(): string {
    return this.#current;
  }

  /**
   * Takes one frame from the node (what `ChatClient` hands its view).
   *
   * @param frame The frame.
   * @param openings What its sealed events opened to.
   * @returns No lines: the page draws the frame itself.
   */
  show(frame: ServerFrame, openings: Openings = new Map()): ViewLine[] {
    const { conversations } = this;
    const events = (history: readonly MsgFrame[], live: boolean) => {
      for (const msg of history) conversations.add(msg, openings.get(msg), live);
    };
    switch (frame.t) {
      case "welcome":
        conversations.nick = frame.nick;
        this.#node = frame.node;
        this.#enter(frame.room, frame.topic);
        if (frame.motd) this.#notice(`Message of the day: ${frame.motd}`);
        events(frame.history, false);
        break;
      case "joined":
        this.#enter(frame.room, frame.topic);
        events(frame.history, false);
        break;
      case "history":
        events(frame.history, false);
        break;
      case "left":
        conversations.close(frame.room);
        this.#current = frame.current;
        if (frame.current) conversations.show(frame.current);
        this.#notice(`You left #${frame.room}`);
        break;
      case "nick":
        conversations.nick = frame.nick;
        this.#notice(`You are now ${frame.nick}`);
        break;
      case "msg":
        this.#live(frame, openings);
        break;
      case "info":
        this.#info(frame);
        break;
      case "error":
        this.#notice(`error: ${frame.message}`, true);
        break;
      case "bye":
        this.#notice(`Disconnected: ${frame.reason}`);
        break;
    }
    this.render();
    return [];
  }

  /**
   * Shows the client's own notices (reconnecting, sealed-room warnings, …)
   * in the shown conversation.
   *
   * @param lines The lines.
   */
  print(lines: readonly ViewLine[]): void {
    for (const line of lines) this.#notice(line.text, line.error === true);
    this.render();
  }

  /**
   * Shows a conversation; a room becomes the current one (`/join`, which the
   * node answers with its recent history, merged without repeats).
   *
   * @param key The conversation's key.
   */
  open(key: string): void {
    this.conversations.show(key);
    if (privatePeer(key) === undefined && key !== this.#current) {
      this.#options.command(`/join ${key}`);
    }
    this.render();
  }

  /** Draws everything again. */
  render(): void {
    this.#renderRooms();
    this.#renderShown();
  }

  #enter(room: string, topic: string): void {
    this.#current = room;
    this.#topics.set(room, topic);
    this.conversations.get(room).joined = true;
    this.conversations.show(room);
    // Members are the node's to say: ask, quietly.
    this.#quietWho.set(room, (this.#quietWho.get(room) ?? 0) + 1);
    this.#options.command(`/who ${room}`);
  }

  #live(frame: MsgFrame, openings: Openings): void {
    const conversation = this.conversations.add(frame, openings.get(frame), true);
    if (conversation === undefined) return;
    if (frame.kind === "topic") this.#topics.set(frame.room, frame.text);
    if (conversation.key !== this.conversations.shown) {
      const counted = frame.kind === "message" || frame.kind === "action" ||
        frame.kind === "private";
      if (counted) {
        this.#parts.announcer.textContent = `New message from ${sanitizeText(frame.from)} in ${
          labelOf(conversation.key)
        }`;
      }
    }
  }

  #info(frame: Extract<ServerFrame, { t: "info" }>): void {
    if (frame.cmd === "who" && Array.isArray(frame.data)) {
      const room = /in #(\S+):$/.exec(frame.lines[0] ?? "")?.[1];
      if (room !== undefined) {
        this.conversations.setMembers(room, frame.data.flatMap(memberOf));
        const quiet = this.#quietWho.get(room) ?? 0;
        if (quiet > 0) {
          this.#quietWho.set(room, quiet - 1);
          return;
        }
      }
    }
    this.#notice(frame.lines.join("\n"));
  }

  #notice(text: string, error = false): void {
    // Line by line: `/help` and other replies keep their lines.
    const clean = text.split("\n").map((line) => sanitizeText(line)).join("\n");
    this.conversations.notice(clean, error, this.#now());
  }

  #askOlder(): void {
    const key = this.conversations.shown;
    if (privatePeer(key) !== undefined || key === "" || key !== this.#current) return;
    const have = this.conversations.get(key).entries.filter((entry) => entry.frame).length;
    this.#options.command(`/history ${OLDER_PAGE} ${have}`);
  }

  #renderRooms(): void {
    const items = this.conversations.list().map((conversation) => {
      const button = element("button", "room");
      button.type = "button";
      button.dataset.key = conversation.key;
      const shown = conversation.key === this.conversations.shown;
      if (shown) button.setAttribute("aria-current", "true");
      button.append(element("span", "room-name", labelOf(conversation.key)));
      const lock = privatePeer(conversation.key) === undefined
        ? LOCKS[this.#options.sealStatus(conversation.key)]
        : "";
      if (lock) button.append(element("span", "room-lock", lock));
      if (conversation.unread > 0) {
        const badge = element("span", "unread", String(conversation.unread));
        if (conversation.mentioned) badge.classList.add("mentioned");
        badge.setAttribute("aria-label", `${conversation.unread} unread`);
        button.append(badge);
      }
      button.addEventListener("click", () => this.open(conversation.key));
      const item = element("li");
      item.append(button);
      return item;
    });
    this.#parts.rooms.replaceChildren(...items);
  }

  #renderShown(): void {
    const { log, members, title, topic, status, older } = this.#parts;
    const key = this.conversations.shown;
    const conversation = key === "" ? undefined : this.conversations.get(key);
    title.textContent = key === "" ? "meshchat" : labelOf(key);
    topic.textContent = sanitizeText(this.#topics.get(key) ?? "");
    status.textContent = this.#node
      ? `${sanitizeText(this.conversations.nick)} on node ${sanitizeText(this.#node)}`
      : "";
    older.hidden = conversation === undefined || privatePeer(key) !== undefined;
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.replaceChildren(...(conversation?.entries ?? []).map((entry) => this.#entry(entry)));
    if (stick) log.scrollTop = log.scrollHeight;
    members.replaceChildren(...memberItems(conversation));
  }

  #entry(entry: LogEntry): HTMLElement {
    const item = element("li", "entry");
    const time = element("time", "time", clockTime(entry.time));
    time.dateTime = new Date(entry.time).toISOString();
    time.title = new Date(entry.time).toLocaleString();
    item.append(time);
    const frame = entry.frame;
    if (frame === undefined) {
      item.classList.add(entry.error ? "error" : "notice");
      item.append(element("span", "text", entry.text ?? ""));
      return item;
    }
    if (entry.mention) item.classList.add("mention");
    const opening = entry.opening;
    const spoken = frame.kind === "message" || frame.kind === "action" ||
      frame.kind === "private";
    if (!spoken || (opening !== undefined && !opening.ok)) {
      item.classList.add("event");
      const text = opening === undefined
        ? formatMsg(frame, { color: false, timestamps: false, currentRoom: frame.room })
        : this.#text.formatSealed(frame, opening);
      item.append(element("span", "text", text));
      return item;
    }
    if (frame.kind === "action") item.classList.add("action");
    if (frame.kind === "private") item.classList.add("private");
    if (opening !== undefined) item.classList.add("sealed");
    item.append(nickElement(frame.from));
    if (opening?.ok && (opening.trust === "changed" || opening.verified)) {
      const mark = element("span", "mark", opening.trust === "changed" ? "!" : "✓");
      mark.title = opening.trust === "changed"
        ? "signed with another key than this sender's earlier messages"
        : "signed with the key this sender used first in this session";
      item.append(mark);
    }
    if (frame.kind === "private" && frame.to !== undefined) {
      item.append(element("span", "arrow", "→"), nickElement(frame.to));
    }
    item.append(element("span", "text", sanitizeText(opening?.ok ? opening.text : frame.text)));
    if (opening?.ok) {
      const { keyChanged, replayed } = sealedRemarks(frame, opening);
      for (const remark of [keyChanged, replayed]) {
        if (remark !== undefined) item.append(element("span", "remark", remark));
      }
    }
    return item;
  }
}

/** `#lobby` or `@bob`. */
function labelOf(key: string): string {
  return privatePeer(key) === undefined ? `#${sanitizeText(key)}` : sanitizeText(key);
}

/** A member from `/who`'s structured data, or none when it has not that shape. */
function memberOf(value: unknown): Member[] {
  if (typeof value !== "object" || value === null) return [];
  const { nick, node, away } = value as Record<string, unknown>;
  if (typeof nick !== "string") return [];
  return [{
    nick,
    ...(typeof node === "string" ? { node } : {}),
    ...(typeof away === "string" ? { away } : {}),
  }];
}

function memberItems(conversation: Conversation | undefined): HTMLElement[] {
  if (conversation === undefined) return [];
  return [...conversation.members.values()]
    .sort((a, b) => a.nick.localeCompare(b.nick))
    .map((member) => {
      const item = element("li", "member");
      item.append(nickElement(member.nick));
      if (member.node !== undefined) {
        item.append(element("span", "member-node", sanitizeText(member.node)));
      }
      if (member.away !== undefined) {
        item.classList.add("away");
        item.title = `away: ${sanitizeText(member.away)}`;
      }
      return item;
    });
}

/** A nick in its terminal colour (set through CSSOM: the CSP allows no style attributes). */
function nickElement(nick: string): HTMLElement {
  const clean = sanitizeText(nick);
  const span = element("span", "nick", clean);
  span.style.color = xtermColor(nickColor(clean));
  return span;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className !== undefined) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
