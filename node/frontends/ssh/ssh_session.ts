/**
 * One person chatting over SSH: a shell or exec channel bound to one hub
 * session. A thin adapter like the TCP frontend — lines go to the shared
 * command table ({@linkcode handleInput}), hub frames come back through
 * {@linkcode SessionSink} and are rendered for a terminal:
 *
 * - with a PTY, a full line editor (core/line_editor.ts) owns the bottom of
 *   the screen and messages are printed above it, coloured per nick unless
 *   the person chose `/theme mono` (or sent `NO_COLOR`, or has `TERM=dumb`);
 * - without one (`ssh -T`, exec, piped stdin), plain line mode: each line in
 *   is a message or a command, each event out a plain line, no escape codes.
 *
 * A client may send {@linkcode HISTORY_ENV} (`MESHCHAT_HISTORY=0` for bots)
 * to choose how many messages of history it gets on login and on `/join`,
 * and `TZ` (`ssh -o SetEnv=TZ=Europe/Paris`) to see times in its zone.
 *
 * What a person with a key chooses (`/theme`, `/timestamp`, `/tz`,
 * `/ignore`) is kept in the node's {@linkcode UserSettingsStore} and
 * restored at their next login on this node; a guest's lasts the session.
 * After the window narrows or widens, the PTY screen is redrawn whole
 * ({@linkcode LineEditor.repaint}) from the lines last printed.
 *
 * Output is bounded: when the channel holds more than `maxQueueBytes` the
 * reader is too slow and the session is dropped, as on the TCP frontend.
 *
 * @module
 */
import { countOf, formatMsg, mentions, paintNick } from "../../../core/chat_format.ts";
import { LineEditor } from "../../../core/line_editor.ts";
import {
  MAX_HELLO_HISTORY,
  MAX_TEXT_LENGTH,
  type MsgFrame,
  ProtocolError,
  type ServerFrame,
} from "../../../core/protocol.ts";
import {
  DISABLE_BRACKETED_PASTE,
  ENABLE_BRACKETED_PASTE,
  type Key,
  KeyDecoder,
} from "../../../core/terminal_input.ts";
import { sanitizeText } from "../../../core/text_sanitizer.ts";
import { type CommandContext, commands, handleInput } from "../../chat/commands.ts";
import type { Hub, Session, SessionSink } from "../../chat/hub.ts";
import { type Logger, silentLogger } from "../../logger.ts";
import { replyBudgetOf } from "../../chat/reply_budget.ts";
import type { UserSettings, UserSettingsStore } from "../../store/user_settings.ts";

/** The part of an ssh2 server channel a chat session uses. */
export interface SshChannel {
  /** Queues output; the return value (backpressure) is read via `writableLength`. */
  write(data: string): boolean;
  /** Bytes queued and not yet sent (the SSH window is closed or the socket is slow). */
  readonly writableLength: number;
  /** Input arrives as `data`; `end` is the client's EOF; `close` ends the channel. */
  on(event: "data", listener: (data: Uint8Array) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  /** Sends the exit status. */
  exit(status: number): void;
  /** Sends EOF and closes once the output is out. */
  end(): void;
  /** Closes at once, dropping queued output. */
  close(): void;
}

/** Who logged in. */
export interface SshPerson {
  /** The SSH user name: the nick asked for. */
  readonly username: string;
  /** `SHA256:` fingerprint of the key proved, undefined for a guest. */
  readonly fingerprint: string | undefined;
  /** Remote `host:port`. */
  readonly address: string;
  /** Nicks the key already owns (offered when the user name is not free). */
  readonly ownedNicks?: readonly string[];
}

/** The PTY a client asked for. */
export interface SshTerminal {
  /** Width in columns (clamped by the caller). */
  readonly columns: number;
  /** Height in rows (clamped by the caller). @default 24 */
  readonly rows?: number;
  /** `TERM` of the client. */
  readonly term: string;
}

/** Options of {@linkcode SshChatSession}. */
export interface SshChatSessionOptions {
  /** The PTY, or undefined for plain line mode. */
  terminal?: SshTerminal;
  /** The exec command: its text is the first line of input. */
  command?: string;
  /** The client sent `NO_COLOR`. @default false */
  noColor?: boolean;
  /**
   * The time zone the client sent (`TZ`, validated): times are shown in it
   * unless the person chose another with `/tz`. @default the node's zone
   */
  timeZone?: string;
  /** Where a person with a key keeps their settings. @default none (session only) */
  settings?: UserSettingsStore;
  /** Output bytes a slow reader may have queued before it is dropped. @default 1048576 */
  maxQueueBytes?: number;
  /** Longest input line in plain mode (bytes, roughly). @default 16384 */
  maxLineBytes?: number;
  /** Messages shown on joining a room. @default 20 */
  joinHistory?: number;
  /**
   * Messages of history the person asked for (the {@linkcode HISTORY_ENV}
   * variable): on login and on every `/join`, instead of `joinHistory`;
   * 0 for none. Passed to the hub like a client's `hello.history`.
   */
  history?: number;
  /** Input lines waiting for the hub at most; more are refused. @default 100 */
  maxPendingLines?: number;
  /** How long a lone ESC waits for the rest of a key sequence (ms). @default 50 */
  escapeWaitMs?: number;
  /** Logger. @default silentLogger */
  logger?: Logger;
  /** Called once the session is over (channel closed or dropped). */
  onClosed?: () => void;
}

/**
 * Sessions with output waiting. Output is written on the next macrotask, not
 * at once: a burst of messages (one read from a busy sender fans out many)
 * then costs one redraw and one SSH packet per session, not one per message.
 */
const waitingOutput = new Set<() => void>();
let flushTimer: ReturnType<typeof setTimeout> | undefined;

function flushLater(flush: () => void): void {
  waitingOutput.add(flush);
  flushTimer ??= setTimeout(() => {
    flushTimer = undefined;
    const flushes = [...waitingOutput];
    waitingOutput.clear();
    for (const run of flushes) run();
  }, 0);
}

/**
 * Lines a PTY session keeps to redraw its screen after a resize: more than a
 * terminal is tall.
 */
const REPAINT_LINES = 200;

/** Formatted lines of fanned-out frames, shared by sessions that render alike. */
const formatted = new WeakMap<MsgFrame, Map<string, string>>();

function formatShared(
  frame: MsgFrame,
  color: boolean,
  timestamps: boolean,
  room: string,
  timeZone: string | undefined,
): string {
  let variants = formatted.get(frame);
  if (variants === undefined) {
    variants = new Map();
    formatted.set(frame, variants);
  }
  const zone = timestamps ? timeZone ?? "" : "";
  const key = `${color ? 1 : 0}${timestamps ? 1 : 0}${zone} ${room}`;
  let line = variants.get(key);
  if (line === undefined) {
    line = formatMsg(frame, {
      color,
      timestamps,
      currentRoom: room,
      ...(zone === "" ? {} : { timeZone: zone }),
    });
    variants.set(key, line);
  }
  return line;
}

/**
 * The environment variable an SSH client can send to choose how many
 * messages of history it gets on login and on `/join` (0: none, for bots):
 * `ssh -o SetEnv=MESHCHAT_HISTORY=0 -T host`.
 */
export const HISTORY_ENV = "MESHCHAT_HISTORY";

/**
 * Reads the value of {@linkcode HISTORY_ENV}: an integer from 0 to
 * `MAX_HELLO_HISTORY` in decimal digits.
 *
 * @param value The variable's value as the client sent it.
 * @returns The count, or undefined when the value is not one.
 */
export function parseHistoryEnv(value: string): number | undefined {
  if (!/^\d{1,4}$/.test(value.trim())) return undefined;
  const count = Number(value.trim());
  return count <= MAX_HELLO_HISTORY ? count : undefined;
}

/**
 * Nicks to try for a user name, in order: the name itself (made valid), the
 * nicks the key owns, then numbered variants.
 *
 * @param username The SSH user name.
 * @param owned Nicks the key owns.
 * @returns Candidates, no duplicates.
 */
export function nickCandidates(username: string, owned: readonly string[] = []): string[] {
  const base = username.replace(/[^A-Za-z0-9._-]/g, "").slice(0, 16) || "guest";
  const out = new Set([base, ...owned]);
  for (let i = 2; i < 100; i++) {
    const suffix = String(i);
    out.add(base.slice(0, 16 - suffix.length) + suffix);
  }
  return [...out];
}

/** An SSH channel serving one chat session. */
export class SshChatSession implements SessionSink {
  readonly #hub: Hub;
  readonly #channel: SshChannel;
  readonly #person: SshPerson;
  readonly #logger: Logger;
  readonly #editor: LineEditor | undefined;
  readonly #keys = new KeyDecoder();
  readonly #text = new TextDecoder();
  readonly #noColor: boolean;
  readonly #clientZone: string | undefined;
  readonly #settings: UserSettingsStore | undefined;
  /** What the person's key had kept, applied once the hub session exists. */
  #saved: UserSettings = {};
  readonly #command: string | undefined;
  readonly #maxQueueBytes: number;
  readonly #maxLineBytes: number;
  readonly #joinHistory: number;
  readonly #history: number | undefined;
  readonly #maxPendingLines: number;
  readonly #escapeWaitMs: number;
  readonly #onClosed: () => void;
  #session: Session | undefined;
  #nick = "";
  #room = "";
  #refusal: string | undefined;
  #output: string[] = [];
  /** The newest lines printed in a PTY session, oldest first, for repaints. */
  #recent: string[] = [];
  #columns = 0;
  #rows = 24;
  /** The width changed: redraw the whole screen at the next flush. */
  #repaint = false;
  #bell = false;
  #flushing = false;
  #prompt = "";
  #inputTail = "";
  #discardingLine = false;
  #lines: string[] = [];
  #processing = false;
  #inputEnded = false;
  #escapeTimer: ReturnType<typeof setTimeout> | undefined;
  /** No more output: leaving, dropped, or the channel is gone. */
  #closing = false;
  #closed = false;

  /**
   * @param hub The hub.
   * @param channel The accepted shell or exec channel.
   * @param person Who logged in.
   * @param options Terminal, limits, logger.
   */
  constructor(
    hub: Hub,
    channel: SshChannel,
    person: SshPerson,
    options: SshChatSessionOptions = {},
  ) {
    const {
      terminal,
      command,
      noColor = false,
      timeZone,
      settings,
      maxQueueBytes = 1 << 20,
      maxLineBytes = 16_384,
      joinHistory = 20,
      history,
      maxPendingLines = 100,
      escapeWaitMs = 50,
      logger = silentLogger,
      onClosed = () => {},
    } = options;
    this.#hub = hub;
    this.#channel = channel;
    this.#person = person;
    this.#logger = logger;
    this.#command = command;
    this.#noColor = noColor || terminal === undefined || /^(dumb|)$/.test(terminal.term);
    this.#clientZone = timeZone;
    this.#settings = settings;
    this.#maxQueueBytes = maxQueueBytes;
    this.#maxLineBytes = maxLineBytes;
    this.#joinHistory = history ?? joinHistory;
    this.#history = history;
    this.#maxPendingLines = maxPendingLines;
    this.#escapeWaitMs = escapeWaitMs;
    this.#onClosed = onClosed;
    if (terminal !== undefined) {
      this.#columns = terminal.columns;
      this.#rows = terminal.rows ?? 24;
      this.#editor = new LineEditor({
        maxLength: MAX_TEXT_LENGTH,
        columns: terminal.columns,
        complete: (word, line) => this.#complete(word, line),
      });
    }
  }

  /** The hub session, once started. */
  get session(): Session | undefined {
    return this.#session;
  }

  /** Whether this is a PTY session. */
  get interactive(): boolean {
    return this.#editor !== undefined;
  }

  /**
   * Joins the hub (the user name as nick, or the first free alternative)
   * and starts reading input.
   *
   * @returns Whether the person got in.
   */
  start(): boolean {
    this.#channel.on("data", (data) => this.#onData(data));
    this.#channel.on("end", () => this.#onEnd());
    this.#channel.on("close", () => this.#onChannelClosed());
    if (this.#editor) this.#write(ENABLE_BRACKETED_PASTE);
    const origin = {
      via: "ssh",
      address: this.#person.address,
      ...(this.#person.fingerprint === undefined ? {} : { fingerprint: this.#person.fingerprint }),
    };
    const fingerprint = this.#person.fingerprint;
    if (fingerprint !== undefined && this.#settings !== undefined) {
      this.#saved = this.#settings.get(fingerprint);
    }
    for (const nick of nickCandidates(this.#person.username, this.#person.ownedNicks)) {
      try {
        this.#session = this.#hub.connect(
          this,
          this.#history === undefined ? { user: nick } : { user: nick, history: this.#history },
          origin,
        );
        break;
      } catch (error) {
        if (error instanceof ProtocolError && error.code === "banned") {
          this.#print([sanitizeText(error.message)]);
          this.#finish(1);
          return false;
        }
        if (
          !(error instanceof ProtocolError) ||
          (error.code !== "nick_taken" && error.code !== "nick_invalid")
        ) {
          throw error;
        }
        this.#refusal ??= error.message.replace(/: choose another$/, "");
      }
    }
    if (this.#session === undefined) {
      this.#print([`Cannot join: no free nick like ${sanitizeText(this.#person.username)}`]);
      this.#finish(1);
      return false;
    }
    this.#restoreSettings(this.#session);
    if (this.#command !== undefined && this.#command.trim() !== "") {
      this.#enqueue(this.#command.trim());
    }
    return true;
  }

  /**
   * Takes a new terminal size (window-change). A new width redraws the
   * whole screen (at the next flush, so a burst of resizes while a window
   * is dragged costs one): after a resize, the rows the input line took are
   * where the terminal's reflow put them, which the session cannot know,
   * and redrawing only the input would leave a stale copy of it on screen.
   *
   * @param columns Columns (clamped by the caller).
   * @param rows Rows (clamped by the caller); unchanged when absent.
   */
  resize(columns: number, rows?: number): void {
    if (this.#editor === undefined || this.#closing) return;
    if (rows !== undefined) this.#rows = rows;
    if (columns === this.#columns) return;
    this.#columns = columns;
    this.#editor.setWidth(columns);
    this.#repaint = true;
    this.#scheduleFlush();
  }

  /**
   * Bytes one reply may take now. Replies are measured as JSON, which is
   * bigger than the lines rendered here (ids, times and field names are
   * not shown), so the estimate errs on the safe side.
   *
   * @returns The budget.
   */
  replyBudget(): number {
    return replyBudgetOf(this.#maxQueueBytes, this.#channel.writableLength);
  }

  /**
   * Renders a hub frame for the terminal.
   *
   * @param frame From the hub.
   */
  send(frame: ServerFrame): void {
    if (this.#closing) return;
    switch (frame.t) {
      case "welcome": {
        this.#nick = frame.nick;
        this.#room = frame.room;
        const fingerprint = this.#person.fingerprint;
        this.#print([
          `Welcome to meshchat on node ${sanitizeText(frame.node)}, ${frame.nick}. ` +
          "Type /help for commands, /quit to leave.",
          ...(this.#refusal === undefined
            ? []
            : [`${sanitizeText(this.#refusal)}: you are ${frame.nick}`]),
          fingerprint === undefined
            ? "You are a guest: log in with an SSH key to own your nick and keep your settings."
            : `Your SSH key is ${fingerprint}.`,
          ...this.#savedLines(),
          ...(frame.motd ? [`Message of the day: ${sanitizeText(frame.motd)}`] : []),
          ...this.#roomLines(frame.room, frame.topic, frame.history),
        ]);
        break;
      }
      case "joined":
        this.#room = frame.room;
        this.#print(this.#roomLines(frame.room, frame.topic, frame.history));
        break;
      case "history":
        this.#print(frame.history.map((msg) => this.#format(msg)));
        break;
      case "left":
        this.#room = frame.current;
        this.#print([
          `You left #${frame.room}` + (frame.current ? `; now in #${frame.current}` : ""),
        ]);
        break;
      case "nick":
        this.#nick = frame.nick;
        this.#print([`You are now ${frame.nick}`]);
        break;
      case "msg":
        this.#print(
          [this.#format(frame)],
          this.#editor !== undefined && mentions(frame, this.#nick),
        );
        break;
      case "info":
        this.#print(frame.lines.map((line) => sanitizeText(line)));
        break;
      case "error":
        this.#print([this.#paint(`error: ${sanitizeText(frame.message)}`, 31)]);
        break;
      case "bye":
        this.#print([`Disconnected: ${sanitizeText(frame.reason)}`]);
        break;
      default:
        break;
    }
  }

  /**
   * Ends the channel after the queued output (SessionSink).
   *
   * @param _reason Why (already told in a `bye` frame).
   */
  close(_reason: string): void {
    this.#finish(0);
  }

  /** Leaves the chat and ends the channel: /quit's path for keys and EOF. */
  leave(reason = "quit"): void {
    if (this.#session?.open) this.#hub.disconnect(this.#session, reason);
    this.#finish(0);
  }

  #roomLines(room: string, topic: string, history: readonly MsgFrame[]): string[] {
    return [
      topic ? `Now in #${room}: ${sanitizeText(topic)}` : `Now in #${room}`,
      ...history.slice(-this.#joinHistory).map((msg) => this.#format(msg)),
    ];
  }

  /**
   * A display preference: the hub session's once it exists; before that
   * (the welcome is rendered while the hub connects) the saved one.
   */
  #pref(name: "theme" | "timestamps" | "tz"): string | undefined {
    return this.#session === undefined ? this.#saved[name] : this.#session.prefs.get(name);
  }

  get #color(): boolean {
    const theme = this.#pref("theme");
    if (this.#editor === undefined) return false;
    return theme === undefined ? !this.#noColor : theme === "color";
  }

  get #timestamps(): boolean {
    const choice = this.#pref("timestamps");
    return choice === undefined ? this.#editor !== undefined : choice === "on";
  }

  get #timeZone(): string | undefined {
    return this.#pref("tz") ?? this.#clientZone;
  }

  #format(frame: MsgFrame): string {
    return formatShared(frame, this.#color, this.#timestamps, this.#room, this.#timeZone);
  }

  /** Puts what the key had kept into the new hub session. */
  #restoreSettings(session: Session): void {
    const { theme, timestamps, tz, ignored = [] } = this.#saved;
    if (theme !== undefined) session.prefs.set("theme", theme);
    if (timestamps !== undefined) session.prefs.set("timestamps", timestamps);
    if (tz !== undefined) session.prefs.set("tz", tz);
    for (const key of ignored) session.ignored.add(key);
  }

  /** Keeps what a person with a key has chosen now (nothing is written when unchanged). */
  #keepSettings(session: Session): void {
    const fingerprint = this.#person.fingerprint;
    if (fingerprint === undefined || this.#settings === undefined) return;
    const theme = session.prefs.get("theme");
    const timestamps = session.prefs.get("timestamps");
    const tz = session.prefs.get("tz");
    this.#settings.set(fingerprint, {
      ...(theme === "color" || theme === "mono" ? { theme } : {}),
      ...(timestamps === "on" || timestamps === "off" ? { timestamps } : {}),
      ...(tz === undefined ? {} : { tz }),
      ignored: [...session.ignored].sort(),
    });
  }

  /** The welcome's line about restored settings, if any were. */
  #savedLines(): string[] {
    const { theme, timestamps, tz, ignored = [] } = this.#saved;
    const parts = [
      ...(theme === undefined ? [] : [`theme ${theme}`]),
      ...(timestamps === undefined ? [] : [`timestamps ${timestamps}`]),
      ...(tz === undefined ? [] : [`time zone ${tz}`]),
      ...(ignored.length === 0 ? [] : [`ignoring ${countOf(ignored.length, "person", "people")}`]),
    ];
    return parts.length === 0 ? [] : [`Your saved settings: ${parts.join(", ")}.`];
  }

  #paint(text: string, sgr: number): string {
    return this.#color ? `\x1b[${sgr}m${text}\x1b[39m` : text;
  }

  #print(lines: readonly string[], bell = false): void {
    if (this.#closing) return;
    for (const line of lines) this.#output.push(line);
    if (bell) this.#bell = true;
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    flushLater(this.#flushNow);
  }

  readonly #flushNow = () => this.#flush();

  /** Writes what was printed since the last flush, in one piece. */
  #flush(): void {
    this.#flushing = false;
    if (this.#closed || this.#closing) return;
    const lines = this.#output;
    this.#output = [];
    const editor = this.#editor;
    if (editor === undefined) {
      if (lines.length > 0) this.#write(lines.map((line) => `${line}\n`).join(""));
      return;
    }
    const prompt = this.#currentPrompt();
    const promptChanged = prompt !== this.#prompt;
    if (promptChanged) {
      this.#prompt = prompt;
      editor.setPrompt(prompt);
    }
    // A long reply (a /who of thousands) replaces them: no spread of it.
    if (lines.length >= REPAINT_LINES) {
      this.#recent = lines.slice(-REPAINT_LINES);
    } else if (lines.length > 0) {
      this.#recent.push(...lines);
      if (this.#recent.length > REPAINT_LINES) {
        this.#recent.splice(0, this.#recent.length - REPAINT_LINES);
      }
    }
    let out: string;
    if (this.#repaint) {
      this.#repaint = false;
      out = editor.repaint(this.#recent, this.#rows);
    } else if (lines.length > 0) {
      out = editor.printAbove(lines.join("\n"));
    } else {
      out = promptChanged ? editor.render() : "";
    }
    if (this.#bell) out += "\x07";
    this.#bell = false;
    if (out !== "") this.#write(out);
  }

  #currentPrompt(): string {
    const room = this.#room ? `#${this.#room}` : "(no room)";
    return `[${room}] ${paintNick(this.#nick, this.#color)}> `;
  }

  #write(text: string): void {
    if (this.#closed) return;
    try {
      this.#channel.write(text);
    } catch (error) {
      this.#logger.debug("ssh write failed", { addr: this.#person.address, error: String(error) });
      this.#onChannelClosed();
      return;
    }
    if (this.#channel.writableLength > this.#maxQueueBytes) this.#drop();
  }

  /** The reader fell too far behind: leave and cut the channel. */
  #drop(): void {
    this.#logger.warn("slow reader dropped", {
      addr: this.#person.address,
      nick: this.#session?.nick,
      via: "ssh",
    });
    this.#closing = true;
    if (this.#session?.open) this.#hub.disconnect(this.#session, "too slow");
    try {
      this.#channel.close();
    } catch {
      // already closed
    }
    this.#onChannelClosed();
  }

  #onData(data: Uint8Array): void {
    if (this.#closing) return;
    const text = this.#text.decode(data, { stream: true });
    if (this.#editor === undefined) {
      this.#takePlainInput(text);
      return;
    }
    clearTimeout(this.#escapeTimer);
    this.#handleKeys(this.#keys.feed(text));
    if (this.#keys.pending && !this.#closing) {
      this.#escapeTimer = setTimeout(
        () => this.#handleKeys(this.#keys.flush()),
        this.#escapeWaitMs,
      );
    }
  }

  #handleKeys(keys: readonly Key[]): void {
    const editor = this.#editor;
    if (editor === undefined) return;
    for (const key of keys) {
      if (this.#closing) return;
      for (const action of editor.handle(key)) {
        switch (action.type) {
          case "submit":
            if (action.line.trim() !== "") this.#enqueue(action.line);
            break;
          case "eof":
          case "interrupt":
            this.leave("quit");
            return;
          case "bell":
            this.#write("\x07");
            break;
          case "candidates":
            this.#print([action.items.join("  ")]);
            break;
          case "redraw":
            // Printing or a pending repaint redraws anyway; otherwise draw the edit now.
            if (this.#output.length === 0 && !this.#repaint) this.#write(editor.render());
            break;
        }
      }
    }
  }

  /** Plain mode: cuts input into lines (LF or CR LF), bounded in length. */
  #takePlainInput(text: string): void {
    let data = this.#inputTail + text;
    this.#inputTail = "";
    let newline = data.indexOf("\n");
    while (newline >= 0) {
      const line = data.slice(0, newline).replace(/\r$/, "");
      data = data.slice(newline + 1);
      if (this.#discardingLine) {
        this.#discardingLine = false;
      } else if (line.trim() !== "") {
        this.#enqueue(line);
      }
      newline = data.indexOf("\n");
    }
    if (data.length > this.#maxLineBytes) {
      if (!this.#discardingLine) {
        this.#print([`error: Line too long: more than ${this.#maxLineBytes} bytes, dropped`]);
      }
      this.#discardingLine = true;
      data = "";
    }
    this.#inputTail = data;
  }

  #onEnd(): void {
    if (this.#closing) return;
    if (this.#editor === undefined) {
      const last = this.#inputTail.replace(/\r$/, "");
      this.#inputTail = "";
      if (!this.#discardingLine && last.trim() !== "") this.#enqueue(last);
    }
    this.#inputEnded = true;
    if (!this.#processing) this.leave("quit");
  }

  #enqueue(line: string): void {
    if (this.#lines.length >= this.#maxPendingLines) {
      this.#print([this.#paint("error: Too many lines at once: line dropped", 31)]);
      return;
    }
    this.#lines.push(line);
    if (!this.#processing) this.#process();
  }

  async #process(): Promise<void> {
    this.#processing = true;
    try {
      while (this.#lines.length > 0 && !this.#closing) {
        await this.#run(this.#lines.shift()!);
      }
    } finally {
      this.#processing = false;
    }
    if (this.#inputEnded && !this.#closing) this.leave("quit");
  }

  async #run(line: string): Promise<void> {
    const session = this.#session;
    if (session === undefined || !session.open) return;
    const ctx: CommandContext = {
      hub: this.#hub,
      session,
      room: undefined,
      reply: (_cmd, lines) => this.#print(lines.map((text) => sanitizeText(text))),
    };
    try {
      await handleInput(ctx, line);
    } catch (error) {
      let message: string;
      if (error instanceof ProtocolError) {
        message = error.message;
        if (error.code === "rate_limited" && this.#lines.length > 0) {
          message += ` (${countOf(this.#lines.length, "more line")} not sent)`;
          this.#lines = [];
        }
      } else {
        this.#logger.error("request failed", {
          addr: this.#person.address,
          error: String(error),
        });
        message = "Internal error: request not processed";
      }
      this.#print([this.#paint(`error: ${sanitizeText(message)}`, 31)]);
    }
    if (line.trimStart().startsWith("/")) this.#keepSettings(session);
    // A command may have changed the theme or the prompt.
    if (this.#editor !== undefined) this.#scheduleFlush();
  }

  #complete(word: string, line: string): string[] {
    const lower = word.toLowerCase();
    if (word.startsWith("/") && line.trimStart().startsWith(word)) {
      const names: string[] = [];
      for (const command of commands) {
        if (command.hidden) continue;
        for (const name of [command.name, ...(command.aliases ?? [])]) {
          if (`/${name}`.startsWith(lower)) names.push(`/${name}`);
        }
      }
      return names.sort();
    }
    if (word.startsWith("#")) {
      return [...this.#hub.rooms().keys()]
        .filter((room) => `#${room}`.startsWith(lower))
        .map((room) => `#${room}`)
        .sort();
    }
    if (word === "" || this.#room === "") return [];
    return this.#hub.members(this.#room)
      .map((member) => member.nick)
      .filter((nick) => nick.toLowerCase().startsWith(lower));
  }

  /** Ends the channel after queued output; `status` is the exit status. */
  #finish(status: number): void {
    if (this.#closing) return;
    this.#flush();
    this.#closing = true;
    clearTimeout(this.#escapeTimer);
    if (this.#editor !== undefined) this.#write(this.#editor.clear() + DISABLE_BRACKETED_PASTE);
    try {
      this.#channel.exit(status);
      this.#channel.end();
    } catch {
      // the channel is already gone
    }
  }

  #onChannelClosed(): void {
    if (this.#closed) return;
    this.#closing = true;
    this.#closed = true;
    clearTimeout(this.#escapeTimer);
    if (this.#session?.open) this.#hub.disconnect(this.#session, "connection closed");
    this.#onClosed();
  }
}
