// Copyright the meshchat authors. MIT license.
/**
 * What a person sees for each frame from the node, as lines for a terminal,
 * and the little state that needs: own nick, current room, node. Shared by
 * the terminal client and the SSH frontend, so a room, a topic, an error or
 * a goodbye reads the same on both; each brings its own greeting and its
 * own way of formatting an event (colours, timestamps, time zone, sealed
 * messages it could open).
 *
 * Everything from the wire is sanitised here: a terminal never trusts the
 * node either.
 *
 * @example
 * ```ts
 * import { FrameView } from "./frame_view.ts";
 * import { formatMsg } from "./chat_format.ts";
 * import assert from "node:assert/strict";
 *
 * const view = new FrameView({
 *   greeting: (welcome) => [`Hello ${welcome.nick}`],
 *   formatEvent: (frame) => formatMsg(frame, { color: false, timestamps: false }),
 * });
 * view.show({
 *   t: "welcome",
 *   v: 1,
 *   nick: "ann",
 *   node: "n1",
 *   room: "lobby",
 *   rooms: ["lobby"],
 *   topic: "",
 *   history: [],
 * });
 * assert.equal(view.room, "lobby");
 * assert.deepEqual(view.show({ t: "left", room: "lobby", current: "" }), [
 *   { text: "You left #lobby" },
 * ]);
 * ```
 *
 * @module
 */
import { mentions, paintNick } from "./chat_format.ts";
import type { MsgFrame, ServerFrame } from "./protocol.ts";
import { sanitizeText } from "./text_sanitizer.ts";

/** One line to show; `error` lines are red on a colour screen (stderr in line mode). */
export interface ScreenLine {
  /** The text, sanitised, possibly with SGR colours. */
  readonly text: string;
  /** An error: shown in red where colours are on. */
  readonly error?: boolean;
  /** Ring the terminal's bell with it (a message that mentions the reader). */
  readonly bell?: boolean;
}

/** The welcome frame. */
export type WelcomeFrame = Extract<ServerFrame, { t: "welcome" }>;

/** Formats one event as one line. */
export type EventFormatter = (frame: MsgFrame) => string;

/** Options of {@linkcode FrameView}. */
export interface FrameViewOptions {
  /** The lines that greet the person, before the message of the day. */
  greeting: (welcome: WelcomeFrame) => string[];
  /** One event as a line, unless {@linkcode FrameView.show} is given another. */
  formatEvent: EventFormatter;
  /**
   * Most messages of history shown from a welcome or a join (the newest).
   * @default {all the frame carries}
   */
  historyLimit?: number;
}

/** Turns server frames into lines and tracks own nick, current room and node. */
export class FrameView {
  readonly #greeting: (welcome: WelcomeFrame) => string[];
  readonly #formatEvent: EventFormatter;
  readonly #historyLimit: number;
  #nick = "";
  #room = "";
  #node = "";

  /** @param options Greeting, event formatter, history limit. */
  constructor(options: FrameViewOptions) {
    const { greeting, formatEvent, historyLimit = Infinity } = options;
    this.#greeting = greeting;
    this.#formatEvent = formatEvent;
    this.#historyLimit = historyLimit;
  }

  /** Own nick, once welcomed (sanitised). */
  get nick(): string {
    return this.#nick;
  }

  /** The current room, `""` for none (sanitised). */
  get room(): string {
    return this.#room;
  }

  /** The node connected to (sanitised). */
  get node(): string {
    return this.#node;
  }

  /**
   * Updates nick and room from a frame, then says what to show for it. A
   * live message that mentions the reader carries `bell`.
   *
   * @param frame From the node.
   * @param formatEvent How events look this time. @default {the one given at construction}
   * @returns Lines to show (possibly none).
   */
  show(frame: ServerFrame, formatEvent: EventFormatter = this.#formatEvent): ScreenLine[] {
    switch (frame.t) {
      case "welcome":
        this.#nick = sanitizeText(frame.nick);
        this.#room = sanitizeText(frame.room);
        this.#node = sanitizeText(frame.node);
        return [
          ...this.#greeting(frame).map((text) => ({ text })),
          ...(frame.motd ? [{ text: `Message of the day: ${sanitizeText(frame.motd)}` }] : []),
          this.#nowIn(frame.topic, frame.sealed !== undefined),
          ...this.#history(frame.history, formatEvent),
        ];
      case "joined":
        this.#room = sanitizeText(frame.room);
        return [
          this.#nowIn(frame.topic, frame.sealed !== undefined),
          ...this.#history(frame.history, formatEvent),
        ];
      case "history":
        return frame.history.map((msg) => ({ text: formatEvent(msg) }));
      case "left":
        this.#room = sanitizeText(frame.current);
        return [{
          text: `You left #${sanitizeText(frame.room)}` +
            (this.#room ? `; now in #${this.#room}` : ""),
        }];
      case "nick":
        this.#nick = sanitizeText(frame.nick);
        return [{ text: `You are now ${this.#nick}` }];
      case "msg":
        return [{
          text: formatEvent(frame),
          ...(mentions(frame, this.#nick) ? { bell: true } : {}),
        }];
      case "info":
        return frame.lines.map((line) => ({ text: sanitizeText(line) }));
      case "error":
        return [{ text: `error: ${sanitizeText(frame.message)}`, error: true }];
      case "bye":
        return [{ text: `Disconnected: ${sanitizeText(frame.reason)}` }];
      default:
        return [];
    }
  }

  #nowIn(topic: string, sealed: boolean): ScreenLine {
    const lock = sealed ? " (sealed: end-to-end encrypted)" : "";
    const where = `Now in #${this.#room}${lock}`;
    return { text: topic ? `${where}: ${sanitizeText(topic)}` : where };
  }

  #history(history: readonly MsgFrame[], formatEvent: EventFormatter): ScreenLine[] {
    const shown = history.length > this.#historyLimit
      ? history.slice(history.length - this.#historyLimit)
      : history;
    return shown.map((msg) => ({ text: formatEvent(msg) }));
  }
}

/** Options of {@linkcode chatPrompt}. */
export interface ChatPromptOptions {
  /** Colour the nick as in messages. @default true */
  color?: boolean;
  /** Said after the room, e.g. ` 🔒` for a sealed one. @default "" */
  roomNote?: string;
}

/**
 * The input line's prompt: `[#room] nick> `, or `[(no room)] nick> `.
 *
 * @param room The current room, `""` for none.
 * @param nick Own nick.
 * @param options Colour and a note after the room.
 * @returns The prompt, with SGR colours when asked.
 */
export function chatPrompt(room: string, nick: string, options: ChatPromptOptions = {}): string {
  const { color = true, roomNote = "" } = options;
  const where = room ? `#${sanitizeText(room)}${roomNote}` : "(no room)";
  return `[${where}] ${paintNick(nick, color)}> `;
}
