// Copyright the meshchat authors. MIT license.
/**
 * The chat screen of a terminal, as the SSH frontend's PTY sessions and the
 * terminal client both draw it: lines printed above, the input line at the
 * bottom ({@linkcode LineEditor}), and a prompt that asks for a secret
 * without echoing it. Bytes typed go in, the escape sequences to write come
 * out; the caller owns the transport (an SSH channel, stdout).
 *
 * Output waits in the screen until {@linkcode TerminalScreen.takeOutput}: a
 * burst of lines printed before it costs one redraw of the input line, and a
 * repaint after a resize includes them. `onOutput` says when some is waiting,
 * so a caller can write at once (the client) or on its next flush (SSH).
 *
 * Pure: no timers. A lone ESC cannot be told from the start of an escape
 * sequence until more input comes, so while
 * {@linkcode TerminalScreen.escapePending} the caller waits
 * {@linkcode ESCAPE_WAIT_MS} and calls {@linkcode TerminalScreen.flushEscape}.
 *
 * @example Typing a line, with a message arriving above it
 * ```ts
 * import { TerminalScreen } from "./terminal_screen.ts";
 * import assert from "node:assert/strict";
 *
 * const screen = new TerminalScreen({ columns: 40, rows: 10 });
 * screen.start("> ");
 * assert.equal(screen.takeOutput(), "\x1b[?2004h\r\x1b[J> ");
 * assert.deepEqual(screen.feed(new TextEncoder().encode("hi")), []);
 * screen.print([{ text: "<bob> hello" }]);
 * assert.equal(screen.takeOutput(), "\r\x1b[J<bob> hello\r\n\r\x1b[J> hi");
 * assert.deepEqual(screen.feed(new TextEncoder().encode("\r")), [{ type: "line", line: "hi" }]);
 * ```
 *
 * @module
 */
import type { ScreenLine } from "./frame_view.ts";
import { LineEditor } from "./line_editor.ts";
import {
  DISABLE_BRACKETED_PASTE,
  ENABLE_BRACKETED_PASTE,
  type Key,
  KeyDecoder,
} from "./terminal_input.ts";
import { sanitizeText } from "./text_sanitizer.ts";

/** How long a lone ESC waits for the rest of a key sequence, in ms. */
export const ESCAPE_WAIT_MS = 50;

/** Lines kept to repaint the screen after a resize: more than a terminal is tall. */
const REPAINT_LINES = 200;

/**
 * Characters (UTF-16 code units) those lines may hold at most: more than a
 * 200 × 160 screen shows. Without it, 200 long lines of a person's own (a
 * `/history` of pasted text) would stay in a session for as long as it
 * lasts; with it, a few of the newest such lines are kept (always the newest one).
 */
const REPAINT_CHARS = 32 * 1024;

const BELL = "\x07";
/** Back to column 0, erase to the end of the screen. */
const ERASE_DOWN = "\r\x1b[J";

/**
 * What the person did at the keyboard:
 *
 * - `line`: Enter on a line that is not blank (each line of a paste too);
 * - `quit`: Ctrl+D on an empty line, or Ctrl+C.
 */
export type ScreenInput = { type: "line"; line: string } | { type: "quit" };

/** Options of {@linkcode TerminalScreen}. */
export interface TerminalScreenOptions {
  /** Width in columns. */
  columns: number;
  /** Height in rows. @default 24 */
  rows?: number;
  /** Longest input line, in UTF-16 code units. @default 4000 */
  maxLength?: number;
  /** Tab completion: candidates for the word before the cursor. @default none */
  complete?: (word: string, line: string) => string[];
  /** Whether colours are on now (error lines in red, a secret's label bold). @default {() => true} */
  color?: () => boolean;
  /** Called when output starts waiting for {@linkcode TerminalScreen.takeOutput}. */
  onOutput?: () => void;
}

/** A secret being typed: nothing is echoed. */
interface Secret {
  readonly label: string;
  text: string;
  readonly resolve: (text: string | undefined) => void;
}

/** Lines above an input line, for one terminal. */
export class TerminalScreen {
  readonly #editor: LineEditor;
  readonly #keys = new KeyDecoder();
  readonly #utf8 = new TextDecoder();
  readonly #color: () => boolean;
  readonly #onOutput: () => void;
  #columns: number;
  #rows: number;
  /** The newest lines printed, oldest first, for a repaint. */
  #recent: string[] = [];
  /** Characters in {@linkcode #recent}. */
  #recentChars = 0;
  /** Output composed and not taken yet. */
  #out = "";
  /** Lines printed since the output was last composed. */
  #lines: string[] = [];
  #inputChanged = false;
  #repaint = false;
  #bell = false;
  #secret: Secret | undefined;
  #secrets: Promise<unknown> = Promise.resolve();
  #secretsCancelled = false;
  #ended = false;

  /** @param options Size, limits, completion, colours, output notice. */
  constructor(options: TerminalScreenOptions) {
    const { columns, rows = 24, maxLength, complete, color = () => true, onOutput = () => {} } =
      options;
    this.#editor = new LineEditor({
      columns,
      ...(maxLength === undefined ? {} : { maxLength }),
      ...(complete === undefined ? {} : { complete }),
    });
    this.#columns = columns;
    this.#rows = rows;
    this.#color = color;
    this.#onOutput = onOutput;
  }

  /**
   * Takes over the terminal: bracketed paste on, then the prompt.
   *
   * @param prompt The first prompt (SGR colours allowed).
   */
  start(prompt: string): void {
    this.#editor.setPrompt(prompt);
    this.#out += ENABLE_BRACKETED_PASTE;
    this.#inputChanged = true;
    this.#changed();
  }

  /**
   * Decodes typed bytes and applies them to the input line (or the secret
   * being asked).
   *
   * @param data Bytes from the terminal, in any piece size.
   * @returns Lines submitted and quits, in order.
   */
  feed(data: Uint8Array): ScreenInput[] {
    return this.#handleKeys(this.#keys.feed(this.#utf8.decode(data, { stream: true })));
  }

  /** Whether an unfinished escape sequence waits for more input (see the module doc). */
  get escapePending(): boolean {
    return this.#keys.pending;
  }

  /** No more input came after a lone ESC: it is the Escape key. */
  flushEscape(): void {
    this.#handleKeys(this.#keys.flush());
  }

  /**
   * Prints lines above the input line.
   *
   * @param lines Sanitised lines; `error` ones are red when colours are on.
   */
  print(lines: readonly ScreenLine[]): void {
    if (lines.length === 0 || this.#ended) return;
    const color = this.#color();
    const texts = lines.map((line) =>
      line.error && color ? `\x1b[31m${line.text}\x1b[39m` : line.text
    );
    if (lines.some((line) => line.bell)) this.#bell = true;
    this.#remember(texts);
    if (this.#secret !== undefined) {
      this.#out += `${ERASE_DOWN}${texts.join("\r\n")}\r\n${this.#secret.label}`;
    } else {
      this.#lines.push(...texts);
    }
    this.#changed();
  }

  /** Keeps the newest printed lines for a repaint, within both bounds. */
  #remember(texts: readonly string[]): void {
    // A long reply (a /who of thousands) replaces them: no spread of it.
    if (texts.length >= REPAINT_LINES) {
      this.#recent = [];
      this.#recentChars = 0;
      texts = texts.slice(-REPAINT_LINES);
    }
    const recent = this.#recent;
    for (const text of texts) {
      recent.push(text);
      this.#recentChars += text.length;
    }
    let drop = Math.max(0, recent.length - REPAINT_LINES);
    let chars = this.#recentChars;
    for (let i = 0; i < drop; i++) chars -= recent[i]!.length;
    while (chars > REPAINT_CHARS && drop < recent.length - 1) chars -= recent[drop++]!.length;
    if (drop > 0) recent.splice(0, drop);
    this.#recentChars = chars;
  }

  /**
   * Changes the prompt; the input line is redrawn when it differs.
   *
   * @param prompt The prompt (SGR colours allowed).
   */
  setPrompt(prompt: string): void {
    const before = this.#editor.prompt;
    this.#editor.setPrompt(prompt);
    if (this.#editor.prompt === before) return;
    this.#inputChanged = true;
    this.#changed();
  }

  /**
   * Takes a new window size. The whole screen is redrawn from the lines last
   * printed: after a resize the rows the input line took are where the
   * terminal's reflow put them, which nothing tells, and redrawing only the
   * input would leave a stale copy of it on screen.
   *
   * @param columns Width.
   * @param rows Height; unchanged when absent.
   */
  resize(columns: number, rows = this.#rows): void {
    if (columns === this.#columns && rows === this.#rows) return;
    this.#editor.setWidth(columns);
    this.#columns = columns;
    this.#rows = rows;
    this.#repaint = true;
    this.#changed();
  }

  /**
   * Asks for a secret on the input line without echoing it. Requests wait
   * their turn; the line being typed comes back afterwards.
   *
   * @param label The prompt, e.g. `Passphrase for #ops (not shown): `.
   * @returns What was typed, or undefined when cancelled (Esc, Ctrl+C,
   *   Ctrl+D, {@linkcode TerminalScreen.cancelSecrets}).
   */
  askSecret(label: string): Promise<string | undefined> {
    const asked = this.#secrets.then(() =>
      new Promise<string | undefined>((resolve) => {
        if (this.#secretsCancelled || this.#ended) {
          resolve(undefined);
          return;
        }
        this.#compose();
        const clean = sanitizeText(label);
        this.#secret = {
          label: this.#color() ? `\x1b[1m${clean}\x1b[22m` : clean,
          text: "",
          resolve,
        };
        this.#out += `${this.#editor.clear()}${this.#secret.label}`;
        this.#changed();
      })
    );
    this.#secrets = asked;
    return asked;
  }

  /** Cancels the secret being asked and every one asked later. */
  cancelSecrets(): void {
    this.#secretsCancelled = true;
    this.#finishSecret(undefined);
  }

  /**
   * The escape sequences to write for everything since the last call.
   *
   * @returns Text for the terminal, possibly empty.
   */
  takeOutput(): string {
    this.#compose();
    const out = this.#out;
    this.#out = "";
    return out;
  }

  /**
   * Gives the terminal back: what was waiting, then the input line erased
   * and bracketed paste off. Nothing is shown afterwards.
   *
   * @returns The last text for the terminal.
   */
  end(): string {
    if (this.#ended) return "";
    this.cancelSecrets();
    const out = `${this.takeOutput()}${this.#editor.clear()}${DISABLE_BRACKETED_PASTE}`;
    this.#ended = true;
    return out;
  }

  #handleKeys(keys: readonly Key[]): ScreenInput[] {
    const input: ScreenInput[] = [];
    for (const key of keys) {
      if (this.#ended) break;
      if (this.#secret !== undefined) {
        this.#secretKey(this.#secret, key);
        continue;
      }
      for (const action of this.#editor.handle(key)) {
        switch (action.type) {
          case "submit":
            if (action.line.trim() !== "") input.push({ type: "line", line: action.line });
            break;
          case "eof":
          case "interrupt":
            input.push({ type: "quit" });
            break;
          case "bell":
            this.#bell = true;
            break;
          case "candidates":
            this.print([{ text: action.items.join("  ") }]);
            break;
          case "redraw":
            this.#inputChanged = true;
            break;
        }
      }
    }
    this.#changed();
    return input;
  }

  /** One key typed while a secret is asked. */
  #secretKey(secret: Secret, key: Key): void {
    switch (key.type) {
      case "char":
        secret.text += key.text;
        return;
      case "paste": {
        // A pasted secret ends at its first line break, which submits it.
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
    if (!this.#ended) {
      this.#out += `${ERASE_DOWN}${this.#editor.render()}`;
      this.#changed();
    }
    secret.resolve(text);
  }

  /** Turns what changed since the last composition into escape sequences. */
  #compose(): void {
    const lines = this.#lines;
    this.#lines = [];
    const editor = this.#editor;
    let out = "";
    if (this.#secret !== undefined) {
      // Lines were printed at once; only the label needs drawing again.
      if (this.#repaint) out = `${ERASE_DOWN}${this.#secret.label}`;
    } else if (this.#repaint) {
      out = editor.repaint(this.#recent, this.#rows);
    } else if (lines.length > 0) {
      out = editor.printAbove(lines.join("\n"));
    } else if (this.#inputChanged) {
      out = editor.render();
    }
    this.#repaint = false;
    this.#inputChanged = false;
    if (this.#bell) out += BELL;
    this.#bell = false;
    this.#out += out;
  }

  #changed(): void {
    if (
      this.#out !== "" || this.#lines.length > 0 || this.#repaint || this.#inputChanged ||
      this.#bell
    ) {
      this.#onOutput();
    }
  }
}
