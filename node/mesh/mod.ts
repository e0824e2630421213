/**
 * The mesh: how nodes find each other, prove they share the cluster secret
 * and keep their event logs in step. It moves events; it never interprets
 * them (the chat side's event log applies them).
 *
 * - {@linkcode Mesh} (mesh.ts): the node's mesh port, wiring the parts below.
 * - {@linkcode MeshTransport} (transport.ts): listen and dial, all the mesh
 *   asks of a network; {@linkcode tcpTransport} (tcp_transport.ts) is the
 *   real one, tests bring an in-memory one that can cut links.
 * - {@linkcode Membership} (membership.ts): membership and failure detection,
 *   a pure state machine.
 * - {@linkcode SecureChannel} (mesh_channel.ts): the authenticated,
 *   encrypted channel between two nodes, on length-prefixed frames
 *   ({@linkcode FrameReader}, frame_reader.ts); {@linkcode HandshakeSlots}
 *   bounds handshakes in flight and {@linkcode FailureLog}
 *   (failure_log.ts) rate-limits the log lines of failed ones.
 * - {@linkcode Replicator} (replicator.ts): eager push and anti-entropy over
 *   version vectors; {@linkcode AckPacer} (ack_pacer.ts) paces its acks;
 *   {@linkcode OriginRetirement} retires a restarted node's old origins.
 * - Cluster secret file (cluster_secret.ts).
 *
 * @module
 */
export { Mesh, type MeshOptions } from "./mesh.ts";
export type { MeshConnection, MeshListener, MeshTransport } from "./transport.ts";
export { tcpTransport } from "./tcp_transport.ts";
export { Membership, type MembershipConfig } from "./membership.ts";
export { acceptChannel, initiateChannel, SecureChannel } from "./mesh_channel.ts";
export { type ByteStream, FrameReader } from "./frame_reader.ts";
export { FailureLog } from "./failure_log.ts";
export { HandshakeSlots } from "./handshake_slots.ts";
export { Replicator, type ReplicatorOptions } from "./replicator.ts";
export { AckPacer } from "./ack_pacer.ts";
export { OriginRetirement } from "./origin_retirement.ts";
export { loadOrCreateClusterSecretFile, readClusterSecretFile } from "./cluster_secret.ts";
