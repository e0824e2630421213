/**
 * One person chatting over SSH: a shell or exec channel bound to one hub
 * session. A thin adapter like the TCP frontend — lines go to the one input
 * path ({@linkcode handleLine}), hub frames (replies and refusals included)
 * come back through {@linkcode SessionSink} and are rendered for a terminal:
 *
 * - with a PTY, the terminal client's screen (core/terminal_screen.ts): a
 *   line editor owns the bottom of the screen and messages are printed above
 *   it, coloured per nick unless the person chose `/theme mono` (or sent
 *   `NO_COLOR`, or has `TERM=dumb`);
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
 * After the window changes size, the PTY screen is redrawn whole from the
 * lines last printed ({@linkcode TerminalScreen.resize}).
 *
 * Output is bounded: when the channel holds more than `maxQueueBytes` the
 * reader is too slow and the session is dropped, as on the TCP frontend.
 *
 * @module
 */
import { countOf, formatMsg } from "../../../core/chat_format.ts";
import {
  chatPrompt,
  FrameView,
  type ScreenLine,
  type WelcomeFrame,
} from "../../../core/frame_view.ts";
import {
  MAX_HELLO_HISTORY,
  MAX_TEXT_LENGTH,
  type MsgFrame,
  ProtocolError,
  type ServerFrame,
} from "../../../core/protocol.ts";
import { type ScreenInput, TerminalScreen } from "../../../core/terminal_screen.ts";
import { sanitizeText } from "../../../core/text_sanitizer.ts";
import { commands, type WebSignInOffer } from "../../chat/commands.ts";
import { handleLine } from "../handle_line.ts";
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
  /**
   * Makes a one-time web sign-in link for this person's key and a nick it
   * owns (`/web`, node/frontends/web/signin.ts). @default none: `/web` is off
   */
  webSignIn?: (nick: string) => { readonly url: string; readonly ttlMs: number };
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
export class SshChatSession implements SessionSink, WebSignInOffer {
  readonly #hub: Hub;
  readonly #channel: SshChannel;
  readonly #person: SshPerson;
  readonly #logger: Logger;
  /** The PTY's screen; undefined in plain mode. */
  readonly #screen: TerminalScreen | undefined;
  readonly #view: FrameView;
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
  readonly #webSignIn: SshChatSessionOptions["webSignIn"];
  #session: Session | undefined;
  #refusal: string | undefined;
  /** Lines to show at the next flush. */
  #output: ScreenLine[] = [];
  #flushing = false;
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
      webSignIn,
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
    this.#webSignIn = webSignIn;
    this.#view = new FrameView({
      greeting: (welcome) => this.#greeting(welcome),
      formatEvent: (frame) => this.#format(frame),
      historyLimit: this.#joinHistory,
    });
    if (terminal !== undefined) {
      this.#screen = new TerminalScreen({
        columns: terminal.columns,
        rows: terminal.rows ?? 24,
        maxLength: MAX_TEXT_LENGTH,
        complete: (word, line) => this.#complete(word, line),
        color: () => this.#color,
      });
    }
  }

  /** The hub session, once started. */
  get session(): Session | undefined {
    return this.#session;
  }

  /** Whether this is a PTY session. */
  get interactive(): boolean {
    return this.#screen !== undefined;
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
    this.#screen?.start(this.#currentPrompt());
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
   * Takes a new terminal size (window-change). The screen is redrawn whole
   * at the next flush, so a burst of resizes while a window is dragged
   * costs one.
   *
   * @param columns Columns (clamped by the caller).
   * @param rows Rows (clamped by the caller); unchanged when absent.
   */
  resize(columns: number, rows?: number): void {
    if (this.#screen === undefined || this.#closing) return;
    this.#screen.resize(columns, rows);
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
   * Bytes the SSH channel holds unsent (SessionSink), for `/metrics`.
   *
   * @returns The count.
   */
  queuedBytes(): number {
    return this.#channel.writableLength;
  }

  /**
   * A one-time web sign-in link for the person's key (`/web`).
   *
   * @param nick A nick the key owns.
   * @returns The link, or undefined without a key or web sign-in.
   */
  webSignInLink(nick: string): { readonly url: string; readonly ttlMs: number } | undefined {
    return this.#person.fingerprint === undefined ? undefined : this.#webSignIn?.(nick);
  }

  /**
   * Renders a hub frame for the terminal.
   *
   * @param frame From the hub.
   */
  send(frame: ServerFrame): void {
    if (this.#closing) {
      this.#hub.counters.framesDropped++;
      return;
    }
    this.#show(this.#view.show(frame));
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

  /** The welcome's first lines: who and where, then what this login means. */
  #greeting({ node, nick }: WelcomeFrame): string[] {
    const fingerprint = this.#person.fingerprint;
    return [
      `Welcome to meshchat on node ${sanitizeText(node)}, ${nick}. ` +
      "Type /help for commands, /quit to leave.",
      ...(this.#refusal === undefined ? [] : [`${sanitizeText(this.#refusal)}: you are ${nick}`]),
      fingerprint === undefined
        ? "You are a guest: log in with an SSH key to own your nick and keep your settings."
        : `Your SSH key is ${fingerprint}.`,
      ...this.#savedLines(),
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
    if (this.#screen === undefined) return false;
    return theme === undefined ? !this.#noColor : theme === "color";
  }

  get #timestamps(): boolean {
    const choice = this.#pref("timestamps");
    return choice === undefined ? this.#screen !== undefined : choice === "on";
  }

  get #timeZone(): string | undefined {
    return this.#pref("tz") ?? this.#clientZone;
  }

  #format(frame: MsgFrame): string {
    return formatShared(frame, this.#color, this.#timestamps, this.#view.room, this.#timeZone);
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

  #print(lines: readonly string[]): void {
    this.#show(lines.map((text) => ({ text })));
  }

  #show(lines: readonly ScreenLine[]): void {
    if (this.#closing || lines.length === 0) return;
    this.#output.push(...lines);
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
    const screen = this.#screen;
    if (screen === undefined) {
      if (lines.length > 0) this.#write(lines.map((line) => `${line.text}\n`).join(""));
      return;
    }
    // A command may have changed the theme, the room or the nick.
    screen.setPrompt(this.#currentPrompt());
    screen.print(lines);
    const out = screen.takeOutput();
    if (out !== "") this.#write(out);
  }

  #currentPrompt(): string {
    return chatPrompt(this.#view.room, this.#view.nick, { color: this.#color });
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
    if (this.#session?.open) this.#hub.dropSlowReader(this.#session);
    try {
      this.#channel.close();
    } catch {
      // already closed
    }
    this.#onChannelClosed();
  }

  #onData(data: Uint8Array): void {
    if (this.#closing) return;
    const screen = this.#screen;
    if (screen === undefined) {
      this.#takePlainInput(this.#text.decode(data, { stream: true }));
      return;
    }
    clearTimeout(this.#escapeTimer);
    this.#takeKeys(screen.feed(data));
    if (screen.escapePending && !this.#closing) {
      this.#escapeTimer = setTimeout(() => {
        screen.flushEscape();
        this.#flush();
      }, this.#escapeWaitMs);
    }
  }

  /** PTY mode: what was typed; the edit is drawn at once, not at the next flush. */
  #takeKeys(input: readonly ScreenInput[]): void {
    for (const item of input) {
      if (this.#closing) return;
      if (item.type === "quit") {
        this.leave("quit");
        return;
      }
      this.#enqueue(item.line);
    }
    this.#flush();
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
    if (this.#screen === undefined) {
      const last = this.#inputTail.replace(/\r$/, "");
      this.#inputTail = "";
      if (!this.#discardingLine && last.trim() !== "") this.#enqueue(last);
    }
    this.#inputEnded = true;
    if (!this.#processing) this.leave("quit");
  }

  #enqueue(line: string): void {
    if (this.#lines.length >= this.#maxPendingLines) {
      this.#show([{ text: "error: Too many lines at once: line dropped", error: true }]);
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
    const outcome = await handleLine(session, line, {
      hub: this.#hub,
      logger: this.#logger,
      pendingLines: this.#lines.length,
    });
    // The error said so: the rest of a pasted block is not sent.
    if (!outcome.ok && outcome.error.code === "rate_limited") this.#lines = [];
    if (line.trimStart().startsWith("/")) this.#keepSettings(session);
    // A command may have changed the theme or the prompt.
    if (this.#screen !== undefined) this.#scheduleFlush();
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
    if (word === "" || this.#view.room === "") return [];
    return this.#hub.members(this.#view.room)
      .map((member) => member.nick)
      .filter((nick) => nick.toLowerCase().startsWith(lower));
  }

  /** Ends the channel after queued output; `status` is the exit status. */
  #finish(status: number): void {
    if (this.#closing) return;
    this.#flush();
    this.#closing = true;
    clearTimeout(this.#escapeTimer);
    if (this.#screen !== undefined) this.#write(this.#screen.end());
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
