/**
 * The client's sealed rooms: which rooms are sealed (from room metadata
 * only: the `welcome`, `joined` and `sealed` frames, never from a message),
 * one room key per room per session (Argon2id in a Worker, so the terminal
 * stays responsive), sealing outgoing lines and opening incoming envelopes.
 *
 * It fails closed: a room whose key is missing, wrong, or whose `/seal`
 * failed counts as sealed, so {@linkcode SealedRooms.seal} refuses its lines
 * and nothing goes out in plain text until the person decides
 * ({@linkcode SealedRooms.allowPlain}). A passphrase is checked against the
 * room's key check as soon as the key is made. An opened message carries its
 * authenticated send time, and one that reached the node long after it was
 * sealed is marked `stale` (a node may be replaying it) and pins no key.
 *
 * @module
 */
import {
  deriveRoomKeyInWorker,
  newSealParams,
  readEnvelopeHeader,
  type RoomKey,
  SealedMessageError,
  type SealedMessageErrorCode,
  SealedRoom,
  type SealParams,
  type SenderIdentity,
  type SignerPins,
  type SignerTrust,
  validateSealParams,
} from "../core/crypto/mod.ts";
import type { MsgFrame } from "../core/protocol.ts";
import type { PassphrasePurpose, PassphraseSource } from "./passphrase.ts";

/** What opening one sealed event gave. */
export type Opening =
  | {
    readonly ok: true;
    /** The authenticated text (not yet sanitised for display). */
    readonly text: string;
    /** Signed with the key first seen for this sender in this session. */
    readonly verified: boolean;
    /** How the signer's key relates to the pins. */
    readonly trust: SignerTrust;
    /** The send time sealed in the envelope (authenticated), ms since the epoch. */
    readonly sentAt: number;
    /**
     * The sealed send time is more than {@linkcode MAX_CLOCK_GAP_MS} from the
     * node's time for the event: a node may be replaying an old envelope.
     * Such a message pins no signing key.
     */
    readonly stale: boolean;
  }
  | {
    readonly ok: false;
    /** Why, for `[cannot open sealed message from X: REASON]`. */
    readonly reason: string;
  };

/**
 * Largest gap between a sealed message's own send time and the node's time
 * for its event before the message is flagged as possibly replayed: 10
 * minutes, far more than honest clock skew (the origin node stamps an event
 * when the sender's line arrives, and replication keeps that stamp).
 */
export const MAX_CLOCK_GAP_MS = 10 * 60_000;

/** What {@linkcode SealedRooms.status} says about a room. */
export type RoomStatus =
  /** Not sealed: lines go out in plain text. */
  | "plain"
  /** Sealed and the key is ready: lines are sealed. */
  | "open"
  /** Sealed, no key (yet, or it failed): lines are held or refused. */
  | "locked"
  /** Sealed, and the passphrase given does not match the room's key check. */
  | "wrong";

/** What {@linkcode SealedRooms.update} made of a room's metadata. */
export type SealUpdate =
  /** Nothing changed. */
  | { readonly kind: "unchanged" }
  /** The room is sealed with these parameters (new, or changed). */
  | { readonly kind: "sealed"; readonly changed: boolean }
  /** The room's parameters are outside the limits: it cannot be used. */
  | { readonly kind: "refused"; readonly reason: string }
  /**
   * The node says a room known as sealed is not: the client keeps it sealed
   * for this session (a downgrade is never taken).
   */
  | { readonly kind: "downgrade" };

/** Options of {@linkcode SealedRooms}. */
export interface SealedRoomsOptions {
  /** Supplies passphrases. @default none: sealed rooms cannot be opened */
  passphrase?: PassphraseSource;
  /**
   * Turns a passphrase into a room key.
   *
   * @default {deriveRoomKeyInWorker}
   */
  derive?: (passphrase: string, params: SealParams) => Promise<RoomKey>;
  /** Signs every sealed message (suite 2). @default none: messages are not signed */
  identity?: SenderIdentity;
  /** Signer pins shared by all rooms. @default none: signatures are not pinned */
  pins?: SignerPins;
  /** How many opened events are remembered (history is shown again, not opened again). @default 4096 */
  cacheSize?: number;
}

/** One room's seal as this client knows it. */
interface RoomSeal {
  /** The parameters (`/seal` adds the key check once the key is made). */
  params: SealParams;
  paramsJson: string;
  /** Set by `/seal` until the node confirms the parameters. */
  provisional: boolean;
  /** The key, once asked for; resolves to undefined without a passphrase. */
  key: Promise<SealedRoom | undefined> | undefined;
  /** Why there is no key, once known. */
  missing: string | undefined;
  /** Whether `key` holds a derived key. */
  ready: boolean;
  /** Whether the passphrase was found wrong (key check, or the room's messages). */
  wrong: boolean;
  /** Whether a message of the room opened with this key (rooms without a key check). */
  opened: boolean;
}

/** Why a room has no key after the passphrase did not match. */
const WRONG_PASSPHRASE = "wrong passphrase (type /key to enter it again)";

const REASONS: Record<SealedMessageErrorCode, string> = {
  bad_envelope: "malformed envelope",
  unsupported_version: "unsupported envelope version (update the client)",
  wrong_room: "sealed for another room",
  wrong_key: "wrong passphrase",
  tampered: "altered on the way",
  bad_signature: "signature does not verify",
  replay: "replayed",
};

/** The parameters' JSON without the key check. */
function withoutCheck(params: SealParams): string {
  const { check: _check, ...rest } = params;
  return JSON.stringify(rest);
}

/** Every sealed room of one client session. */
export class SealedRooms {
  readonly #passphrase: PassphraseSource;
  readonly #derive: (passphrase: string, params: SealParams) => Promise<RoomKey>;
  readonly #identity: SenderIdentity | undefined;
  readonly #pins: SignerPins | undefined;
  readonly #cacheSize: number;
  readonly #rooms = new Map<string, RoomSeal>();
  readonly #refused = new Map<string, string>();
  /** Rooms whose `/seal` failed: closed until sealed, or the person types /plain. */
  readonly #blocked = new Map<string, string>();
  readonly #opened = new Map<string, { room: string; opening: Promise<Opening> }>();
  #derivations = 0;

  /** @param options Passphrase source, derivation, signing. */
  constructor(options: SealedRoomsOptions = {}) {
    const {
      passphrase = () => Promise.resolve(undefined),
      derive = deriveRoomKeyInWorker,
      identity,
      pins,
      cacheSize = 4096,
    } = options;
    this.#passphrase = passphrase;
    this.#derive = derive;
    this.#identity = identity;
    this.#pins = pins;
    this.#cacheSize = cacheSize;
  }

  /** How many room keys were derived so far (once per room per session). */
  get derivations(): number {
    return this.#derivations;
  }

  /**
   * Takes what the node says about a room (the `sealed` field of `welcome`
   * and `joined`, or a `sealed` frame). The parameters are validated here;
   * parameters from anywhere else are never used.
   *
   * @param room The room.
   * @param params The room's seal parameters, or undefined when the node says it is not sealed.
   * @returns What changed.
   */
  update(room: string, params: unknown): SealUpdate {
    const known = this.#rooms.get(room);
    if (params === undefined) {
      if (known === undefined || known.provisional) return { kind: "unchanged" };
      return { kind: "downgrade" };
    }
    let checked: SealParams;
    try {
      checked = validateSealParams(params);
    } catch (error) {
      const reason = (error as Error).message;
      this.#refused.set(room, reason);
      return { kind: "refused", reason };
    }
    this.#refused.delete(room);
    this.#blocked.delete(room);
    const json = JSON.stringify(checked);
    if (known !== undefined && known.paramsJson === json) {
      if (!known.provisional) return { kind: "unchanged" };
      known.provisional = false;
      return { kind: "sealed", changed: false };
    }
    if (known?.provisional && checked.check === undefined && withoutCheck(known.params) === json) {
      // Our own /seal, confirmed by a node too old to keep the key check.
      known.params = checked;
      known.paramsJson = json;
      known.provisional = false;
      return { kind: "sealed", changed: false };
    }
    this.#rooms.set(room, {
      params: checked,
      paramsJson: json,
      provisional: false,
      key: undefined,
      missing: undefined,
      ready: false,
      wrong: false,
      opened: false,
    });
    this.#forgetOpened(room);
    return { kind: "sealed", changed: known !== undefined };
  }

  /**
   * Whether lines to this room must be sealed (it is sealed, being sealed
   * by `/seal`, its parameters were refused, or its `/seal` failed).
   *
   * @param room The room.
   * @returns True for a sealed room.
   */
  isSealed(room: string): boolean {
    return this.#rooms.has(room) || this.#refused.has(room) || this.#blocked.has(room);
  }

  /**
   * The state shown in the prompt.
   *
   * @param room The room.
   * @returns The room's {@linkcode RoomStatus}.
   */
  status(room: string): RoomStatus {
    if (!this.isSealed(room)) return "plain";
    const seal = this.#rooms.get(room);
    if (seal?.wrong) return "wrong";
    return seal?.ready ? "open" : "locked";
  }

  /**
   * The room's key, derived once per room per session: asks the passphrase
   * source the first time (and again after {@linkcode SealedRooms.rekey}).
   *
   * @param room The room.
   * @returns The sealed room, or undefined when there is no key (see
   * {@linkcode SealedRooms.missing}).
   */
  key(room: string): Promise<SealedRoom | undefined> {
    const seal = this.#rooms.get(room);
    if (seal === undefined) return Promise.resolve(undefined);
    seal.key ??= this.#obtain(room, seal, "join");
    return seal.key;
  }

  /**
   * Why a sealed room has no key: refused parameters, no passphrase, a
   * failed derivation.
   *
   * @param room The room.
   * @returns The reason, or undefined.
   */
  missing(room: string): string | undefined {
    return this.#refused.get(room) ?? this.#blocked.get(room) ?? this.#rooms.get(room)?.missing;
  }

  /**
   * Forgets the room's key and asks for the passphrase again (`/key`).
   * Events already opened in the room are opened again when shown again.
   *
   * @param room The room.
   * @returns The new key, or undefined.
   */
  rekey(room: string): Promise<SealedRoom | undefined> {
    const seal = this.#rooms.get(room);
    if (seal === undefined) return Promise.resolve(undefined);
    this.#forgetOpened(room);
    seal.missing = undefined;
    seal.ready = false;
    seal.wrong = false;
    seal.opened = false;
    seal.key = this.#obtain(room, seal, "retry");
    return seal.key;
  }

  /**
   * Starts sealing a room (`/seal`): asks for a new passphrase, makes fresh
   * parameters and derives the key, so the room is ready when the node
   * confirms. Until then the room counts as sealed here: no line typed for
   * it goes out in plain text. The parameters carry the key's id as their
   * key check, so members with a wrong passphrase are told at once.
   *
   * @param room The room.
   * @returns The parameters to send to the node, or the reason it stopped.
   */
  async prepareSeal(room: string): Promise<{ params: SealParams } | { refusal: string }> {
    const passphrase = await this.#passphrase({ room, purpose: "seal" });
    if (passphrase === undefined) return { refusal: `#${room} not sealed` };
    const params = newSealParams();
    const seal: RoomSeal = {
      params,
      paramsJson: JSON.stringify(params),
      provisional: true,
      key: undefined,
      missing: undefined,
      ready: false,
      wrong: false,
      opened: false,
    };
    seal.key = this.#deriveFor(room, seal, passphrase);
    this.#rooms.set(room, seal);
    const key = await seal.key;
    if (key === undefined) {
      this.abandonSeal(room);
      return { refusal: `Cannot seal #${room}: ${seal.missing}` };
    }
    seal.params = { ...params, check: key.keyId };
    seal.paramsJson = JSON.stringify(seal.params);
    // Sealed here from now on; a refusal by the node blocks the room again.
    this.#blocked.delete(room);
    return { params: seal.params };
  }

  /**
   * Drops a `/seal` the node refused (the room stays as the node says).
   *
   * @param room The room.
   */
  abandonSeal(room: string): void {
    if (this.#rooms.get(room)?.provisional) this.#rooms.delete(room);
  }

  /**
   * Keeps a room closed after a `/seal` failed, unless the node says it is
   * sealed: lines for it are refused instead of going out in plain text,
   * until the person seals it or says to talk there unsealed
   * ({@linkcode SealedRooms.allowPlain}).
   *
   * @param room The room.
   * @param reason Why, shown when a line is refused.
   */
  block(room: string, reason: string): void {
    this.abandonSeal(room);
    if (!this.#rooms.has(room)) this.#blocked.set(room, reason);
  }

  /**
   * Whether a room is closed because its `/seal` failed ({@linkcode SealedRooms.block}).
   *
   * @param room The room.
   * @returns True while blocked.
   */
  isBlocked(room: string): boolean {
    return this.#blocked.has(room);
  }

  /**
   * The person decided to talk unsealed in a room whose `/seal` failed
   * (`/plain`): lines go out in plain text again. Rooms the node says are
   * sealed stay sealed.
   *
   * @param room The room.
   * @returns Whether the room was blocked.
   */
  allowPlain(room: string): boolean {
    return this.#blocked.delete(room);
  }

  /**
   * Seals a line for a room.
   *
   * @param room The room.
   * @param sender Own nick.
   * @param text The line.
   * @param time Send time (ms).
   * @returns The envelope.
   * @throws {Error} When the room has no key (message says why).
   */
  async seal(room: string, sender: string, text: string, time: number): Promise<string> {
    const blocked = this.#blocked.get(room);
    if (blocked !== undefined) {
      throw new Error(
        `Not sent: ${blocked}; nothing typed for #${room} is sent until you type /seal to try again, or /plain to talk there unsealed`,
      );
    }
    const sealed = await this.key(room);
    if (sealed === undefined || this.#rooms.get(room)?.wrong) {
      throw new Error(`Cannot send to sealed #${room}: ${this.missing(room) ?? "no key"}`);
    }
    return await sealed.seal({ sender, text, time });
  }

  /**
   * Opens a sealed event once; showing it again (history) reuses the result.
   * Never throws: a refusal is an {@linkcode Opening} with a reason.
   *
   * @param frame The event, with a `sealed` envelope.
   * @returns The text, or why it cannot be shown.
   */
  open(frame: MsgFrame): Promise<Opening> {
    const cached = this.#opened.get(frame.id);
    if (cached !== undefined && cached.room === frame.room) return cached.opening;
    const opening = this.#open(frame);
    this.#opened.set(frame.id, { room: frame.room, opening });
    if (this.#opened.size > this.#cacheSize) {
      const oldest = this.#opened.keys().next().value;
      if (oldest !== undefined) this.#opened.delete(oldest);
    }
    return opening;
  }

  async #open(frame: MsgFrame): Promise<Opening> {
    const envelope = frame.sealed ?? "";
    if (!this.isSealed(frame.room)) {
      return { ok: false, reason: "the room is not sealed" };
    }
    const room = await this.key(frame.room);
    if (room === undefined) {
      return { ok: false, reason: this.missing(frame.room) ?? "no key" };
    }
    // A node can replay an old envelope as a new event: compare the time
    // sealed inside with the node's, and let a suspect message pin no key.
    // (The header is authenticated by open() below; a forged time fails there.)
    let stale = false;
    try {
      stale = Math.abs(frame.time - readEnvelopeHeader(envelope).time) > MAX_CLOCK_GAP_MS;
    } catch {
      // malformed: open() says why
    }
    try {
      const message = await room.open(envelope, { pinFirstUse: !stale });
      if (message.sender !== frame.from) {
        return {
          ok: false,
          reason: `sealed by ${message.sender.slice(0, 32)}, delivered as from ${frame.from}`,
        };
      }
      this.#noteOpened(frame.room);
      return {
        ok: true,
        text: message.text,
        verified: message.verified,
        trust: message.trust,
        sentAt: message.time,
        stale,
      };
    } catch (error) {
      if (error instanceof SealedMessageError) {
        this.#noteWrongKey(frame.room, error);
        return { ok: false, reason: REASONS[error.code] ?? error.code };
      }
      return { ok: false, reason: "cannot be read" };
    }
  }

  /**
   * A room sealed without a key check (before December 2026): its messages
   * are the check. Until one opens, one under another key id means the
   * passphrase is wrong; once one opened, a stray one is its sender's
   * mistake, not ours.
   */
  #noteWrongKey(room: string, error: SealedMessageError): void {
    const seal = this.#rooms.get(room);
    if (
      error.code !== "wrong_key" || seal === undefined || seal.params.check !== undefined ||
      seal.opened
    ) {
      return;
    }
    seal.wrong = true;
    seal.missing = WRONG_PASSPHRASE;
  }

  #noteOpened(room: string): void {
    const seal = this.#rooms.get(room);
    if (seal === undefined) return;
    seal.opened = true;
    if (seal.wrong && seal.params.check === undefined) {
      seal.wrong = false;
      seal.missing = undefined;
    }
  }

  #obtain(
    room: string,
    seal: RoomSeal,
    purpose: PassphrasePurpose,
  ): Promise<SealedRoom | undefined> {
    return this.#passphrase({ room, purpose }).then(
      (passphrase) => {
        if (passphrase === undefined) {
          seal.missing = "no passphrase (type /key to enter it)";
          return undefined;
        }
        return this.#deriveFor(room, seal, passphrase);
      },
      (error) => {
        seal.missing = `no passphrase: ${(error as Error).message}`;
        return undefined;
      },
    );
  }

  async #deriveFor(
    room: string,
    seal: RoomSeal,
    passphrase: string,
  ): Promise<SealedRoom | undefined> {
    try {
      this.#derivations++;
      const key = await this.#derive(passphrase, seal.params);
      // The key check is the key id every envelope shows: a mismatch is a
      // wrong passphrase, known now rather than at the first message.
      if (seal.params.check !== undefined && key.id !== seal.params.check) {
        seal.wrong = true;
        seal.missing = WRONG_PASSPHRASE;
        return undefined;
      }
      const sealed = new SealedRoom(room, key, {
        ...(this.#identity === undefined ? {} : { identity: this.#identity }),
        ...(this.#pins === undefined ? {} : { pins: this.#pins }),
      });
      seal.missing = undefined;
      seal.ready = true;
      return sealed;
    } catch (error) {
      seal.missing = `cannot derive the room key: ${(error as Error).message}`;
      return undefined;
    }
  }

  #forgetOpened(room: string): void {
    for (const [id, entry] of this.#opened) {
      if (entry.room === room) this.#opened.delete(id);
    }
  }
}
