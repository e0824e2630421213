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
  /** A whole text message (UTF-8, not yet checked). */
  | { readonly kind: "text"; readonly bytes: Uint8Array }
  /** A whole binary message; only its size is kept. */
  | { readonly kind: "binary"; readonly size: number }
  /** A message whose declared size is over the limit; nothing more is read. */
  | { readonly kind: "too_big"; readonly size: number }
  /** A ping, to answer with its payload. */
  | { readonly kind: "ping"; readonly payload: Uint8Array }
  /** The peer's close frame (code 1005 when it gave none). */
  | { readonly kind: "close"; readonly code: number }
  /** Not RFC 6455 from a client; nothing more is read. */
  | { readonly kind: "protocol_error"; readonly message: string };

/** Reads a client's frames from the bytes as they come, whatever their cut. */
export class WireReader {
  readonly #maxMessageBytes: number;
  #buffer: Uint8Array = new Uint8Array(0);
  /** Opcode of the fragmented message in progress, and its parts. */
  #fragmented: { opcode: number; parts: Uint8Array[]; size: number } | undefined;
  #stopped = false;

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
   * @param chunk Bytes as read (copied when kept).
   * @returns The events, in order.
   */
  push(chunk: Uint8Array): WireEvent[] {
    if (this.#stopped) return [];
    this.#buffer = this.#buffer.length === 0 ? chunk : concatBytes(this.#buffer, chunk);
    const events: WireEvent[] = [];
    while (!this.#stopped) {
      const event = this.#next();
      if (event === undefined) break;
      if (event !== null) events.push(event);
    }
    if (this.#stopped) this.#buffer = new Uint8Array(0);
    else if (this.#buffer.length > 0 && this.#buffer.buffer === chunk.buffer) {
      this.#buffer = this.#buffer.slice(); // the caller may reuse its buffer
    }
    return events;
  }

  /** The next event, null for a frame that makes none, undefined when more bytes are needed. */
  #next(): WireEvent | null | undefined {
    const buffer = this.#buffer;
    if (buffer.length < 2) return undefined;
    const fin = (buffer[0]! & 0x80) !== 0;
    const opcode = buffer[0]! & 0x0f;
    if ((buffer[0]! & 0x70) !== 0) return this.#stop("reserved bits set (no extension agreed)");
    if ((buffer[1]! & 0x80) === 0) return this.#stop("a client's frame must be masked");
    let length = buffer[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (buffer.length < 4) return undefined;
      length = (buffer[2]! << 8) | buffer[3]!;
      offset = 4;
    } else if (length === 127) {
      if (buffer.length < 10) return undefined;
      const long = new DataView(buffer.buffer, buffer.byteOffset + 2, 8).getBigUint64(0);
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
    const messageSize = (this.#fragmented?.size ?? 0) + length;
    if (!control && messageSize > this.#maxMessageBytes) {
      this.#stopped = true;
      return { kind: "too_big", size: messageSize };
    }
    if (buffer.length < offset + 4 + length) return undefined;
    const mask = buffer.subarray(offset, offset + 4);
    const payload = buffer.slice(offset + 4, offset + 4 + length);
    for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
    this.#buffer = buffer.subarray(offset + 4 + length);
    if (control) return this.#control(opcode, payload);
    const fragmented = this.#fragmented ?? { opcode, parts: [], size: 0 };
    fragmented.parts.push(payload);
    fragmented.size += payload.length;
    if (!fin) {
      this.#fragmented = fragmented;
      return null;
    }
    this.#fragmented = undefined;
    if (fragmented.opcode === OP_BINARY) return { kind: "binary", size: fragmented.size };
    const bytes = fragmented.parts.length === 1
      ? fragmented.parts[0]!
      : concatBytes(...fragmented.parts);
    return { kind: "text", bytes };
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
