// Copyright meshchat authors. All rights reserved.

/**
 * One client's view of one sealed room: the key, this session's id and
 * sequence counter, and the replay guard, so callers cannot get them wrong.
 *
 * @module
 */

import { encodeBase64 } from "./_base64.ts";
import { type OpenedMessage, openMessage, sealMessage } from "./envelope.ts";
import { ReplayGuard, type ReplayGuardOptions } from "./replay_guard.ts";
import type { RoomKey } from "./room_key.ts";
import type { SenderIdentity } from "./sender_identity.ts";
import { SignerPins } from "./signer_pins.ts";

/** Options of {@linkcode SealedRoom}. */
export interface SealedRoomOptions {
  /**
   * This client session's id, carried in every envelope. Must never be
   * reused by a later session: receivers would drop its messages as replays.
   *
   * @default {16 random bytes as base64url}
   */
  session?: string;
  /**
   * Replay window and stream cap for incoming messages.
   *
   * @default {{ window: 1024, maxStreams: 4096 }}
   */
  replay?: ReplayGuardOptions;
  /**
   * Signs every message sealed here (suite 2), so receivers can show this
   * sender as verified.
   */
  identity?: SenderIdentity;
  /**
   * Signer pins for incoming signed messages; share one set across rooms to
   * pin a nick's key client-wide.
   *
   * @default {a fresh, empty SignerPins}
   */
  pins?: SignerPins;
}

/** Options of {@linkcode SealedRoom.open}. */
export interface SealedRoomOpenOptions {
  /**
   * Whether a signer seen for the first time is pinned (`false` for a
   * message that may be a replay).
   *
   * @default {true}
   */
  pinFirstUse?: boolean;
}

/** What {@linkcode SealedRoom.seal} needs besides the room's own state. */
export interface OutgoingMessage {
  /** The sender's nick. */
  sender: string;
  /** The text. */
  text: string;
  /** Send time, ms since the Unix epoch, from the caller's clock. */
  time: number;
}

/**
 * A sealed room as one client session sees it.
 *
 * | member | does |
 * | --- | --- |
 * | `seal(message)` | numbers the message (seq 1, 2, 3…) and seals it |
 * | `open(envelope)` | opens it for this room, refusing replays and checking signatures against pins |
 *
 * @example
 * ```ts
 * import {
 *   deriveRoomKeyInWorker,
 *   newSealParams,
 *   SealedRoom,
 *   validateSealParams,
 * } from "./mod.ts";
 * // The JSON a room's `seal` event carries:
 * const metadata = JSON.stringify(newSealParams());
 * const params = validateSealParams(JSON.parse(metadata));
 * const key = await deriveRoomKeyInWorker("correct horse battery staple", params);
 * const room = new SealedRoom("general", key);
 * const body = await room.seal({ sender: "ada", text: "hi", time: Date.now() });
 * const message = await room.open(body); // throws SealedMessageError if refused
 * ```
 */
export class SealedRoom {
  #room: string;
  #key: RoomKey;
  #session: string;
  #seq = 0;
  #guard: ReplayGuard;
  #identity: SenderIdentity | undefined;
  #pins: SignerPins;

  /**
   * Sets up the room for this session.
   *
   * @param room The room name, without `#`.
   * @param key The room key.
   * @param options Session id and replay window.
   * @throws {TypeError} If `room` or the session id is not a string.
   * @throws {RangeError} If replay options are out of range.
   */
  constructor(room: string, key: RoomKey, options: SealedRoomOptions = {}) {
    const {
      session = encodeBase64(
        crypto.getRandomValues(new Uint8Array(16)),
        "base64url",
      ),
      replay = {},
      identity,
      pins = new SignerPins(),
    } = options;
    if (typeof room !== "string" || typeof session !== "string") {
      throw new TypeError(
        "Cannot create sealed room: room and session must be strings",
      );
    }
    this.#room = room;
    this.#key = key;
    this.#session = session;
    this.#guard = new ReplayGuard(replay);
    this.#identity = identity;
    this.#pins = pins;
  }

  /**
   * The room name.
   *
   * @returns The name, without `#`.
   */
  get room(): string {
    return this.#room;
  }

  /**
   * This session's id.
   *
   * @returns The session id carried in every envelope sealed here.
   */
  get session(): string {
    return this.#session;
  }

  /**
   * The room key's id.
   *
   * @returns 16 hex digits.
   */
  get keyId(): string {
    return this.#key.id;
  }

  /**
   * The last sequence number handed out (0 before the first seal).
   *
   * @returns The sequence number.
   */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Seals a message with the next sequence number. The number is taken
   * before any `await`, so concurrent calls never share one; a call that
   * throws still uses up its number.
   *
   * @param message Sender, text and time.
   * @returns The envelope string.
   * @throws {TypeError} If a field has the wrong type.
   * @throws {RangeError} If a field is out of range (see
   * {@linkcode sealMessage}).
   *
   * @example
   * ```ts
   * import { RoomKey, SealedRoom } from "./mod.ts";
   * const key = RoomKey.fromBytes(new Uint8Array(32)); // use deriveRoomKeyInWorker
   * const room = new SealedRoom("general", key);
   * const body = await room.seal({ sender: "ada", text: "hi", time: Date.now() });
   * ```
   */
  seal(message: OutgoingMessage): Promise<string> {
    const seq = ++this.#seq;
    return sealMessage(this.#key, {
      room: this.#room,
      sender: message.sender,
      session: this.#session,
      seq,
      time: message.time,
      text: message.text,
    }, this.#identity === undefined ? {} : { identity: this.#identity });
  }

  /**
   * Opens an envelope received in this room, refusing replays.
   *
   * @param envelope The envelope string.
   * @param options Whether a new signer is pinned.
   * @returns The authenticated message.
   * @throws {SealedMessageError} If it cannot be opened; `code` says why.
   *
   * @example
   * ```ts
   * import { RoomKey, SealedRoom } from "./mod.ts";
   * const key = RoomKey.fromBytes(new Uint8Array(32)); // use deriveRoomKeyInWorker
   * const alice = new SealedRoom("general", key);
   * const bob = new SealedRoom("general", key);
   * const body = await alice.seal({ sender: "alice", text: "hi", time: 0 });
   * const message = await bob.open(body);
   * message.sender; // "alice"
   * ```
   */
  open(envelope: string, options: SealedRoomOpenOptions = {}): Promise<OpenedMessage> {
    const { pinFirstUse = true } = options;
    return openMessage(this.#key, envelope, {
      room: this.#room,
      replayGuard: this.#guard,
      pins: this.#pins,
      pinFirstUse,
    });
  }
}
