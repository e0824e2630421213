/**
 * The WebSocket wire format (RFC 6455) as the node's side speaks it: the
 * handshake's accept key, the frames it writes, and a reader of what a
 * browser sends. The node frames its own messages on the raw connection
 * rather than through `Deno.upgradeWebSocket`, because Deno's WebSocket
 * copies every message into a buffer of its own per reader: a fan-out cost
 * it about four times the CPU of a plain write (tests/bench/ws_fanout.ts).
 * Framed here, a message is a header and bytes that every reader of a
 * fan-out shares, written as TCP's are.
 *
 * What the reader accepts is what RFC 6455 asks of a server: every frame
 * masked, no reserved bits, no extensions, control frames whole and at most
 * 125 bytes, fragments continued in order. A message is judged by its
 * declared size before it is read: one over the limit is refused without
 * holding it.
 *
 * @module
 */
import { concatBytes } from "../../../core/bytes.ts";

/** The GUID RFC 6455 appends to a handshake's key. */
const HANDSHAKE_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Opcodes (RFC 6455 §5.2). */
const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** The largest control frame payload. */
const MAX_CONTROL_BYTES = 125;

/**
 * What a fragment of a message counts against the message limit at least
 * (bytes): a stream of empty fragments would otherwise never reach the
 * limit, and each one is kept until the message ends.
 */
const MIN_FRAGMENT_BYTES = 16;

/**
 * The `Sec-WebSocket-Accept` answer to a handshake's `Sec-WebSocket-Key`.
 *
 * @param key The request's key (base64 of 16 bytes).
 * @returns Base64 of SHA-1 of the key and the GUID.
 */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + HANDSHAKE_GUID),
  );
  let binary = "";
  for (const byte of new Uint8Array(digest)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * Whether a `Sec-WebSocket-Key` is what RFC 6455 asks: base64 of 16 bytes.
 *
 * @param key The header, or null.
 * @returns Whether it is.
 */
export function validKey(key: string | null): key is string {
  return key !== null && /^[A-Za-z0-9+/]{22}==$/.test(key);
}

/**
 * The header of an unmasked frame of `length` payload bytes.
 *
 * @param opcode The frame's opcode (final fragment).
 * @param length The payload's size.
 * @returns 2, 4 or 10 bytes.
 */
function frameHeader(opcode: number, length: number): Uint8Array {
  if (length < 126) return Uint8Array.of(0x80 | opcode, length);
  if (length < 0x10000) return Uint8Array.of(0x80 | opcode, 126, length >> 8, length & 0xff);
  const header = new Uint8Array(10);
  header[0] = 0x80 | opcode;
  header[1] = 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  return header;
}

/**
 * A whole text message: header and payload in one buffer.
 *
 * @param payload The message's UTF-8 bytes.
 * @returns The frame.
 */
export function textFrame(payload: Uint8Array): Uint8Array {
  return textFrameOf([payload]);
}

/**
 * One text message whose payload is `parts` one after another, in one
 * buffer (a batch of NDJSON lines: joined and framed in one copy).
 *
 * @param parts The payload's pieces, UTF-8.
 * @returns The frame.
 */
export function textFrameOf(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  return concatBytes(frameHeader(OP_TEXT, length), ...parts);
}

/**
 * A close frame.
 *
 * @param code The close code (1000…4999).
 * @param reason Why, cut to what fits a control frame.
 * @returns The frame.
 */
export function closeFrame(code: number, reason: string): Uint8Array {
  let text = new TextEncoder().encode(reason);
  while (text.length > MAX_CONTROL_BYTES - 2) {
    reason = reason.slice(0, -1);
    text = new TextEncoder().encode(reason);
  }
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return concatBytes(frameHeader(OP_CLOSE, payload.length), payload);
}

/**
 * A pong answering a ping.
 *
 * @param payload The ping's payload.
 * @returns The frame.
 */
export function pongFrame(payload: Uint8Array): Uint8Array {
  return concatBytes(frameHeader(OP_PONG, payload.length), payload);
}

/** What the reader makes of the bytes a peer sent. */
export type WireEvent =
  /** A whole text message, decoded (valid UTF-8). */
  | { readonly kind: "text"; readonly text: string }
  /** A whole binary message; only its size is kept. */
  | { readonly kind: "binary"; readonly size: number }
  /** A message whose declared size is over the limit; nothing more is read. */
  | { readonly kind: "too_big"; readonly size: number }
  /** A ping, to answer with its payload. */
  | { readonly kind: "ping"; readonly payload: Uint8Array }
  /** The peer's close frame (code 1005 when it gave none). */
  | { readonly kind: "close"; readonly code: number }
  /** Not RFC 6455 from a client, or text that is not UTF-8; nothing more is read. */
  | { readonly kind: "protocol_error"; readonly message: string };

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** The message of a text message that is not UTF-8. */
const NOT_UTF8 = "a text message must be UTF-8";

/** A text message read whole, its bytes unmasked but not yet decoded. */
interface PendingText {
  /** Where its event goes in the events of this push. */
  readonly index: number;
  readonly bytes: Uint8Array;
  /** It was one frame, unmasked into the run of such payloads at the push's start. */
  readonly inRun: boolean;
}

/**
 * Reads a client's frames from the bytes as they come, whatever their cut.
 *
 * The payloads of single-frame text messages (what a browser sends) are
 * unmasked in place, moved together to the front of the bytes, and decoded
 * in one go: one UTF-8 decode per read, not one per message, and no buffer
 * of their own (a fan-out's sender should cost the node per read, as a TCP
 * client's does).
 */
export class WireReader {
  readonly #maxMessageBytes: number;
  /** Bytes of a frame not read whole yet. */
  #buffer: Uint8Array = new Uint8Array(0);
  /** Opcode of the fragmented message in progress, and its parts. */
  #fragmented: { opcode: number; parts: Uint8Array[]; size: number } | undefined;
  #stopped = false;
  /** The push in progress: its bytes, where the next frame starts, where the run of texts ends. */
  #bytes: Uint8Array = new Uint8Array(0);
  #at = 0;
  #runEnd = 0;

  /**
   * @param maxMessageBytes The largest message (all its fragments) accepted.
   */
  constructor(maxMessageBytes: number) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  /**
   * Takes the next bytes read and returns the events they complete. After a
   * `too_big`, `protocol_error` or `close`, nothing more is read.
   *
   * @param chunk Bytes as read: unmasked in place (the caller may reuse the
   *   buffer once this returns; what is kept is copied).
   * @returns The events, in order.
   */
  push(chunk: Uint8Array): WireEvent[] {
    if (this.#stopped) return [];
    this.#bytes = this.#buffer.length === 0 ? chunk : concatBytes(this.#buffer, chunk);
    this.#at = 0;
    this.#runEnd = 0;
    const events: WireEvent[] = [];
    const texts: PendingText[] = [];
    while (!this.#stopped) {
      const event = this.#next(events.length);
      if (event === undefined) break;
      if (event === null) continue;
      if ("bytes" in event) {
        texts.push(event);
        events.push(undefined as unknown as WireEvent); // its place, filled in below
      } else events.push(event);
    }
    const rest = this.#bytes.subarray(this.#at);
    if (this.#stopped) this.#buffer = new Uint8Array(0);
    // The caller may reuse its buffer.
    else this.#buffer = rest.length > 0 && rest.buffer === chunk.buffer ? rest.slice() : rest;
    this.#bytes = new Uint8Array(0);
    return texts.length === 0 ? events : this.#decode(events, texts);
  }

  /**
   * Fills in the text events: the run of single-frame texts decoded at once
   * when it is ASCII (each byte one UTF-16 unit, so each message's text is
   * a slice at its byte offsets), otherwise each on its own; a text that is
   * not UTF-8 ends the events with a `protocol_error`.
   */
  #decode(events: WireEvent[], texts: PendingText[]): WireEvent[] {
    if (texts.length > 1 && texts.every((text) => text.inRun)) {
      const first = texts[0]!.bytes;
      const last = texts[texts.length - 1]!.bytes;
      const start = first.byteOffset;
      const run = new Uint8Array(first.buffer, start, last.byteOffset + last.length - start);
      const whole = decodeUtf8(run);
      if (whole !== undefined && whole.length === run.length) {
        for (const { index, bytes } of texts) {
          const from = bytes.byteOffset - start;
          events[index] = { kind: "text", text: whole.slice(from, from + bytes.length) };
        }
        return events;
      }
    }
    for (const { index, bytes } of texts) {
      const text = decodeUtf8(bytes);
      if (text === undefined) {
        this.#stopped = true;
        this.#buffer = new Uint8Array(0);
        this.#fragmented = undefined;
        events.length = index;
        events.push({ kind: "protocol_error", message: NOT_UTF8 });
        return events;
      }
      events[index] = { kind: "text", text };
    }
    return events;
  }

  /**
   * The next event: a text still to decode, null for a frame that makes
   * none, undefined when more bytes are needed.
   */
  #next(index: number): WireEvent | PendingText | null | undefined {
    const buffer = this.#bytes;
    const at = this.#at;
    const available = buffer.length - at;
    if (available < 2) return undefined;
    const fin = (buffer[at]! & 0x80) !== 0;
    const opcode = buffer[at]! & 0x0f;
    if ((buffer[at]! & 0x70) !== 0) return this.#stop("reserved bits set (no extension agreed)");
    if ((buffer[at + 1]! & 0x80) === 0) return this.#stop("a client's frame must be masked");
    let length = buffer[at + 1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (available < 4) return undefined;
      length = (buffer[at + 2]! << 8) | buffer[at + 3]!;
      offset = 4;
    } else if (length === 127) {
      if (available < 10) return undefined;
      const long = new DataView(buffer.buffer, buffer.byteOffset + at + 2, 8).getBigUint64(0);
      length = long > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(long);
      offset = 10;
    }
    const control = opcode >= 0x8;
    if (control && (!fin || length > MAX_CONTROL_BYTES)) {
      return this.#stop("a control frame must be whole and at most 125 bytes");
    }
    if (!control && opcode !== OP_CONTINUATION && opcode !== OP_TEXT && opcode !== OP_BINARY) {
      return this.#stop(`unknown opcode ${opcode}`);
    }
    if (opcode === OP_CONTINUATION && this.#fragmented === undefined) {
      return this.#stop("a continuation frame with no message to continue");
    }
    if ((opcode === OP_TEXT || opcode === OP_BINARY) && this.#fragmented !== undefined) {
      return this.#stop("a new message before the last one ended");
    }
    // A fragment counts at least MIN_FRAGMENT_BYTES: empty ones cost memory, not size.
    const fragment = !fin || opcode === OP_CONTINUATION;
    const counted = fragment ? Math.max(length, MIN_FRAGMENT_BYTES) : length;
    const messageSize = (this.#fragmented?.size ?? 0) + counted;
    if (!control && messageSize > this.#maxMessageBytes) {
      this.#stopped = true;
      return { kind: "too_big", size: messageSize };
    }
    if (available < offset + 4 + length) return undefined;
    const from = at + offset + 4;
    this.#at = from + length;
    if (opcode === OP_TEXT && fin) {
      // The usual message: unmasked into the run, after the texts before it.
      const to = this.#runEnd;
      unmask(buffer, from, length, to);
      this.#runEnd = to + length;
      return { index, bytes: buffer.subarray(to, to + length), inRun: true };
    }
    unmask(buffer, from, length, from);
    const payload = buffer.slice(from, from + length);
    if (control) return this.#control(opcode, payload);
    const fragmented = this.#fragmented ?? { opcode, parts: [], size: 0 };
    fragmented.parts.push(payload);
    fragmented.size += counted;
    if (!fin) {
      this.#fragmented = fragmented;
      return null;
    }
    this.#fragmented = undefined;
    if (fragmented.opcode === OP_BINARY) return { kind: "binary", size: fragmented.size };
    return { index, bytes: concatBytes(...fragmented.parts), inRun: false };
  }

  #control(opcode: number, payload: Uint8Array): WireEvent | null {
    if (opcode === OP_PING) return { kind: "ping", payload };
    if (opcode === OP_PONG) return null;
    this.#stopped = true;
    if (payload.length === 1) return this.#stop("a close frame's code takes two bytes");
    return { kind: "close", code: payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 1005 };
  }

  #stop(message: string): WireEvent {
    this.#stopped = true;
    return { kind: "protocol_error", message };
  }
}

/**
 * Unmasks the `length` payload bytes at `from` (the 4-byte key just before
 * them) and writes them at `to` (at most `from`: moving left, each byte is
 * read before it can be written over).
 */
function unmask(bytes: Uint8Array, from: number, length: number, to: number): void {
  const m0 = bytes[from - 4]!, m1 = bytes[from - 3]!, m2 = bytes[from - 2]!, m3 = bytes[from - 1]!;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    bytes[to + i] = bytes[from + i]! ^ m0;
    bytes[to + i + 1] = bytes[from + i + 1]! ^ m1;
    bytes[to + i + 2] = bytes[from + i + 2]! ^ m2;
    bytes[to + i + 3] = bytes[from + i + 3]! ^ m3;
  }
  // Up to three bytes left, at key positions 0, 1, 2.
  for (; i < length; i++) {
    bytes[to + i] = bytes[from + i]! ^ (i % 4 === 0 ? m0 : i % 4 === 1 ? m1 : m2);
  }
}

/** The text of UTF-8 bytes, or undefined when they are not UTF-8. */
function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}
