/**
 * The chat domain of one node, without sockets, SSH or files.
 *
 * - {@linkcode EventLog} (event_log.ts): every event the node holds and the
 *   state all nodes derive from them (version vector, clock, room logs,
 *   moderation, history budget); its only writer. Others read through
 *   read-only views ({@linkcode RoomView}, {@linkcode ModerationView}) and
 *   ask it what a peer lacks (`missingFor`, cut like an
 *   {@linkcode EventBatch}).
 * - {@linkcode Hub} (hub.ts): sessions and the actions people take; appends
 *   to the log and fans out what it applied. What it is given is in
 *   hub_types.ts ({@linkcode HubOptions}, {@linkcode ClusterView},
 *   {@linkcode HelloRequest}). It owns:
 *   - {@linkcode SessionTable} (session_table.ts): this node's sessions, by
 *     nick and by room;
 *   - {@linkcode SlowReaders} (slow_readers.ts): the fan-out bracket, after
 *     which a session whose sink overflowed leaves;
 *   - {@linkcode RateLimits} (rate_limits.ts): how fast one person may act;
 *   - {@linkcode NickPolicy} (nick_policy.ts): who may use which nick, with
 *     a {@linkcode NickGuard} for nicks owned by keys;
 *   - {@linkcode RoomSeals} (room_seals.ts): the node's side of sealed
 *     rooms: who may seal, what a line and an envelope must be;
 *   - room_entry.ts: the `welcome` and `joined` frames a person gets on
 *     entering a room;
 *   - {@linkcode PresenceRoster} (presence_roster.ts): who is where across
 *     the cluster, this node's presence table and the peers' tables;
 *   - {@linkcode RoomLimits} (room_limits.ts): rooms per session and per
 *     node, and the expiry of idle rooms;
 *   - {@linkcode ModerationEnforcement} (moderation_enforcement.ts): bans,
 *     mutes and kicks as this node's sessions feel them;
 *   - {@linkcode PersonDevices} (person_devices.ts): one person's sessions
 *     (devices whose keys own the same nick) kept as one: shared rooms,
 *     one presence;
 *   - {@linkcode IdentityPolicy} (identity_policy.ts): who a person is by
 *     their keys: linking and unlinking keys (an unlinked key's devices log
 *     out), a ban on any of a person's keys, bot marks.
 * - {@linkcode Session} / {@linkcode SessionSink} (session.ts): a connected
 *   person and where their frames go (a frontend implements the sink).
 * - {@linkcode Room}, {@linkcode Moderation}, {@linkcode RemotePresence},
 *   {@linkcode HistoryBudget}, {@linkcode NickRegistry},
 *   {@linkcode BotRegistry} (bots.ts: which nicks are bots): the parts the
 *   log and the hub are made of; {@linkcode SeenMarks} (last_seen.ts: where
 *   each person stopped reading) and {@linkcode OfflineMail}
 *   (offline_mail.ts: private messages kept for owned nicks) among them;
 *   {@linkcode LinkedKeys} (linked_keys.ts: other keys that own a nick, held
 *   by the nick registry).
 * - {@linkcode ComingBack} (coming_back.ts): what a person whose key owns
 *   their nick finds when they return (replay, unread counts, kept private
 *   messages, `/mentions`); coming_back_replies.ts words `/unread` and
 *   `/mentions`.
 * - `commands` / {@linkcode handleInput} (commands.ts): the one command
 *   table every frontend shares, run with a {@linkcode commandContext};
 *   {@linkcode gatherStats} for `/stats`; {@linkcode searchRooms}
 *   (history_search.ts) for `/search`; identity_commands.ts for `/whoami`
 *   and `/keys`; operator_commands.ts for the operators' commands
 *   (moderation, `/motd`, `/stats`); command_args.ts for what they share.
 *
 * @module
 */
export {
  DEFAULT_HISTORY_BUDGET_BYTES,
  DEFAULT_ROOM,
  EventLog,
  type EventLogOptions,
  KEPT_PER_ROOM,
  type Missing,
  type MissingBudget,
  type RoomView,
} from "./event_log.ts";
export { EventBatch } from "./event_batch.ts";
export { Hub } from "./hub.ts";
export type { ClusterView, HelloRequest, HubOptions } from "./hub_types.ts";
export { type NickGuard, NickPolicy } from "./nick_policy.ts";
export { RoomSeals } from "./room_seals.ts";
export { SessionTable } from "./session_table.ts";
export { SlowReaders } from "./slow_readers.ts";
export { RateLimits } from "./rate_limits.ts";
export { Session, type SessionOrigin, type SessionSink } from "./session.ts";
export { Room } from "./room.ts";
export { Moderation, type ModerationView } from "./moderation.ts";
export { ModerationEnforcement } from "./moderation_enforcement.ts";
export { RemotePresence } from "./presence.ts";
export { type LocalSessions, PresenceRoster } from "./presence_roster.ts";
export { DEFAULT_ROOM_TTL_MS, RoomLimits, type RoomLimitsOptions } from "./room_limits.ts";
export { HistoryBudget } from "./history_budget.ts";
export { NickRegistry } from "./nick_registry.ts";
export { BotRegistry } from "./bots.ts";
export { LinkedKeys } from "./linked_keys.ts";
export { PersonDevices } from "./person_devices.ts";
export { IdentityPolicy } from "./identity_policy.ts";
export { SeenMarks } from "./last_seen.ts";
export { OfflineMail } from "./offline_mail.ts";
export { ComingBack } from "./coming_back.ts";
export { searchRooms } from "./history_search.ts";
export {
  type CommandContext,
  commandContext,
  commands,
  handleInput,
  handleSealed,
} from "./commands.ts";
export { gatherStats } from "./stats.ts";
export type { SnapshotStatus, StorageView } from "./storage_view.ts";
