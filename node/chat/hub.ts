/**
 * The hub: sessions, rate limits and the actions people take (say, join,
 * seal, moderate...). What they do becomes an event appended to the node's
 * {@linkcode EventLog}, the one writer of chat state; the hub listens to the
 * log (`onSettled`) and fans out every applied event — local or from the
 * mesh — to its sessions and announces seals. It owns and delegates to the
 * parts around the sessions: who is where in the cluster
 * ({@linkcode PresenceRoster}), how many rooms live how long
 * ({@linkcode RoomLimits}) and moderation on this node's people
 * ({@linkcode ModerationEnforcement}). It knows nothing of sockets or SSH:
 * a session is a {@linkcode SessionSink} that frames are sent to.
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
import { type Logger, silentLogger } from "../logger.ts";
import {
  type MsgFrame,
  PROTOCOL_VERSION,
  ProtocolError,
  type ServerFrame,
  toMsgFrame,
} from "../../core/protocol.ts";
import type { Member, PresenceEntry } from "./presence.ts";
import { type LocalSessions, PresenceRoster } from "./presence_roster.ts";
import { RoomLimits, type RoomLimitsOptions, spendPerRoom } from "./room_limits.ts";
import { ModerationEnforcement, type MuteInForce } from "./moderation_enforcement.ts";
import { olderGoneLine } from "./room.ts";
import {
  DEFAULT_HISTORY_BUDGET_BYTES,
  DEFAULT_ROOM,
  EventLog,
  EventRuleError,
  type ModEffect,
  type RoomView,
  type VersionsView,
} from "./event_log.ts";
import type { StorageView } from "./storage_view.ts";
import { budgetOf, fitHistory } from "./reply_budget.ts";
import { type SealParams, validateSealParams } from "../../core/crypto/room_params.ts";
import { EnvelopeSyntaxError, readEnvelopeHeader } from "../../core/crypto/envelope.ts";
import type { ModAction, ModerationView } from "./moderation.ts";

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

/** Options of {@linkcode Hub}; the room limits are {@linkcode RoomLimitsOptions}. */
export interface HubOptions extends RoomLimitsOptions {
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
  /** Extra rules for nicks (registered nicks: the log's `nicks`). @default none */
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
   * Bytes of history this node retains across every room and the private
   * log (`--history-budget`), each event counted as its JSON plus
   * `EVENT_OVERHEAD_BYTES` (`node/chat/history_budget.ts`). Past it the oldest events node-wide
   * are evicted first, but every log keeps its last {@linkcode KEPT_PER_ROOM}.
   * Smaller saves memory and disk; larger keeps more history for `/history`
   * and for peers catching up.
   * @default 268435456 (256 MiB)
   */
  historyBudgetBytes?: number;
}

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
  readonly #sessionsByNick = new Map<string, Session>();
  readonly #roster: PresenceRoster;
  readonly #limits: RoomLimits;
  readonly #enforcement: ModerationEnforcement;
  readonly #welcomeHistory: number;
  readonly #rateBurst: number;
  readonly #ratePerSecond: number;
  readonly #now: () => number;
  readonly #logger: Logger;
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
      historyBudgetBytes = DEFAULT_HISTORY_BUDGET_BYTES,
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
    const local: LocalSessions = {
      sessions: () => this.#sessionsByNick.values(),
      localSession: (nick) => this.localSession(nick),
      inRoom: (room) => this.#listeners(room),
    };
    const ownerOf = (nick: string) => this.nickGuard?.ownerOf(nick);
    this.#limits = new RoomLimits(this.log, {
      maxRoomsPerSession: options.maxRoomsPerSession,
      maxRooms: options.maxRooms,
      roomTtlMs: options.roomTtlMs,
      now,
      occupied: (room) => this.#listenersByRoom.has(room) || this.#roster.occupiedRemotely(room),
    });
    this.#roster = new PresenceRoster({
      nodeId,
      local,
      limits: this.#limits,
      yieldNick: (session, node) => this.#yieldNick(session, node),
      ownerOf,
      logger,
    });
    this.#enforcement = new ModerationEnforcement(this.log.moderation, {
      local,
      expel: (session, message, reason) => this.#expel(session, message, reason),
      ownerOf,
      now,
      ...(options.ops === undefined ? {} : { ops: options.ops }),
    });
    this.log.onSettled((event, evicted, mod) =>
      this.#fanningOut(() => this.#settled(event, evicted, mod))
    );
  }

  /** Which events this node holds (the log's, read-only). */
  get versions(): VersionsView {
    return this.log.versions;
  }

  /** Operators, bans, mutes and the motd, derived from `mod` events by the log (read-only). */
  get moderation(): ModerationView {
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

  /** Presence entries held, here and in the other nodes' tables: {@linkcode PresenceRoster.count}. */
  presenceCount(): number {
    return this.#roster.count();
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
  rooms(): ReadonlyMap<string, RoomView> {
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
    // A slow reader leaves as such, after the fan-out (see dropSlowReader).
    if (!session.open || this.#tooSlow.has(session)) return;
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
   * Ends a session whose sink's output queue overflowed, as `too slow`. A
   * sink overflows while the hub fans a frame out; the session leaves once
   * that fan-out is over, so everyone else gets the frame before they see it
   * leave. A disconnect of it meanwhile (its connection closing) waits too.
   *
   * @param session The session.
   */
  dropSlowReader(session: Session): void {
    if (!session.open) return;
    this.#tooSlow.add(session);
    if (this.#fanOuts === 0) this.#dropSlowReaders();
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

  /** A change shown in each of the session's rooms costs more: {@linkcode spendPerRoom}. */
  #spendPerRoom(session: Session): void {
    spendPerRoom(session, this.#rateBurst);
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
    const target = this.onlineNick(to);
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
    this.#limits.checkJoin(session, name);
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
  findRoom(name: string): RoomView | undefined {
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
  roomOf(session: Session, roomName: string | undefined): RoomView {
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
    if (event.kind === "claim") return; // nick ownership: the log's registry, nothing to show
    this.#limits.applied(event);
    if (event.kind === "seal") this.#announceSeal(event);
    if (event.kind === "mod") {
      if (mod !== undefined) this.#enforcement.enforce(event, mod);
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

  /** Whether a session is an operator here: {@linkcode ModerationEnforcement.isOp}. */
  isOp(session: Session): boolean {
    return this.#enforcement.isOp(session);
  }

  /**
   * Issues a moderation change as a `mod` event (cluster-wide, room `""`).
   * The caller checks that the session is an operator.
   *
   * @param session The operator.
   * @param action The change.
   * @returns The event.
   * @throws {ProtocolError} `forbidden` for a session without a key.
   */
  moderate(session: Session, action: ModAction): ChatEvent {
    return this.#emit("mod", "", session.nick, this.#enforcement.bodyOf(session, action));
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
    return this.localSession(nick)?.nick ?? this.#roster.findRemote(nick)?.entry.nick;
  }

  /** Everyone in a room, on every node, sorted by nick: {@linkcode PresenceRoster.members}. */
  members(room: string): Member[] {
    return this.#roster.members(room);
  }

  /** This node's presence table for peers: {@linkcode PresenceRoster.localPresence}. */
  localPresence(): PresenceEntry[] {
    return this.#roster.localPresence();
  }

  /** Takes a peer's presence table: {@linkcode PresenceRoster.updateRemotePresence}. */
  updateRemotePresence(node: string, table: unknown): void {
    this.#roster.updateRemotePresence(node, table);
  }

  /** Forgets a node's presence: {@linkcode PresenceRoster.dropRemotePresence}. */
  dropRemotePresence(node: string, change?: "unreachable" | "restarted"): void {
    this.#roster.dropRemotePresence(node, change);
  }

  /** Listens to changes of this node's presence: {@linkcode PresenceRoster.onPresence}. */
  onPresence(listener: () => void): () => void {
    return this.#roster.onPresence(listener);
  }

  /** Expires idle rooms (the node calls this now and then): {@linkcode RoomLimits.expireQuietRooms}. */
  expireQuietRooms(): number {
    return this.#limits.expireQuietRooms();
  }

  /** A local session lost a nick race to a peer's session: it takes a free variant, told why. */
  #yieldNick(local: Session, node: string): void {
    const old = local.nick;
    const nick = this.#freeVariant(old, local.origin.fingerprint);
    this.#rename(local, nick);
    local.sink.send({
      t: "error",
      code: "nick_taken",
      message: `Nick ${old} was claimed on node ${node} first: you are now ${nick}`,
    });
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
  /** Fan-outs in progress: one may apply events (a leave) that fan out in turn. */
  #fanOuts = 0;
  /** Sessions whose sink overflowed during the fan-outs in progress. */
  readonly #tooSlow = new Set<Session>();

  /**
   * Fans out (`deliver` sends frames to sinks); the slow readers it finds
   * leave once the outermost fan-out is over, not inside it.
   */
  #fanningOut(deliver: () => void): void {
    this.#fanOuts++;
    try {
      deliver();
    } finally {
      this.#fanOuts--;
    }
    if (this.#fanOuts === 0) this.#dropSlowReaders();
  }

  /** Disconnects the slow readers found, and any their leaves overflow in turn. */
  #dropSlowReaders(): void {
    if (this.#tooSlow.size === 0) return;
    this.#fanOuts++;
    try {
      // A Set iterates over what is added while it runs: later slow readers too.
      for (const session of this.#tooSlow) {
        this.#tooSlow.delete(session);
        this.disconnect(session, "too slow");
      }
    } finally {
      this.#fanOuts--;
    }
  }

  /** The local sessions in a room (a room nobody here is in has no set). */
  #listeners(room: string): ReadonlySet<Session> {
    return this.#listenersByRoom.get(room) ?? NOBODY;
  }

  /** Drops a room people left if it is idle: {@linkcode RoomLimits.expireIfIdle}. */
  #expireIfIdle(name: string): void {
    this.#limits.expireIfIdle(name);
  }

  /** Refuses a new room on a full node: {@linkcode RoomLimits.makeSpaceFor}. */
  #makeSpaceFor(name: string): void {
    this.#limits.makeSpaceFor(name);
  }

  #deliverPrivate(event: ChatEvent, frame: MsgFrame): void {
    const sender = this.#sessionsByNick.get(nickKey(event.from));
    const recipient = this.#sessionsByNick.get(nickKey(event.to ?? ""));
    if (!recipient?.ignored.has(nickKey(event.from))) recipient?.sink.send(frame);
    if (sender && sender !== recipient) sender.sink.send(frame);
  }

  #enter(session: Session, room: RoomView): void {
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

  #room(name: string): RoomView {
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
    return this.#sessionsByNick.has(nickKey(nick)) || this.#roster.findRemote(nick) !== undefined;
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

  /** Refuses a banned person: {@linkcode ModerationEnforcement.checkBan}. */
  #checkBan(nick: string, fingerprint: string | undefined, address: string | undefined): void {
    this.#enforcement.checkBan(nick, fingerprint, address);
  }

  /** The mute in force on a session: {@linkcode ModerationEnforcement.muteOf}. */
  muteOf(session: Session): MuteInForce | undefined {
    return this.#enforcement.muteOf(session);
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

  /** Refuses a muted person's line: {@linkcode ModerationEnforcement.checkMute}. */
  #checkMute(session: Session): void {
    this.#enforcement.checkMute(session);
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
    this.#roster.changed();
  }

  #cleanText(text: string): string {
    const clean = sanitizeText(text);
    if (clean.trim() === "") {
      throw new ProtocolError("empty_message", "Cannot send an empty message");
    }
    return clean;
  }
}
