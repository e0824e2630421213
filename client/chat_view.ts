/**
 * What the client shows for each frame from the node, and the little state
 * that needs (own nick, current room). Used by the interactive terminal and
 * by line mode alike.
 *
 * @module
 */
import { formatMsg } from "../core/chat_format.ts";
import type { MsgFrame, ServerFrame } from "../core/protocol.ts";
import { sanitizeText } from "../core/text_sanitizer.ts";

/** Options of {@linkcode ChatView}. */
export interface ChatViewOptions {
  /** ANSI colours. @default true */
  color?: boolean;
  /** `HH:MM` prefixes. @default true */
  timestamps?: boolean;
}

/** One thing to print, and whether it is an error (stderr in line mode). */
export interface ViewLine {
  readonly text: string;
  readonly error?: boolean;
}

/** Turns frames into lines and tracks nick and current room. */
export class ChatView {
  readonly #color: boolean;
  readonly #timestamps: boolean;
  #nick = "";
  #room = "";
  #node = "";

  /** @param options Colours and timestamps. */
  constructor(options: ChatViewOptions = {}) {
    this.#color = options.color ?? true;
    this.#timestamps = options.timestamps ?? true;
  }

  /** Own nick, once welcomed. */
  get nick(): string {
    return this.#nick;
  }

  /** The room plain lines go to. */
  get room(): string {
    return this.#room;
  }

  /** The node connected to. */
  get node(): string {
    return this.#node;
  }

  /**
   * Updates state from a frame and returns what to print.
   *
   * @param frame From the node.
   * @returns Lines to print (possibly none).
   */
  show(frame: ServerFrame): ViewLine[] {
    switch (frame.t) {
      case "welcome":
        this.#nick = sanitizeText(frame.nick);
        this.#room = sanitizeText(frame.room);
        this.#node = sanitizeText(frame.node);
        return [
          { text: `Connected to node ${this.#node} as ${this.#nick}. Type /help for commands.` },
          ...this.#topic(frame.room, frame.topic),
          ...this.#messages(frame.history),
        ];
      case "joined":
        this.#room = sanitizeText(frame.room);
        return [...this.#topic(frame.room, frame.topic), ...this.#messages(frame.history)];
      case "history":
        return this.#messages(frame.history);
      case "left":
        this.#room = sanitizeText(frame.current);
        return [{
          text: `You left #${sanitizeText(frame.room)}` +
            (this.#room ? `; now in #${this.#room}` : ""),
        }];
      case "nick":
        this.#nick = sanitizeText(frame.nick);
        return [];
      case "msg":
        return [{ text: this.format(frame) }];
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

  /**
   * One event as a line.
   *
   * @param frame The event.
   * @param text Replacement text (an opened sealed message).
   * @returns The line.
   */
  format(frame: MsgFrame, text?: string): string {
    return formatMsg(frame, {
      color: this.#color,
      timestamps: this.#timestamps,
      currentRoom: this.#room,
      ...(text === undefined ? {} : { text }),
    });
  }

  #messages(history: readonly MsgFrame[]): ViewLine[] {
    return history.map((frame) => ({ text: this.format(frame) }));
  }

  #topic(room: string, topic: string): ViewLine[] {
    const name = sanitizeText(room);
    return [{ text: topic ? `Now in #${name}: ${sanitizeText(topic)}` : `Now in #${name}` }];
  }
}
