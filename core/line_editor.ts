// Copyright the meshchat authors. MIT license.
/**
 * The input line at the bottom of a chat terminal: editing keys, history,
 * Tab completion, and ANSI rendering that lets incoming messages be printed
 * above the line without clobbering what is being typed. Shared by the
 * terminal client and the SSH server's PTY sessions.
 *
 * Pure: keys come from {@linkcode KeyDecoder}, and rendering returns strings
 * for the caller to write.
 *
 * @module
 */
import { cleanText, layout, parsePrompt, type Prompt } from "./_line_layout.ts";
import { displayWidth, graphemes } from "./display_width.ts";
import type { Key } from "./terminal_input.ts";

/**
 * What the caller should do after a key:
 *
 * - `submit`: send `line` (may be empty; the editor line is already cleared);
 * - `eof`: Ctrl+D on an empty line;
 * - `interrupt`: Ctrl+C (the line being typed is discarded);
 * - `redraw`: write {@linkcode LineEditor.render};
 * - `bell`: the key could not be applied (write BEL if you like);
 * - `candidates`: several Tab completions; show them, for example with
 *   {@linkcode LineEditor.printAbove}.
 *
 * A `redraw`, when present, is the last action.
 */
export type EditorAction =
  | { type: "submit"; line: string }
  | { type: "eof" }
  | { type: "interrupt" }
  | { type: "redraw" }
  | { type: "bell" }
  | { type: "candidates"; items: string[] };

/** Options of {@linkcode LineEditor}. */
export interface LineEditorOptions {
  /**
   * Text shown before the input. It may contain SGR colour sequences
   * (`ESC [ ... m`); other controls and escape sequences are removed.
   *
   * @default {"> "}
   */
  prompt?: string;
  /**
   * Longest line, in UTF-16 code units (as `MAX_TEXT_LENGTH` of the
   * protocol). Typing or pasting beyond it rings the bell.
   *
   * @default {4000}
   */
  maxLength?: number;
  /**
   * How many submitted lines Up and Down can recall. 0 turns history off.
   *
   * @default {100}
   */
  historySize?: number;
  /**
   * Terminal width in columns until {@linkcode LineEditor.setWidth} is
   * called; clamped to 1..1000.
   *
   * @default {80}
   */
  columns?: number;
  /**
   * Candidates for Tab: called with the word before the cursor (text back to
   * the previous whitespace, possibly empty) and the whole line. Each
   * candidate replaces the word, so it may differ in case. No callback: Tab
   * rings the bell.
   */
  complete?: (word: string, line: string) => string[];
}

const DEFAULT_PROMPT = "> ";
const DEFAULT_MAX_LENGTH = 4000;
const DEFAULT_HISTORY_SIZE = 100;
const DEFAULT_COLUMNS = 80;
const MAX_COLUMNS = 1000;
const MAX_ROWS = 1000;
/** Home the cursor, then erase to the end of the screen. */
const CLEAR_SCREEN = "\x1b[H\x1b[J";

/** What was on screen at the last render, to reason about a resize. */
interface Drawn {
  readonly prompt: Prompt;
  readonly units: readonly string[];
  readonly cursor: number;
}

/**
 * A single-line editor for a terminal, with history and Tab completion.
 *
 * Feed it keys with {@linkcode LineEditor.handle} and act on the returned
 * {@linkcode EditorAction}s. The line is a list of user-perceived characters
 * (grapheme clusters), so the cursor never lands inside an emoji or between
 * a letter and its accent; {@linkcode LineEditor.cursor} counts them.
 *
 * | Key                       | Effect                                       |
 * | ------------------------- | -------------------------------------------- |
 * | text, paste               | insert (paste lines are submitted one by one) |
 * | Enter                     | submit the line                              |
 * | Ctrl+C                    | discard the line, `interrupt`                |
 * | Ctrl+D                    | `eof` on an empty line, else Delete          |
 * | Backspace, Delete         | delete before / under the cursor             |
 * | Left, Right, Ctrl+B, Ctrl+F | move by one character                      |
 * | Home, End, Ctrl+A, Ctrl+E | move to the start / end                      |
 * | Ctrl+Left, Ctrl+Right     | move by word (words are split at whitespace) |
 * | Ctrl+U, Ctrl+K            | delete to the start / end                    |
 * | Ctrl+W                    | delete the word before the cursor            |
 * | Up, Down                  | browse history; the line being typed is kept |
 * | Tab                       | complete the word before the cursor          |
 * | Ctrl+L                    | `redraw`                                     |
 *
 * Inserted text is cleaned with `sanitizeText` (no controls or escape
 * sequences, no bidi or zero-width characters) after turning tabs into
 * spaces.
 *
 * Rendering: the editor owns the rows at the bottom of the terminal from the
 * prompt down. {@linkcode LineEditor.render} redraws them from scratch,
 * {@linkcode LineEditor.clear} erases them, and
 * {@linkcode LineEditor.printAbove} prints text where they were and redraws
 * them below it. These assume the terminal's cursor is where the last of
 * them left it, that the terminal wraps at the right margin (the default),
 * and that it has the width given to {@linkcode LineEditor.setWidth}. Before
 * the first render, the cursor should be at the start of an empty row.
 * After a change of width, where the rows are is a guess (see
 * {@linkcode LineEditor.setWidth}); {@linkcode LineEditor.repaint} redraws
 * the whole screen instead and is right on every terminal.
 *
 * @example Editing, submitting and drawing
 * ```ts
 * import { LineEditor } from "./line_editor.ts";
 * import assert from "node:assert/strict";
 *
 * const editor = new LineEditor({ prompt: "> " });
 * assert.deepEqual(editor.handle({ type: "char", text: "helo" }), [
 *   { type: "redraw" },
 * ]);
 * editor.handle({ type: "key", name: "left" });
 * editor.handle({ type: "char", text: "l" });
 * assert.equal(editor.line, "hello");
 * assert.equal(editor.render(), "\r\x1b[J> hello\x1b[1D");
 * assert.deepEqual(editor.handle({ type: "key", name: "enter" }), [
 *   { type: "submit", line: "hello" },
 *   { type: "redraw" },
 * ]);
 * assert.equal(editor.printAbove("alice: hi"), "\r\x1b[Jalice: hi\r\n\r\x1b[J> ");
 * ```
 */
export class LineEditor {
  #units: readonly string[] = [];
  #cursor = 0;
  #prompt: Prompt;
  readonly #maxLength: number;
  readonly #historySize: number;
  readonly #complete: ((word: string, line: string) => string[]) | undefined;
  #history: string[] = [];
  /** Index of the history entry shown; `#history.length` for the draft. */
  #historyIndex = 0;
  /** The line being typed before history browsing began. */
  #draft = "";
  #columns: number;
  /** Row of the terminal's cursor within the drawn rows (0 = prompt row). */
  #cursorRow = 0;
  #drawn: Drawn | undefined;

  /**
   * Creates an editor with an empty line.
   *
   * @param options Prompt, limits, width and completion.
   * @throws {RangeError} If `maxLength` is not a positive integer,
   * `historySize` not a non-negative integer, or `columns` is NaN.
   */
  constructor(options: LineEditorOptions = {}) {
    const {
      prompt = DEFAULT_PROMPT,
      maxLength = DEFAULT_MAX_LENGTH,
      historySize = DEFAULT_HISTORY_SIZE,
      columns = DEFAULT_COLUMNS,
      complete,
    } = options;
    if (!Number.isInteger(maxLength) || maxLength < 1) {
      throw new RangeError(
        `Cannot create line editor: maxLength ${maxLength} is not a positive integer`,
      );
    }
    if (!Number.isInteger(historySize) || historySize < 0) {
      throw new RangeError(
        `Cannot create line editor: historySize ${historySize} is not a non-negative integer`,
      );
    }
    this.#maxLength = maxLength;
    this.#historySize = historySize;
    this.#complete = complete;
    this.#columns = clampColumns(columns, "create line editor");
    this.#prompt = parsePrompt(prompt);
  }

  /**
   * The text being typed.
   *
   * @returns The current line.
   */
  get line(): string {
    return this.#units.join("");
  }

  /**
   * The cursor position, in user-perceived characters (grapheme clusters)
   * from the start of the line: 0 up to the number of characters.
   *
   * @returns The cursor index.
   */
  get cursor(): number {
    return this.#cursor;
  }

  /**
   * The prompt as shown: controls removed, SGR sequences kept.
   *
   * @returns The prompt.
   */
  get prompt(): string {
    return this.#prompt.text;
  }

  /**
   * Applies one key.
   *
   * @param key A key from {@linkcode KeyDecoder}.
   * @returns What the caller should do, in order; empty when nothing changed.
   */
  handle(key: Key): EditorAction[] {
    const lineBefore = this.line;
    const cursorBefore = this.#cursor;
    const actions: EditorAction[] = [];
    let applied = true;
    let redraw = false;
    const cursor = this.#cursor;
    const length = this.#units.length;
    switch (key.type) {
      case "char":
        applied = this.#insert(key.text);
        break;
      case "paste":
        applied = this.#paste(key.text, actions);
        break;
      case "key":
        switch (key.name) {
          case "enter":
            actions.push(this.#submit());
            break;
          case "ctrl-c":
            this.#load("");
            this.#stopBrowsing();
            actions.push({ type: "interrupt" });
            break;
          case "ctrl-d":
            if (length === 0) return [{ type: "eof" }];
            if (cursor < length) this.#replace(cursor, cursor + 1, "");
            break;
          case "delete":
            if (cursor < length) this.#replace(cursor, cursor + 1, "");
            break;
          case "backspace":
            if (cursor > 0) this.#replace(cursor - 1, cursor, "");
            break;
          case "left":
          case "ctrl-b":
            this.#cursor = Math.max(0, cursor - 1);
            break;
          case "right":
          case "ctrl-f":
            this.#cursor = Math.min(length, cursor + 1);
            break;
          case "home":
          case "ctrl-a":
            this.#cursor = 0;
            break;
          case "end":
          case "ctrl-e":
            this.#cursor = length;
            break;
          case "ctrl-left":
            this.#cursor = this.#wordStart();
            break;
          case "ctrl-right":
            this.#cursor = this.#wordEnd();
            break;
          case "ctrl-u":
            this.#replace(0, cursor, "");
            break;
          case "ctrl-k":
            this.#replace(cursor, length, "");
            break;
          case "ctrl-w":
            this.#replace(this.#wordStart(), cursor, "");
            break;
          case "up":
            applied = this.#historyUp();
            break;
          case "down":
            applied = this.#historyDown();
            break;
          case "tab":
            applied = this.#completeWord(actions);
            break;
          case "ctrl-l":
            redraw = true;
            break;
          default: // escape, pageup, pagedown, unknown: nothing to edit
            break;
        }
        break;
    }
    if (!applied) actions.push({ type: "bell" });
    if (redraw || this.#cursor !== cursorBefore || this.line !== lineBefore) {
      actions.push({ type: "redraw" });
    }
    return actions;
  }

  /**
   * Sets the terminal width; call it when the terminal is resized, then
   * write {@linkcode LineEditor.render}.
   *
   * On a resize, some terminals reflow the rows already drawn (most do) and
   * some leave them in place (xterm). The editor assumes whichever puts its
   * first row lower, so the next {@linkcode LineEditor.render} never erases
   * a printed line; at worst part of the old input stays visible above the
   * new one. {@linkcode LineEditor.repaint} avoids that when the caller can
   * redraw the screen.
   *
   * @param columns The new width; clamped to 1..1000.
   * @throws {RangeError} If `columns` is NaN.
   */
  setWidth(columns: number): void {
    const width = clampColumns(columns, "set width");
    if (width === this.#columns) return;
    this.#columns = width;
    const drawn = this.#drawn;
    if (drawn === undefined || this.#cursorRow === 0) return;
    const reflowed = layout(drawn.prompt, drawn.units, drawn.cursor, width);
    let row = reflowed.cursorRow;
    // At the very end of a row that is exactly full, a terminal may keep its
    // cursor on that row (pending wrap) rather than the next.
    if (
      drawn.cursor === drawn.units.length && reflowed.cursorCol === 0 && row > 0
    ) {
      row--;
    }
    this.#cursorRow = Math.min(this.#cursorRow, row);
  }

  /**
   * Changes the prompt; write {@linkcode LineEditor.render} afterwards.
   *
   * @param prompt The new prompt. SGR colour sequences are kept and take no
   * columns; other escape sequences and controls are removed. If it contains
   * escape sequences, an SGR reset follows it on screen.
   */
  setPrompt(prompt: string): void {
    this.#prompt = parsePrompt(prompt);
  }

  /**
   * Draws the prompt and line from scratch: moves to the first row the
   * editor drew last time, clears to the end of the screen, writes prompt
   * and line (letting the terminal wrap them), and puts the cursor at the
   * editing position with relative moves.
   *
   * @returns The ANSI text to write to the terminal.
   */
  render(): string {
    const width = this.#columns;
    const drawn: Drawn = {
      prompt: this.#prompt,
      units: this.#units,
      cursor: this.#cursor,
    };
    const { text, cursorRow, cursorCol, endRow, endCol } = layout(
      drawn.prompt,
      drawn.units,
      drawn.cursor,
      width,
    );
    let out = this.#toFirstRow() + text;
    let row = endRow;
    let col = endCol;
    if (col >= width) {
      // Autowrap is pending; CR settles where the cursor is. When the cursor
      // belongs at the end, it needs the row below, which LF creates.
      if (cursorRow > row) {
        out += "\r\n";
        row++;
      } else {
        out += "\r";
      }
      col = 0;
    }
    if (row > cursorRow) out += `\x1b[${row - cursorRow}A`;
    if (cursorCol === 0 && col !== 0) {
      out += "\r";
    } else if (cursorCol < col) {
      out += `\x1b[${col - cursorCol}D`;
    } else if (cursorCol > col) {
      out += `\x1b[${cursorCol - col}C`;
    }
    this.#cursorRow = cursorRow;
    this.#drawn = drawn;
    return out;
  }

  /**
   * Erases what the editor drew and leaves the cursor at column 0 of its
   * first row, ready for output. The next {@linkcode LineEditor.render}
   * draws from there.
   *
   * @returns The ANSI text to write to the terminal.
   */
  clear(): string {
    const out = this.#toFirstRow();
    this.#cursorRow = 0;
    this.#drawn = undefined;
    return out;
  }

  /**
   * Redraws the whole screen: clears it, writes the newest of `lines` that
   * fit above the input, then the prompt and line below them. Use it after
   * {@linkcode LineEditor.setWidth} when the caller still has the lines it
   * printed: it leaves no stale copy of the input, whatever the terminal did
   * to the old rows on the resize (a reflowing terminal turns a shrunk input
   * line into more rows above the cursor than a truncating one, and nothing
   * tells the two apart).
   *
   * @param lines Lines printed above the input, oldest first, written as
   * they are (sanitise untrusted text first); only the newest that fit are
   * used.
   * @param rows The terminal's height in rows; clamped to 1..1000.
   * @returns The ANSI text to write to the terminal.
   * @throws {RangeError} If `rows` is NaN.
   */
  repaint(lines: readonly string[], rows: number): string {
    if (Number.isNaN(rows)) throw new RangeError("Cannot repaint: rows is NaN");
    const height = Math.min(MAX_ROWS, Math.max(1, Math.trunc(rows)));
    const width = this.#columns;
    const input = layout(this.#prompt, this.#units, this.#cursor, width);
    let free = height - (Math.max(input.endRow, input.cursorRow) + 1);
    const shown: string[] = [];
    for (let i = lines.length - 1; i >= 0 && free > 0; i--) {
      const parts = (lines[i] ?? "").split(/\r\n|\r|\n/);
      for (let j = parts.length - 1; j >= 0; j--) {
        const part = parts[j] ?? "";
        // A wide character at the margin may take one row more: the top line
        // then scrolls away, which is harmless.
        free -= Math.max(1, Math.ceil(displayWidth(part) / width));
        if (free < 0) break;
        shown.push(part);
      }
    }
    this.#cursorRow = 0;
    this.#drawn = undefined;
    const above = shown.reverse().map((line) => `${line}\r\n`).join("");
    return `${CLEAR_SCREEN}${above}${this.render()}`;
  }

  /**
   * Prints text above the input line: erases the line, writes the text and
   * redraws the line below it.
   *
   * @param text One or more lines (LF, CR LF or CR separated; a final line
   * break is optional), written as they are otherwise: sanitise untrusted
   * text first.
   * @returns The ANSI text to write to the terminal.
   */
  printAbove(text: string): string {
    const lines = text.split(/\r\n|\r|\n/);
    if (lines.length > 1 && lines.at(-1) === "") lines.pop();
    return `${this.clear()}${lines.join("\r\n")}\r\n${this.render()}`;
  }

  #toFirstRow(): string {
    const up = this.#cursorRow > 0 ? `\x1b[${this.#cursorRow}A` : "";
    return `${up}\r\x1b[J`;
  }

  /**
   * Replaces the characters from `start` to `end` with `text` and puts the
   * cursor after it. The line is segmented again, as the edit may join or
   * split grapheme clusters.
   */
  #replace(start: number, end: number, text: string): void {
    if (start === end && text === "") return;
    const head = this.#units.slice(0, start).join("") + text;
    const units = graphemes(head + this.#units.slice(end).join(""));
    let cursor = 0;
    for (let length = 0; length < head.length && cursor < units.length;) {
      length += units[cursor]?.length ?? 1;
      cursor++;
    }
    this.#units = units;
    this.#cursor = cursor;
  }

  /** Replaces the line, cursor at the end. */
  #load(line: string): void {
    this.#units = graphemes(line);
    this.#cursor = this.#units.length;
  }

  /** Inserts cleaned text; returns false if some did not fit. */
  #insert(raw: string): boolean {
    const text = cleanText(raw);
    if (text === "") return true;
    const room = this.#maxLength - this.line.length;
    let accepted = text;
    if (text.length > room) {
      accepted = "";
      for (const unit of graphemes(text)) {
        if (accepted.length + unit.length > room) break;
        accepted += unit;
      }
    }
    if (accepted !== "") this.#replace(this.#cursor, this.#cursor, accepted);
    return accepted === text;
  }

  /** Inserts pasted text, submitting at each line break. */
  #paste(text: string, actions: EditorAction[]): boolean {
    const parts = text.split(/\r\n|\r|\n/);
    let applied = true;
    parts.forEach((part, index) => {
      if (!this.#insert(part)) applied = false;
      if (index < parts.length - 1) actions.push(this.#submit());
    });
    return applied;
  }

  #submit(): EditorAction {
    const line = this.line;
    const history = this.#history;
    if (
      this.#historySize > 0 && line.trim() !== "" && history.at(-1) !== line
    ) {
      history.push(line);
      if (history.length > this.#historySize) history.shift();
    }
    this.#load("");
    this.#stopBrowsing();
    return { type: "submit", line };
  }

  #stopBrowsing(): void {
    this.#historyIndex = this.#history.length;
    this.#draft = "";
  }

  #historyUp(): boolean {
    if (this.#historyIndex <= 0) return false;
    if (this.#historyIndex >= this.#history.length) this.#draft = this.line;
    this.#historyIndex--;
    this.#load(this.#history[this.#historyIndex] ?? "");
    return true;
  }

  #historyDown(): boolean {
    if (this.#historyIndex >= this.#history.length) return false;
    this.#historyIndex++;
    this.#load(this.#history[this.#historyIndex] ?? this.#draft);
    return true;
  }

  /** Start of the word before the cursor (after whitespace before it). */
  #wordStart(): number {
    let i = this.#cursor;
    while (i > 0 && isSpace(this.#units[i - 1])) i--;
    while (i > 0 && !isSpace(this.#units[i - 1])) i--;
    return i;
  }

  /** End of the word at or after the cursor. */
  #wordEnd(): number {
    const length = this.#units.length;
    let i = this.#cursor;
    while (i < length && isSpace(this.#units[i])) i++;
    while (i < length && !isSpace(this.#units[i])) i++;
    return i;
  }

  #completeWord(actions: EditorAction[]): boolean {
    if (this.#complete === undefined) return false;
    let start = this.#cursor;
    while (start > 0 && !isSpace(this.#units[start - 1])) start--;
    const word = this.#units.slice(start, this.#cursor).join("");
    const items = [
      ...new Set(this.#complete(word, this.line).map(cleanText)),
    ].filter((item) => item !== "");
    const [only] = items;
    if (only === undefined) return false;
    if (items.length === 1) return this.#replaceWord(start, word, `${only} `);
    actions.push({ type: "candidates", items });
    const prefix = commonPrefix(items);
    return prefix.length <= word.length ||
      this.#replaceWord(start, word, prefix);
  }

  #replaceWord(start: number, word: string, text: string): boolean {
    if (this.line.length - word.length + text.length > this.#maxLength) {
      return false;
    }
    this.#replace(start, this.#cursor, text);
    return true;
  }
}

function clampColumns(columns: number, action: string): number {
  if (Number.isNaN(columns)) {
    throw new RangeError(`Cannot ${action}: columns is NaN`);
  }
  return Math.min(MAX_COLUMNS, Math.max(1, Math.trunc(columns)));
}

function isSpace(unit: string | undefined): boolean {
  return unit !== undefined && /^\s/u.test(unit);
}

/** Longest common prefix, by code point. */
function commonPrefix(items: readonly string[]): string {
  let prefix = Array.from(items[0] ?? "");
  for (const item of items) {
    const chars = Array.from(item);
    let n = 0;
    while (n < prefix.length && prefix[n] === chars[n]) n++;
    prefix = prefix.slice(0, n);
  }
  return prefix.join("");
}
