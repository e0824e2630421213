/**
 * The rules of sealed rooms on the node's side. A sealed room is encrypted
 * end to end: the node never reads what is said there, it only checks who
 * may seal a room, that a line is sealed exactly when its room is, and that
 * a sealed envelope's public header names the room and the sender.
 *
 * - {@linkcode RoomSeals.sealText}: may this person seal this room, and the
 *   text of the `seal` event (its checked parameters). Only someone alone
 *   in a room without others' history may seal it, never the default room;
 *   the first seal in hybrid-clock order wins on every node (the log's
 *   {@linkcode RoomView.sealed}).
 * - {@linkcode RoomSeals.checkLine} and {@linkcode RoomSeals.checkEnvelope}:
 *   what a line to a room must be.
 * - {@linkcode RoomSeals.announce}: tells a room's sessions its seal
 *   parameters once a `seal` event sealed it.
 *
 * @module
 */
import { type ChatEvent, isSpoken } from "../../core/event.ts";
import { type SealParams, validateSealParams } from "../../core/crypto/room_params.ts";
import { EnvelopeSyntaxError, readEnvelopeHeader } from "../../core/crypto/envelope.ts";
import { nickKey } from "../../core/names.ts";
import { ProtocolError, type ServerFrame } from "../../core/protocol.ts";
import { sanitizeText } from "../../core/text_sanitizer.ts";
import { DEFAULT_ROOM, type RoomView } from "./event_log.ts";
import type { Session } from "./session.ts";

/** Options of {@linkcode RoomSeals}. */
export interface RoomSealsOptions {
  /** The log's rooms, by name. */
  rooms(): ReadonlyMap<string, RoomView>;
  /** How many people are in a room, on every node. */
  present(room: string): number;
  /** This node's sessions in a room. */
  inRoom(room: string): Iterable<Session>;
}

/** Sealed-room rules (see the module doc). */
export class RoomSeals {
  readonly #rooms: () => ReadonlyMap<string, RoomView>;
  readonly #present: (room: string) => number;
  readonly #inRoom: (room: string) => Iterable<Session>;

  /** @param options See {@linkcode RoomSealsOptions}. */
  constructor(options: RoomSealsOptions) {
    this.#rooms = options.rooms;
    this.#present = options.present;
    this.#inRoom = options.inRoom;
  }

  /**
   * Whether `from` may seal a room with these parameters, and what the
   * `seal` event says. Sealing again with the room's own parameters
   * changes nothing.
   *
   * @param room The room (its member `from` is in it).
   * @param from Who seals.
   * @param params Untrusted seal parameters, checked with
   *   {@linkcode validateSealParams} (the limits every client applies).
   * @returns The event's text, or undefined when already sealed with these parameters.
   * @throws {ProtocolError} `bad_args`, `already_sealed`, `forbidden`.
   */
  sealText(room: RoomView, from: string, params: unknown): string | undefined {
    let checked: SealParams;
    try {
      checked = validateSealParams(params);
    } catch (error) {
      throw new ProtocolError("bad_args", (error as Error).message, { cause: error });
    }
    const name = room.name;
    const text = JSON.stringify(checked);
    if (room.sealed !== undefined) {
      if (JSON.stringify(room.sealed) === text) return undefined;
      throw new ProtocolError("already_sealed", `#${name} is already sealed`);
    }
    if (name === DEFAULT_ROOM) {
      throw new ProtocolError("forbidden", `#${name} is everyone's room: it cannot be sealed`);
    }
    const present = this.#present(name);
    if (present > 1) {
      throw new ProtocolError(
        "forbidden",
        `Cannot seal #${name}: ${present} people are in it; only someone alone in a room can seal it`,
      );
    }
    const refusal = othersHistory(room, from);
    if (refusal !== undefined) {
      throw new ProtocolError("forbidden", `Cannot seal #${name}: ${refusal}`);
    }
    return text;
  }

  /**
   * Refuses a line that is sealed when its room is not, or plain when it is.
   *
   * @param room The room the line goes to.
   * @param sealedLine Whether the line is a sealed envelope.
   * @throws {ProtocolError} `room_sealed` (plain line, sealed room),
   *   `not_sealed` (sealed line, plain room).
   */
  checkLine(room: RoomView, sealedLine: boolean): void {
    const sealedRoom = room.sealed !== undefined;
    if (sealedRoom && !sealedLine) {
      throw new ProtocolError(
        "room_sealed",
        `#${room.name} is sealed: only sealed messages from the terminal client (client/main.ts) go there`,
      );
    }
    if (!sealedRoom && sealedLine) {
      throw new ProtocolError(
        "not_sealed",
        `#${room.name} is not sealed: send plain text there, or /seal it first`,
      );
    }
  }

  /**
   * Refuses an envelope whose public header does not name this room and
   * this sender (the node cannot read the rest).
   *
   * @param envelope The sealed envelope (base64url).
   * @param room The room it is said in.
   * @param sender The speaker's nick.
   * @throws {ProtocolError} `bad_envelope`.
   */
  checkEnvelope(envelope: string, room: string, sender: string): void {
    let header;
    try {
      header = readEnvelopeHeader(envelope);
    } catch (error) {
      if (!(error instanceof EnvelopeSyntaxError)) throw error;
      throw new ProtocolError("bad_envelope", error.message, { cause: error });
    }
    if (header.room !== room || header.sender !== sender) {
      throw new ProtocolError(
        "bad_envelope",
        `Cannot accept sealed message: it was sealed for #${
          sanitizeText(header.room).slice(0, 32)
        } by ${sanitizeText(header.sender).slice(0, 32)}, not #${room} by ${sender}`,
      );
    }
  }

  /**
   * Tells a room's sessions on this node its seal parameters, when this
   * applied event is the one that sealed it.
   *
   * @param event An applied `seal` event.
   */
  announce(event: ChatEvent): void {
    const room = this.#rooms().get(event.room);
    if (room?.sealEvent !== event || room.sealed === undefined) return;
    const frame: ServerFrame = { t: "sealed", room: room.name, params: room.sealed };
    for (const session of this.#inRoom(room.name)) session.sink.send(frame);
  }
}

/**
 * Why `from` may not seal a room: it holds something someone else said (a
 * message, an action or a topic) — a newcomer alone in a room for a moment
 * must not lock its people out of their own room. Undefined when it holds
 * nothing of others'.
 */
function othersHistory(room: RoomView, from: string): string | undefined {
  const key = nickKey(from);
  for (const event of room.log) {
    if ((isSpoken(event) || event.kind === "topic") && nickKey(event.from) !== key) {
      return `it holds what others said (${event.from}): only a room without others' history can be sealed`;
    }
  }
  return undefined;
}
