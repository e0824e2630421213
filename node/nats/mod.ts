/**
 * Replication over a NATS JetStream cluster, for clusters that outgrow the
 * built-in mesh (`--nats URL,...`). It sits behind the same seam as the
 * mesh — the event log on one side, a transport on the other — so clients,
 * SSH and the web see no difference.
 *
 * - {@linkcode NatsReplication} (nats_replication.ts): connects, sets up the
 *   stream, wires the parts below; the hub's cluster view and the ack gate.
 * - {@linkcode StreamReplicator} (stream_replicator.ts): own events out to
 *   the stream (`Nats-Msg-Id` = event id), the stream in through the event
 *   log's apply path; acks once JetStream stored an event.
 * - {@linkcode readStreamPosition} / {@linkcode followSnapshots}
 *   (stream_position.ts): where the snapshot ends in the stream, so a
 *   restart replays only what follows.
 * - {@linkcode NatsPresence} (nats_presence.ts): presence tables and
 *   liveness by heartbeats on core NATS subjects.
 * - {@linkcode NATS_FLAGS} / {@linkcode natsConfig} (nats_config.ts): the
 *   flags.
 * - {@linkcode ignoreResetsOfClosedSockets} (socket_reset_guard.ts): a
 *   refused connection's late reset must not end the node.
 *
 * @module
 */
export {
  NatsReplication,
  type NatsReplicationOptions,
  NatsStartError,
  type NatsStatus,
} from "./nats_replication.ts";
export {
  eventSubject,
  type ReplicatorStatus,
  StreamReplicator,
  type StreamReplicatorOptions,
} from "./stream_replicator.ts";
export { followSnapshots, POSITION_FILE, readStreamPosition } from "./stream_position.ts";
export { NatsPresence, type NatsPresenceOptions } from "./nats_presence.ts";
export { NATS_FLAGS, type NatsConfig, natsConfig } from "./nats_config.ts";
export { ignoreResetsOfClosedSockets } from "./socket_reset_guard.ts";
