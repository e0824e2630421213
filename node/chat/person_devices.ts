/**
 * Several devices, one person: sessions logged in with keys that own the
 * same nick (node/chat/nick_policy.ts lets such a key use its nick while it
 * is in use) are the same person, on one node or several. This keeps them
 * one:
 *
 * - **Rooms are the person's.** A device that joins a room takes the
 *   person's other devices with it, and an explicit `/leave` takes them
 *   out; a new device enters every room the person is in. Here that is done
 *   at once ({@linkcode PersonDevices.followJoin},
 *   {@linkcode PersonDevices.followLeave}); on other nodes, when the `join`
 *   or `leave` (reason `left`) event arrives ({@linkcode PersonDevices.followPeer}).
 *   The devices that follow get `joined`/`left` frames, and no event: the
 *   person was already there, or the one event already said they left.
 * - **Presence is the person's.** A device arriving in a room where the
 *   person already is, or going while another device stays, says nothing
 *   to the room ({@linkcode PersonDevices.announces}); `/who` and the
 *   presence table show one entry (node/chat/presence_roster.ts).
 * - **Messages reach every device**: a room's fan-out reaches every session
 *   in it; private messages go to every device of the sender and the
 *   recipient ({@linkcode PersonDevices.of}).
 *
 * Guests never share a nick (it would be taken), so only keyed sessions
 * have devices.
 *
 * @module
 */
import type { RoomView } from "./event_log.ts";
import type { PresenceRoster } from "./presence_roster.ts";
import { sendJoined } from "./room_entry.ts";
import type { Session } from "./session.ts";
import type { SessionTable } from "./session_table.ts";

/** What {@linkcode PersonDevices} works with: the hub's parts. */
export interface PersonDevicesOptions {
  /** This node's sessions. */
  readonly local: SessionTable;
  /** Who is where in the cluster. */
  readonly roster: Pick<PresenceRoster, "presentElsewhere" | "remoteRooms" | "changed">;
  /** Whether a key owns a nick (its owner or a linked key). */
  owns(nick: string, fingerprint: string | undefined): boolean;
  /** Whether any key owns a nick. */
  registered(nick: string): boolean;
  /** A room by name, opened when needed. */
  room(name: string): RoomView;
  /** Messages of history a session's `joined` carries. */
  historyFor(session: Session): number;
  /**
   * Whether a device may enter a room by following its person: the limits
   * a `/join` obeys (rooms per session, rooms per node), so joins from
   * peers or other devices cannot take it past them.
   */
  mayEnter(session: Session, room: string): boolean;
}

/** One person's sessions kept as one (see the module doc). */
export class PersonDevices {
  readonly #options: PersonDevicesOptions;

  /** @param options The hub's parts. */
  constructor(options: PersonDevicesOptions) {
    this.#options = options;
  }

  /**
   * The sessions here of a nick: the person's devices (one, for most).
   *
   * @param nick Any case.
   * @returns The sessions, oldest first.
   */
  of(nick: string): readonly Session[] {
    return this.#options.local.devices(nick);
  }

  /**
   * Whether a session's coming into or going out of a room is news to the
   * room: not when another device of the person is there.
   *
   * @param session The session.
   * @param room Normalised room name.
   * @returns True when the `join` or `leave` event should be emitted.
   */
  announces(session: Session, room: string): boolean {
    return !this.#options.roster.presentElsewhere(session, room);
  }

  /**
   * Whether the session's person is connected through another device, here
   * or on another node.
   *
   * @param session The session.
   * @returns True when another device exists.
   */
  hasOthers(session: Session): boolean {
    if (this.of(session.nick).length > 1) return true;
    return this.#options.registered(session.nick) &&
      this.#options.roster.remoteRooms(session.nick) !== undefined;
  }

  /**
   * A new device: it enters every room the person's other devices are in,
   * here and (for a registered nick) on other nodes.
   *
   * @param session The new session, already in its first room.
   */
  arrive(session: Session): void {
    const remote = this.#options.registered(session.nick)
      ? this.#options.roster.remoteRooms(session.nick)
      : undefined;
    const rooms = new Set(remote ?? []);
    for (const device of this.of(session.nick)) {
      for (const room of device.rooms) rooms.add(room);
    }
    const first = session.current;
    for (const room of rooms) this.#enter(session, room);
    // The room the device asked for stays its current one.
    if (first !== "") session.current = first;
  }

  /**
   * A device joined a room: the person's other devices here follow.
   *
   * @param session The device that joined.
   * @param room Normalised room name.
   */
  followJoin(session: Session, room: string): void {
    for (const device of this.of(session.nick)) {
      if (device !== session) this.#enter(device, room);
    }
  }

  /**
   * A device left a room (`/leave`): the person's other devices here follow.
   *
   * @param session The device that left.
   * @param room Normalised room name.
   */
  followLeave(session: Session, room: string): void {
    for (const device of [...this.of(session.nick)]) {
      if (device !== session) this.#exit(device, room);
    }
  }

  /**
   * A peer's `join` or `leave` event: devices here of that person follow
   * (only for a registered nick, only sessions whose key owns it, only a
   * `/leave`, and not for an event older than the device's session).
   *
   * @param kind The event's kind.
   * @param nick The event's `from`.
   * @param room The event's room.
   * @param reason The leave event's text (`left` for `/leave`).
   * @param wall The event's time (ms).
   */
  followPeer(kind: "join" | "leave", nick: string, room: string, reason: string, wall: number) {
    if (kind === "leave" && reason !== "left") return;
    if (!this.#options.registered(nick)) return;
    for (const device of [...this.of(nick)]) {
      if (device.since > wall || !this.#options.owns(nick, device.origin.fingerprint)) continue;
      if (kind === "join") this.#enter(device, room);
      else this.#exit(device, room);
    }
  }

  /** Enters a device into a room without an event, telling it with `joined`. */
  #enter(device: Session, name: string): void {
    if (device.rooms.has(name) || !this.#options.mayEnter(device, name)) return;
    const room = this.#options.room(name);
    sendJoined(device.sink, room, this.#options.historyFor(device));
    device.rooms.add(name);
    device.current = name;
    this.#options.local.enter(device, name);
    this.#options.roster.changed();
  }

  /** Takes a device out of a room without an event, telling it with `left`. */
  #exit(device: Session, name: string): void {
    if (!device.rooms.has(name)) return;
    device.rooms.delete(name);
    this.#options.local.exit(device, name);
    if (device.current === name) device.current = [...device.rooms].at(-1) ?? "";
    device.sink.send({ t: "left", room: name, current: device.current });
    this.#options.roster.changed();
  }
}
