/**
 * How many rooms a node keeps and how long an idle one lives: `/join` spam
 * must not grow a node's rooms (and with them memory and snapshots) without
 * bound.
 *
 * - A session is in at most `maxRoomsPerSession` rooms.
 * - A room that is empty on every node and was never spoken in, or had no
 *   event for `roomTtlMs`, expires with its history (the default room never
 *   does). The event log drops it; these limits tell it which rooms may go
 *   ({@linkcode EventLog.setRoomExpiry}), since only the owner knows who is
 *   in them.
 * - A node holding `maxRooms` rooms refuses a new one (`rooms_full`) unless
 *   an idle room can expire to make space. Rooms arriving from peers are
 *   always taken.
 *
 * A room that may have become idle without being expired at once (a peer's
 * event ahead of its presence table, a node thought dead that may return)
 * is noted as a candidate and swept only when space is short, so a full
 * node never scans every room per attempt; quiet rooms are found by a full
 * scan at most once a minute.
 *
 * ```ts ignore
 * const limits = new RoomLimits(log, { occupied: (room) => anyoneIn(room) });
 * limits.makeSpaceFor("new-room"); // throws rooms_full when none can expire
 * ```
 *
 * @module
 */
import type { ChatEvent } from "../../core/event.ts";
import { countOf } from "../../core/chat_format.ts";
import { ProtocolError } from "../../core/protocol.ts";
import { DEFAULT_ROOM, type EventLog, type RoomView } from "./event_log.ts";
import { MAX_ROOMS_PER_ENTRY } from "./presence.ts";
import type { Session } from "./session.ts";

/** The default `roomTtlMs`: 30 days. */
export const DEFAULT_ROOM_TTL_MS = 30 * 24 * 3600 * 1000;

/** How often at most a full node scans every room for quiet ones (ms). */
const QUIET_SCAN_INTERVAL_MS = 60_000;

/** The limits a node is configured with (part of `HubOptions`). */
export interface RoomLimitsOptions {
  /**
   * Rooms one session may be in at once (`--max-rooms-per-session`); at most
   * {@linkcode MAX_ROOMS_PER_ENTRY}, so the session's presence entry is
   * valid on every peer. @default 64
   */
  maxRoomsPerSession?: number;
  /**
   * Rooms this node keeps (`--max-rooms`). A room that is empty here and
   * elsewhere and was never spoken in expires; when none can and the node
   * holds this many, a new room is refused (`rooms_full`), except the
   * default room. Rooms arriving from peers are always taken.
   * @default 10000
   */
  maxRooms?: number;
  /**
   * How long a room must be quiet (no event) while empty everywhere before
   * it expires with its history (`--room-ttl`). The default room never
   * expires. @default 2592000000 (30 days)
   */
  roomTtlMs?: number;
}

/** What {@linkcode RoomLimits} is told by its owner. */
export interface RoomLimitsHost {
  /** Whether anyone, on this node or another, is in a room. */
  occupied(room: string): boolean;
  /** Clock in ms. @default Date.now */
  now?: () => number;
}

/** The room limits of one node (see the module doc). */
export class RoomLimits {
  readonly #log: EventLog;
  readonly #occupied: (room: string) => boolean;
  readonly #now: () => number;
  readonly #maxRoomsPerSession: number;
  readonly #maxRooms: number;
  readonly #roomTtlMs: number;
  /** Rooms that may be idle but were not expired when they became so. */
  readonly #candidates = new Set<string>();
  #lastQuietScan = -Infinity;

  /**
   * Tells the log which rooms may expire.
   *
   * @param log The node's event log.
   * @param options The limits, and who is in a room.
   * @throws {RangeError} When a limit is out of range.
   */
  constructor(log: EventLog, options: RoomLimitsOptions & RoomLimitsHost) {
    const {
      maxRoomsPerSession = 64,
      maxRooms = 10_000,
      roomTtlMs = DEFAULT_ROOM_TTL_MS,
      now = Date.now,
    } = options;
    if (
      !Number.isInteger(maxRoomsPerSession) || maxRoomsPerSession < 1 ||
      maxRoomsPerSession > MAX_ROOMS_PER_ENTRY
    ) {
      throw new RangeError(
        `Invalid rooms per session ${maxRoomsPerSession}: must be an integer from 1 to ${MAX_ROOMS_PER_ENTRY}`,
      );
    }
    if (!Number.isInteger(maxRooms) || maxRooms < 1) {
      throw new RangeError(`Invalid room limit ${maxRooms}: must be a positive integer`);
    }
    if (!(roomTtlMs > 0)) {
      throw new RangeError(`Invalid room TTL ${roomTtlMs} ms: must be positive`);
    }
    this.#log = log;
    this.#occupied = options.occupied;
    this.#now = now;
    this.#maxRoomsPerSession = maxRoomsPerSession;
    this.#maxRooms = maxRooms;
    this.#roomTtlMs = roomTtlMs;
    log.setRoomExpiry((room) =>
      (!room.spokenIn || this.#quiet(room)) && !this.#occupied(room.name)
    );
  }

  /**
   * Refuses a room a session may not join: it is in `maxRoomsPerSession`
   * rooms already (rejoining one of them is fine).
   *
   * @param session The session.
   * @param room Normalised room name.
   * @throws {ProtocolError} `too_many_rooms`.
   */
  checkJoin(session: Session, room: string): void {
    if (session.rooms.has(room) || session.rooms.size < this.#maxRoomsPerSession) return;
    throw new ProtocolError(
      "too_many_rooms",
      `Cannot join #${room}: you are in ${
        countOf(session.rooms.size, "room")
      }, the most this node allows; /leave one first`,
    );
  }

  /**
   * Makes sure a room a person asked for may exist: an existing room and the
   * default room always may; a new one when the node holds fewer than
   * `maxRooms`, after expiring idle rooms if it must.
   *
   * @param name Normalised room name.
   * @throws {ProtocolError} `rooms_full` when none can expire.
   */
  makeSpaceFor(name: string): void {
    const rooms = this.#log.rooms;
    if (rooms.has(name) || name === DEFAULT_ROOM || rooms.size < this.#maxRooms) return;
    const candidates = [...this.#candidates];
    this.#candidates.clear();
    for (const other of candidates) this.expireIfIdle(other);
    if (rooms.size < this.#maxRooms) return;
    // A full node refusing rooms must not scan them all per attempt.
    if (this.#now() - this.#lastQuietScan >= QUIET_SCAN_INTERVAL_MS) {
      this.#lastQuietScan = this.#now();
      this.expireQuietRooms();
      if (rooms.size < this.#maxRooms) return;
    }
    throw new ProtocolError(
      "rooms_full",
      `Cannot create #${name}: this node keeps at most ${this.#maxRooms} rooms and none is idle (empty, and never spoken in or quiet for ${
        Math.round(this.#roomTtlMs / 86_400_000)
      } days); join an existing room (/rooms lists them)`,
    );
  }

  /**
   * Whether a session may enter a room it did not ask for (a device
   * following its person): the limits a `/join` obeys, making space for the
   * room when it must.
   *
   * @param session The session.
   * @param room Normalised room name.
   * @returns False when {@linkcode RoomLimits.checkJoin} or
   *   {@linkcode RoomLimits.makeSpaceFor} would refuse it.
   */
  mayEnter(session: Session, room: string): boolean {
    try {
      this.checkJoin(session, room);
      this.makeSpaceFor(room);
      return true;
    } catch (error) {
      if (error instanceof ProtocolError) return false;
      throw error;
    }
  }

  /**
   * Drops a room now if it is empty everywhere and was never spoken in or
   * had no event for the room TTL (people left it). The default room stays.
   *
   * @param name Normalised room name.
   */
  expireIfIdle(name: string): void {
    if (this.#log.expireIfIdle(name)) this.#candidates.delete(name);
  }

  /**
   * Notes a room that may have become idle, to expire when space is short
   * (not at once: a node wrongly thought dead sends its people again).
   *
   * @param name Normalised room name.
   */
  mayBeIdle(name: string): void {
    this.#candidates.add(name);
  }

  /**
   * Notes the room of an applied event when nobody is in it and nobody
   * spoke in it: a peer's event ahead of its presence table, or a straggler
   * after it.
   *
   * @param event An event the log applied.
   */
  applied(event: ChatEvent): void {
    if (event.kind === "private" || event.kind === "mod") return;
    const room = this.#log.rooms.get(event.room);
    if (room !== undefined && !room.spokenIn && !this.#occupied(room.name)) {
      this.#candidates.add(room.name);
    }
  }

  /**
   * Expires every room that is empty everywhere and quiet for the room TTL
   * (or never spoken in), with its history. The node calls this now and
   * then; nothing here keeps timers.
   *
   * @returns How many rooms expired.
   */
  expireQuietRooms(): number {
    const rooms = this.#log.rooms;
    const before = rooms.size;
    for (const name of [...rooms.keys()]) this.expireIfIdle(name);
    return before - rooms.size;
  }

  /** Whether a room had no event for the room TTL. */
  #quiet(room: RoomView): boolean {
    const newest = room.log.at(-1);
    return newest === undefined || this.#now() - newest.hlc.wall >= this.#roomTtlMs;
  }
}
