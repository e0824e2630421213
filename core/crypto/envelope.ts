// Copyright meshchat authors. All rights reserved.

/**
 * Sealed message envelopes: one chat message encrypted with AES-256-GCM
 * under a one-message key derived from the room key, as a compact string
 * that nodes store and replicate without being able to read it.
 *
 * ## Envelope format, version 2
 *
 * The string is the unpadded base64url (RFC 4648 §5) encoding of these
 * bytes; integers are unsigned big-endian, strings UTF-8:
 *
 * | offset | bytes | field |
 * | --- | --- | --- |
 * | 0 | 1 | version, `0x02` |
 * | 1 | 1 | cipher suite, `0x01` or `0x02` (below) |
 * | 2 | 1 | `R`, room name length, 1–255 |
 * | 3 | R | room name (without `#`) |
 * | … | 1 | `S`, sender length, 1–255 |
 * | … | S | sender (the nick the sender sealed under) |
 * | … | 1 | `N`, session id length, 1–255 |
 * | … | N | sender session id |
 * | … | 8 | seq: per-session counter, 1 to 2^53 − 1 |
 * | … | 8 | send time, ms since the Unix epoch, 0 to 2^53 − 1 |
 * | … | 8 | room key id ({@linkcode RoomKey.id}) |
 * | … | 24 | nonce, random |
 * | … | 32 | key commitment |
 * | … | L + 16 | AES-256-GCM ciphertext of the L-byte plaintext, then the 16-byte tag |
 *
 * The plaintext is the UTF-8 text (suite 1), or, in suite 2, the signer's
 * 32-byte Ed25519 public key, the 64-byte signature, then the UTF-8 text.
 *
 * Everything up to the ciphertext (the header, key id, nonce and commitment)
 * is the GCM associated data, so every byte of the envelope is
 * authenticated. Parsing is strict (exact lengths, fatal UTF-8, canonical
 * base64url), so a header has exactly one encoding: the associated data is a
 * canonical encoding of (version, suite, room, sender, session, seq, time).
 * The header is readable without the key ({@linkcode readEnvelopeHeader}):
 * nodes see who sent what when, in which room, but not the text.
 *
 * ## Suite 1
 *
 * - Room key `K` = Argon2id(NFC passphrase, room salt, m, t, p), 32 bytes
 *   (see {@linkcode deriveRoomKey}); key id = HKDF-SHA-256(K, salt = "",
 *   info = "meshchat/v1 key id")[0..8].
 * - Per message: nonce = 24 random bytes; HKDF-SHA-256(K, salt = "",
 *   info = "meshchat/v1 msg" ‖ nonce) → 64 bytes: bytes 0–31 the
 *   AES-256-GCM key, bytes 32–63 the commitment. With the nonce in `info`,
 *   HKDF's extract step is the same for every message of a room and runs
 *   once per room key. K is already uniformly random (Argon2id output), so
 *   the empty salt costs nothing (RFC 5869 §3.1).
 * - Version 1 (until November 2026) put the nonce in HKDF's salt; its
 *   envelopes are refused as an unknown version rather than misreported as
 *   tampered.
 * - HKDF and AES-GCM run in WebAssembly (BearSSL's constant-time code, see
 *   `symmetric.ts`), synchronously: no Web Crypto round trips.
 * - AES-GCM IV = 12 zero bytes. Safe because each AES key encrypts exactly
 *   one message: keys come from a 192-bit random nonce, so two messages
 *   share a key (and so an IV) only if their nonces collide, about 2^-96
 *   after 2^48 messages. This is the "derive a key per nonce" construction
 *   (as in XChaCha20 or AES-GCM-SIV's key derivation) and also lifts GCM's
 *   2^32-messages-per-key limit.
 * - The commitment is compared (constant time) before decrypting. GCM alone
 *   is not key-committing: one ciphertext can be made to open under two keys
 *   ("invisible salamanders"). With the 256-bit HKDF commitment, finding a
 *   ciphertext that opens under two passphrases needs an HKDF collision.
 *
 * ## Suite 2: suite 1 + Ed25519 sender signature
 *
 * Same as suite 1, with the plaintext prefixed by the sender's Ed25519
 * public key and signature (see {@linkcode SenderIdentity}). The signature
 * covers `UTF-8("meshchat/v1 sig") ‖ every envelope byte before the
 * ciphertext ‖ UTF-8(text)`: room, sender, session, seq, time, key id, nonce
 * and commitment, so it cannot be moved to another message, room or
 * envelope. Key and signature are encrypted: nodes cannot tell who signed.
 * Receivers pin the key per sender nick on first use
 * ({@linkcode SignerPins}); `verified` means "signed with the key this
 * client first saw for this nick". Without a signature, the sender field
 * only says which passphrase holder claims to have written it.
 *
 * ## How a refusal is classified
 *
 * Checks run in this order; the first failure decides the
 * {@linkcode SealedMessageErrorCode}:
 *
 * 1. size, base64url, version, suite, field lengths → `bad_envelope` /
 *    `unsupported_version`;
 * 2. room ≠ the expected room → `wrong_room` (a spliced envelope);
 * 3. key id ≠ this key's → `wrong_key` ("wrong passphrase");
 * 4. commitment ≠ HKDF output for this nonce → `tampered`;
 * 5. GCM tag fails → `tampered`;
 * 6. suite 2 signature does not verify → `bad_signature`;
 * 7. the replay guard refuses (signer, sender, session, seq) → `replay`.
 *
 * Splitting 3 from 4 is why the key id exists: with the commitment alone, a
 * wrong passphrase and an altered nonce would look the same. Anyone who can
 * rewrite envelopes can of course rewrite the key id and get a "wrong
 * passphrase" report instead of "tampered"; either way nothing is shown.
 *
 * @module
 */

import { decodeBase64, encodeBase64, encodeHex } from "./_base64.ts";
import type { ReplayGuard } from "./replay_guard.ts";
import { COMMITMENT_BYTES, KEY_ID_BYTES, MESSAGE_NONCE_BYTES, type RoomKey } from "./room_key.ts";
import { printable, SealedMessageError } from "./sealed_message_error.ts";
import {
  type SenderIdentity,
  SIGNATURE_BYTES,
  SIGNER_KEY_BYTES,
  verifySignature,
} from "./sender_identity.ts";
import type { SignerPins, SignerTrust } from "./signer_pins.ts";
import { aesGcmOpen, aesGcmSeal } from "./symmetric.ts";

/** The envelope version this module writes and reads. */
export const ENVELOPE_VERSION = 2;

/**
 * Cipher suite 1: Argon2id room key, HKDF-SHA-256 per-message key and
 * commitment, AES-256-GCM with a zero IV.
 */
export const ENVELOPE_SUITE = 1;

/** Cipher suite 2: suite 1 plus an Ed25519 signature by the sender. */
export const ENVELOPE_SUITE_SIGNED = 2;

/** Largest message text, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 16_384;

/** Longest header string (room, sender, session), in UTF-8 bytes. */
export const MAX_FIELD_BYTES = 255;

const TAG_BYTES = 16;
const FIXED_TAIL = 8 + 8 + KEY_ID_BYTES + MESSAGE_NONCE_BYTES +
  COMMITMENT_BYTES;
const SIGNED_PREFIX = SIGNER_KEY_BYTES + SIGNATURE_BYTES;
const MAX_ENVELOPE_BYTES = 2 + 3 * (1 + MAX_FIELD_BYTES) + FIXED_TAIL +
  SIGNED_PREFIX + MAX_TEXT_BYTES + TAG_BYTES;
const SIGNATURE_CONTEXT = new TextEncoder().encode("meshchat/v1 sig");

/** Longest envelope string {@linkcode openMessage} will look at. */
export const MAX_ENVELOPE_LENGTH = Math.ceil(MAX_ENVELOPE_BYTES * 4 / 3);

const ZERO_IV = new Uint8Array(12);
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The public, authenticated part of a sealed message. */
export interface EnvelopeHeader {
  /** Room name, without `#`. */
  room: string;
  /** The sender's nick as they sealed it. */
  sender: string;
  /** The sender's session id: random, never reused across sessions. */
  session: string;
  /** Counter within (sender, session): 1, 2, 3… */
  seq: number;
  /** Send time, ms since the Unix epoch, from the sender's injected clock. */
  time: number;
}

/** What {@linkcode sealMessage} seals: a header and the text. */
export interface PlainMessage extends EnvelopeHeader {
  /** The message text; lone surrogates become U+FFFD. */
  text: string;
}

/** What {@linkcode readEnvelopeHeader} can tell without the key. */
export interface EnvelopeInfo extends EnvelopeHeader {
  /** Envelope version. */
  version: number;
  /** Cipher suite. */
  suite: number;
  /** Id of the room key it was sealed with (16 hex digits). */
  keyId: string;
}

/** A message that {@linkcode openMessage} authenticated and decrypted. */
export interface OpenedMessage extends EnvelopeHeader {
  /**
   * The text. Authenticated as written by someone who knows the passphrase,
   * not as safe: strip control and escape sequences before display.
   */
  text: string;
  /** Id of the room key that opened it. */
  keyId: string;
  /** The signer's Ed25519 public key (base64url), or `null` if unsigned. */
  signer: string | null;
  /** How the signer's key relates to this client's pins. */
  trust: SignerTrust;
  /**
   * Signed with the key pinned for this sender (or pinned now, on first
   * use): `trust` is `"trusted"` or `"first_use"`.
   */
  verified: boolean;
  /**
   * Whether a later message of the same (sender, session) was opened first.
   * Always `false` without a replay guard.
   */
  reordered: boolean;
}

/** Options of {@linkcode openMessage}. */
export interface OpenMessageOptions {
  /**
   * The room the message is being shown in (from the event, not the
   * envelope). Required: an envelope sealed for another room is refused.
   */
  room: string;
  /**
   * Refuses a (sender, session, seq) that was already opened or is too old,
   * and records the ones it accepts. Use one guard per room. Without one, no
   * replay check is done.
   */
  replayGuard?: ReplayGuard;
  /**
   * Signer pins to check signed (suite 2) messages against, pinning new
   * senders on first use. Without them, signed messages are `"unpinned"`
   * and never `verified`.
   */
  pins?: SignerPins;
  /**
   * Whether a signer seen for the first time is pinned. Pass `false` for a
   * message the caller distrusts (one a node may have replayed): its key is
   * then only compared with an existing pin, and an unknown key comes back
   * `"unpinned"`, so a replay cannot plant a pin.
   *
   * @default {true}
   */
  pinFirstUse?: boolean;
}

/** Options of {@linkcode sealMessage}. */
export interface SealMessageOptions {
  /**
   * Signs the message (suite 2) so receivers can show the sender as
   * verified.
   */
  identity?: SenderIdentity;
}

/**
 * A {@linkcode SyntaxError} for an envelope that cannot be parsed.
 */
export class EnvelopeSyntaxError extends SyntaxError {
  /** `"unsupported_version"` for an unknown version or suite, else `"bad_envelope"`. */
  readonly code: "bad_envelope" | "unsupported_version";
  /** Byte offset (or character offset, for base64url errors) of the problem. */
  readonly offset: number;
  /** What went wrong, as used in {@linkcode SealedMessageError} messages. */
  readonly detail: string;

  /**
   * Builds the error.
   *
   * @param code The refusal code.
   * @param detail What went wrong.
   * @param offset Where.
   * @param options Standard error options (`cause`).
   */
  constructor(
    code: "bad_envelope" | "unsupported_version",
    detail: string,
    offset: number,
    options?: ErrorOptions,
  ) {
    super(`Cannot read sealed envelope: ${detail}`, options);
    this.name = "EnvelopeSyntaxError";
    this.code = code;
    this.detail = detail;
    this.offset = offset;
  }
}

/**
 * Seals one message. Draws a fresh 24-byte nonce from
 * `crypto.getRandomValues`; never reuse (session, seq) pairs — receivers
 * with a replay guard drop the second one.
 *
 * @param key The room key.
 * @param message The header fields and text.
 * @param options A signing identity, to seal with suite 2.
 * @returns The envelope string (base64url, about 4/3 × (110 + names + text)
 * characters).
 * @throws {TypeError} If a field has the wrong type.
 * @throws {RangeError} If a name is empty, longer than 255 UTF-8 bytes or not
 * well-formed Unicode, seq or time is out of range, or the text is longer
 * than {@linkcode MAX_TEXT_BYTES}.
 *
 * @example
 * ```ts
 * import { openMessage, RoomKey, sealMessage } from "./mod.ts";
 * const key = RoomKey.fromBytes(new Uint8Array(32)); // use deriveRoomKey
 * const envelope = await sealMessage(key, {
 *   room: "general", sender: "ada", session: "s1", seq: 1, time: 1_700_000_000_000,
 *   text: "hello",
 * });
 * const opened = await openMessage(key, envelope, { room: "general" });
 * opened.text; // "hello"
 * ```
 */
export async function sealMessage(
  key: RoomKey,
  message: PlainMessage,
  options: SealMessageOptions = {},
): Promise<string> {
  const { identity } = options;
  if (typeof message !== "object" || message === null) {
    throw new TypeError("Cannot seal message: expected a message object");
  }
  const room = encodeField("room", message.room);
  const sender = encodeField("sender", message.sender);
  const session = encodeField("session", message.session);
  checkSeq(message.seq);
  checkTime(message.time);
  if (typeof message.text !== "string") {
    throw new TypeError(
      `Cannot seal message: text must be a string, got ${typeof message.text}`,
    );
  }
  const text = encoder.encode(message.text);
  if (text.length > MAX_TEXT_BYTES) {
    throw new RangeError(
      `Cannot seal message: text of ${text.length} bytes exceeds maximum ${MAX_TEXT_BYTES}`,
    );
  }

  const prefixLength = 2 + 3 + room.length + sender.length + session.length +
    FIXED_TAIL;
  const plainLength = (identity === undefined ? 0 : SIGNED_PREFIX) +
    text.length;
  const out = new Uint8Array(prefixLength + plainLength + TAG_BYTES);
  const view = new DataView(out.buffer);
  let o = 0;
  out[o++] = ENVELOPE_VERSION;
  out[o++] = identity === undefined ? ENVELOPE_SUITE : ENVELOPE_SUITE_SIGNED;
  for (const field of [room, sender, session]) {
    out[o++] = field.length;
    out.set(field, o);
    o += field.length;
  }
  writeUint53(view, o, message.seq);
  writeUint53(view, o + 8, message.time);
  o += 16;
  out.set(key.idBytes(), o);
  o += KEY_ID_BYTES;
  const nonce = crypto.getRandomValues(new Uint8Array(MESSAGE_NONCE_BYTES));
  out.set(nonce, o);
  o += MESSAGE_NONCE_BYTES;
  const messageKey = key.deriveMessageKey(nonce);
  out.set(messageKey.commitment, o);
  o += COMMITMENT_BYTES;

  let plain: Uint8Array<ArrayBuffer> = text;
  if (identity !== undefined) {
    plain = new Uint8Array(plainLength);
    plain.set(identity.publicKeyBytes(), 0);
    plain.set(
      await identity.sign(signedData(out.subarray(0, o), text)),
      SIGNER_KEY_BYTES,
    );
    plain.set(text, SIGNED_PREFIX);
  }

  try {
    out.set(aesGcmSeal(messageKey.key, ZERO_IV, plain, out.subarray(0, o)), o);
  } finally {
    messageKey.key.fill(0);
  }
  return encodeBase64(out, "base64url");
}

/**
 * Opens one envelope: checks it was sealed for `options.room` under this
 * key and not altered, decrypts it, and (with a replay guard) refuses
 * replays. Never returns unauthenticated text; every refusal is a
 * {@linkcode SealedMessageError} whose `code` says why (see the module doc
 * for the order of checks).
 *
 * @param key The room key.
 * @param envelope The envelope string, as received.
 * @param options The expected room, and optionally a replay guard.
 * @returns The authenticated header fields and text.
 * @throws {SealedMessageError} If the message cannot be opened, for example
 * `Cannot open sealed message in #general: wrong passphrase`.
 *
 * @example
 * ```ts
 * import {
 *   openMessage,
 *   ReplayGuard,
 *   RoomKey,
 *   SealedMessageError,
 *   sealMessage,
 * } from "./mod.ts";
 * const key = RoomKey.fromBytes(new Uint8Array(32)); // use deriveRoomKey
 * const envelope = await sealMessage(key, {
 *   room: "general", sender: "ada", session: "s1", seq: 1, time: 0, text: "hi",
 * });
 * const guard = new ReplayGuard(); // one per room
 * try {
 *   const msg = await openMessage(key, envelope, { room: "general", replayGuard: guard });
 *   console.log(`<${msg.sender}> ${msg.text}`);
 * } catch (error) {
 *   if (!(error instanceof SealedMessageError)) throw error;
 *   console.log(error.message); // shown in place of the message
 * }
 * ```
 */
export async function openMessage(
  key: RoomKey,
  envelope: string,
  options: OpenMessageOptions,
): Promise<OpenedMessage> {
  const { room, replayGuard, pins, pinFirstUse = true } = options;
  if (typeof room !== "string") {
    throw new TypeError(
      `Cannot open sealed message: expected room must be a string, got ${typeof room}`,
    );
  }
  let parsed: ParsedEnvelope;
  try {
    parsed = parseEnvelope(envelope);
  } catch (error) {
    if (error instanceof EnvelopeSyntaxError) {
      throw new SealedMessageError(error.code, room, error.detail, {
        cause: error,
      });
    }
    throw error;
  }
  const { header, suite, bytes, keyIdAt, ciphertextAt } = parsed;

  if (header.room !== room) {
    throw new SealedMessageError(
      "wrong_room",
      room,
      `envelope was sealed for #${printable(header.room)}`,
    );
  }
  const expectedId = key.idBytes();
  const idAt = keyIdAt;
  for (let i = 0; i < KEY_ID_BYTES; i++) {
    if (bytes[idAt + i] !== expectedId[i]) {
      throw new SealedMessageError("wrong_key", room, "wrong passphrase");
    }
  }
  const nonceAt = idAt + KEY_ID_BYTES;
  const commitmentAt = nonceAt + MESSAGE_NONCE_BYTES;
  const messageKey = key.deriveMessageKey(bytes.subarray(nonceAt, commitmentAt));
  if (
    !equalConstantTime(
      messageKey.commitment,
      bytes.subarray(commitmentAt, ciphertextAt),
    )
  ) {
    throw new SealedMessageError(
      "tampered",
      room,
      "key commitment does not match (envelope altered)",
    );
  }

  let plain: Uint8Array<ArrayBuffer> | null;
  try {
    plain = aesGcmOpen(
      messageKey.key,
      ZERO_IV,
      bytes.subarray(ciphertextAt),
      bytes.subarray(0, ciphertextAt),
    );
  } finally {
    messageKey.key.fill(0);
  }
  if (plain === null) {
    throw new SealedMessageError(
      "tampered",
      room,
      "authentication tag does not match (envelope altered)",
    );
  }
  let signer: string | null = null;
  if (suite === ENVELOPE_SUITE_SIGNED) {
    if (plain.length < SIGNED_PREFIX) {
      throw new SealedMessageError(
        "bad_envelope",
        room,
        "signed message is too short for its signature",
      );
    }
    const publicKey = plain.slice(0, SIGNER_KEY_BYTES);
    const signature = plain.slice(SIGNER_KEY_BYTES, SIGNED_PREFIX);
    plain = plain.subarray(SIGNED_PREFIX);
    const valid = await verifySignature(
      publicKey,
      signature,
      signedData(bytes.subarray(0, ciphertextAt), plain),
    );
    if (!valid) {
      throw new SealedMessageError(
        "bad_signature",
        room,
        `signature of ${printable(header.sender)} does not verify`,
      );
    }
    signer = encodeBase64(publicKey, "base64url");
  }
  let text: string;
  try {
    text = decoder.decode(plain);
  } catch (cause) {
    throw new SealedMessageError(
      "bad_envelope",
      room,
      "text is not valid UTF-8",
      { cause },
    );
  }

  let reordered = false;
  if (replayGuard !== undefined) {
    const verdict = replayGuard.accept(
      streamId(signer, header.sender, header.session),
      header.seq,
    );
    if (verdict === "replay" || verdict === "too_old") {
      throw new SealedMessageError(
        "replay",
        room,
        `${
          verdict === "replay" ? "replayed" : "too old to check for replay"
        }: seq ${header.seq} of ${printable(header.sender)} session ${printable(header.session)}`,
      );
    }
    reordered = verdict === "reordered";
  }
  // Pin only what is about to be shown: signed, decoded, not a replay.
  const trust: SignerTrust = signer === null
    ? "unsigned"
    : pins === undefined
    ? "unpinned"
    : pinFirstUse
    ? pins.check(header.sender, signer)
    : compareWithPin(pins.get(header.sender), signer);
  return {
    ...header,
    text,
    keyId: encodeHex(expectedId),
    signer,
    trust,
    verified: trust === "trusted" || trust === "first_use",
    reordered,
  };
}

/**
 * Reads an envelope's public header without the key: who sealed it, when,
 * for which room, under which key id. Nothing here is authenticated until
 * {@linkcode openMessage} succeeds.
 *
 * @param envelope The envelope string.
 * @returns The header, version, suite and key id.
 * @throws {EnvelopeSyntaxError} If it is not a well-formed version 2
 * envelope (`code` is `"unsupported_version"` for another version or suite).
 *
 * @example
 * ```ts
 * import { readEnvelopeHeader } from "./envelope.ts";
 * const envelope =
 *   "AQEHZ2VuZXJhbANhZGECczEAAAAAAAAAAQAAAYvP5WgA8Y5z1v2LQ8U04l56giBce46J75Lv-QEYLyFA0T4JEgqUiREitEftngwbzsw3I42CI8Jnby9kWfbBsz23K3oxzaLb8CbNf0LXB4RUApWsbkZ1FsXrlz8RKG4-ikywvG_rhfHp";
 * const { sender, seq, keyId } = readEnvelopeHeader(envelope);
 * // "ada", 1, "f18e73d6fd8b43c5"
 * ```
 */
export function readEnvelopeHeader(envelope: string): EnvelopeInfo {
  const { header, suite, bytes, keyIdAt } = parseEnvelope(envelope);
  return {
    version: ENVELOPE_VERSION,
    suite,
    ...header,
    keyId: encodeHex(bytes.subarray(keyIdAt, keyIdAt + KEY_ID_BYTES)),
  };
}

interface ParsedEnvelope {
  header: EnvelopeHeader;
  suite: number;
  bytes: Uint8Array<ArrayBuffer>;
  keyIdAt: number;
  ciphertextAt: number;
}

function parseEnvelope(envelope: string): ParsedEnvelope {
  if (typeof envelope !== "string") {
    throw new EnvelopeSyntaxError(
      "bad_envelope",
      `envelope must be a string, got ${typeof envelope}`,
      0,
    );
  }
  if (envelope.length > MAX_ENVELOPE_LENGTH) {
    throw new EnvelopeSyntaxError(
      "bad_envelope",
      `envelope length ${envelope.length} exceeds maximum ${MAX_ENVELOPE_LENGTH}`,
      MAX_ENVELOPE_LENGTH,
    );
  }
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = decodeBase64(envelope, "base64url");
  } catch (cause) {
    throw new EnvelopeSyntaxError(
      "bad_envelope",
      "envelope is not base64url",
      (cause as { offset?: number }).offset ?? 0,
      { cause },
    );
  }
  if (bytes.length < 2) {
    throw truncated(bytes.length);
  }
  if (bytes[0] !== ENVELOPE_VERSION) {
    throw new EnvelopeSyntaxError(
      "unsupported_version",
      `unknown envelope version ${bytes[0]}`,
      0,
    );
  }
  const suite = bytes[1]!;
  if (suite !== ENVELOPE_SUITE && suite !== ENVELOPE_SUITE_SIGNED) {
    throw new EnvelopeSyntaxError(
      "unsupported_version",
      `unknown cipher suite ${bytes[1]}`,
      1,
    );
  }
  let o = 2;
  const strings: string[] = [];
  for (const name of ["room", "sender", "session"]) {
    const length = bytes[o];
    if (length === undefined) throw truncated(o);
    if (length === 0) {
      throw new EnvelopeSyntaxError("bad_envelope", `${name} is empty`, o);
    }
    o++;
    if (o + length > bytes.length) throw truncated(bytes.length);
    try {
      strings.push(decoder.decode(bytes.subarray(o, o + length)));
    } catch (cause) {
      throw new EnvelopeSyntaxError(
        "bad_envelope",
        `${name} is not valid UTF-8`,
        o,
        { cause },
      );
    }
    o += length;
  }
  const ciphertextAt = o + FIXED_TAIL;
  if (ciphertextAt + TAG_BYTES > bytes.length) {
    throw truncated(bytes.length);
  }
  const view = new DataView(bytes.buffer);
  const seq = readUint53(view, o);
  if (seq === undefined || seq < 1) {
    throw new EnvelopeSyntaxError(
      "bad_envelope",
      "seq is outside 1..2^53-1",
      o,
    );
  }
  const time = readUint53(view, o + 8);
  if (time === undefined) {
    throw new EnvelopeSyntaxError(
      "bad_envelope",
      "time is outside 0..2^53-1",
      o + 8,
    );
  }
  const [room, sender, session] = strings as [string, string, string];
  return {
    header: { room, sender, session, seq, time },
    suite,
    bytes,
    keyIdAt: o + 16,
    ciphertextAt,
  };
}

function truncated(at: number): EnvelopeSyntaxError {
  return new EnvelopeSyntaxError(
    "bad_envelope",
    `envelope is truncated at byte ${at}`,
    at,
  );
}

function encodeField(name: string, value: unknown): Uint8Array {
  if (typeof value !== "string") {
    throw new TypeError(
      `Cannot seal message: ${name} must be a string, got ${typeof value}`,
    );
  }
  if (!value.isWellFormed()) {
    throw new RangeError(
      `Cannot seal message: ${name} contains a lone surrogate`,
    );
  }
  const bytes = encoder.encode(value);
  if (bytes.length === 0 || bytes.length > MAX_FIELD_BYTES) {
    throw new RangeError(
      `Cannot seal message: ${name} of ${bytes.length} bytes is outside 1..${MAX_FIELD_BYTES}`,
    );
  }
  return bytes;
}

function checkSeq(seq: unknown): void {
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) {
    throw new RangeError(
      `Cannot seal message: seq ${String(seq)} is not an integer in 1..2^53-1`,
    );
  }
}

function checkTime(time: unknown): void {
  if (typeof time !== "number" || !Number.isSafeInteger(time) || time < 0) {
    throw new RangeError(
      `Cannot seal message: time ${String(time)} is not an integer in 0..2^53-1`,
    );
  }
}

function writeUint53(view: DataView, at: number, value: number): void {
  view.setUint32(at, Math.floor(value / 0x1_0000_0000));
  view.setUint32(at + 4, value >>> 0);
}

function readUint53(view: DataView, at: number): number | undefined {
  const high = view.getUint32(at);
  if (high > 0x1f_ffff) return undefined;
  return high * 0x1_0000_0000 + view.getUint32(at + 4);
}

function compareWithPin(pinned: string | undefined, signer: string): SignerTrust {
  if (pinned === undefined) return "unpinned";
  return pinned === signer ? "trusted" : "changed";
}

function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * The replay-guard stream of a (signer, sender, session): length-prefixed,
 * so no two triples share a stream, and unsigned messages cannot burn the
 * sequence numbers of a signed stream.
 */
function streamId(
  signer: string | null,
  sender: string,
  session: string,
): string {
  return `${signer ?? ""}:${sender.length}:${sender}${session}`;
}

function signedData(
  prefix: Uint8Array,
  text: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(
    SIGNATURE_CONTEXT.length + prefix.length + text.length,
  );
  data.set(SIGNATURE_CONTEXT, 0);
  data.set(prefix, SIGNATURE_CONTEXT.length);
  data.set(text, SIGNATURE_CONTEXT.length + prefix.length);
  return data;
}
