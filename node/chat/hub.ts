/**
 * The hub: sessions and the actions people take (say, join, seal,
 * moderate...). What they do becomes an event appended to the node's
 * {@linkcode EventLog}, the one writer of chat state; the hub listens to the
 * log (`onSettled`) and fans out every applied event — local or from the
 * mesh — to its sessions. It owns and delegates to the parts around the
 * sessions: the sessions by nick and room ({@linkcode SessionTable}), the
 * fan-out bracket after which slow readers leave ({@linkcode SlowReaders}),
 * rate limits ({@linkcode RateLimits}), who may use which nick
 * ({@linkcode NickPolicy}), the rules of a person's keys and bot mark
 * ({@linkcode IdentityPolicy}), one person's devices kept as one
 * ({@linkcode PersonDevices}), sealed-room rules ({@linkcode RoomSeals}), who
 * is where in the cluster ({@linkcode PresenceRoster}), how many rooms live
 * how long ({@linkcode RoomLimits}) and moderation on this node's people
 * ({@linkcode ModerationEnforcement}). It knows nothing of sockets or SSH:
 * a session is a {@linkcode SessionSink} that frames are sent to.
 *
 * @module
 */
import { type ChatEvent, type EventKind, isSpoken } from "../../core/event.ts";
import { cleanVisibleText, MAX_REASON_LENGTH, MAX_TOPIC_LENGTH } from "../../core/event_rules.ts";
import { nickKey, normalizeRoom } from "../../core/names.ts";
import { Session, type SessionOrigin, type SessionSink } from "./session.ts";
import { sanitizeText } from "../../core/text_sanitizer.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { type MsgFrame, PROTOCOL_VERSION, ProtocolError, toMsgFrame } from "../../core/protocol.ts";
import type { Member, PresenceEntry } from "./presence.ts";
import { PresenceRoster } from "./presence_roster.ts";
import { SessionTable } from "./session_table.ts";
import { SlowReaders } from "./slow_readers.ts";
import { ChatCounters } from "./chat_counters.ts";
import { RoomLimits } from "./room_limits.ts";
import { RateLimits } from "./rate_limits.ts";
import { ModerationEnforcement, type MuteInForce } from "./moderation_enforcement.ts";
import { sendJoined, sendWelcome } from "./room_entry.ts";
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
import type { ModAction, ModerationView } from "./moderation.ts";
import type { ClusterView, HelloRequest, HubOptions } from "./hub_types.ts";
import { type NickGuard, NickPolicy, validNick } from "./nick_policy.ts";
import { RoomSeals } from "./room_seals.ts";
import { ComingBack } from "./coming_back.ts";
import { PersonDevices } from "./person_devices.ts";
import { IdentityPolicy } from "./identity_policy.ts";

export { Session, type SessionOrigin, type SessionSink } from "./session.ts";
export type { ClusterView, HelloRequest, HubOptions } from "./hub_types.ts";
export {
  DEFAULT_HISTORY_BUDGET_BYTES,
  DEFAULT_ROOM,
  type EventListener,
  KEPT_PER_ROOM,
} from "./event_log.ts";

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
  /** What happened to this node's people that nothing else counts, for `/metrics`. */
  readonly counters = new ChatCounters();
  /**
   * Where people whose key owns their nick stopped reading, and what they
   * find when they return: {@linkcode ComingBack}.
   */
  readonly comingBack: ComingBack;
  readonly #local = new SessionTable();
  readonly #slowReaders = new SlowReaders((session) => {
    this.counters.slowReadersDropped++;
    this.disconnect(session, "too slow");
  });
  readonly #nicks: NickPolicy;
  readonly #seals: RoomSeals;
  readonly #roster: PresenceRoster;
  /** One person's sessions (devices) kept as one: node/chat/person_devices.ts. */
  readonly #devices: PersonDevices;
  /** Who a person is by their keys: node/chat/identity_policy.ts. */
  readonly #identity: IdentityPolicy;
  readonly #limits: RoomLimits;
  readonly #enforcement: ModerationEnforcement;
  readonly #rates: RateLimits;
  readonly #welcomeHistory: number;
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
    this.#rates = new RateLimits({ burst: rateBurst, perSecond: ratePerSecond, now });
    this.#welcomeHistory = welcomeHistory;
    this.#now = now;
    this.#logger = logger;
    this.nickGuard = options.nickGuard;
    const local = this.#local;
    this.#nicks = new NickPolicy({
      inUse: (nick) =>
        local.localSession(nick) !== undefined || this.#roster.findRemote(nick) !== undefined,
      guard: this.nickGuard,
    });
    const ownerOf = (nick: string) => this.#nicks.ownerOf(nick);
    this.#limits = new RoomLimits(this.log, {
      maxRoomsPerSession: options.maxRoomsPerSession,
      maxRooms: options.maxRooms,
      roomTtlMs: options.roomTtlMs,
      now,
      occupied: (room) => local.occupied(room) || this.#roster.occupiedRemotely(room),
    });
    this.#roster = new PresenceRoster({
      nodeId,
      local,
      limits: this.#limits,
      yieldNick: (session, node) => this.#yieldNick(session, node),
      ownerOf,
      owns: (nick, fingerprint) => this.#nicks.owns(nick, fingerprint),
      logger,
    });
    this.#devices = new PersonDevices({
      local,
      roster: this.#roster,
      owns: (nick, fingerprint) => this.#nicks.owns(nick, fingerprint),
      registered: (nick) => ownerOf(nick) !== undefined,
      room: (name) => this.#room(name),
      historyFor: (session) => this.#historyFor(session),
      mayEnter: (session, room) => this.#limits.mayEnter(session, room),
    });
    this.#identity = new IdentityPolicy({
      log: this.log,
      nicks: this.#nicks,
      sessions: () => local.sessions(),
      devicesOf: (nick) => this.#devices.of(nick),
      emit: (kind, nick, text) => this.#emit(kind, "", nick, text),
      isOp: (session) => this.isOp(session),
      expel: (session, message, reason) => this.#expel(session, message, reason),
      now,
    });
    this.#enforcement = new ModerationEnforcement(this.log.moderation, {
      local,
      expel: (session, message, reason) => this.#expel(session, message, reason),
      ownerOf,
      now,
      ...(options.ops === undefined ? {} : { ops: options.ops }),
    });
    this.#seals = new RoomSeals({
      rooms: () => this.log.rooms,
      present: (room) => this.members(room).length,
      inRoom: (room) => local.inRoom(room),
    });
    this.comingBack = new ComingBack(this.log, {
      identity: (s) => this.#identity.ownsNick(s) ? s.nick : undefined,
    });
    this.log.onSettled((event, evicted, mod) =>
      this.#slowReaders.fanningOut(() => this.#settled(event, evicted, mod))
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
    return this.#local.sessions();
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
   * room's recent history (to a person whose key owns their nick: up to
   * where they left, then what came since: {@linkcode ComingBack}), then
   * announces the join.
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
    this.#enforcement.checkBan(validNick(user), origin.fingerprint, origin.address);
    this.#identity.checkKeyBan(user, origin.fingerprint);
    const free = this.#nicks.checkFree(user, origin.fingerprint);
    // Another device of a person already here: their nick as it is spelled.
    const nick = this.onlineNick(free) ?? free;
    const room = this.#roomName(requestedRoom);
    this.#limits.makeSpaceFor(room);
    const session = new Session(
      this.#nextSessionId++,
      nick,
      sink,
      origin,
      this.#rates.limiter(),
      this.#now(),
    );
    session.joinHistory = hello.history;
    this.#local.add(session);
    this.#nicks.use(nick, origin.fingerprint);
    const target = this.#room(room);
    const asked = this.#historyFor(session);
    // The person's devices here have read up to now: a new one starts where they are.
    const others = this.#devices.of(nick).filter((device) => device !== session);
    if (others.length > 0) this.comingBack.markAll(others);
    const upTo = this.comingBack.arrive(session, room, asked);
    sendWelcome(sink, target, asked, {
      node: this.nodeId,
      nick,
      rooms: this.log.rooms.keys(),
      motd: this.moderation.motd,
      upTo,
    });
    this.comingBack.welcomeBack(session, target, upTo);
    this.#enter(session, target);
    this.#devices.arrive(session);
    this.#roster.changed();
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
    if (!session.open || this.#slowReaders.waiting(session)) return;
    session.open = false;
    const rooms = [...session.rooms];
    for (const room of rooms) {
      this.#exit(session, room, reason);
    }
    this.comingBack.gone(session);
    this.#local.remove(session);
    this.#roster.changed();
    for (const room of rooms) this.#limits.expireIfIdle(room);
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
    this.#slowReaders.drop(session);
  }

  /**
   * Counts one action against the session's rate limit.
   *
   * @param session The session.
   * @throws {ProtocolError} `rate_limited` when over budget.
   */
  spend(session: Session): void {
    this.#rates.spend(session);
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
    this.#seals.checkEnvelope(envelope, room, session.nick);
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
   * @param params Untrusted seal parameters: {@linkcode RoomSeals.sealText}.
   * @returns The `seal` event, or undefined when already sealed with these parameters.
   * @throws {ProtocolError} `not_in_room`, `bad_args`, `forbidden`, `already_sealed`.
   */
  seal(session: Session, roomName: string | undefined, params: unknown): ChatEvent | undefined {
    this.#enforcement.checkMute(session);
    const room = this.#room(this.#memberRoom(session, roomName));
    const text = this.#seals.sealText(room, session.nick, params);
    return text === undefined ? undefined : this.#emit("seal", room.name, session.nick, text);
  }

  /**
   * Sends a private message.
   *
   * @param session Sender.
   * @param to Recipient nick.
   * @param text The message.
   * @returns The accepted event.
   * @throws {ProtocolError} `no_such_user` (offline, and no key owns the
   *   nick: nothing would keep the message), `empty_message`.
   */
  sendPrivate(session: Session, to: string, text: string): ChatEvent {
    this.#enforcement.checkMute(session);
    // To an owned nick it is kept for its recipient (node/chat/offline_mail.ts), online or not.
    const target = this.onlineNick(to) ?? this.comingBack.keptFor(to);
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
    this.#limits.makeSpaceFor(name);
    const room = this.#room(name);
    const asked = this.#historyFor(session);
    const upTo = this.comingBack.entering(session, name, asked);
    sendJoined(session.sink, room, asked, upTo);
    if (upTo !== undefined) this.comingBack.replay(session, room, upTo);
    if (!session.rooms.has(name)) {
      this.#enter(session, room);
      this.#devices.followJoin(session, name);
      this.#roster.changed();
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
    // Said even when another device stays: the person leaves, and their devices elsewhere follow.
    this.#exit(session, name, "left", true);
    this.#devices.followLeave(session, name);
    if (session.current === name) {
      session.current = [...session.rooms].at(-1) ?? "";
    }
    session.sink.send({ t: "left", room: name, current: session.current });
    this.#roster.changed();
    this.#limits.expireIfIdle(name);
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
    this.#enforcement.checkMute(session);
    if (nickKey(requested) !== nickKey(session.nick) && this.#devices.hasOthers(session)) {
      throw new ProtocolError(
        "forbidden",
        `You are ${session.nick} on other devices too: one nick for all of them, keep it`,
      );
    }
    if (nickKey(requested) !== nickKey(session.nick)) this.#rates.spendPerRoom(session);
    return this.#rename(session, requested);
  }

  #rename(session: Session, requested: string): string {
    const sameKey = nickKey(requested) === nickKey(session.nick);
    const fingerprint = session.origin.fingerprint;
    const nick = sameKey ? validNick(requested) : this.#nicks.checkFree(requested, fingerprint);
    if (!sameKey) this.#enforcement.checkBan(nick, undefined, undefined);
    const old = session.nick;
    if (nick === old) return nick;
    this.comingBack.markAll([session]); // where the old nick stopped reading
    this.#nicks.use(nick, fingerprint);
    session.nick = nick;
    this.#local.renamed(session, old);
    for (const room of session.rooms) this.#emit("nick", room, old, nick);
    session.sink.send({ t: "nick", nick });
    this.#roster.changed();
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
    this.#enforcement.checkMute(session);
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
    if (message !== undefined) this.#enforcement.checkMute(session);
    this.#rates.spendPerRoom(session);
    const text = message === undefined ? "" : cleanVisibleText(message, MAX_REASON_LENGTH) ||
      "away";
    session.away = text === "" ? undefined : text;
    for (const room of session.rooms) this.#emit("away", room, session.nick, text);
    this.#roster.changed();
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
    // Nick ownership, linked keys and bot marks: the log's registries, nothing to show.
    if (event.kind === "claim" || event.kind === "bot") return;
    if (event.kind === "link") return this.#identity.revokeUnlinked(event.from);
    if (event.kind === "seen") return; // where someone stopped reading: node/chat/coming_back.ts
    this.#limits.applied(event);
    if (event.kind === "seal") this.#seals.announce(event);
    if (event.kind === "mod") {
      if (mod !== undefined) this.#enforcement.enforce(event, mod);
      if (mod?.action.a === "ban") this.#identity.expelKeyBanned();
      return;
    }
    if (evicted === event) return;
    const frame = toMsgFrame(event);
    if (event.kind === "private") {
      this.#deliverPrivate(event, frame);
    } else {
      const from = isSpoken(event) ? nickKey(event.from) : undefined;
      let delivered = 0;
      for (const session of this.#local.inRoom(event.room)) {
        if (from === undefined || !session.ignored.has(from)) {
          session.sink.send(frame);
          delivered++;
        }
      }
      if (from !== undefined) this.counters.messagesDelivered += delivered;
    }
    if ((event.kind === "join" || event.kind === "leave") && event.origin !== this.origin) {
      this.#devices.followPeer(event.kind, event.from, event.room, event.text, event.hlc.wall);
    }
  }

  /** Links or unlinks a key of the session's nick: {@linkcode IdentityPolicy.linkKey}. */
  linkKey(session: Session, action: "+" | "-", fingerprint: string): boolean {
    return this.#identity.linkKey(session, action, fingerprint);
  }

  /** Marks a registered nick as a bot, or no longer: {@linkcode IdentityPolicy.markBot}. */
  markBot(session: Session, nick: string | undefined, on: boolean): string {
    return this.#identity.markBot(session, nick, on);
  }

  /** Whether a nick is marked as a bot, cluster-wide: {@linkcode IdentityPolicy.isBot}. */
  isBot(nick: string): boolean {
    return this.#identity.isBot(nick);
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
    return this.#local.localSession(nick);
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

  /**
   * Takes a peer's presence table: {@linkcode PresenceRoster.updateRemotePresence}.
   * Its notices (people back, nicks yielded) are a fan-out: a slow reader leaves after it.
   */
  updateRemotePresence(node: string, table: unknown): void {
    this.#slowReaders.fanningOut(() => this.#roster.updateRemotePresence(node, table));
  }

  /**
   * Forgets a node's presence: {@linkcode PresenceRoster.dropRemotePresence}.
   * Its notices (people gone) are a fan-out: a slow reader leaves after it.
   */
  dropRemotePresence(node: string, change?: "unreachable" | "restarted"): void {
    this.#slowReaders.fanningOut(() => this.#roster.dropRemotePresence(node, change));
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
    const nick = this.#nicks.freeVariant(old, local.origin.fingerprint);
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
    for (const session of [...this.#local.sessions()]) {
      session.sink.send({ t: "bye", reason });
      this.disconnect(session, reason);
      session.sink.close(reason);
    }
  }

  #deliverPrivate(event: ChatEvent, frame: MsgFrame): void {
    // Every device of the recipient and of the sender (a message to oneself once).
    const recipients = this.#devices.of(event.to ?? "");
    for (const recipient of recipients) {
      if (recipient.ignored.has(nickKey(event.from))) continue;
      recipient.sink.send(frame);
      this.counters.messagesDelivered++;
    }
    for (const sender of this.#devices.of(event.from)) {
      if (recipients.includes(sender)) continue;
      sender.sink.send(frame);
      this.counters.messagesDelivered++;
    }
  }

  #enter(session: Session, room: RoomView): void {
    session.rooms.add(room.name);
    session.current = room.name;
    this.#local.enter(session, room.name);
    // Another device of the person already there: nobody new came.
    if (this.#devices.announces(session, room.name)) {
      this.#emit("join", room.name, session.nick, "");
    }
  }

  /** Takes a session out of a room; the leave is said unless another device of the person stays. */
  #exit(
    session: Session,
    room: string,
    reason: string,
    announce = this.#devices.announces(session, room),
  ): void {
    this.comingBack.left(session, room);
    if (announce) this.#emit("leave", room, session.nick, reason);
    session.rooms.delete(room);
    this.#local.exit(session, room);
  }

  /**
   * The room a line goes to, after the checks both kinds of line pass: the
   * speaker is not muted, is in the room, and the room is sealed exactly when
   * the line is ({@linkcode RoomSeals.checkLine}).
   *
   * @throws {ProtocolError} `muted`, `not_in_room`, `room_invalid`,
   *   `room_sealed`, `not_sealed`.
   */
  #speakingRoom(session: Session, roomName: string | undefined, sealedLine: boolean): string {
    this.#enforcement.checkMute(session);
    const room = this.#memberRoom(session, roomName);
    this.#seals.checkLine(this.#room(room), sealedLine);
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

  /** The mute in force on a session: {@linkcode ModerationEnforcement.muteOf}. */
  muteOf(session: Session): MuteInForce | undefined {
    return this.#enforcement.muteOf(session);
  }

  /**
   * Messages of history a session gets on entering a room: what its hello
   * asked, else none for a bot whose key owns its nick, else the default.
   */
  #historyFor(session: Session): number {
    if (session.joinHistory !== undefined) return session.joinHistory;
    return this.#identity.ownedBot(session) ? 0 : this.#welcomeHistory;
  }

  /** Tells a session why, then ends it. */
  #expel(session: Session, message: string, reason: string): void {
    session.sink.send({ t: "bye", reason: message, expelled: true });
    this.disconnect(session, reason);
    session.sink.close(reason);
    this.#logger.info("session expelled", { nick: session.nick, reason });
  }

  #cleanText(text: string): string {
    const clean = sanitizeText(text);
    if (clean.trim() === "") {
      throw new ProtocolError("empty_message", "Cannot send an empty message");
    }
    return clean;
  }
}
