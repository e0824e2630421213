// Copyright the meshchat authors. MIT license.
/**
 * Newline-delimited JSON framing: one JSON value per line, UTF-8, `\n`
 * terminated. The decoder is incremental and bounded, for bytes from the
 * network.
 *
 * @module
 */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const MAX_LINE_BYTES_LIMIT = 2 ** 30;
const MIN_PENDING_BYTES = 256;
/** Complete lines are UTF-8 decoded in batches of at most this many bytes. */
const BATCH_BYTES = 128 * 1024;

/** The end of a V8 JSON.parse message that gives a position. */
const JSON_POSITION = / in JSON at position (\d+)(?: \(line \d+ column \d+\))?$/;
/** The end of a V8 JSON.parse message that echoes (part of) the input. */
const JSON_ECHO = /, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s;

const encoder = new TextEncoder();
// ignoreBOM keeps a byte-order mark in the text, where JSON.parse rejects it
// at position 0, so positions in the text map straight back to bytes.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Why a line could not be decoded; stable, for protocol error codes. */
export type FrameErrorCode = "line_too_long" | "bad_utf8" | "bad_json";

/**
 * A line of the stream that could not be decoded. `offset` is the byte
 * offset in the whole stream (counting from the first byte ever pushed):
 *
 * - `line_too_long`: the start of the line;
 * - `bad_utf8`: the first byte of the first ill-formed UTF-8 sequence;
 * - `bad_json`: the byte where the JSON parser reports the problem, or the
 *   start of the line when it does not say.
 */
export class FrameError extends SyntaxError {
  /** Always `"FrameError"`. */
  override name = "FrameError";
  /** Why the line could not be decoded. */
  readonly code: FrameErrorCode;
  /** Byte offset of the problem in the whole stream. */
  readonly offset: number;

  /**
   * Creates a frame error.
   *
   * @param message A readable description.
   * @param code Why the line could not be decoded.
   * @param offset Byte offset of the problem in the whole stream.
   * @param options The underlying error, if any, as `cause`.
   */
  constructor(
    message: string,
    code: FrameErrorCode,
    offset: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
    this.offset = offset;
  }
}

/** One decoded line: a JSON value, or the reason it could not be decoded. */
export type DecodedLine =
  | { ok: true; value: unknown }
  | { ok: false; error: FrameError };

/** Options for {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /**
   * The longest line accepted, in bytes, not counting the `\n` and an
   * optional `\r` before it. Also bounds the memory the decoder holds.
   *
   * @default {16384}
   */
  maxLineBytes?: number;
}

/**
 * Splits a byte stream into newline-delimited JSON values.
 *
 * Push chunks as they arrive, cut anywhere (even inside a UTF-8 character);
 * each call returns the lines completed by that chunk. A trailing `\r` is
 * stripped, and empty or whitespace-only lines are skipped. A bad line gives
 * one error entry and decoding carries on with the next line: `push()` never
 * throws.
 *
 * A line longer than `maxLineBytes` gives one `line_too_long` error as soon as
 * the limit is crossed; its remaining bytes are dropped, unbuffered, up to the
 * next newline. The decoder never holds more than `maxLineBytes + 1` bytes.
 *
 * Complete lines inside a chunk are decoded in place, without copying; only
 * the unfinished tail of a chunk is copied, into a buffer that grows by
 * doubling, so a line that arrives in many small chunks costs linear time.
 *
 * @example Decoding a stream
 * ```ts
 * import { encodeFrame, FrameDecoder } from "./ndjson.ts";
 * import assert from "node:assert/strict";
 *
 * const decoder = new FrameDecoder();
 * const bytes = encodeFrame({ t: "hello", v: 1 });
 * assert.deepEqual(decoder.push(bytes.subarray(0, 5)), []);
 * assert.deepEqual(decoder.push(bytes.subarray(5)), [
 *   { ok: true, value: { t: "hello", v: 1 } },
 * ]);
 * ```
 */
export class FrameDecoder {
  #maxLineBytes: number;
  #pending = new Uint8Array(0);
  #pendingLength = 0;
  #discarding = false;
  #streamOffset = 0;
  #lineStart = 0;

  /**
   * Creates a decoder.
   *
   * @param options The line length bound.
   * @throws {RangeError} If `maxLineBytes` is not an integer from 1 to
   * 2 ** 30.
   */
  constructor(options: FrameDecoderOptions = {}) {
    const { maxLineBytes = 16_384 } = options;
    if (
      !Number.isInteger(maxLineBytes) || maxLineBytes < 1 ||
      maxLineBytes > MAX_LINE_BYTES_LIMIT
    ) {
      throw new RangeError(
        `Cannot create frame decoder: maxLineBytes ${maxLineBytes} is not an integer from 1 to ${MAX_LINE_BYTES_LIMIT}`,
      );
    }
    this.#maxLineBytes = maxLineBytes;
  }

  /**
   * The number of bytes held for an unfinished line (at most
   * `maxLineBytes + 1`).
   *
   * @returns The buffered byte count.
   */
  get buffered(): number {
    return this.#pendingLength;
  }

  /**
   * Feeds the next chunk of the stream. The chunk is not kept: the caller may
   * reuse its buffer once this returns.
   *
   * @param chunk The next bytes of the stream.
   * @returns The lines completed by this chunk, in order.
   */
  push(chunk: Uint8Array): DecodedLine[] {
    const lines: DecodedLine[] = [];
    const base = this.#streamOffset;
    const end = chunk.length;
    let pos = 0;
    let last = -2; // index of the chunk's last newline, found on first use
    while (pos < end) {
      if (this.#discarding) {
        const newline = chunk.indexOf(NEWLINE, pos);
        if (newline === -1) break;
        this.#discarding = false;
        pos = newline + 1;
        this.#lineStart = base + pos;
        continue;
      }

      if (this.#pendingLength > 0) {
        const newline = chunk.indexOf(NEWLINE, pos);
        if (newline === -1) {
          this.#hold(chunk.subarray(pos), lines);
          break;
        }
        this.#finishPending(chunk.subarray(pos, newline), lines);
        pos = newline + 1;
        this.#lineStart = base + pos;
        continue;
      }

      // At a line start with nothing pending: decode the complete lines of
      // the chunk in batches of at most BATCH_BYTES, in place.
      if (last === -2) last = chunk.lastIndexOf(NEWLINE);
      if (last < pos) {
        this.#hold(chunk.subarray(pos), lines);
        break;
      }
      let batchEnd = last;
      if (batchEnd - pos > BATCH_BYTES) {
        batchEnd = chunk.lastIndexOf(NEWLINE, pos + BATCH_BYTES);
      }
      if (batchEnd < pos) {
        // One line longer than a batch: check its length before decoding.
        const newline = chunk.indexOf(NEWLINE, pos);
        this.#decodeLine(chunk.subarray(pos, newline), base + pos, lines);
        pos = newline + 1;
      } else {
        this.#decodeLines(chunk.subarray(pos, batchEnd), base + pos, lines);
        pos = batchEnd + 1;
      }
      this.#lineStart = base + pos;
    }
    this.#streamOffset = base + end;
    return lines;
  }

  /** Keeps the unfinished last line of a chunk, or starts discarding it. */
  #hold(bytes: Uint8Array, lines: DecodedLine[]): void {
    // A final `\r` may be the start of the terminator, so it does not count
    // against the limit yet.
    const seen = this.#pendingLength + bytes.length;
    const tail = bytes[bytes.length - 1];
    const content = tail === CARRIAGE_RETURN ? seen - 1 : seen;
    if (content > this.#maxLineBytes) {
      lines.push({ ok: false, error: this.#tooLong(content, false) });
      this.#pendingLength = 0;
      this.#discarding = true;
    } else {
      this.#append(bytes);
    }
  }

  /** Completes the pending line with `bytes` (up to the newline). */
  #finishPending(bytes: Uint8Array, lines: DecodedLine[]): void {
    const total = this.#pendingLength + bytes.length;
    const last = bytes.length > 0
      ? bytes[bytes.length - 1]
      : this.#pending[this.#pendingLength - 1];
    const content = last === CARRIAGE_RETURN ? total - 1 : total;
    if (content > this.#maxLineBytes) {
      lines.push({ ok: false, error: this.#tooLong(content, true) });
    } else {
      this.#append(bytes);
      pushLine(
        lines,
        this.#pending.subarray(0, this.#pendingLength),
        this.#lineStart,
      );
    }
    this.#pendingLength = 0;
  }

  /** Decodes one complete line given as bytes, checking its length first. */
  #decodeLine(line: Uint8Array, start: number, lines: DecodedLine[]): void {
    const content = line[line.length - 1] === CARRIAGE_RETURN ? line.length - 1 : line.length;
    if (content > this.#maxLineBytes) {
      lines.push({ ok: false, error: this.#tooLong(content, true, start) });
    } else {
      pushLine(lines, line, start);
    }
  }

  /**
   * Decodes complete lines (`bytes` holds no final newline) with one UTF-8
   * decode for all of them; falls back to line by line if any is bad UTF-8.
   */
  #decodeLines(bytes: Uint8Array, start: number, lines: DecodedLine[]): void {
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      for (let from = 0; from <= bytes.length;) {
        let newline = bytes.indexOf(NEWLINE, from);
        if (newline === -1) newline = bytes.length;
        this.#decodeLine(bytes.subarray(from, newline), start + from, lines);
        from = newline + 1;
      }
      return;
    }

    // Byte offsets of lines are found only when an error needs one.
    let knownIndex = 0;
    let knownStart = 0;
    const startOf = (index: number): number => {
      for (; knownIndex < index; knownIndex++) {
        knownStart = bytes.indexOf(NEWLINE, knownStart) + 1;
      }
      return start + knownStart;
    };

    const max = this.#maxLineBytes;
    const parts = text.split("\n");
    for (let i = 0; i < parts.length; i++) {
      let line = parts[i]!;
      if (line.charCodeAt(line.length - 1) === CARRIAGE_RETURN) {
        line = line.slice(0, -1);
      }
      // A UTF-16 unit is 1 to 3 UTF-8 bytes, so count bytes only if needed.
      if (line.length * 3 > max) {
        const size = utf8Length(line, line.length);
        if (size > max) {
          lines.push({ ok: false, error: this.#tooLong(size, true, startOf(i)) });
          continue;
        }
      }
      if (isBlank(line)) continue;
      try {
        lines.push({ ok: true, value: JSON.parse(line) });
      } catch (error) {
        lines.push({ ok: false, error: jsonError(error, line, startOf(i)) });
      }
    }
  }

  #tooLong(bytes: number, exact: boolean, start = this.#lineStart): FrameError {
    const size = exact ? `${bytes}` : `at least ${bytes}`;
    return new FrameError(
      `Cannot decode frame: line of ${size} bytes exceeds maximum ${this.#maxLineBytes}`,
      "line_too_long",
      start,
    );
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#pendingLength + bytes.length;
    if (needed > this.#pending.length) {
      const grown = Math.min(
        this.#maxLineBytes + 1,
        Math.max(MIN_PENDING_BYTES, this.#pending.length * 2),
      );
      const pending = new Uint8Array(Math.max(needed, grown));
      pending.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = pending;
    }
    this.#pending.set(bytes, this.#pendingLength);
    this.#pendingLength = needed;
  }
}

/**
 * Decodes one frame given whole as text, such as a WebSocket message, with
 * the errors a line of {@linkcode FrameDecoder} gets (a `bad_json` offset
 * counts UTF-8 bytes from the start of the text). The text is one value:
 * newlines in it are JSON whitespace, not frame ends. The caller bounds its
 * length.
 *
 * @example
 * ```ts
 * import { decodeFrameText } from "./ndjson.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(decodeFrameText('{"t":"ping"}'), { ok: true, value: { t: "ping" } });
 * assert.equal(decodeFrameText("{"!)?.ok, false);
 * assert.equal(decodeFrameText(" "), undefined);
 * ```
 *
 * @param text The frame's JSON text.
 * @returns The value, or why it could not be decoded; `undefined` for blank text (no frame).
 */
export function decodeFrameText(text: string): DecodedLine | undefined {
  if (/^[ \t\r\n]*$/.test(text)) return undefined;
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: jsonError(error, text, 0) };
  }
}

/** Whether a line holds only JSON whitespace (space, tab, CR), or nothing. */
function isBlank(line: string): boolean {
  const first = line.charCodeAt(0);
  if (first !== SPACE && first !== TAB && first !== CARRIAGE_RETURN) {
    return line.length === 0;
  }
  return /^[ \t\r]*$/.test(line);
}

/**
 * Decodes one complete line of bytes (without its `\n`, length already
 * checked) and appends the result.
 */
function pushLine(lines: DecodedLine[], line: Uint8Array, start: number): void {
  let length = line.length;
  if (length > 0 && line[length - 1] === CARRIAGE_RETURN) length--;
  let i = 0;
  while (i < length) {
    const byte = line[i];
    if (byte !== SPACE && byte !== TAB && byte !== CARRIAGE_RETURN) break;
    i++;
  }
  if (i === length) return;

  const bytes = length === line.length ? line : line.subarray(0, length);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (error) {
    const offset = start + Math.max(0, findInvalidUtf8(bytes));
    lines.push({
      ok: false,
      error: new FrameError(
        `Cannot decode frame: invalid UTF-8 at byte ${offset}`,
        "bad_utf8",
        offset,
        { cause: error },
      ),
    });
    return;
  }
  try {
    lines.push({ ok: true, value: JSON.parse(text) });
  } catch (error) {
    lines.push({ ok: false, error: jsonError(error, text, start) });
  }
}

/** Turns a JSON.parse error for a line starting at `start` into a FrameError. */
function jsonError(error: unknown, text: string, start: number): FrameError {
  const message = error instanceof Error ? error.message : String(error);
  const match = JSON_POSITION.exec(message);
  const offset = start + (match ? utf8Length(text, Number(match[1])) : 0);
  return new FrameError(
    `Cannot decode frame: invalid JSON at byte ${offset}: ${describeJsonError(message)}`,
    "bad_json",
    offset,
    { cause: error },
  );
}

/**
 * Shortens a V8 JSON.parse message to its reason, without the position (we
 * give a byte offset instead) or the echo of the input, and escapes controls.
 */
function describeJsonError(message: string): string {
  const reason = message.replace(JSON_POSITION, "").replace(JSON_ECHO, "");
  return reason.replace(
    // deno-lint-ignore no-control-regex -- control characters are what this matches
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The number of UTF-8 bytes in the first `index` UTF-16 units of `text`. */
function utf8Length(text: string, index: number): number {
  const end = Math.min(index, text.length);
  let bytes = 0;
  for (let i = 0; i < end; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < end) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Returns the index of the first byte of the first ill-formed UTF-8 sequence
 * (the "maximal subpart" that a decoder replaces with U+FFFD), or -1 if the
 * bytes are well-formed.
 */
function findInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    let trailing: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) trailing = 1;
    else if (lead === 0xe0) [trailing, low] = [2, 0xa0];
    else if (lead === 0xed) [trailing, high] = [2, 0x9f];
    else if (lead >= 0xe1 && lead <= 0xef) trailing = 2;
    else if (lead === 0xf0) [trailing, low] = [3, 0x90];
    else if (lead === 0xf4) [trailing, high] = [3, 0x8f];
    else if (lead >= 0xf1 && lead <= 0xf3) trailing = 3;
    else return i;
    for (let k = 1; k <= trailing; k++) {
      const byte = bytes[i + k];
      if (byte === undefined || byte < low || byte > high) return i;
      low = 0x80;
      high = 0xbf;
    }
    i += trailing + 1;
  }
  return -1;
}

/**
 * Encodes a value as one NDJSON line: `JSON.stringify(value) + "\n"`. The
 * JSON text never contains a raw newline, so the line is always one frame.
 *
 * @param value The value to encode.
 * @returns The line as a string, ending in `\n`.
 * @throws {TypeError} If the value has no JSON representation (`undefined`,
 * a function, a symbol), contains a cycle or a BigInt.
 */
export function encodeFrameText(value: unknown): string {
  const json: string | undefined = JSON.stringify(value);
  if (json === undefined) {
    throw new TypeError(
      `Cannot encode frame: ${typeof value} has no JSON representation`,
    );
  }
  return json + "\n";
}

/**
 * Encodes a value as one NDJSON line in UTF-8: `JSON.stringify(value) + "\n"`.
 *
 * @param value The value to encode.
 * @returns The UTF-8 bytes of the line, ending in `\n`.
 * @throws {TypeError} If the value has no JSON representation (`undefined`,
 * a function, a symbol), contains a cycle or a BigInt.
 */
export function encodeFrame(value: unknown): Uint8Array {
  return encoder.encode(encodeFrameText(value));
}
