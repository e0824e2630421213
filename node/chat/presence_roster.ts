/**
 * Who is where across the cluster: this node's sessions (kept by the hub)
 * and the other nodes' presence tables ({@linkcode RemotePresence}), joined
 * into one roster for `/who`, `/whois` and private messages.
 *
 * The roster also speaks for this node's presence on the mesh:
 *
 * - {@linkcode PresenceRoster.localPresence}: this node's table, fitted to
 *   the bound every peer keeps (node/chat/presence.ts); the mesh sends it
 *   whenever {@linkcode PresenceRoster.onPresence} fires.
 * - {@linkcode PresenceRoster.updateRemotePresence}: a peer's table, taken
 *   entry by entry; a local session that lost a nick race to one of its
 *   entries yields its nick (the hub renames it).
 * - {@linkcode PresenceRoster.dropRemotePresence}: a node that died, left or
 *   restarted. Local sessions that shared a room with its people are told
 *   they left (a notice, not an event: nobody left on their own), and told
 *   they are back when the node's next table lists them again.
 *
 * Rooms that no remote entry lists any more may have become empty: the
 * roster tells the room limits (node/chat/room_limits.ts).
 *
 * @module
 */
import { nickKey } from "../../core/names.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { type NodeChange, nodePresenceNotices } from "./node_presence_notice.ts";
import {
  fitPresence,
  type Member,
  parsePresence,
  type PresenceEntry,
  RemotePresence,
  winsNickRace,
} from "./presence.ts";
import type { RoomLimits } from "./room_limits.ts";
import type { Session } from "./session.ts";

/** This node's sessions, as the hub keeps them (read-only). */
export interface LocalSessions {
  /** Every connected session. */
  sessions(): Iterable<Session>;
  /** A connected session by nick, in any case (the first of its devices). */
  localSession(nick: string): Session | undefined;
  /** Every connected session of a nick (one person's devices), in any case. */
  devices(nick: string): readonly Session[];
  /** The sessions in a room (normalised name). */
  inRoom(room: string): Iterable<Session>;
}

/** Options of {@linkcode PresenceRoster}. */
export interface PresenceRosterOptions {
  /** This node's id, shown with its people. */
  nodeId: string;
  /** This node's sessions. */
  local: LocalSessions;
  /** Told of rooms that no remote entry lists any more. */
  limits: Pick<RoomLimits, "expireIfIdle" | "mayBeIdle">;
  /**
   * A local session lost a nick race to a peer's session: the owner gives
   * it another nick and tells it why.
   */
  yieldNick(session: Session, node: string): void;
  /** The key fingerprint that owns a nick, if any (it wins every race). @default none */
  ownerOf?(nick: string): string | undefined;
  /**
   * Whether a key owns a nick (its owner or a linked key): sessions of such
   * keys are one person's devices, wherever they are. @default `ownerOf(nick) === fingerprint`
   */
  owns?(nick: string, fingerprint: string | undefined): boolean;
  /** Logger. @default silentLogger */
  logger?: Logger;
}

/** The presence of every person in the cluster (see the module doc). */
export class PresenceRoster {
  readonly #nodeId: string;
  readonly #local: LocalSessions;
  readonly #limits: Pick<RoomLimits, "expireIfIdle" | "mayBeIdle">;
  readonly #yieldNick: (session: Session, node: string) => void;
  readonly #ownerOf: (nick: string) => string | undefined;
  readonly #owns: (nick: string, fingerprint: string | undefined) => boolean;
  readonly #logger: Logger;
  readonly #remote = new RemotePresence();
  readonly #listeners = new Set<() => void>();
  /**
   * People of unreachable nodes the local sessions were told had left, per
   * node, with the rooms they were in: told back when the node's next table
   * lists them. Cleared when the node restarts or leaves.
   */
  readonly #shownGone = new Map<string, Map<string, PresenceEntry>>();
  /** Peers whose bad entries were logged (once per peer until its table is clean again). */
  readonly #warned = new Set<string>();
  #trimmed = false;

  /** @param options See {@linkcode PresenceRosterOptions}. */
  constructor(options: PresenceRosterOptions) {
    this.#nodeId = options.nodeId;
    this.#local = options.local;
    this.#limits = options.limits;
    this.#yieldNick = options.yieldNick;
    this.#ownerOf = options.ownerOf ?? (() => undefined);
    this.#owns = options.owns ??
      ((nick, fingerprint) => fingerprint !== undefined && this.#ownerOf(nick) === fingerprint);
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Presence entries held: this node's sessions plus the other nodes'
   * tables. O(entries).
   *
   * @returns The count.
   */
  count(): number {
    let count = 0;
    for (const _ of this.#local.sessions()) count++;
    for (const _ of this.#remote.entries()) count++;
    return count;
  }

  /**
   * Someone on another node, by nick.
   *
   * @param nick Nick in any case.
   * @returns Their entry and node, or undefined.
   */
  findRemote(nick: string): { node: string; entry: PresenceEntry } | undefined {
    return this.#remote.find(nick);
  }

  /**
   * Whether anyone on another node is in a room.
   *
   * @param room Normalised room name.
   * @returns True when a remote entry lists the room.
   */
  occupiedRemotely(room: string): boolean {
    return this.#remote.occupied(room);
  }

  /**
   * Everyone in a room, on this node and the others, sorted by nick.
   *
   * @param room Normalised room name.
   * @returns The members.
   */
  members(room: string): Member[] {
    const local: Member[] = [];
    for (const session of this.#local.inRoom(room)) {
      local.push({
        nick: session.nick,
        node: this.#nodeId,
        since: session.since,
        ...(session.away === undefined ? {} : { away: session.away }),
      });
    }
    return onePerPerson([...local, ...this.#remote.inRoom(room)])
      .sort((a, b) => a.nick.localeCompare(b.nick));
  }

  /**
   * The rooms a nick is in on other nodes, by their presence tables (the
   * person may be on several: their devices).
   *
   * @param nick Nick in any case.
   * @returns The rooms, or undefined when the nick is on no other node.
   */
  remoteRooms(nick: string): string[] | undefined {
    const key = nickKey(nick);
    let rooms: Set<string> | undefined;
    for (const { entry } of this.#remote.entries()) {
      if (nickKey(entry.nick) !== key) continue;
      rooms ??= new Set();
      for (const room of entry.rooms) rooms.add(room);
    }
    return rooms === undefined ? undefined : [...rooms];
  }

  /**
   * Whether the person of a session is in a room through another of their
   * devices: another session of theirs here, or (for a nick a key owns) an
   * entry of theirs on another node. Their room changes then say nothing to
   * the room: the person is still there.
   *
   * @param session The session.
   * @param room Normalised room name.
   * @returns True when another device of the person is in the room.
   */
  presentElsewhere(session: Session, room: string): boolean {
    for (const device of this.#local.devices(session.nick)) {
      if (device !== session && device.rooms.has(room)) return true;
    }
    if (this.#ownerOf(session.nick) === undefined) return false;
    const key = nickKey(session.nick);
    for (const { entry } of this.#remote.entries()) {
      if (nickKey(entry.nick) === key && entry.rooms.includes(room)) return true;
    }
    return false;
  }

  /**
   * This node's sessions, as announced to peers: one entry per session,
   * fitted to `MAX_PRESENCE_BYTES` (see {@linkcode fitPresence}: every
   * nick before anyone's rooms), so the table always fits a mesh frame.
   *
   * @returns The entries.
   */
  localPresence(): PresenceEntry[] {
    const entries: PresenceEntry[] = [];
    const seen = new Set<string>();
    for (const session of this.#local.sessions()) {
      const key = nickKey(session.nick);
      if (seen.has(key)) continue;
      seen.add(key);
      // One entry per person: their devices here in every room any of them is in.
      const devices = this.#local.devices(session.nick);
      const away = devices.find((device) => device.away !== undefined)?.away;
      entries.push({
        nick: session.nick,
        rooms: [...new Set(devices.flatMap((device) => [...device.rooms]))],
        since: Math.min(...devices.map((device) => device.since)),
        ...(away === undefined ? {} : { away }),
      });
    }
    const fitted = fitPresence(entries);
    // Warn when trimming starts, not on every change while it lasts.
    if (fitted.trimmed > 0 && !this.#trimmed) {
      this.#logger.warn("presence table over its size bound: rooms left out for some people", {
        trimmed: fitted.trimmed,
      });
    }
    this.#trimmed = fitted.trimmed > 0;
    return fitted.entries;
  }

  /**
   * Takes a peer's presence table, entry by entry: a malformed entry is
   * dropped or cut down and the rest kept (see {@linkcode parsePresence}),
   * with one warning per peer until its tables are clean again. A local
   * session that lost a nick race to one of its entries yields its nick.
   *
   * @param node The peer's node id.
   * @param table Its sessions, as received (validated here).
   * @throws {TypeError} When the table is not an array (nothing is changed).
   */
  updateRemotePresence(node: string, table: unknown): void {
    const { entries, dropped, truncated } = parsePresence(table);
    if (dropped + truncated === 0) {
      this.#warned.delete(node);
    } else if (!this.#warned.has(node)) {
      this.#warned.add(node);
      this.#logger.warn("presence entries from a peer dropped or cut down", {
        peer: node,
        kept: entries.length,
        dropped,
        truncated,
      });
    }
    for (const room of this.#remote.replace(node, entries)) this.#limits.expireIfIdle(room);
    this.#tellBack(node, entries);
    for (const entry of entries) {
      const local = this.#local.localSession(entry.nick);
      if (local !== undefined && !this.#keepsNick(local, entry, node)) this.#yieldNick(local, node);
    }
  }

  /**
   * Forgets the presence of a node that died, left or restarted. For a node
   * found unreachable or restarted, the local sessions that shared a room
   * with its people are told they left; when an unreachable node returns
   * with them, its next table tells they are back.
   *
   * @param node Node id.
   * @param change Why, when the people should be told: `unreachable` (dead
   *   or cut off) or `restarted`; absent for a node that left on its own.
   */
  dropRemotePresence(node: string, change?: "unreachable" | "restarted"): void {
    const people: PresenceEntry[] = [];
    if (change !== undefined) {
      for (const remote of this.#remote.entries()) {
        if (remote.node === node) people.push(remote.entry);
      }
    }
    // Not expired at once: a node wrongly thought dead sends its table again.
    for (const room of this.#remote.drop(node)) this.#limits.mayBeIdle(room);
    this.#shownGone.delete(node);
    if (people.length === 0 || change === undefined) return;
    if (change === "unreachable") {
      this.#shownGone.set(node, new Map(people.map((p) => [nickKey(p.nick), p])));
    }
    this.#tellNode(node, people, change);
  }

  /**
   * Listens to changes of this node's presence (to tell peers).
   *
   * @param listener Called after each change.
   * @returns A function that removes the listener.
   */
  onPresence(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** This node's presence changed (a session came, went, joined, left, renamed, went away). */
  changed(): void {
    for (const listener of this.#listeners) listener();
  }

  /**
   * Whether a local session keeps its nick against a peer's entry for it.
   * A nick registered to a key is its owner's, whatever a peer's entry
   * claims (an early `since` wins every race); one who is not the owner yields.
   */
  #keepsNick(local: Session, entry: PresenceEntry, node: string): boolean {
    // A registered nick is its keys' (every device of its person), whatever a peer's entry says.
    if (this.#ownerOf(local.nick) !== undefined) {
      return this.#owns(local.nick, local.origin.fingerprint);
    }
    return winsNickRace({ since: local.since, node: this.#nodeId }, { since: entry.since, node });
  }

  /** Tells local sessions about people of a node who are back after it was unreachable. */
  #tellBack(node: string, entries: readonly PresenceEntry[]): void {
    const gone = this.#shownGone.get(node);
    if (gone === undefined) return;
    this.#shownGone.delete(node);
    const back: PresenceEntry[] = [];
    for (const entry of entries) {
      const before = gone.get(nickKey(entry.nick));
      if (before === undefined) continue;
      // Back where they were: a room joined since then shows its own join.
      const was = new Set(before.rooms);
      const rooms = entry.rooms.filter((room) => was.has(room));
      if (rooms.length > 0) back.push({ ...entry, rooms });
    }
    this.#tellNode(node, back, "reachable");
  }

  #tellNode(node: string, people: readonly PresenceEntry[], change: NodeChange): void {
    const notices = nodePresenceNotices(this.#local.sessions(), people, node, change);
    for (const [session, lines] of notices) {
      session.sink.send({ t: "info", cmd: "presence", lines, data: { node, change } });
    }
  }
}

/**
 * One member per person: the entries of one nick (their devices, here and on
 * other nodes) merged, with every node they are on (`n1,n2`), the earliest
 * `since`, and an away message if any device has one.
 */
function onePerPerson(members: readonly Member[]): Member[] {
  const byNick = new Map<string, Member>();
  for (const member of members) {
    const key = nickKey(member.nick);
    const before = byNick.get(key);
    if (before === undefined) {
      byNick.set(key, member);
      continue;
    }
    const nodes = new Set([...before.node.split(","), member.node]);
    const away = before.away ?? member.away;
    byNick.set(key, {
      nick: before.nick,
      node: [...nodes].join(","),
      since: Math.min(before.since, member.since),
      ...(away === undefined ? {} : { away }),
    });
  }
  return [...byNick.values()];
}
