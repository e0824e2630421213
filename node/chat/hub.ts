/**
 * The hub: sessions, presence, rate limits and the actions people take
 * (say, join, seal, moderate...). What they do becomes an event appended to
 * the node's {@linkcode EventLog}, the one writer of chat state; the hub
 * listens to the log (`onSettled`) and fans out every applied event — local
 * or from the mesh — to its sessions, announces seals and enforces
 * moderation. It decides which rooms may expire (it knows who is in them).
 * It knows nothing of sockets or SSH: a session is a
 * {@linkcode SessionSink} that frames are sent to.
 *
 * @module
 */
import { type ChatEvent, type EventKind, isSpoken } from "../../core/event.ts";
import { cleanVisibleText, MAX_REASON_LENGTH, MAX_TOPIC_LENGTH } from "../../core/event_rules.ts";
import type { HybridClock } from "../../core/hybrid_clock.ts";
import { nickKey, normalizeRoom, validateNick } from "../../core/names.ts";
import { TokenBucket } from "../../core/rate_limiter.ts";
import { Session, type SessionOrigin, type SessionSink } from "./session.ts";
import { sanitizeText } from "../../core/text_sanitizer.ts";
import { countOf } from "../../core/chat_format.ts";
import { type Logger, silentLogger } from "../logger.ts";
import {
  type MsgFrame,
  PROTOCOL_VERSION,
  ProtocolError,
  type ServerFrame,
  toMsgFrame,
} from "../../core/protocol.ts";
import {
  fitPresence,
  MAX_ROOMS_PER_ENTRY,
  type Member,
  parsePresence,
  type PresenceEntry,
  RemotePresence,
  winsNickRace,
} from "./presence.ts";
import { olderGoneLine, Room } from "./room.ts";
import {
  DEFAULT_HISTORY_BUDGET_BYTES,
  DEFAULT_ROOM,
  EventLog,
  EventRuleError,
  type ModEffect,
  type VersionsView,
} from "./event_log.ts";
import type { StorageView } from "./storage_view.ts";
import { type NodeChange, nodePresenceNotices } from "./node_presence_notice.ts";
import { budgetOf, fitHistory } from "./reply_budget.ts";
import { type SealParams, validateSealParams } from "../../core/crypto/room_params.ts";
import { EnvelopeSyntaxError, readEnvelopeHeader } from "../../core/crypto/envelope.ts";
import {
  type Ban,
  formatModAction,
  formatUntil,
  hostOf,
  type ModAction,
  type Moderation,
} from "./moderation.ts";
import { addressKey } from "../../core/address_key.ts";

export { Session, type SessionOrigin, type SessionSink } from "./session.ts";
export {
  DEFAULT_HISTORY_BUDGET_BYTES,
  DEFAULT_ROOM,
  type EventListener,
  KEPT_PER_ROOM,
} from "./event_log.ts";

/** What the mesh tells the hub about the cluster, for `/nodes`. */
export interface ClusterView {
  /** Every known node, this one included. */
  members(): readonly {
    readonly id: string;
    readonly addr: string;
    readonly state: string;
    readonly incarnation: number;
    readonly connected: boolean;
  }[];
  /** Event ranges no reachable peer holds any more. */
  lostRanges(): readonly string[];
  /** Lost-range records dropped to keep their cap, for `/stats`. */
  lostRangesDropped?(): number;
}

/**
 * Who may use which nick beyond "not in use", e.g. nicks owned by SSH keys
 * (node/chat/nick_registry.ts). The hub asks before a session takes a nick and
 * reports each nick a session took.
 */
export interface NickGuard {
  /**
   * Why a person may not use a nick; must not change anything.
   *
   * @param nick A valid nick.
   * @param fingerprint The person's key fingerprint, undefined without a key.
   * @returns A message for the person, or undefined when the nick may be used.
   */
  check(nick: string, fingerprint: string | undefined): string | undefined;
  /**
   * A session now uses the nick (the guard may register it to the key).
   *
   * @param nick The nick.
   * @param fingerprint The person's key fingerprint, undefined without a key.
   */
  use(nick: string, fingerprint: string | undefined): void;
  /**
   * The key fingerprint that owns a nick, for `/whois`.
   *
   * @param nick The nick.
   * @returns The fingerprint, or undefined when nobody owns it.
   */
  ownerOf(nick: string): string | undefined;
}

/** Options of {@linkcode Hub}. */
export interface HubOptions {
  /** This node's id, shown to people. */
  nodeId: string;
  /**
   * The event log to append to and fan out from; when given, `origin`,
   * `lastSeq`, `clock`, `historySize`, `historyBudgetBytes` and `maxLeadMs`
   * are the log's. @default a new EventLog from these options
   */
  log?: EventLog;
  /** Origin stamped on events accepted here. @default nodeId */
  origin?: string;
  /** Sequence number of the last event already issued under `origin`. @default 0 */
  lastSeq?: number;
  /** Events kept per room. @default 10000 */
  historySize?: number;
  /** Messages sent to a joining client. @default 50 */
  welcomeHistory?: number;
  /** Burst of messages a person may send at once; 0 disables rate limits. @default 10 */
  rateBurst?: number;
  /** Sustained messages per second per person. @default 5 */
  ratePerSecond?: number;
  /** Clock in ms. @default Date.now */
  now?: () => number;
  /** Hybrid clock. @default a new HybridClock(nodeId, { now }) */
  clock?: HybridClock;
  /** Logger. @default silentLogger */
  logger?: Logger;
  /** Extra rules for nicks (registered nicks). @default none */
  nickGuard?: NickGuard;
  /**
   * SSH key fingerprints (`SHA256:...`) that are operators on this node
   * (`--ops FILE`), besides those granted cluster-wide with `/op`.
   * @default none
   */
  ops?: Iterable<string>;
  /**
   * How far a peer's event stamp may lead this node's clock (ms). An event
   * further ahead is refused until the clock catches up: a stamp from the
   * far future would win every last-writer-wins race (a permanent op
   * grant). Larger values tolerate worse clock skew between nodes; smaller
   * ones shorten how long a forged stamp can win.
   * @default 600000 (10 minutes)
   */
  maxLeadMs?: number;
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
   * Bytes of history this node retains across every room and the private
   * log (`--history-budget`), each event counted as its JSON plus
   * `EVENT_OVERHEAD_BYTES` (`node/chat/history_budget.ts`). Past it the oldest events node-wide
   * are evicted first, but every log keeps its last {@linkcode KEPT_PER_ROOM}.
   * Smaller saves memory and disk; larger keeps more history for `/history`
   * and for peers catching up.
   * @default 268435456 (256 MiB)
   */
  historyBudgetBytes?: number;
  /**
   * How long a room must be quiet (no event) while empty everywhere before
   * it expires with its history (`--room-ttl`). The default room never
   * expires. @default 2592000000 (30 days)
   */
  roomTtlMs?: number;
}

/** The default `roomTtlMs`: 30 days. */
export const DEFAULT_ROOM_TTL_MS = 30 * 24 * 3600 * 1000;

/** What a client asks for when it says hello. */
export interface HelloRequest {
  /** Requested nick. */
  readonly user: string;
  /** Room to start in. @default "lobby" */
  readonly room?: string;
  /** Protocol version the client speaks. @default PROTOCOL_VERSION */
  readonly v?: number;
  /**
   * Most messages of history in the welcome and in every later `joined`
   * reply (0: none, for bots); validated by the frontend (0 to
   * `MAX_HELLO_HISTORY`). @default the hub's `welcomeHistory`
   */
  readonly history?: number;
}

/** The listeners of a room without local members. */
const NOBODY: ReadonlySet<Session> = new Set();

/** People whose mute this node remembers by who they are (see `Hub.muteOf`). */
const MAX_MUTED_HOSTS = 4096;

/** Who a session's person is, for a mute: their key, else their host (IPv6: its /64). */
function whoOf(session: Session): string {
  const { fingerprint, address } = session.origin;
  return fingerprint !== undefined ? `fp ${fingerprint}` : `addr ${addressKey(hostOf(address))}`;
}

function describeBan(ban: Ban, now: number): string {
  const what = ban.target.type === "nick"
    ? `nick ${ban.target.value}`
    : ban.target.type === "fp"
    ? "your SSH key"
    : "your address";
  return `${what} is banned ${formatUntil(ban.until, now)}`;
}

/** The chat domain of one node. */
export class Hub {
  /** This node's id. */
  readonly nodeId: string;
  /** Origin of events accepted here. */
  readonly origin: string;
  /**
   * The node's event log: the one writer of chat state. The hub appends
   * what people do and fans out what the log applied.
   */
  readonly log: EventLog;
  /** The cluster, once the mesh is running; undefined for a standalone node. */
  cluster: ClusterView | undefined;
  /** The snapshot store, once attached; undefined when the node keeps no data. For `/stats`. */
  storage: StorageView | undefined;
  /** Extra rules for nicks, if any. */
  readonly nickGuard: NickGuard | undefined;
  readonly #localOps: ReadonlySet<string>;
  readonly #sessionsByNick = new Map<string, Session>();
  readonly #presenceListeners = new Set<() => void>();
  readonly #remote = new RemotePresence();
  /**
   * Rooms that may be idle but were not expired when they became so (see
   * {@linkcode Hub.dropRemotePresence} and the apply path); swept when a new
   * room needs space, so a full node never scans every room.
   */
  readonly #expiryCandidates = new Set<string>();
  readonly #maxRoomsPerSession: number;
  readonly #maxRooms: number;
  readonly #roomTtlMs: number;
  #lastQuietScan = -Infinity;
  /**
   * People of unreachable nodes the local sessions were told had left, per
   * node, with the rooms they were in: told back when the node's next table
   * lists them. Cleared when the node restarts or leaves.
   */
  readonly #shownGone = new Map<string, Map<string, PresenceEntry>>();
  /** Presence warnings already logged (once per peer until its table is clean again). */
  readonly #presenceWarned = new Set<string>();
  #presenceTrimmed = false;
  readonly #welcomeHistory: number;
  readonly #rateBurst: number;
  readonly #ratePerSecond: number;
  readonly #now: () => number;
  readonly #logger: Logger;
  /** Sessions muted on this node, and the nick they were muted under (survives /nick). */
  readonly #mutedAs = new WeakMap<Session, string>();
  /**
   * Who was muted here (key, else host; IPv6 per /64) → the nick muted: a
   * mute issued elsewhere names only the nick, and a quit and a new nick
   * must not shake it off. Oldest dropped past {@linkcode MAX_MUTED_HOSTS}.
   */
  readonly #mutedHosts = new Map<string, string>();
  #nextSessionId = 1;

  /** @param options See {@linkcode HubOptions}. */
  constructor(options: HubOptions) {
    const {
      nodeId,
      historySize = 10_000,
      welcomeHistory = 50,
      rateBurst = 10,
      ratePerSecond = 5,
      now = Date.now,
      logger = silentLogger,
      maxLeadMs = 600_000,
      maxRoomsPerSession = 64,
      maxRooms = 10_000,
      historyBudgetBytes = DEFAULT_HISTORY_BUDGET_BYTES,
      roomTtlMs = DEFAULT_ROOM_TTL_MS,
    } = options;
    this.nodeId = nodeId;
    this.origin = options.log?.origin ?? options.origin ?? nodeId;
    this.log = options.log ?? new EventLog({
      origin: this.origin,
      historySize,
      historyBudgetBytes,
      maxLeadMs,
      now,
      logger,
      ...(options.lastSeq === undefined ? {} : { lastSeq: options.lastSeq }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
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
    this.#maxRoomsPerSession = maxRoomsPerSession;
    this.#maxRooms = maxRooms;
    if (!(roomTtlMs > 0)) {
      throw new RangeError(`Invalid room TTL ${roomTtlMs} ms: must be positive`);
    }
    this.#roomTtlMs = roomTtlMs;
    if (rateBurst < 0 || ratePerSecond <= 0) {
      throw new RangeError(
        `Invalid rate limit ${rateBurst} burst at ${ratePerSecond}/s: burst must be >= 0 and rate > 0`,
      );
    }
    this.#welcomeHistory = welcomeHistory;
    this.#rateBurst = rateBurst;
    this.#ratePerSecond = ratePerSecond;
    this.#now = now;
    this.#logger = logger;
    this.nickGuard = options.nickGuard;
    this.#localOps = new Set(options.ops ?? []);
    this.log.setRoomExpiry((room) =>
      (!room.spokenIn || this.#quiet(room)) && !this.#occupied(room.name)
    );
    this.log.onSettled((event, evicted, mod) => this.#settled(event, evicted, mod));
  }

  /** Which events this node holds (the log's, read-only). */
  get versions(): VersionsView {
    return this.log.versions;
  }

  /** Operators, bans, mutes and the motd, derived from `mod` events by the log. */
  get moderation(): Moderation {
    return this.log.moderation;
  }

  /**
   * The hub's clock.
   *
   * @returns Milliseconds since the epoch.
   */
  now(): number {
    return this.#now();
  }

  /**
   * Presence entries held: this node's sessions plus the other nodes'
   * tables. O(remote entries).
   *
   * @returns The count.
   */
  presenceCount(): number {
    let count = this.#sessionsByNick.size;
    for (const _ of this.#remote.entries()) count++;
    return count;
  }

  /** Connected sessions. */
  sessions(): IterableIterator<Session> {
    return this.#sessionsByNick.values();
  }

  /**
   * Rooms by name. A room that is empty on every node and was never spoken
   * in is not kept (it expires), so this holds at most `maxRooms` rooms
   * created here, plus those that arrive from peers.
   */
  rooms(): ReadonlyMap<string, Room> {
    return this.log.rooms;
  }

  /**
   * Admits a person: validates the nick and room, sends `welcome` with the
   * room's recent history, then announces the join.
   *
   * @param sink Where the session's frames go.
   * @param hello Requested nick, room and protocol version.
   * @param origin Transport details.
   * @returns The new session.
   * @throws {ProtocolError} `version`, `nick_invalid`, `banned` (the nick, the
   *   key or the address), `nick_taken`, `room_invalid`, `rooms_full` (a new
   *   room on a node that holds `maxRooms`).
   */
  connect(sink: SessionSink, hello: HelloRequest, origin: SessionOrigin): Session {
    const { user, room: requestedRoom = DEFAULT_ROOM, v = PROTOCOL_VERSION } = hello;
    if (v !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        "version",
        `Unsupported protocol version ${v}: this node speaks version ${PROTOCOL_VERSION}`,
      );
    }
    this.#checkBan(this.#validNick(user), origin.fingerprint, origin.address);
    const nick = this.#checkNickFree(user, origin.fingerprint);
    const room = this.#roomName(requestedRoom);
    this.#makeSpaceFor(room);
    const limiter = this.#rateBurst === 0 ? undefined : new TokenBucket({
      capacity: this.#rateBurst,
      refillPerSecond: this.#ratePerSecond,
      now: this.#now,
    });
    const session = new Session(
      this.#nextSessionId++,
      nick,
      sink,
      origin,
      limiter,
      this.#now(),
    );
    session.joinHistory = hello.history;
    this.#sessionsByNick.set(nickKey(nick), session);
    this.nickGuard?.use(nick, origin.fingerprint);
    const target = this.#room(room);
    const asked = hello.history ?? this.#welcomeHistory;
    const history = target.recent(asked);
    const olderGone = target.reachesGone(history.length, asked);
    sink.send(fitHistory(sink, {
      t: "welcome",
      v: PROTOCOL_VERSION,
      node: this.nodeId,
      nick,
      room,
      rooms: this.#roomListFor(sink),
      topic: target.topic,
      ...(target.sealed === undefined ? {} : { sealed: target.sealed }),
      history: history.map(toMsgFrame),
      ...(olderGone ? { olderGone } : {}),
      ...(this.moderation.motd === "" ? {} : { motd: this.moderation.motd }),
    }));
    if (olderGone) sink.send({ t: "info", cmd: "history", lines: [olderGoneLine(room)] });
    this.#enter(session, target);
    this.#presenceChanged();
    this.#logger.info("session opened", {
      nick,
      via: origin.via,
      addr: origin.address,
    });
    return session;
  }

  /**
   * Ends a session: a leave event in every room it was in.
   *
   * @param session The session.
   * @param reason Shown to the others in the leave event.
   */
  disconnect(session: Session, reason = "quit"): void {
    if (!session.open) return;
    session.open = false;
    const rooms = [...session.rooms];
    for (const room of rooms) {
      this.#exit(session, room, reason);
    }
    this.#sessionsByNick.delete(nickKey(session.nick));
    this.#presenceChanged();
    for (const room of rooms) this.#expireIfIdle(room);
    this.#logger.info("session closed", { nick: session.nick, reason });
  }

  /**
   * Counts one action against the session's rate limit.
   *
   * @param session The session.
   * @throws {ProtocolError} `rate_limited` when over budget.
   */
  spend(session: Session): void {
    session.lastActive = this.#now();
    if (session.limiter && !session.limiter.tryTake()) {
      const wait = Math.ceil(session.limiter.msUntilAvailable() / 100) / 10;
      throw new ProtocolError(
        "rate_limited",
        `Slow down: too many messages, try again in ${wait} s`,
      );
    }
  }

  /**
   * Charges a change announced in each of the session's rooms (`/away`,
   * `/nick`) one more token per 8 rooms past the first 8 (the line paid
   * one), at most a burst: else one line in 64 rooms makes 64 events, and a
   * toggle loop makes 64 times the events of the rate limit.
   *
   * @throws {ProtocolError} `rate_limited` when over budget.
   */
  #spendPerRoom(session: Session): void {
    const extra = Math.min(Math.ceil(session.rooms.size / 8) - 1, this.#rateBurst - 1);
    if (extra <= 0 || session.limiter === undefined || session.limiter.tryTake(extra)) return;
    const wait = Math.ceil(session.limiter.msUntilAvailable(extra) / 100) / 10;
    throw new ProtocolError(
      "rate_limited",
      `Slow down: a change shown in ${
        countOf(session.rooms.size, "room")
      } costs more, try again in ${wait} s`,
    );
  }

  /**
   * Says something in a room the session is in.
   *
   * @param session Speaker.
   * @param roomName Room, or undefined for the session's current room.
   * @param text The line (sanitised here).
   * @param kind `message` or `action`.
   * @param cid The client's id for this line: a line resent with the same
   *   id (after a failover) returns the event already accepted for it.
   * @returns The accepted event.
   * @throws {ProtocolError} `not_in_room`, `empty_message`, `room_invalid`,
   *   `room_sealed` (a sealed room takes only sealed envelopes).
   */
  say(
    session: Session,
    roomName: string | undefined,
    text: string,
    kind: "message" | "action" = "message",
    cid?: string,
  ): ChatEvent {
    const earlier = this.#resent(session, cid);
    if (earlier) return earlier;
    const room = this.#speakingRoom(session, roomName, false);
    const clean = this.#cleanText(text);
    return this.#emit(kind, room, session.nick, clean, undefined, cid);
  }

  /**
   * Says something sealed in a sealed room. The envelope is opaque: the node
   * only checks that its public header names this room and this sender,
   * stores it as the event's `sealed` body with empty `text`, and relays it.
   *
   * @param session Speaker.
   * @param roomName Room, or undefined for the session's current room.
   * @param envelope The sealed envelope (base64url, bounded by the protocol).
   * @param kind `message` or `action`.
   * @param cid The client's id for this line (see {@linkcode Hub.say}).
   * @returns The accepted event.
   * @throws {ProtocolError} `not_in_room`, `room_invalid`, `not_sealed`,
   *   `bad_envelope`.
   */
  saySealed(
    session: Session,
    roomName: string | undefined,
    envelope: string,
    kind: "message" | "action" = "message",
    cid?: string,
  ): ChatEvent {
    const earlier = this.#resent(session, cid);
    if (earlier) return earlier;
    const room = this.#speakingRoom(session, roomName, true);
    let header;
    try {
      header = readEnvelopeHeader(envelope);
    } catch (error) {
      if (!(error instanceof EnvelopeSyntaxError)) throw error;
      throw new ProtocolError("bad_envelope", error.message, { cause: error });
    }
    if (header.room !== room || header.sender !== session.nick) {
      throw new ProtocolError(
        "bad_envelope",
        `Cannot accept sealed message: it was sealed for #${
          sanitizeText(header.room).slice(0, 32)
        } by ${sanitizeText(header.sender).slice(0, 32)}, not #${room} by ${session.nick}`,
      );
    }
    return this.#emit(kind, room, session.nick, "", undefined, cid, envelope);
  }

  /**
   * Seals a room: from now on it takes only sealed envelopes. The first seal
   * (in hybrid-clock order) wins on every node; sealing again with the same
   * parameters changes nothing.
   *
   * Only someone alone in a room may seal it (so nobody can take over a busy
   * room), and the default room is never sealed.
   *
   * @param session Who seals.
   * @param roomName Room, or undefined for the current one.
   * @param params Untrusted seal parameters, checked with
   *   {@linkcode validateSealParams} (the limits every client applies).
   * @returns The `seal` event, or undefined when already sealed with these parameters.
   * @throws {ProtocolError} `not_in_room`, `bad_args`, `forbidden`, `already_sealed`.
   */
  seal(session: Session, roomName: string | undefined, params: unknown): ChatEvent | undefined {
    this.#checkMute(session);
    const name = this.#memberRoom(session, roomName);
    let checked: SealParams;
    try {
      checked = validateSealParams(params);
    } catch (error) {
      throw new ProtocolError("bad_args", (error as Error).message, { cause: error });
    }
    const room = this.#room(name);
    const text = JSON.stringify(checked);
    if (room.sealed !== undefined) {
      if (JSON.stringify(room.sealed) === text) return undefined;
      throw new ProtocolError("already_sealed", `#${name} is already sealed`);
    }
    if (name === DEFAULT_ROOM) {
      throw new ProtocolError("forbidden", `#${name} is everyone's room: it cannot be sealed`);
    }
    const present = this.members(name).length;
    if (present > 1) {
      throw new ProtocolError(
        "forbidden",
        `Cannot seal #${name}: ${present} people are in it; only someone alone in a room can seal it`,
      );
    }
    const refusal = this.#sealRefusal(name, session.nick);
    if (refusal !== undefined) {
      throw new ProtocolError("forbidden", `Cannot seal #${name}: ${refusal}`);
    }
    return this.#emit("seal", name, session.nick, text);
  }

  /**
   * Sends a private message.
   *
   * @param session Sender.
   * @param to Recipient nick.
   * @param text The message.
   * @returns The accepted event.
   * @throws {ProtocolError} `no_such_user`, `empty_message`.
   */
  sendPrivate(session: Session, to: string, text: string): ChatEvent {
    this.#checkMute(session);
    const target = this.#sessionsByNick.get(nickKey(to))?.nick ?? this.#remote.find(to)?.entry.nick;
    if (target === undefined) {
      throw new ProtocolError("no_such_user", `No such user: ${sanitizeText(to).slice(0, 32)}`);
    }
    const clean = this.#cleanText(text);
    return this.#emit("private", "", session.nick, clean, target);
  }

  /**
   * Joins a room (creating it) and makes it the session's current room.
   *
   * @param session The session.
   * @param roomName Room to join.
   * @returns The normalised room name.
   * @throws {ProtocolError} `room_invalid`, `too_many_rooms` (the session is
   *   in `maxRoomsPerSession` rooms), `rooms_full` (a new room on a node that
   *   holds `maxRooms`).
   */
  join(session: Session, roomName: string): string {
    const name = this.#roomName(roomName);
    if (!session.rooms.has(name) && session.rooms.size >= this.#maxRoomsPerSession) {
      throw new ProtocolError(
        "too_many_rooms",
        `Cannot join #${name}: you are in ${
          countOf(session.rooms.size, "room")
        }, the most this node allows; /leave one first`,
      );
    }
    this.#makeSpaceFor(name);
    const room = this.#room(name);
    const asked = session.joinHistory ?? this.#welcomeHistory;
    const history = room.recent(asked);
    const olderGone = room.reachesGone(history.length, asked);
    session.sink.send(fitHistory(session.sink, {
      t: "joined",
      room: name,
      topic: room.topic,
      ...(room.sealed === undefined ? {} : { sealed: room.sealed }),
      history: history.map(toMsgFrame),
      ...(olderGone ? { olderGone } : {}),
    }));
    if (olderGone) this.#notice(session, "history", olderGoneLine(name));
    if (!session.rooms.has(name)) {
      this.#enter(session, room);
      this.#presenceChanged();
    }
    session.current = name;
    return name;
  }

  /**
   * Leaves a room.
   *
   * @param session The session.
   * @param roomName Room, or undefined for the current one.
   * @returns The room left.
   * @throws {ProtocolError} `not_in_room`, `room_invalid`.
   */
  leave(session: Session, roomName: string | undefined): string {
    const name = this.#memberRoom(session, roomName);
    this.#exit(session, name, "left");
    if (session.current === name) {
      session.current = [...session.rooms].at(-1) ?? "";
    }
    session.sink.send({ t: "left", room: name, current: session.current });
    this.#presenceChanged();
    this.#expireIfIdle(name);
    return name;
  }

  /**
   * Changes the session's nick, announced in each of its rooms.
   *
   * @param session The session.
   * @param requested New nick.
   * @returns The new nick.
   * @throws {ProtocolError} `nick_invalid`, `nick_taken`.
   */
  rename(session: Session, requested: string): string {
    // A new nick is announced in every room: a muted person may not speak that way.
    this.#checkMute(session);
    if (nickKey(requested) !== nickKey(session.nick)) this.#spendPerRoom(session);
    return this.#rename(session, requested);
  }

  #rename(session: Session, requested: string): string {
    const sameKey = nickKey(requested) === nickKey(session.nick);
    const fingerprint = session.origin.fingerprint;
    const nick = sameKey ? this.#validNick(requested) : this.#checkNickFree(requested, fingerprint);
    if (!sameKey) this.#checkBan(nick, undefined, undefined);
    const old = session.nick;
    if (nick === old) return nick;
    this.nickGuard?.use(nick, fingerprint);
    this.#sessionsByNick.delete(nickKey(old));
    this.#sessionsByNick.set(nickKey(nick), session);
    session.nick = nick;
    for (const room of session.rooms) this.#emit("nick", room, old, nick);
    session.sink.send({ t: "nick", nick });
    this.#presenceChanged();
    return nick;
  }

  /**
   * Sets the topic of a room the session is in.
   *
   * @param session The session.
   * @param roomName Room, or undefined for the current one.
   * @param topic New topic (sanitised, may be empty to clear).
   * @throws {ProtocolError} `not_in_room`.
   */
  setTopic(session: Session, roomName: string | undefined, topic: string): void {
    this.#checkMute(session);
    const room = this.#memberRoom(session, roomName);
    this.#emit("topic", room, session.nick, cleanVisibleText(topic, MAX_TOPIC_LENGTH));
  }

  /**
   * Marks the session away (with a message) or back (`undefined`).
   *
   * @param session The session.
   * @param message Away message, or undefined to come back.
   */
  setAway(session: Session, message: string | undefined): void {
    // Coming back says nothing; an away message is shown to everyone.
    if (message !== undefined) this.#checkMute(session);
    this.#spendPerRoom(session);
    const text = message === undefined ? "" : cleanVisibleText(message, MAX_REASON_LENGTH) ||
      "away";
    session.away = text === "" ? undefined : text;
    for (const room of session.rooms) this.#emit("away", room, session.nick, text);
    this.#presenceChanged();
  }

  /**
   * A room by name.
   *
   * @param name Room name as typed.
   * @returns The room, or undefined when it does not exist.
   */
  findRoom(name: string): Room | undefined {
    try {
      return this.log.rooms.get(normalizeRoom(name));
    } catch {
      return undefined;
    }
  }

  /**
   * The session's room for a room-scoped command.
   *
   * @param session The session.
   * @param roomName Explicit room, or undefined for the current one.
   * @returns The room.
   * @throws {ProtocolError} `not_in_room`, `room_invalid`.
   */
  roomOf(session: Session, roomName: string | undefined): Room {
    return this.#room(this.#memberRoom(session, roomName));
  }

  /**
   * Private messages to or from a nick, newest last.
   *
   * @param nick The nick.
   * @param limit How many at most.
   * @returns The events.
   */
  privateHistory(nick: string, limit: number): ChatEvent[] {
    return this.log.privateHistory(nick, limit);
  }

  /**
   * What the hub does with an event the log applied: a room that may be
   * idle is noted, seals are announced, moderation is enforced, and
   * everything else is fanned out to the local sessions.
   */
  #settled(event: ChatEvent, evicted: ChatEvent | undefined, mod: ModEffect | undefined): void {
    if (event.kind !== "private" && event.kind !== "mod") {
      const room = this.log.rooms.get(event.room);
      // From a peer ahead of its presence table, or a straggler after it: swept when space is short.
      if (room !== undefined && !room.spokenIn && !this.#occupied(room.name)) {
        this.#expiryCandidates.add(room.name);
      }
    }
    if (event.kind === "seal") this.#announceSeal(event);
    if (event.kind === "mod") {
      if (mod !== undefined) this.#enforce(event, mod);
      return;
    }
    if (evicted === event) return;
    const frame = toMsgFrame(event);
    if (event.kind === "private") {
      this.#deliverPrivate(event, frame);
    } else {
      const from = isSpoken(event) ? nickKey(event.from) : undefined;
      for (const session of this.#listeners(event.room)) {
        if (from === undefined || !session.ignored.has(from)) session.sink.send(frame);
      }
    }
  }

  /**
   * Whether a session is an operator: its SSH key is listed in this node's
   * ops file or was granted op cluster-wide with `/op`. People without a
   * key (TCP clients, SSH guests) are never operators.
   *
   * @param session The session.
   * @returns True for an operator.
   */
  isOp(session: Session): boolean {
    const fp = session.origin.fingerprint;
    return fp !== undefined && (this.#localOps.has(fp) || this.moderation.isOp(fp));
  }

  /**
   * Issues a moderation change as a `mod` event (cluster-wide, room `""`).
   * The caller checks that the session is an operator.
   *
   * @param session The operator.
   * @param action The change.
   * @returns The event.
   */
  moderate(session: Session, action: ModAction): ChatEvent {
    const fp = session.origin.fingerprint;
    if (fp === undefined) {
      throw new ProtocolError("forbidden", "Moderation is for operators only");
    }
    const issuer = { fp, root: this.#localOps.has(fp) };
    return this.#emit("mod", "", session.nick, formatModAction(this.#bindMute(action), issuer));
  }

  /**
   * Adds who the person is to a mute: their key, else their host, when
   * they are connected here; else the key that owns the nick, if any.
   */
  #bindMute(action: ModAction): ModAction {
    if (action.a !== "mute" || action.fp !== undefined || action.addr !== undefined) return action;
    const local = this.#sessionsByNick.get(nickKey(action.nick));
    const fp = local?.origin.fingerprint ??
      (local ? undefined : this.nickGuard?.ownerOf(action.nick));
    if (fp !== undefined) return { ...action, fp };
    return local === undefined ? action : { ...action, addr: hostOf(local.origin.address) };
  }

  /**
   * A connected session by nick, on this node.
   *
   * @param nick The nick.
   * @returns The session, or undefined.
   */
  localSession(nick: string): Session | undefined {
    return this.#sessionsByNick.get(nickKey(nick));
  }

  /**
   * Whether someone uses a nick anywhere in the cluster, and their exact nick.
   *
   * @param nick The nick.
   * @returns The nick as its owner spells it, or undefined when nobody uses it.
   */
  onlineNick(nick: string): string | undefined {
    return this.#sessionsByNick.get(nickKey(nick))?.nick ?? this.#remote.find(nick)?.entry.nick;
  }

  /**
   * Everyone in a room, on this node and the others, sorted by nick.
   *
   * @param room Normalised room name.
   * @returns The members.
   */
  members(room: string): Member[] {
    const local: Member[] = [];
    for (const session of this.#listeners(room)) {
      local.push({
        nick: session.nick,
        node: this.nodeId,
        since: session.since,
        ...(session.away === undefined ? {} : { away: session.away }),
      });
    }
    return [...local, ...this.#remote.inRoom(room)].sort((a, b) => a.nick.localeCompare(b.nick));
  }

  /**
   * This node's sessions, as announced to peers: one entry per session,
   * fitted to `MAX_PRESENCE_BYTES` (see {@linkcode fitPresence}: every
   * nick before anyone's rooms), so the table always fits a mesh frame.
   *
   * @returns The entries.
   */
  localPresence(): PresenceEntry[] {
    const fitted = fitPresence(
      [...this.#sessionsByNick.values()].map((session) => ({
        nick: session.nick,
        rooms: [...session.rooms],
        since: session.since,
        ...(session.away === undefined ? {} : { away: session.away }),
      })),
    );
    // Warn when trimming starts, not on every change while it lasts.
    if (fitted.trimmed > 0 && !this.#presenceTrimmed) {
      this.#logger.warn("presence table over its size bound: rooms left out for some people", {
        trimmed: fitted.trimmed,
      });
    }
    this.#presenceTrimmed = fitted.trimmed > 0;
    return fitted.entries;
  }

  /**
   * Takes a peer's presence table, entry by entry: a malformed entry is
   * dropped or cut down and the rest kept (see {@linkcode parsePresence}),
   * with one warning per peer until its tables are clean again. A local
   * session that lost a nick race to one of its entries is renamed and told
   * why.
   *
   * @param node The peer's node id.
   * @param table Its sessions, as received (validated here).
   * @throws {TypeError} When the table is not an array (nothing is changed).
   */
  updateRemotePresence(node: string, table: unknown): void {
    const { entries, dropped, truncated } = parsePresence(table);
    if (dropped + truncated === 0) {
      this.#presenceWarned.delete(node);
    } else if (!this.#presenceWarned.has(node)) {
      this.#presenceWarned.add(node);
      this.#logger.warn("presence entries from a peer dropped or cut down", {
        peer: node,
        kept: entries.length,
        dropped,
        truncated,
      });
    }
    const vacated = this.#remote.replace(node, entries);
    for (const room of vacated) this.#expireIfIdle(room);
    this.#tellBack(node, entries);
    for (const entry of entries) {
      const local = this.#sessionsByNick.get(nickKey(entry.nick));
      if (!local) continue;
      // A nick registered to a key is its owner's, whatever a peer's entry
      // claims (an early `since` wins every race); one who is not the owner yields.
      const owner = this.nickGuard?.ownerOf(local.nick);
      if (owner !== undefined && owner === local.origin.fingerprint) continue;
      if (
        owner === undefined &&
        winsNickRace({ since: local.since, node: this.nodeId }, { since: entry.since, node })
      ) {
        continue;
      }
      const old = local.nick;
      const nick = this.#freeVariant(old, local.origin.fingerprint);
      this.#rename(local, nick);
      local.sink.send({
        t: "error",
        code: "nick_taken",
        message: `Nick ${old} was claimed on node ${node} first: you are now ${nick}`,
      });
    }
  }

  /**
   * Forgets the presence of a node that died, left or restarted. For a node
   * found unreachable or restarted, the local sessions that shared a room
   * with its people are told they left (a notice, not a replicated event:
   * nobody left on their own); when an unreachable node returns with them,
   * its next table tells they are back.
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
    for (const room of this.#remote.drop(node)) this.#expiryCandidates.add(room);
    this.#shownGone.delete(node);
    if (people.length === 0 || change === undefined) return;
    if (change === "unreachable") {
      this.#shownGone.set(node, new Map(people.map((p) => [nickKey(p.nick), p])));
    }
    this.#tellNode(node, people, change);
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
    const notices = nodePresenceNotices(this.#sessionsByNick.values(), people, node, change);
    for (const [session, lines] of notices) {
      session.sink.send({ t: "info", cmd: "presence", lines, data: { node, change } });
    }
  }

  /**
   * Listens to changes of this node's presence (to tell peers).
   *
   * @param listener Called after each change.
   * @returns A function that removes the listener.
   */
  onPresence(listener: () => void): () => void {
    this.#presenceListeners.add(listener);
    return () => this.#presenceListeners.delete(listener);
  }

  /**
   * Expires every room that is empty everywhere and quiet for the room TTL
   * (or never spoken in), with its history. The node calls this now and
   * then; the hub keeps no timers.
   *
   * @returns How many rooms expired.
   */
  expireQuietRooms(): number {
    const before = this.log.rooms.size;
    for (const name of [...this.log.rooms.keys()]) this.#expireIfIdle(name);
    return before - this.log.rooms.size;
  }

  /** Every retained event, room by room (unordered across rooms). */
  events(): IterableIterator<ChatEvent> {
    return this.log.events();
  }

  /**
   * Tells everyone the node is going away and closes every session.
   *
   * @param reason Shown to clients.
   */
  shutdown(reason: string): void {
    for (const session of [...this.#sessionsByNick.values()]) {
      session.sink.send({ t: "bye", reason });
      this.disconnect(session, reason);
      session.sink.close(reason);
    }
  }

  readonly #listenersByRoom = new Map<string, Set<Session>>();

  /** The local sessions in a room (a room nobody here is in has no set). */
  #listeners(room: string): ReadonlySet<Session> {
    return this.#listenersByRoom.get(room) ?? NOBODY;
  }

  /** Whether anyone, here or on another node, is in a room. */
  #occupied(room: string): boolean {
    return this.#listenersByRoom.has(room) || this.#remote.occupied(room);
  }

  /**
   * Drops a room that is empty everywhere and was never spoken in (its log
   * holds only presence history) or had no event for the room TTL, with its
   * log, like an eviction. The default room stays.
   */
  #expireIfIdle(name: string): void {
    if (this.log.expireIfIdle(name)) this.#expiryCandidates.delete(name);
  }

  /**
   * Makes sure a room a person asked for may exist: an existing room and the
   * default room always may; a new one when the node holds fewer than
   * `maxRooms`, after expiring idle rooms if it must.
   *
   * @throws {ProtocolError} `rooms_full` when none can expire.
   */
  /** Whether a room had no event for the room TTL. */
  #quiet(room: Room): boolean {
    const newest = room.log.at(-1);
    return newest === undefined || this.#now() - newest.hlc.wall >= this.#roomTtlMs;
  }

  #makeSpaceFor(name: string): void {
    if (this.log.rooms.has(name) || name === DEFAULT_ROOM || this.log.rooms.size < this.#maxRooms) {
      return;
    }
    const candidates = [...this.#expiryCandidates];
    this.#expiryCandidates.clear();
    for (const other of candidates) this.#expireIfIdle(other);
    if (this.log.rooms.size < this.#maxRooms) return;
    // Quiet rooms are found by a full scan: at most once a minute, so a
    // full node refusing rooms does not scan them all per attempt.
    if (this.#now() - this.#lastQuietScan >= 60_000) {
      this.#lastQuietScan = this.#now();
      this.expireQuietRooms();
      if (this.log.rooms.size < this.#maxRooms) return;
    }
    throw new ProtocolError(
      "rooms_full",
      `Cannot create #${name}: this node keeps at most ${this.#maxRooms} rooms and none is idle (empty, and never spoken in or quiet for ${
        Math.round(this.#roomTtlMs / 86_400_000)
      } days); join an existing room (/rooms lists them)`,
    );
  }

  #deliverPrivate(event: ChatEvent, frame: MsgFrame): void {
    const sender = this.#sessionsByNick.get(nickKey(event.from));
    const recipient = this.#sessionsByNick.get(nickKey(event.to ?? ""));
    if (!recipient?.ignored.has(nickKey(event.from))) recipient?.sink.send(frame);
    if (sender && sender !== recipient) sender.sink.send(frame);
  }

  #enter(session: Session, room: Room): void {
    session.rooms.add(room.name);
    session.current = room.name;
    const listeners = this.#listenersByRoom.get(room.name);
    if (listeners === undefined) this.#listenersByRoom.set(room.name, new Set([session]));
    else listeners.add(session);
    this.#emit("join", room.name, session.nick, "");
  }

  #exit(session: Session, room: string, reason: string): void {
    this.#emit("leave", room, session.nick, reason);
    session.rooms.delete(room);
    const listeners = this.#listenersByRoom.get(room);
    listeners?.delete(session);
    // No empty sets: a room without local members must cost nothing here.
    if (listeners?.size === 0) this.#listenersByRoom.delete(room);
  }

  /**
   * The room a line goes to, after the checks both kinds of line pass: the
   * speaker is not muted, is in the room, and the room is sealed exactly when
   * the line is.
   *
   * @throws {ProtocolError} `muted`, `not_in_room`, `room_invalid`,
   *   `room_sealed` (plain line, sealed room), `not_sealed` (sealed line, plain room).
   */
  #speakingRoom(session: Session, roomName: string | undefined, sealedLine: boolean): string {
    this.#checkMute(session);
    const room = this.#memberRoom(session, roomName);
    const sealedRoom = this.#room(room).sealed !== undefined;
    if (sealedRoom && !sealedLine) {
      throw new ProtocolError(
        "room_sealed",
        `#${room} is sealed: only sealed messages from the terminal client (client/main.ts) go there`,
      );
    }
    if (!sealedRoom && sealedLine) {
      throw new ProtocolError(
        "not_sealed",
        `#${room} is not sealed: send plain text there, or /seal it first`,
      );
    }
    return room;
  }

  #emit(
    kind: EventKind,
    room: string,
    from: string,
    text: string,
    to?: string,
    cid?: string,
    sealed?: string,
  ): ChatEvent {
    let event: ChatEvent;
    try {
      // append leaves out the optional fields that are undefined.
      event = this.log.append({ room, kind, from, text, to, cid, sealed });
    } catch (error) {
      if (error instanceof EventRuleError) {
        throw new ProtocolError("bad_args", error.message, { cause: error });
      }
      if (!(error instanceof RangeError)) throw error;
      throw new ProtocolError("line_too_long", error.message, { cause: error });
    }
    if (isSpoken(event)) this.#logger.debug("event", { id: `${event.origin}:${event.seq}` });
    return event;
  }

  /**
   * The welcome's room list, within half the sink's reply budget: a node
   * may hold `maxRooms` rooms, and one user can leave thousands behind (one
   * line each), which as one list would outgrow a reader's queue.
   */
  #roomListFor(sink: SessionSink): string[] {
    let left = budgetOf(sink) / 2;
    const names: string[] = [];
    for (const name of this.log.rooms.keys()) {
      left -= name.length + 3; // ASCII, quoted, a comma
      if (left < 0) break;
      names.push(name);
    }
    return names;
  }

  /** Tells a room's sessions its seal parameters when this event set them. */
  #announceSeal(event: ChatEvent): void {
    const room = this.log.rooms.get(event.room);
    if (room?.sealEvent !== event || room.sealed === undefined) return;
    const frame: ServerFrame = { t: "sealed", room: room.name, params: room.sealed };
    for (const session of this.#listeners(room.name)) session.sink.send(frame);
  }

  /** The event already accepted for a line this session resent (same line id), if any. */
  #resent(session: Session, cid: string | undefined): ChatEvent | undefined {
    return cid === undefined ? undefined : this.log.sentWith(session.nick, cid);
  }

  #room(name: string): Room {
    return this.log.openRoom(name);
  }

  #memberRoom(session: Session, roomName: string | undefined): string {
    const name = roomName === undefined ? session.current : this.#roomName(roomName);
    if (name === "" || !session.rooms.has(name)) {
      throw new ProtocolError(
        "not_in_room",
        name === ""
          ? "You are not in any room: /join one"
          : `You are not in #${name}: /join ${name} first`,
      );
    }
    return name;
  }

  #roomName(room: string): string {
    try {
      return normalizeRoom(room);
    } catch (error) {
      throw new ProtocolError("room_invalid", (error as Error).message, { cause: error });
    }
  }

  #validNick(nick: string): string {
    try {
      return validateNick(nick);
    } catch (error) {
      throw new ProtocolError("nick_invalid", (error as Error).message, { cause: error });
    }
  }

  #checkNickFree(requested: string, fingerprint: string | undefined): string {
    const nick = this.#validNick(requested);
    if (this.#nickInUse(nick)) {
      throw new ProtocolError("nick_taken", `Nick ${nick} is taken: choose another`);
    }
    const refusal = this.nickGuard?.check(nick, fingerprint);
    if (refusal !== undefined) throw new ProtocolError("nick_taken", refusal);
    return nick;
  }

  #nickInUse(nick: string): boolean {
    return this.#sessionsByNick.has(nickKey(nick)) || this.#remote.find(nick) !== undefined;
  }

  #freeVariant(nick: string, fingerprint: string | undefined): string {
    for (let i = 2;; i++) {
      const suffix = `_${i}`;
      const candidate = nick.slice(0, 16 - suffix.length) + suffix;
      if (
        !this.#nickInUse(candidate) && this.nickGuard?.check(candidate, fingerprint) === undefined
      ) {
        return candidate;
      }
    }
  }

  /** Refuses a banned person with a clear message. */
  #checkBan(nick: string, fingerprint: string | undefined, address: string | undefined): void {
    const now = this.#now();
    const ban = this.moderation.banOf({ nick, fingerprint, address }, now);
    if (ban === undefined) return;
    throw new ProtocolError("banned", `Cannot join: ${describeBan(ban, now)}`);
  }

  /**
   * The mute in force on a session: on its nick, its key or (without a
   * key) its host, or on the nick it was muted under on this node before a
   * `/nick`.
   *
   * @param session The session.
   * @returns When the mute ends (null: never) and who muted, or undefined.
   */
  muteOf(session: Session): { until: number | null; by: string } | undefined {
    const now = this.#now();
    const { fingerprint, address } = session.origin;
    const mute = this.moderation.muted({ nick: session.nick, fingerprint, address }, now);
    if (mute !== undefined) return mute;
    const mutedAs = this.#mutedAs.get(session) ?? this.#mutedHosts.get(whoOf(session));
    return mutedAs === undefined ? undefined : this.moderation.muted(mutedAs, now);
  }

  /**
   * Why `from` may not seal a room (at `at`, for a peer's seal event): the
   * room holds something someone else said (a message, an action or a
   * topic) — a newcomer alone in a room for a moment must not lock its
   * people out of their own room. Undefined when the seal may go ahead.
   */
  #sealRefusal(roomName: string, from: string): string | undefined {
    const room = this.log.rooms.get(roomName);
    if (room === undefined) return undefined;
    const key = nickKey(from);
    for (const event of room.log) {
      if ((isSpoken(event) || event.kind === "topic") && nickKey(event.from) !== key) {
        return `it holds what others said (${event.from}): only a room without others' history can be sealed`;
      }
    }
    return undefined;
  }

  /** Refuses a muted person's message with a clear message. */
  #checkMute(session: Session): void {
    const now = this.#now();
    const mute = this.muteOf(session);
    if (mute === undefined) return;
    throw new ProtocolError(
      "muted",
      `You are muted ${formatUntil(mute.until, now)}: your messages are not sent`,
    );
  }

  /**
   * Carries out a moderation event on this node's sessions: kicks, bans in
   * force, and notices to the people concerned. Runs for events applied
   * live (not restored from a snapshot), from the state as it now is, so a
   * stale event that lost to a newer one does nothing.
   */
  #enforce(event: ChatEvent, result: { action: ModAction; current: boolean }): void {
    const { action, current } = result;
    // An issuer who was no operator at that point of the log order changes nothing.
    if (!current && action.a === "kick") return;
    const now = this.#now();
    const by = event.from;
    switch (action.a) {
      case "kick": {
        const session = this.#sessionsByNick.get(nickKey(action.nick));
        // Someone who connected after the kick was issued is not kicked by it.
        if (session === undefined || session.since > event.hlc.wall) return;
        const why = action.reason === "" ? "" : `: ${sanitizeText(action.reason)}`;
        this.#expel(session, `You were kicked by ${by}${why}`, `kicked by ${by}`);
        return;
      }
      case "ban": {
        for (const session of [...this.#sessionsByNick.values()]) {
          const ban = this.moderation.banOf({
            nick: session.nick,
            fingerprint: session.origin.fingerprint,
            address: session.origin.address,
          }, now);
          if (ban === undefined) continue;
          this.#expel(session, `You were banned by ${ban.by}: ${describeBan(ban, now)}`, "banned");
        }
        return;
      }
      case "mute": {
        const session = this.#sessionsByNick.get(nickKey(action.nick));
        const mute = this.moderation.muted(action.nick, now);
        if (session === undefined || mute === undefined) return;
        // Bound to the session too: a /nick does not shake it off; and to who
        // it is, here: nor does a quit and a new nick.
        this.#mutedAs.set(session, action.nick);
        this.#mutedHosts.delete(whoOf(session));
        this.#mutedHosts.set(whoOf(session), action.nick);
        if (this.#mutedHosts.size > MAX_MUTED_HOSTS) {
          this.#mutedHosts.delete(this.#mutedHosts.keys().next().value!);
        }
        this.#notice(
          session,
          "mute",
          `You were muted by ${mute.by} ${formatUntil(mute.until, now)}`,
        );
        return;
      }
      case "unseal": {
        if (!current) return;
        // The log voided the seal; the hub tells the people in the room.
        const room = this.#room(action.room);
        for (const session of this.#listeners(room.name)) {
          this.#notice(
            session,
            "unseal",
            `#${room.name} was unsealed by ${by}: it takes plain text now`,
          );
        }
        return;
      }
      case "unmute": {
        const session = [...this.#sessionsByNick.values()].find((s) =>
          nickKey(s.nick) === nickKey(action.nick) || this.#mutedAs.get(s) === action.nick
        );
        if (session === undefined || this.muteOf(session)) return;
        this.#notice(session, "mute", `You were unmuted by ${by}`);
        return;
      }
      case "op":
      case "deop": {
        for (const session of this.#sessionsByNick.values()) {
          if (session.origin.fingerprint !== action.fp) continue;
          this.#notice(
            session,
            "op",
            this.isOp(session)
              ? `You are an operator now (by ${by}): /help lists the operator commands`
              : `You are no longer an operator (by ${by})`,
          );
        }
        return;
      }
      default:
        return;
    }
  }

  #notice(session: Session, cmd: string, line: string): void {
    session.sink.send({ t: "info", cmd, lines: [line] });
  }

  /** Tells a session why, then ends it. */
  #expel(session: Session, message: string, reason: string): void {
    session.sink.send({ t: "bye", reason: message, expelled: true });
    this.disconnect(session, reason);
    session.sink.close(reason);
    this.#logger.info("session expelled", { nick: session.nick, reason });
  }

  #presenceChanged(): void {
    for (const listener of this.#presenceListeners) listener();
  }

  #cleanText(text: string): string {
    const clean = sanitizeText(text);
    if (clean.trim() === "") {
      throw new ProtocolError("empty_message", "Cannot send an empty message");
    }
    return clean;
  }
}
