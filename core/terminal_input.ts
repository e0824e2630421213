// Copyright the meshchat authors. MIT license.
/**
 * Decodes what a terminal sends (already decoded from UTF-8 into a string)
 * into keys: printable text, editing keys, and bracketed pastes. Shared by the
 * terminal client (raw-mode stdin) and the SSH server's PTY sessions.
 *
 * Pure: no timers and no I/O. A lone ESC cannot be told apart from the start
 * of an escape sequence until more input arrives or some time passes, so the
 * caller runs the timer and calls {@linkcode KeyDecoder.flush}.
 *
 * @module
 */

/** The names of the non-text keys a {@linkcode KeyDecoder} reports. */
export type KeyName =
  | "enter"
  | "backspace"
  | "delete"
  | "left"
  | "right"
  | "up"
  | "down"
  | "home"
  | "end"
  | "tab"
  | "escape"
  | "ctrl-a"
  | "ctrl-b"
  | "ctrl-c"
  | "ctrl-d"
  | "ctrl-e"
  | "ctrl-f"
  | "ctrl-k"
  | "ctrl-l"
  | "ctrl-u"
  | "ctrl-w"
  | "ctrl-left"
  | "ctrl-right"
  | "pageup"
  | "pagedown"
  | "unknown";

/**
 * One decoded key press.
 *
 * - `char`: printable text typed (consecutive characters are merged);
 * - `paste`: the raw text of a bracketed paste, controls and all;
 * - `key`: anything else. `unknown` covers sequences and controls with no
 *   meaning here; they are consumed so that they never turn into text.
 */
export type Key =
  | { type: "char"; text: string }
  | { type: "paste"; text: string }
  | { type: "key"; name: KeyName };

/** Write this to the terminal to make it mark pastes (`ESC [200~`...). */
export const ENABLE_BRACKETED_PASTE = "\x1b[?2004h";
/** Write this to the terminal to restore plain pastes. */
export const DISABLE_BRACKETED_PASTE = "\x1b[?2004l";

/** Most UTF-8 bytes of one paste that are kept; the rest is dropped. */
export const MAX_PASTE_BYTES = 64 * 1024;

const PASTE_END = "\x1b[201~";
/** An escape sequence still unfinished after this many characters is dropped. */
const MAX_SEQUENCE_LENGTH = 32;

const ESC = 0x1b;
const CR = 0x0d;
const LF = 0x0a;

/** Single control characters with a meaning (others are `unknown`). */
const CONTROL_KEYS: ReadonlyMap<number, KeyName> = new Map([
  [0x01, "ctrl-a"],
  [0x02, "ctrl-b"],
  [0x03, "ctrl-c"],
  [0x04, "ctrl-d"],
  [0x05, "ctrl-e"],
  [0x06, "ctrl-f"],
  [0x08, "backspace"],
  [0x09, "tab"],
  [0x0b, "ctrl-k"],
  [0x0c, "ctrl-l"],
  [0x15, "ctrl-u"],
  [0x17, "ctrl-w"],
  [0x7f, "backspace"],
]);

/** Final bytes of `ESC [ ... X` and `ESC O X` cursor keys. */
const CURSOR_KEYS: Readonly<Record<string, KeyName>> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
};

/** First parameter of `ESC [ n ~` keys. */
const TILDE_KEYS: Readonly<Record<string, KeyName>> = {
  "1": "home",
  "7": "home",
  "4": "end",
  "8": "end",
  "3": "delete",
  "5": "pageup",
  "6": "pagedown",
};

/** What one escape sequence at the start of the input means. */
type Escape = { length: number; key: Key } | {
  length: number;
  pasteStart: true;
};

/**
 * An incremental decoder from terminal input to {@linkcode Key}s.
 *
 * Recognised input:
 *
 * | Input                                     | Key                          |
 * | ----------------------------------------- | ---------------------------- |
 * | CR, LF, CR LF                             | `enter` (CR LF is one)       |
 * | DEL (0x7f), BS (0x08)                     | `backspace`                  |
 * | TAB                                       | `tab`                        |
 * | Ctrl+A B C D E F K L U W                  | `ctrl-a` ... `ctrl-w`        |
 * | `ESC [ A`..`D`, `ESC O A`..`D`            | `up` `down` `right` `left`   |
 * | `ESC [ H`/`F`, `ESC O H`/`F`, `ESC [ 1~` `7~` / `4~` `8~` | `home` / `end` |
 * | `ESC [ 3~`, `ESC [ 5~`, `ESC [ 6~`        | `delete` `pageup` `pagedown` |
 * | `ESC [ 1;5C`/`D` (Ctrl or Alt), `ESC O c`/`d`, `ESC f`/`b` | `ctrl-right` / `ctrl-left` |
 * | `ESC DEL` (Alt+Backspace)                 | `ctrl-w`                     |
 * | `ESC [200~` text `ESC [201~`              | one `paste`                  |
 * | lone ESC (after {@linkcode KeyDecoder.flush}) | `escape`                 |
 * | other CSI/SS3 sequences, `ESC` + printable, other C0 and C1 controls | `unknown` |
 *
 * Modifiers on other cursor keys (Shift+Home...) are ignored. Printable text
 * between keys is merged into one `char` key. A sequence split across chunks
 * is kept until the rest arrives, and a CR LF split across chunks is still
 * one `enter`.
 *
 * Bracketed pastes are only sent by terminals told to
 * ({@linkcode ENABLE_BRACKETED_PASTE}). Their text is kept raw, up to
 * {@linkcode MAX_PASTE_BYTES} UTF-8 bytes; the rest is dropped.
 *
 * @example Decoding keys that arrive in pieces
 * ```ts
 * import { KeyDecoder } from "./terminal_input.ts";
 * import assert from "node:assert/strict";
 *
 * const decoder = new KeyDecoder();
 * assert.deepEqual(decoder.feed("hi\x1b["), [{ type: "char", text: "hi" }]);
 * assert.deepEqual(decoder.feed("D\r"), [
 *   { type: "key", name: "left" },
 *   { type: "key", name: "enter" },
 * ]);
 * assert.deepEqual(decoder.feed("\x1b"), []);
 * assert.deepEqual(decoder.flush(), [{ type: "key", name: "escape" }]);
 * ```
 */
export class KeyDecoder {
  /** Input held back: an unfinished escape sequence, or a paste end marker. */
  #pending = "";
  /** Pieces of the paste being received, or undefined outside a paste. */
  #paste: string[] | undefined;
  #pasteBytes = 0;
  #pasteFull = false;
  /** The last key was a CR, so an LF right after it is part of it. */
  #afterCr = false;

  /**
   * Whether an unfinished escape sequence is held back. When it is, the
   * caller should call {@linkcode KeyDecoder.flush} if no more input arrives
   * soon (some 50 ms). An unfinished paste does not count: its end marker is
   * always sent.
   *
   * @returns True while an escape sequence waits for its end.
   */
  get pending(): boolean {
    return this.#paste === undefined && this.#pending !== "";
  }

  /**
   * Decodes the next piece of input.
   *
   * @param chunk Text as read from the terminal, in any piece size.
   * @returns The keys completed by this chunk, in order (possibly none).
   */
  feed(chunk: string): Key[] {
    const data = this.#pending + chunk;
    this.#pending = "";
    const keys: Key[] = [];
    let text = "";
    let i = 0;
    while (i < data.length) {
      if (this.#paste !== undefined) {
        i = this.#readPaste(data, i, keys);
        continue;
      }
      const code = data.charCodeAt(i);
      if (isPrintable(code)) {
        if (code >= 0xd800 && code <= 0xdbff && i + 1 === data.length) {
          // A surrogate pair split across chunks: wait for its second half.
          this.#pending = data.slice(i);
          break;
        }
        text += data[i];
        this.#afterCr = false;
        i++;
        continue;
      }
      if (text !== "") {
        keys.push({ type: "char", text });
        text = "";
      }
      if (code === ESC) {
        const escape = parseEscape(data, i);
        if (escape === undefined) {
          this.#pending = data.slice(i);
          break;
        }
        this.#afterCr = false;
        i += escape.length;
        if ("key" in escape) {
          keys.push(escape.key);
        } else {
          this.#paste = [];
          this.#pasteBytes = 0;
          this.#pasteFull = false;
        }
        continue;
      }
      i++;
      if (code === LF && this.#afterCr) {
        this.#afterCr = false;
        continue;
      }
      this.#afterCr = code === CR;
      keys.push({
        type: "key",
        name: code === CR || code === LF ? "enter" : CONTROL_KEYS.get(code) ?? "unknown",
      });
    }
    if (text !== "") keys.push({ type: "char", text });
    return keys;
  }

  /**
   * Gives up waiting for the rest of an escape sequence: a lone ESC becomes
   * an `escape` key, a longer unfinished sequence an `unknown` key. Call it
   * when no input has arrived for a short while after
   * {@linkcode KeyDecoder.pending} became true. Harmless at any other time,
   * including in the middle of a paste, which is left alone.
   *
   * @returns The keys the held-back input stands for (possibly none).
   */
  flush(): Key[] {
    if (!this.pending) return [];
    const held = this.#pending;
    this.#pending = "";
    if (held.charCodeAt(0) !== ESC) return []; // half a surrogate pair
    return [{ type: "key", name: held === "\x1b" ? "escape" : "unknown" }];
  }

  /** Reads paste text from `data[i]` on; returns where to go on from. */
  #readPaste(data: string, i: number, keys: Key[]): number {
    const end = data.indexOf(PASTE_END, i);
    if (end >= 0) {
      this.#appendPaste(data.slice(i, end));
      const text = (this.#paste ?? []).join("");
      this.#paste = undefined;
      keys.push({ type: "paste", text });
      return end + PASTE_END.length;
    }
    // Hold back what could be the start of the end marker.
    let held = Math.min(PASTE_END.length - 1, data.length - i);
    while (held > 0 && !data.endsWith(PASTE_END.slice(0, held))) held--;
    this.#appendPaste(data.slice(i, data.length - held));
    this.#pending = data.slice(data.length - held);
    return data.length;
  }

  #appendPaste(piece: string): void {
    if (this.#pasteFull || piece === "") return;
    let bytes = this.#pasteBytes;
    let cut = piece.length;
    for (let j = 0; j < piece.length; j++) {
      const size = utf8Size(piece.charCodeAt(j));
      if (bytes + size > MAX_PASTE_BYTES) {
        cut = j;
        this.#pasteFull = true;
        break;
      }
      bytes += size;
    }
    this.#pasteBytes = bytes;
    this.#paste?.push(cut === piece.length ? piece : piece.slice(0, cut));
  }
}

/** Printable: not a C0 control, DEL or C1 control. */
function isPrintable(code: number): boolean {
  return code >= 0x20 && !(code >= 0x7f && code <= 0x9f);
}

/**
 * UTF-8 size of one UTF-16 code unit: a surrogate pair counts 4 for its first
 * half and 0 for its second.
 */
function utf8Size(code: number): number {
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  if (code >= 0xd800 && code <= 0xdbff) return 4;
  if (code >= 0xdc00 && code <= 0xdfff) return 0;
  return 3;
}

/**
 * Parses the escape sequence at `data[i]` (an ESC).
 *
 * @returns Its length and meaning, or undefined when the input ends before
 * the sequence does.
 */
function parseEscape(data: string, i: number): Escape | undefined {
  const next = data[i + 1];
  if (next === undefined) return undefined;
  switch (next) {
    case "[":
      return parseCsi(data, i);
    case "O":
      return parseSs3(data, i);
    case "b":
      return { length: 2, key: named("ctrl-left") };
    case "f":
      return { length: 2, key: named("ctrl-right") };
    case "\x7f":
      return { length: 2, key: named("ctrl-w") };
  }
  const code = next.charCodeAt(0);
  if (code > 0x20 && code < 0x7f) {
    return { length: 2, key: named("unknown") }; // Alt + a printable key
  }
  // ESC then a control, space or non-ASCII text: a lone Escape press.
  return { length: 1, key: named("escape") };
}

/** Parses `ESC [ params intermediates final`. */
function parseCsi(data: string, i: number): Escape | undefined {
  let j = i + 2;
  if (data[j] === "[") {
    // Linux console function keys: ESC [ [ A to ESC [ [ E.
    if (j + 1 >= data.length) return undefined;
    return { length: j + 2 - i, key: named("unknown") };
  }
  const paramsStart = j;
  while (j < data.length && isInRange(data.charCodeAt(j), 0x30, 0x3f)) j++;
  const params = data.slice(paramsStart, j);
  while (j < data.length && isInRange(data.charCodeAt(j), 0x20, 0x2f)) j++;
  if (j >= data.length) {
    if (j - i < MAX_SEQUENCE_LENGTH) return undefined;
    return { length: j - i, key: named("unknown") };
  }
  const final = data[j] ?? "";
  if (!isInRange(final.charCodeAt(0), 0x40, 0x7e)) {
    // Malformed: drop what came so far, decode the odd character afresh.
    return { length: j - i, key: named("unknown") };
  }
  const length = j + 1 - i;
  const hasIntermediates = j > paramsStart + params.length;
  if (hasIntermediates || /^[<=>?]/.test(params)) {
    return { length, key: named("unknown") };
  }
  const fields = params.split(";");
  const first = fields[0] ?? "";
  if (final === "~") {
    if (first === "200" && fields.length === 1) {
      return { length, pasteStart: true };
    }
    return { length, key: named(TILDE_KEYS[first] ?? "unknown") };
  }
  const cursor = CURSOR_KEYS[final];
  if (cursor === undefined || (first !== "" && first !== "1")) {
    return { length, key: named("unknown") };
  }
  return { length, key: named(withModifier(cursor, fields[1])) };
}

/** Parses `ESC O final`, allowing modifier digits before the final. */
function parseSs3(data: string, i: number): Escape | undefined {
  let j = i + 2;
  while (j < data.length && isInRange(data.charCodeAt(j), 0x30, 0x3f)) j++;
  if (j >= data.length) {
    if (j - i < MAX_SEQUENCE_LENGTH) return undefined;
    return { length: j - i, key: named("unknown") };
  }
  const final = data[j] ?? "";
  if (!isInRange(final.charCodeAt(0), 0x40, 0x7e)) {
    return { length: j - i, key: named("unknown") };
  }
  const length = j + 1 - i;
  if (final === "c") return { length, key: named("ctrl-right") }; // rxvt
  if (final === "d") return { length, key: named("ctrl-left") };
  const cursor = CURSOR_KEYS[final];
  if (cursor === undefined) return { length, key: named("unknown") };
  const modifier = data.slice(i + 2, j).split(";").at(-1);
  return { length, key: named(withModifier(cursor, modifier)) };
}

/**
 * Applies an xterm modifier parameter (1 + Shift 1 + Alt 2 + Ctrl 4) to a
 * cursor key: Ctrl or Alt with left or right moves by word; anything else
 * keeps the plain key.
 */
function withModifier(name: KeyName, modifier: string | undefined): KeyName {
  const value = Number(modifier);
  if (!modifier || !Number.isInteger(value) || value < 2) return name;
  if (((value - 1) & 6) === 0) return name;
  if (name === "right") return "ctrl-right";
  if (name === "left") return "ctrl-left";
  return name;
}

function isInRange(code: number, low: number, high: number): boolean {
  return code >= low && code <= high;
}

function named(name: KeyName): Key {
  return { type: "key", name };
}
