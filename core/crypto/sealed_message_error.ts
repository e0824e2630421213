// Copyright meshchat authors. All rights reserved.

/**
 * The one error a receiver catches when a sealed message cannot be shown.
 *
 * @module
 */

/**
 * Why a sealed message was refused. Stable: clients may map these to
 * protocol error codes or UI text.
 *
 * | code | meaning |
 * | --- | --- |
 * | `wrong_key` | the envelope's key id is not this key's: wrong passphrase (or the room was sealed again since) |
 * | `tampered` | right key, but the commitment or the GCM tag does not match: altered in transit |
 * | `bad_envelope` | not a well-formed envelope (encoding, lengths, limits) |
 * | `unsupported_version` | an envelope version or cipher suite this client does not know |
 * | `wrong_room` | the envelope was sealed for another room (spliced) |
 * | `bad_signature` | a signed (suite 2) message whose Ed25519 signature does not verify |
 * | `replay` | this (sender, session, seq) was already opened, or is too old to tell |
 */
export type SealedMessageErrorCode =
  | "wrong_key"
  | "tampered"
  | "bad_envelope"
  | "unsupported_version"
  | "wrong_room"
  | "bad_signature"
  | "replay";

/**
 * A sealed message that cannot be opened. The message is safe to show: it
 * names the room as the caller gave it and never echoes unchecked bytes
 * without escaping them.
 *
 * @example
 * ```ts
 * import { SealedMessageError } from "./sealed_message_error.ts";
 * const error = new SealedMessageError("wrong_key", "general", "wrong passphrase");
 * error.message; // "Cannot open sealed message in #general: wrong passphrase"
 * error.code; // "wrong_key"
 * ```
 */
export class SealedMessageError extends Error {
  /** Why the message was refused. */
  readonly code: SealedMessageErrorCode;
  /** The room the caller tried to open the message in. */
  readonly room: string;

  /**
   * Builds the error.
   *
   * @param code Why the message was refused.
   * @param room The room the caller expected (trusted, not from the envelope).
   * @param detail What went wrong, lower case, no final period.
   * @param options Standard error options (`cause`).
   */
  constructor(
    code: SealedMessageErrorCode,
    room: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      `Cannot open sealed message in ${roomLabel(room)}: ${detail}`,
      options,
    );
    this.name = "SealedMessageError";
    this.code = code;
    this.room = room;
  }
}

/**
 * Formats a room for a message: `#name`, without doubling a leading `#`,
 * with control characters escaped.
 *
 * @param room The room name.
 * @returns The label.
 *
 * @example
 * ```ts
 * import { roomLabel } from "./sealed_message_error.ts";
 * roomLabel("general"); // "#general"
 * ```
 */
export function roomLabel(room: string): string {
  const safe = printable(room);
  return safe.startsWith("#") ? safe : `#${safe}`;
}

/**
 * Makes untrusted text safe to put in an error message: control and escape
 * characters (C0, DEL, C1, bidi controls) become `\u{…}` escapes, and long
 * text is cut at 64 code units.
 *
 * @param text Text that may come from the network.
 * @returns A printable version.
 *
 * @example
 * ```ts
 * import { printable } from "./sealed_message_error.ts";
 * printable("a\x1b[2Jb"); // "a\\u{1b}[2Jb"
 * ```
 */
export function printable(text: string): string {
  const cut = text.length > 64 ? `${text.slice(0, 64)}…` : text;
  return cut.replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u{${c.charCodeAt(0).toString(16)}}`,
  );
}
