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
 * Output is bounded: when the channel holds more than `maxQueueBytes` the
 * reader is too slow and the session is dropped, as on the TCP frontend.
 *
 * @module
 */
import { formatMsg, mentions, paintNick } from "../core/chat_format.ts";
import { LineEditor } from "../core/line_editor.ts";
import {
  MAX_TEXT_LENGTH,
  type MsgFrame,
  ProtocolError,
  type ServerFrame,
} from "../core/protocol.ts";
import {
  DISABLE_BRACKETED_PASTE,
  ENABLE_BRACKETED_PASTE,
  type Key,
  KeyDecoder,
} from "../core/terminal_input.ts";
import { sanitizeText } from "../core/text_sanitizer.ts";
import { type CommandContext, commands, handleInput } from "./commands.ts";
import type { Hub, Session, SessionSink } from "./hub.ts";
import { type Logger, silentLogger } from "./logger.ts";

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
  /** Output bytes a slow reader may have queued before it is dropped. @default 1048576 */
  maxQueueBytes?: number;
  /** Longest input line in plain mode (bytes, roughly). @default 16384 */
  maxLineBytes?: number;
  /** Messages shown on joining a room. @default 20 */
  joinHistory?: number;
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

/** Formatted lines of fanned-out frames, shared by sessions that render alike. */
const formatted = new WeakMap<MsgFrame, Map<string, string>>();

function formatShared(frame: MsgFrame, color: boolean, timestamps: boolean, room: string): string {
  let variants = formatted.get(frame);
  if (variants === undefined) {
    variants = new Map();
    formatted.set(frame, variants);
  }
  const key = `${color ? 1 : 0}${timestamps ? 1 : 0}${room}`;
  let line = variants.get(key);
  if (line === undefined) {
    line = formatMsg(frame, { color, timestamps, currentRoom: room });
    variants.set(key, line);
  }
  return line;
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
  readonly #command: string | undefined;
  readonly #maxQueueBytes: number;
  readonly #maxLineBytes: number;
  readonly #joinHistory: number;
  readonly #maxPendingLines: number;
  readonly #escapeWaitMs: number;
  readonly #onClosed: () => void;
  #session: Session | undefined;
  #nick = "";
  #room = "";
  #refusal: string | undefined;
  #output: string[] = [];
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
      maxQueueBytes = 1 << 20,
      maxLineBytes = 16_384,
      joinHistory = 20,
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
    this.#maxQueueBytes = maxQueueBytes;
    this.#maxLineBytes = maxLineBytes;
    this.#joinHistory = joinHistory;
    this.#maxPendingLines = maxPendingLines;
    this.#escapeWaitMs = escapeWaitMs;
    this.#onClosed = onClosed;
    if (terminal !== undefined) {
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
    for (const nick of nickCandidates(this.#person.username, this.#person.ownedNicks)) {
      try {
        this.#session = this.#hub.connect(this, { user: nick }, origin);
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
    if (this.#command !== undefined && this.#command.trim() !== "") {
      this.#enqueue(this.#command.trim());
    }
    return true;
  }

  /**
   * Takes a new terminal width (window-change).
   *
   * @param columns Columns (clamped by the caller).
   */
  resize(columns: number): void {
    if (this.#editor === undefined || this.#closing) return;
    this.#editor.setWidth(columns);
    this.#write(this.#editor.render());
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
            ? "You are a guest: log in with an SSH key to own your nick."
            : `Your SSH key is ${fingerprint}.`,
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

  get #color(): boolean {
    const theme = this.#session?.prefs.get("theme");
    if (this.#editor === undefined) return false;
    return theme === undefined ? !this.#noColor : theme === "color";
  }

  get #timestamps(): boolean {
    const choice = this.#session?.prefs.get("timestamps");
    return choice === undefined ? this.#editor !== undefined : choice === "on";
  }

  #format(frame: MsgFrame): string {
    return formatShared(frame, this.#color, this.#timestamps, this.#room);
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
    let out = lines.length > 0
      ? editor.printAbove(lines.join("\n"))
      : promptChanged
      ? editor.render()
      : "";
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
            // Printing redraws anyway; otherwise draw the edit now.
            if (this.#output.length === 0) this.#write(editor.render());
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
          message += ` (${this.#lines.length} more lines not sent)`;
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
    // A command may have changed the theme or the prompt.
    if (this.#editor !== undefined) this.#scheduleFlush();
  }

  #complete(word: string, line: string): string[] {
    const lower = word.toLowerCase();
    if (word.startsWith("/") && line.trimStart().startsWith(word)) {
      const names: string[] = [];
      for (const command of commands) {
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
