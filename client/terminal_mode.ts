/**
 * Interactive mode: stdin in raw mode, a line editor at the bottom, incoming
 * messages printed above it without clobbering what is being typed, and a
 * no-echo prompt for sealed rooms' passphrases.
 *
 * @module
 */
import { LineEditor } from "../core/line_editor.ts";
import {
  DISABLE_BRACKETED_PASTE,
  ENABLE_BRACKETED_PASTE,
  type Key,
  KeyDecoder,
} from "../core/terminal_input.ts";
import { sanitizeText } from "../core/text_sanitizer.ts";
import type { ChatClient } from "./chat_client.ts";
import type { ChatView, ViewLine } from "./chat_view.ts";
import type { RoomStatus } from "./sealed_rooms.ts";

/** How a room looks in the prompt (what `SealedRooms.status` says). */
export type { RoomStatus };

/** A passphrase being typed. */
interface SecretPrompt {
  readonly label: string;
  text: string;
  readonly resolve: (text: string | undefined) => void;
}

/** How long a lone ESC waits for the rest of a key sequence (ms). */
const ESCAPE_WAIT_MS = 50;

/** Lines kept for redrawing the screen after a resize. */
const REPAINT_LINES = 200;

/**
 * The terminal the screen runs on. The default is the process's own
 * (`Deno.stdin`, `Deno.stdout`, `SIGWINCH`); a test passes a virtual one.
 */
export interface TerminalIo {
  /** Reads typed bytes; null at end of input. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): void;
  /** Raw mode on or off. */
  setRaw(raw: boolean): void;
  /** The window size. */
  size(): { columns: number; rows: number };
  /**
   * Calls `listener` after every change of the window size.
   *
   * @returns Stops calling it.
   */
  onResize(listener: () => void): () => void;
}

/** The process's terminal. */
export const processTerminal: TerminalIo = {
  read: (buffer) => Deno.stdin.read(buffer),
  write(bytes) {
    let offset = 0;
    while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
  },
  setRaw: (raw) => Deno.stdin.setRaw(raw, { cbreak: false }),
  size() {
    try {
      // A terminal without a size (some pseudo-terminals) reports 0.
      const { columns, rows } = Deno.consoleSize();
      return { columns: columns || 80, rows: rows || 24 };
    } catch {
      return { columns: 80, rows: 24 };
    }
  },
  onResize(listener) {
    try {
      Deno.addSignalListener("SIGWINCH", listener);
    } catch {
      return () => {}; // no SIGWINCH on this platform: the size stays
    }
    return () => Deno.removeSignalListener("SIGWINCH", listener);
  },
};

/** The interactive screen: owns the terminal while the client runs. */
export class TerminalScreen {
  readonly #editor: LineEditor;
  readonly #view: ChatView;
  readonly #io: TerminalIo;
  readonly #encoder = new TextEncoder();
  /** The newest lines printed, oldest first, for a repaint after a resize. */
  #recent: string[] = [];
  readonly #nicks = new Set<string>();
  readonly #roomStatus: (room: string) => RoomStatus;
  #secret: SecretPrompt | undefined;
  #secrets: Promise<unknown> = Promise.resolve();
  #cancelled = false;

  /**
   * @param view Supplies nick, room and theme (`view.color`) for the prompt.
   * @param roomStatus Whether a room is sealed (a lock in the prompt).
   * @param io The terminal. @default processTerminal
   */
  constructor(
    view: ChatView,
    roomStatus: (room: string) => RoomStatus = () => "plain",
    io: TerminalIo = processTerminal,
  ) {
    this.#view = view;
    this.#io = io;
    this.#roomStatus = roomStatus;
    this.#editor = new LineEditor({
      prompt: "> ",
      complete: (word) => {
        const lower = word.toLowerCase();
        return [...this.#nicks].filter((nick) => nick.toLowerCase().startsWith(lower));
      },
    });
    this.#editor.setWidth(io.size().columns);
  }

  get #color(): boolean {
    return this.#view.color;
  }

  /**
   * Prints lines above the input line.
   *
   * @param lines What to print.
   */
  print(lines: ViewLine[]): void {
    if (lines.length === 0) return;
    const text = lines.map((line) =>
      line.error && this.#color ? `\x1b[31m${line.text}\x1b[39m` : line.text
    );
    this.#recent.push(...text);
    if (this.#recent.length > REPAINT_LINES) {
      this.#recent.splice(0, this.#recent.length - REPAINT_LINES);
    }
    if (this.#secret !== undefined) {
      this.#write(`\r\x1b[J${text.join("\r\n")}\r\n${this.#secret.label}`);
      return;
    }
    this.#write(this.#editor.printAbove(text.join("\n")));
  }

  /**
   * Asks for a secret on the input line without echoing it. Requests wait
   * their turn; the chat line being typed comes back afterwards.
   *
   * @param label The prompt, e.g. `Passphrase for #ops (not shown): `.
   * @returns What was typed, or undefined when cancelled (Esc, Ctrl+C, Ctrl+D)
   *   or the screen is closing.
   */
  askSecret(label: string): Promise<string | undefined> {
    const asked = this.#secrets.then(() =>
      new Promise<string | undefined>((resolve) => {
        if (this.#cancelled) {
          resolve(undefined);
          return;
        }
        const clean = sanitizeText(label);
        this.#secret = {
          label: this.#color ? `\x1b[1m${clean}\x1b[22m` : clean,
          text: "",
          resolve,
        };
        this.#write(`${this.#editor.clear()}${this.#secret.label}`);
      })
    );
    this.#secrets = asked;
    return asked;
  }

  /** Cancels every open and queued secret prompt (the connection ended). */
  cancelSecrets(): void {
    this.#cancelled = true;
    this.#finishSecret(undefined);
  }

  /**
   * Remembers a nick for Tab completion.
   *
   * @param nick A nick seen in the chat.
   */
  noteNick(nick: string): void {
    this.#nicks.add(nick);
  }

  /** Redraws the prompt after nick, room or seal changed. */
  refreshPrompt(): void {
    const status = this.#view.room ? this.#roomStatus(this.#view.room) : "plain";
    const lock = status === "open"
      ? " 🔒"
      : status === "locked"
      ? " 🔒 no key"
      : status === "wrong"
      ? " 🔒 wrong passphrase"
      : "";
    const room = this.#view.room ? `#${this.#view.room}${lock}` : "(no room)";
    const prompt = `[${room}] ${this.#view.nick}> `;
    this.#editor.setPrompt(this.#color ? `\x1b[1m${prompt}\x1b[22m` : prompt);
    if (this.#secret === undefined) this.#write(this.#editor.render());
  }

  /**
   * Reads keys until the person quits or the connection ends.
   *
   * @param client The connected client.
   * @returns The exit code.
   */
  async run(client: ChatClient): Promise<number> {
    this.#io.setRaw(true);
    this.#write(ENABLE_BRACKETED_PASTE);
    const stopResize = this.#io.onResize(() => this.#resized());
    this.refreshPrompt();
    try {
      const outcome = await Promise.race([this.#readKeys(client), client.closed]);
      if (outcome === "quit" || outcome === "local-quit") return 0;
      // A sentence on the screen, like the lines above it (stderr's form is `meshchat: connection …`).
      this.print([{ text: outcome.charAt(0).toUpperCase() + outcome.slice(1), error: true }]);
      return 1;
    } finally {
      stopResize();
      this.cancelSecrets();
      this.#write(this.#editor.clear() + DISABLE_BRACKETED_PASTE);
      this.#io.setRaw(false);
    }
  }

  /**
   * After a change of the window size, redraws the screen from the lines
   * last printed: the terminal may have left stale copies of the input
   * line, reflowed or cut, which no relative redraw can find.
   */
  #resized(): void {
    const { columns, rows } = this.#io.size();
    this.#editor.setWidth(columns);
    if (this.#secret !== undefined) {
      this.#write(`\r\x1b[J${this.#secret.label}`);
      return;
    }
    this.#write(this.#editor.repaint(this.#recent, rows));
  }

  async #readKeys(client: ChatClient): Promise<string> {
    const decoder = new KeyDecoder();
    const text = new TextDecoder();
    const buffer = new Uint8Array(4096);
    let escapeTimer: ReturnType<typeof setTimeout> | undefined;
    const handleKeys = async (keys: ReturnType<KeyDecoder["feed"]>): Promise<boolean> => {
      for (const key of keys) {
        if (this.#secret !== undefined) {
          this.#secretKey(key);
          continue;
        }
        for (const action of this.#editor.handle(key)) {
          switch (action.type) {
            case "submit":
              if (/^\/(quit|exit|bye)\b/i.test(action.line)) {
                this.cancelSecrets();
                await client.quit(action.line);
                return true;
              }
              if (action.line.trim() !== "") client.send(action.line).catch(() => {});
              break;
            case "eof":
            case "interrupt":
              this.cancelSecrets();
              await client.quit();
              return true;
            case "bell":
              this.#write("\x07");
              break;
            case "candidates":
              this.print([{ text: action.items.join("  ") }]);
              break;
            case "redraw":
              this.#write(this.#editor.render());
              break;
          }
        }
      }
      return false;
    };
    while (true) {
      const n = await this.#io.read(buffer);
      if (n === null) {
        await client.quit();
        return "local-quit";
      }
      clearTimeout(escapeTimer);
      if (await handleKeys(decoder.feed(text.decode(buffer.subarray(0, n), { stream: true })))) {
        return "local-quit";
      }
      escapeTimer = setTimeout(() => handleKeys(decoder.flush()), ESCAPE_WAIT_MS);
    }
  }

  /** One key typed while a secret is asked: nothing is echoed. */
  #secretKey(key: Key): void {
    const secret = this.#secret;
    if (secret === undefined) return;
    switch (key.type) {
      case "char":
        secret.text += key.text;
        return;
      case "paste": {
        // A pasted passphrase ends at its first line break, which submits it.
        const line = /^[^\r\n]*/.exec(key.text)?.[0] ?? "";
        secret.text += line;
        if (line.length < key.text.length) this.#finishSecret(secret.text);
        return;
      }
      case "key":
        switch (key.name) {
          case "enter":
            this.#finishSecret(secret.text);
            return;
          case "backspace":
            secret.text = [...secret.text].slice(0, -1).join("");
            return;
          case "ctrl-u":
          case "ctrl-w":
            secret.text = "";
            return;
          case "escape":
          case "ctrl-c":
          case "ctrl-d":
            this.#finishSecret(undefined);
            return;
          default:
            return;
        }
    }
  }

  #finishSecret(text: string | undefined): void {
    const secret = this.#secret;
    if (secret === undefined) return;
    this.#secret = undefined;
    secret.text = "";
    this.#write(`\r\x1b[J${this.#editor.render()}`);
    secret.resolve(text);
  }

  #write(text: string): void {
    if (text === "") return;
    this.#io.write(this.#encoder.encode(text));
  }
}
