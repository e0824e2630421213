/**
 * Client protocol v1: the frames a node sends and accepts, and the one place
 * where untrusted client frames are validated into typed requests.
 *
 * Every frame is one JSON object per line with a `t` field. See README.md,
 * "Client protocol v1".
 *
 * @module
 */
import type { SealParams } from "./crypto/room_params.ts";
import type { ChatEvent, EventKind } from "./event.ts";
import { eventId } from "./event.ts";

/** The protocol version this node speaks. */
export const PROTOCOL_VERSION = 1;

/** Longest chat line a client may send, in UTF-16 code units. */
export const MAX_TEXT_LENGTH = 4000;

/**
 * Longest sealed envelope a `say` frame may carry, in characters (covers the
 * largest envelope `core/crypto` makes). A node's line limit (16 KiB by
 * default) is usually the tighter bound.
 */
export const MAX_SEALED_LENGTH = 24 * 1024;

/**
 * Most messages of history a client may ask for in its `hello` (`history`
 * field): the same bound as `/history`.
 */
export const MAX_HELLO_HISTORY = 500;

/** Longest public key line a `hello` may name (an RSA-16384 key's is about 2.8 KiB). */
const MAX_KEY_LINE_LENGTH = 8192;

/** Longest armored signature an `auth` frame may carry (an RSA-16384 one is about 6 KiB). */
const MAX_SIGNATURE_LENGTH = 16_384;

/** What a sealed envelope looks like on the wire: unpadded base64url. */
const SEALED_PATTERN = /^[A-Za-z0-9_-]+$/;

/** Stable error codes of `error` frames. */
export type ErrorCode =
  | "line_too_long"
  | "bad_utf8"
  | "bad_json"
  | "bad_frame"
  | "unknown_type"
  | "version"
  | "no_hello"
  | "already_hello"
  | "nick_taken"
  | "nick_invalid"
  | "room_invalid"
  | "not_in_room"
  /** The session is in as many rooms as a session may be (`--max-rooms-per-session`). */
  | "too_many_rooms"
  /** A new room on a node that holds `--max-rooms` rooms, none of which can expire. */
  | "rooms_full"
  | "empty_message"
  | "text_too_long"
  | "no_such_user"
  | "unknown_command"
  | "bad_args"
  | "rate_limited"
  | "forbidden"
  | "overflow"
  /** Connection limits (node/frontends/connection_limits.ts): this address has too many open. */
  | "too_many_connections"
  /** Connection limits: the node has as many connections as it takes. */
  | "server_full"
  /** A repeat offender, refused for a cooling-off period. */
  | "refused"
  /** Nothing was received for the idle timeout. */
  | "idle_timeout"
  /** The connection sent more bytes per minute than allowed. */
  | "flood"
  /** Plain text on a client port that takes only TLS (`--client-tls required`). */
  | "tls_required"
  | "shutdown"
  | "server_error"
  /** Plain text was sent to a sealed room: it must be sealed by the client. */
  | "room_sealed"
  /** A sealed envelope was sent to a room that is not sealed. */
  | "not_sealed"
  /** The room is already sealed with other parameters. */
  | "already_sealed"
  /** A sealed envelope is malformed or names another room or sender. */
  | "bad_envelope"
  /** The person (nick, SSH key or address) is banned from the chat. */
  | "banned"
  /** The person is muted: their messages are refused. */
  | "muted"
  /** The key a `hello` named could not be proven (bad or missing signature, weak key). */
  | "auth_failed";

/** A chat event as clients see it. */
export interface MsgFrame {
  readonly t: "msg";
  /** Event id, `origin:seq`. */
  readonly id: string;
  /** Wall-clock milliseconds of the event's hybrid clock stamp. */
  readonly time: number;
  readonly room: string;
  readonly kind: EventKind;
  readonly from: string;
  readonly to?: string;
  readonly text: string;
  readonly sealed?: string;
}

/** Everything a node sends to a client. */
export type ServerFrame =
  | {
    readonly t: "welcome";
    readonly v: number;
    readonly node: string;
    readonly nick: string;
    readonly room: string;
    readonly rooms: readonly string[];
    readonly topic: string;
    /** The room's seal parameters when it is sealed (end-to-end encrypted). */
    readonly sealed?: SealParams;
    readonly history: readonly MsgFrame[];
    /**
     * True when this history reaches back to the oldest event the node still
     * holds for the room and older ones were evicted (history budget or log
     * capacity): older history is gone from this node. Absent otherwise.
     */
    readonly olderGone?: boolean;
    /** The cluster's message of the day, when one is set. */
    readonly motd?: string;
  }
  | {
    readonly t: "joined";
    readonly room: string;
    readonly topic: string;
    /** The room's seal parameters when it is sealed (end-to-end encrypted). */
    readonly sealed?: SealParams;
    readonly history: readonly MsgFrame[];
    /**
     * True when this history (as in `welcome`) reaches back to the oldest event the node still
     * holds for the room and older ones were evicted (history budget or log
     * capacity): older history is gone from this node. Absent otherwise.
     */
    readonly olderGone?: boolean;
  }
  /**
   * A room the session is in was sealed (or its seal changed, when a
   * concurrent earlier seal from another node won): these are its parameters
   * from now on.
   */
  | { readonly t: "sealed"; readonly room: string; readonly params: SealParams }
  | {
    readonly t: "history";
    readonly room: string;
    readonly history: readonly MsgFrame[];
    /** As in `welcome`: older history of the room is gone from this node. */
    readonly olderGone?: boolean;
  }
  /** `current` is the room plain lines now go to (`""` when none). */
  | { readonly t: "left"; readonly room: string; readonly current: string }
  | { readonly t: "nick"; readonly nick: string }
  | MsgFrame
  /** `id` is absent when the line was a command rather than a message. */
  | { readonly t: "ack"; readonly cid: string; readonly id?: string }
  | {
    readonly t: "info";
    readonly cmd: string;
    readonly lines: readonly string[];
    readonly data?: unknown;
  }
  | {
    readonly t: "error";
    readonly code: ErrorCode;
    readonly message: string;
    readonly cid?: string;
  }
  | { readonly t: "pong" }
  /**
   * The answer to a `hello` that names a key: sign `meshchat-login NODE
   * NONCE` in `namespace` with it and send `auth` (core/login_proof.ts).
   */
  | {
    readonly t: "challenge";
    readonly node: string;
    readonly nonce: string;
    readonly namespace: string;
  }
  | {
    readonly t: "bye";
    readonly reason: string;
    /** Set when an operator kicked or banned the person: clients should not reconnect on their own. */
    readonly expelled?: boolean;
  };

/** A validated client request. */
export type ClientFrame =
  | {
    readonly t: "hello";
    readonly v: number;
    readonly user: string;
    readonly room?: string;
    /**
     * Most messages of history the `welcome` and every later `joined` reply
     * of this connection carry: an integer from 0 (none, for bots) to
     * {@linkcode MAX_HELLO_HISTORY}. Absent: the node's default (50). A
     * reply may still carry fewer, when more would not fit the reader's
     * output queue; `/history` asks for older messages at any time.
     */
    readonly history?: number;
    /**
     * An OpenSSH public key line (`ssh-ed25519 AAAA…`) the client will prove
     * it holds: the node answers `challenge`, and the `welcome` waits for
     * the `auth` frame. Absent: a guest.
     */
    readonly key?: string;
  }
  /** The answer to a `challenge`: an armored SSH signature (core/login_proof.ts). */
  | { readonly t: "auth"; readonly signature: string }
  | {
    readonly t: "say";
    readonly room?: string;
    /** The line; `""` when `sealed` is given. */
    readonly text: string;
    /** A sealed envelope (base64url) sent instead of `text`, for sealed rooms. */
    readonly sealed?: string;
    /** For sealed lines only: `"action"` for `/me`. @default "message" */
    readonly kind?: "message" | "action";
    readonly cid?: string;
  }
  /** With a `cid`, the node answers `ack` (or an `error` carrying the cid). */
  | { readonly t: "cmd"; readonly room?: string; readonly line: string; readonly cid?: string }
  | { readonly t: "ping" };

/**
 * A failure that becomes an `error` frame. Hub and frontends throw it;
 * `errorFrame` in node/frontends/handle_line.ts, the one mapping for every
 * frontend, turns it into protocol output with its code and message.
 */
export class ProtocolError extends Error {
  /** The stable code clients can match on. */
  readonly code: ErrorCode;

  /**
   * @param code Stable error code.
   * @param message Readable message, sentence case, no final period.
   * @param options Standard error options (`cause`).
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
    this.code = code;
  }
}

/**
 * Renders an event as the frame clients receive.
 *
 * @param event The event.
 * @returns Its `msg` frame.
 */
export function toMsgFrame(event: ChatEvent): MsgFrame {
  const frame: {
    -readonly [K in keyof MsgFrame]: MsgFrame[K];
  } = {
    t: "msg",
    id: eventId(event),
    time: event.hlc.wall,
    room: event.room,
    kind: event.kind,
    from: event.from,
    text: event.text,
  };
  if (event.to !== undefined) frame.to = event.to;
  if (event.sealed !== undefined) frame.sealed = event.sealed;
  return frame;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(
  frame: Record<string, unknown>,
  field: string,
  max: number,
): string | undefined {
  if (!Object.hasOwn(frame, field) || frame[field] === undefined) {
    return undefined;
  }
  return requiredString(frame, field, max);
}

function requiredString(
  frame: Record<string, unknown>,
  field: string,
  max: number,
): string {
  const value = Object.hasOwn(frame, field) ? frame[field] : undefined;
  if (typeof value !== "string") {
    throw new ProtocolError(
      "bad_frame",
      `Invalid ${String(frame.t)} frame: field "${field}" must be a string`,
    );
  }
  if (value.length > max) {
    throw new ProtocolError(
      field === "text" ? "text_too_long" : "bad_frame",
      `Invalid ${
        String(frame.t)
      } frame: field "${field}" is ${value.length} characters, maximum ${max}`,
    );
  }
  return value;
}

/**
 * Validates one decoded JSON value as a client frame. Only known fields are
 * read, with `Object.hasOwn`, so `__proto__` and other extras are ignored.
 *
 * @param value Parsed JSON from the wire.
 * @returns The typed frame.
 * @throws {ProtocolError} `bad_frame`, `unknown_type` or `text_too_long`.
 */
export function parseClientFrame(value: unknown): ClientFrame {
  if (!isRecord(value)) {
    throw new ProtocolError("bad_frame", "Invalid frame: expected a JSON object");
  }
  const type = Object.hasOwn(value, "t") ? value.t : undefined;
  if (typeof type !== "string") {
    throw new ProtocolError(
      "bad_frame",
      'Invalid frame: field "t" must be a string',
    );
  }
  switch (type) {
    case "hello": {
      const v = Object.hasOwn(value, "v") ? value.v : undefined;
      if (typeof v !== "number" || !Number.isInteger(v)) {
        throw new ProtocolError(
          "bad_frame",
          'Invalid hello frame: field "v" must be an integer',
        );
      }
      const user = requiredString(value, "user", 64);
      const room = optionalString(value, "room", 64);
      const history = Object.hasOwn(value, "history") ? value.history : undefined;
      if (
        history !== undefined &&
        (typeof history !== "number" || !Number.isInteger(history) || history < 0 ||
          history > MAX_HELLO_HISTORY)
      ) {
        throw new ProtocolError(
          "bad_frame",
          `Invalid hello frame: field "history" must be an integer from 0 to ${MAX_HELLO_HISTORY}`,
        );
      }
      const key = optionalString(value, "key", MAX_KEY_LINE_LENGTH);
      return {
        t: type,
        v,
        user,
        ...(room === undefined ? {} : { room }),
        ...(history === undefined ? {} : { history }),
        ...(key === undefined ? {} : { key }),
      };
    }
    case "auth":
      return { t: type, signature: requiredString(value, "signature", MAX_SIGNATURE_LENGTH) };
    case "say": {
      const sealed = optionalString(value, "sealed", MAX_SEALED_LENGTH);
      const text = sealed === undefined
        ? requiredString(value, "text", MAX_TEXT_LENGTH)
        : optionalString(value, "text", MAX_TEXT_LENGTH) ?? "";
      if (sealed !== undefined && text !== "") {
        throw new ProtocolError(
          "bad_frame",
          'Invalid say frame: field "text" must be empty when "sealed" is given',
        );
      }
      const room = optionalString(value, "room", 64);
      const cid = optionalString(value, "cid", 64);
      const kind = optionalString(value, "kind", 16);
      if (sealed !== undefined && !SEALED_PATTERN.test(sealed)) {
        throw new ProtocolError(
          "bad_envelope",
          'Invalid say frame: field "sealed" must be a base64url envelope',
        );
      }
      if (
        kind !== undefined && (sealed === undefined || (kind !== "message" && kind !== "action"))
      ) {
        throw new ProtocolError(
          "bad_frame",
          'Invalid say frame: field "kind" is "message" or "action", and only with "sealed" (use /me otherwise)',
        );
      }
      return {
        t: type,
        text,
        ...(sealed === undefined ? {} : { sealed }),
        ...(kind === undefined ? {} : { kind }),
        ...(room === undefined ? {} : { room }),
        ...(cid === undefined ? {} : { cid }),
      };
    }
    case "cmd": {
      const line = requiredString(value, "line", MAX_TEXT_LENGTH);
      const room = optionalString(value, "room", 64);
      const cid = optionalString(value, "cid", 64);
      return {
        t: type,
        line,
        ...(room === undefined ? {} : { room }),
        ...(cid === undefined ? {} : { cid }),
      };
    }
    case "ping":
      return { t: type };
    default:
      throw new ProtocolError(
        "unknown_type",
        `Unknown frame type "${type.slice(0, 32)}": expected hello, auth, say, cmd or ping`,
      );
  }
}
