/**
 * What the client shows for each frame from the node: the lines the SSH
 * frontend shows too ({@linkcode FrameView}), with the client's display
 * choices (colours, timestamps, time zone) and its sealed messages opened.
 * Used by the interactive terminal and by line mode alike.
 *
 * @module
 */
import { clockTime, formatMsg, paintNick } from "../core/chat_format.ts";
import { FrameView, type ScreenLine } from "../core/frame_view.ts";
import type { MsgFrame, ServerFrame } from "../core/protocol.ts";
import { sanitizeText } from "../core/text_sanitizer.ts";
import type { Opening } from "./sealed_rooms.ts";
import { isTimeZone } from "./settings.ts";

/** What sealed events in a frame opened to, by event. */
export type Openings = ReadonlyMap<MsgFrame, Opening>;

/** Options of {@linkcode ChatView}. */
export interface ChatViewOptions {
  /** ANSI colours. @default true */
  color?: boolean;
  /** `HH:MM` prefixes. @default true */
  timestamps?: boolean;
  /** IANA time zone of the `HH:MM` prefixes. @default {the system's} */
  timeZone?: string;
}

/** One thing to print, and whether it is an error (stderr in line mode). */
export type ViewLine = ScreenLine;

/** Turns frames into lines and tracks nick and current room. */
export class ChatView {
  /** ANSI colours in what is shown from now on (`/theme`). */
  color: boolean;
  /** `HH:MM` before each line shown from now on (`/timestamp`). */
  timestamps: boolean;
  #timeZone: string | undefined;
  readonly #frames = new FrameView({
    greeting: ({ node, nick }) => [
      `Connected to node ${sanitizeText(node)} as ${sanitizeText(nick)}. Type /help for commands.`,
    ],
    formatEvent: (frame) => this.format(frame),
  });

  /** @param options Colours and timestamps. */
  constructor(options: ChatViewOptions = {}) {
    this.color = options.color ?? true;
    this.timestamps = options.timestamps ?? true;
    this.setTimeZone(options.timeZone);
  }

  /** The time zone of the `HH:MM` prefixes. */
  get timeZone(): string {
    return this.#timeZone ?? new Intl.DateTimeFormat().resolvedOptions().timeZone;
  }

  /**
   * Changes the time zone of the `HH:MM` prefixes (`/tz`).
   *
   * @param zone An IANA name such as `Europe/Paris`; undefined for the system's.
   * @throws {RangeError} When the runtime does not know the zone.
   */
  setTimeZone(zone: string | undefined): void {
    if (zone !== undefined && !isTimeZone(zone)) {
      throw new RangeError(`Cannot set the time zone: "${zone}" is not a known time zone`);
    }
    this.#timeZone = zone;
  }

  /**
   * `HH:MM` of a time in this view's time zone.
   *
   * @param time Milliseconds since the epoch.
   * @returns The clock time.
   */
  clock(time: number): string {
    return clockTime(time, this.#timeZone);
  }

  /** Own nick, once welcomed. */
  get nick(): string {
    return this.#frames.nick;
  }

  /** The room plain lines go to. */
  get room(): string {
    return this.#frames.room;
  }

  /** The node connected to. */
  get node(): string {
    return this.#frames.node;
  }

  /**
   * Updates state from a frame and returns what to print.
   *
   * @param frame From the node.
   * @param openings What its sealed events opened to; a sealed event
   *   missing here is shown as `[sealed message from X]`.
   * @returns Lines to print (possibly none).
   */
  show(frame: ServerFrame, openings: Openings = new Map()): ViewLine[] {
    return this.#frames.show(frame, (msg) => {
      const opening = msg.sealed === undefined ? undefined : openings.get(msg);
      return opening === undefined ? this.format(msg) : this.formatSealed(msg, opening);
    });
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
      color: this.color,
      timestamps: this.timestamps,
      currentRoom: this.room,
      ...(this.#timeZone === undefined ? {} : { timeZone: this.#timeZone }),
      ...(text === undefined ? {} : { text }),
    });
  }

  /**
   * A sealed event as a line: the opened text with the sender (`✓` after a
   * verified sender, `!` when the sender's signing key changed), or
   * `[cannot open sealed message from X: REASON]`. An opened message is
   * stamped with the time sealed inside it (authenticated), not the node's;
   * when the two are far apart the line says so: a node may be replaying it.
   *
   * @param frame The event (with `sealed`).
   * @param opening What opening it gave.
   * @returns The line.
   */
  formatSealed(frame: MsgFrame, opening: Opening): string {
    const time = opening.ok ? opening.sentAt : frame.time;
    const stamp = this.timestamps ? `${this.#dim(this.clock(time))} ` : "";
    const room = sanitizeText(frame.room);
    const tag = room !== "" && room !== this.room ? `${this.#dim(`#${room}`)} ` : "";
    if (!opening.ok) {
      return stamp + tag + this.#dim(
        `[cannot open sealed message from ${sanitizeText(frame.from)}: ${
          sanitizeText(opening.reason)
        }]`,
      );
    }
    const mark = opening.trust === "changed" ? "!" : opening.verified ? "✓" : "";
    const from = paintNick(frame.from, this.color) + (mark ? this.#dim(mark) : "");
    const text = sanitizeText(opening.text);
    const body = frame.kind === "action" ? `* ${from} ${text}` : `<${from}> ${text}`;
    const { keyChanged, replayed } = sealedRemarks(frame, opening);
    return stamp + tag + body + (keyChanged ? ` ${this.#dim(keyChanged)}` : "") +
      (replayed ? ` ${replayed}` : "");
  }

  #dim(text: string): string {
    return this.color ? `\x1b[2m${text}\x1b[22m` : text;
  }
}

/** The warnings an opened sealed message may carry (see {@linkcode sealedRemarks}). */
export interface SealedRemarks {
  /** `[signed with another key than X's earlier messages]`. */
  readonly keyChanged?: string;
  /** `[sealed … UTC, 3 days before the node's time: possibly replayed]`. */
  readonly replayed?: string;
}

/**
 * The warnings shown after an opened sealed message, sanitised: a signing
 * key other than the sender's earlier one, and a send time far from the
 * node's (a node may be replaying it). The web client shows the same ones.
 *
 * @param frame The event.
 * @param opening What opening it gave (opened).
 * @returns The warnings that apply.
 */
export function sealedRemarks(
  frame: MsgFrame,
  opening: Extract<Opening, { ok: true }>,
): SealedRemarks {
  return {
    ...(opening.trust === "changed"
      ? {
        keyChanged: `[signed with another key than ${sanitizeText(frame.from)}'s earlier messages]`,
      }
      : {}),
    ...(opening.stale ? { replayed: replayWarning(opening.sentAt, frame.time) } : {}),
  };
}

/**
 * `[sealed 2026-11-20 14:03 UTC, 3 days before the node's time: possibly
 * replayed]`: the full date, in UTC, so it reads the same everywhere.
 */
function replayWarning(sentAt: number, nodeTime: number): string {
  const when = new Date(sentAt).toISOString().slice(0, 16).replace("T", " ");
  const gap = Math.abs(nodeTime - sentAt);
  const side = sentAt < nodeTime ? "before" : "after";
  return `[sealed ${when} UTC, ${describeGap(gap)} ${side} the node's time: possibly replayed]`;
}

/** A duration in the largest whole unit: `3 days`, `1 hour`, `12 minutes`. */
function describeGap(ms: number): string {
  const units: [number, string][] = [[86_400_000, "day"], [3_600_000, "hour"], [60_000, "minute"]];
  for (const [size, name] of units) {
    const count = Math.floor(ms / size);
    if (count >= 1) return `${count} ${name}${count === 1 ? "" : "s"}`;
  }
  return "moments";
}
