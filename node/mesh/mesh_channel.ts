// Copyright meshchat authors. All rights reserved.

/**
 * The secure channel between two mesh nodes: a handshake in which both sides
 * prove that they know the cluster secret before any event flows, then
 * length-prefixed AES-256-GCM frames. Membership and replication run on top
 * of {@linkcode SecureChannel}; the cryptography is in `core/mesh_crypto.ts`.
 *
 * ## Wire format, version 1
 *
 * Integers are unsigned big-endian. Every frame on the connection, in both
 * directions and from the first byte, is
 *
 * | bytes | field |
 * | --- | --- |
 * | 4 | `L`, body length |
 * | L | body |
 *
 * During the handshake `L` is at most {@linkcode HANDSHAKE_MAX_FRAME_BYTES}
 * (1024); a larger length is garbage and the connection is closed at once,
 * without reading the body. An HTTP request or random bytes almost always
 * fail here, on their first four bytes.
 *
 * ### Handshake messages
 *
 * A handshake body is `"MESH"` (4 bytes), version `0x01` (1), type (1),
 * payload:
 *
 * | type | name | payload | body bytes |
 * | --- | --- | --- | --- |
 * | `0x01` | INIT | initiator's ephemeral X25519 public key `e_I` (32), random nonce `n_I` (16) | 54 |
 * | `0x02` | REPLY | responder's `e_R` (32), `n_R` (16) | 54 |
 * | `0x03` | PROOF_I | `proof_I` (32) | 38 |
 * | `0x04` | PROOF_R | `proof_R` (32) | 38 |
 * | `0x0f` | REJECT | reason (1): `0x01` version, `0x02` bad secret | 7 |
 *
 * ### Records
 *
 * After the proofs, every frame body is a record:
 * AES-256-GCM(`k_dir`, IV = `00 00 00 00` || 8-byte counter, plaintext)
 * followed by its 16-byte tag, where the counter counts this direction's
 * records from 0 and `k_dir` is the key of this direction. The plaintext is
 * a kind byte then content:
 *
 * | kind | name | content |
 * | --- | --- | --- |
 * | `0x01` | HELLO | UTF-8 JSON `{"nodeId","boot","advertise"}`; record 0, both ways |
 * | `0x02` | REFUSE | UTF-8 reason, at most 200 characters; responder's record 0 instead of HELLO |
 * | `0x03` | DATA | one message of at most `maxFrameBytes` bytes |
 *
 * So `L` of a DATA record is at most `maxFrameBytes + 17`; a longer one
 * closes the channel. Both nodes of a cluster should use the same
 * `maxFrameBytes`.
 *
 * ### Sequence
 *
 * ```
 * initiator                                   responder
 * INIT(e_I, n_I)                 ------------>
 *                                <------------ REPLY(e_R, n_R)
 *   (both: keys = schedule(secret, X25519(e_I, e_R), SHA-256(INIT || REPLY)))
 * PROOF_I, record 0 = HELLO_I    ------------>
 *                                               check proof_I; if wrong:
 *                                <------------ REJECT(bad secret), close
 *                                               open HELLO_I, check it, admit()
 *                                <------------ PROOF_R, record 0 = HELLO_R
 *                                              (or REFUSE(reason), close)
 * check proof_R, open record 0
 * DATA records                   <-----------> DATA records
 * ```
 *
 * The key schedule and the proofs are in `core/mesh_crypto.ts`: the keys
 * come from HKDF with the secret-derived salt as HKDF-Extract's salt and the
 * X25519 result as its input, expanded with the transcript hash; the proofs
 * are HMACs of the transcript hash under separate keys.
 *
 * ### Properties
 *
 * - The initiator proves first. The responder sends nothing that depends on
 *   the secret until `proof_I` verifies, so a port scanner learns only the
 *   magic and a random REPLY; it gets no value against which to test
 *   guesses of the secret offline. (A node does give `proof_I` to any
 *   address it dials, so dial only seeds and authenticated members, and use
 *   a long random secret.)
 * - A replayed INIT or PROOF_I fails: the responder's `e_R` and `n_R` are
 *   fresh, so the transcript, the keys and the expected proof differ.
 *   Replayed, reordered, dropped or altered records fail the GCM tag,
 *   because the receiver expects the next counter.
 * - The identities travel only in encrypted records under keys that need
 *   the secret.
 * - Until `proof_I` verifies, the responder holds only the socket, one
 *   ephemeral key and a read buffer: no table entry, nothing keyed by the
 *   address. Rate-limiting the logs of failures is the caller's job, with
 *   {@linkcode FailureLog} (failure_log.ts).
 * - REJECT is not authenticated (it cannot be: the peer may not know the
 *   secret); it only tells an honest peer what to log. After sending REJECT
 *   or REFUSE, a side reads and discards what arrives for up to one second
 *   (within the handshake deadline) before closing, so its message is not
 *   lost to a TCP reset.
 *
 * @example A listener that logs failures at most once a minute per address
 * ```ts ignore
 * import { acceptChannel, HandshakeError } from "./mesh_channel.ts";
 * import { FailureLog } from "./failure_log.ts";
 *
 * const failures = new FailureLog();
 * for await (const conn of Deno.listen({ port: 7946 })) {
 *   acceptChannel(conn, me, { admit: (peer) => members.refusal(peer) }).then(
 *     (channel) => members.add(channel),
 *     (error) => {
 *       const host = (conn.remoteAddr as Deno.NetAddr).hostname;
 *       if (error instanceof HandshakeError && failures.shouldLog(host)) {
 *         logger.warn(error.message, { addr: host, reason: error.reason });
 *       }
 *     },
 *   );
 * }
 * ```
 *
 * @module
 */

import {
  computeMeshProof,
  decodeMeshHandshake,
  deriveMeshSecretSalt,
  deriveMeshSessionKeys,
  encodeMeshHandshake,
  generateMeshEphemeral,
  MESH_NONCE_BYTES,
  MESH_PUBLIC_KEY_BYTES,
  MESH_TAG_BYTES,
  MESH_VERSION,
  MeshFrameOpener,
  MeshFrameSealer,
  MeshHandshakeType,
  MeshRejectCode,
  verifyMeshProof,
} from "../../core/mesh_crypto.ts";
import { sanitizeText } from "../../core/text_sanitizer.ts";
import { concatBytes, writeAll } from "../../core/bytes.ts";
import {
  type ByteStream,
  closeQuietly,
  framed,
  FrameReader,
  FrameSizeError,
  TruncatedFrameError,
} from "./frame_reader.ts";

/** The largest frame body accepted during the handshake. */
export const HANDSHAKE_MAX_FRAME_BYTES = 1024;

/** How long a side that refused its peer waits for the peer to close first. */
const LINGER_MS = 1000;

/** The most characters of a REFUSE reason. */
const MAX_REFUSAL_CHARS = 200;

/**
 * The default `maxFrameBytes`: the most bytes of one message. Whoever sends
 * on a channel must cut its messages to fit (see `node/mesh/replicator.ts`).
 */
export const DEFAULT_MAX_FRAME_BYTES = 1 << 20;

/** The largest `maxFrameBytes` accepted. */
const MAX_FRAME_LIMIT = 1 << 30;

const RECORD_HELLO = 0x01;
const RECORD_REFUSE = 0x02;
const RECORD_DATA = 0x03;

const NODE_ID_PATTERN = /^[A-Za-z0-9-]{1,32}$/;
const BOOT_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const ADVERTISE_PATTERN = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,253}):([0-9]{1,5})$/;

/** What a node proves and announces in the handshake. */
export interface MeshIdentity {
  /** The node id: 1 to 32 letters, digits or hyphens, e.g. `n1`. */
  readonly nodeId: string;
  /**
   * Random per process start (changes after a restart): 1 to 64 letters,
   * digits, `_` or `-`, e.g. `crypto.randomUUID()`.
   */
  readonly boot: string;
  /** `host:port` where this node's mesh listener is reachable (`[v6]:port` for IPv6). */
  readonly advertise: string;
  /** The cluster secret, at least one character; only keys derived from it are used. */
  readonly secret: string;
}

/** What the peer announced, after it proved the secret. */
export interface PeerHello {
  /** The peer's node id. */
  readonly nodeId: string;
  /** The peer's boot id (changes when it restarts). */
  readonly boot: string;
  /** Where the peer's mesh listener is reachable, `host:port`. */
  readonly advertise: string;
}

/** Options of {@linkcode initiateChannel} and {@linkcode acceptChannel}. */
export interface SecureChannelOptions {
  /**
   * The whole handshake must finish within this many milliseconds, or the
   * stream is closed and the call rejects with reason `"timeout"`. Shorter
   * frees sockets held by silent peers sooner; longer tolerates slower links.
   *
   * @default {5000}
   */
  handshakeTimeoutMs?: number;
  /**
   * The largest message, in bytes, of {@linkcode SecureChannel.send} and of
   * a received frame's plaintext. Sending more throws a `RangeError`;
   * receiving more closes the channel. Each connection may buffer one frame
   * of this size.
   *
   * @default {1048576}
   */
  maxFrameBytes?: number;
  /**
   * Responder only: decides whether to accept the authenticated peer, e.g.
   * refuse a duplicate node id. Return a reason to refuse (sent to the peer
   * encrypted, so it can log it; at most 200 characters are sent), or
   * `undefined` to accept. A peer claiming this node's own id is refused
   * before `admit` is asked.
   *
   * @default {undefined} (accept every authenticated peer)
   */
  admit?: (peer: PeerHello) => string | undefined;
}

/** Why a handshake failed; see {@linkcode HandshakeError}. */
export type HandshakeFailure =
  | "timeout"
  | "bad_secret"
  | "garbage"
  | "version"
  | "refused"
  | "closed";

/**
 * A handshake that did not complete. The stream is closed. `reason` says
 * why:
 *
 * - `"timeout"`: not finished within `handshakeTimeoutMs`;
 * - `"bad_secret"`: a proof did not verify (a wrong secret, a replay, or
 *   handshake bytes altered in transit), or the peer said ours did not;
 * - `"garbage"`: bytes that are not this protocol (bad magic, bad lengths, an
 *   unusable public key, an invalid hello);
 * - `"version"`: the peer speaks another protocol version;
 * - `"refused"`: an authenticated peer was refused (by `admit`, or for
 *   claiming this node's id), or refused us; `message` carries the reason;
 * - `"closed"`: the connection ended or failed first.
 *
 * @example
 * ```ts ignore
 * try {
 *   await initiateChannel(conn, me);
 * } catch (error) {
 *   if (error instanceof HandshakeError && error.reason === "refused") logger.error(error.message);
 * }
 * ```
 */
export class HandshakeError extends Error {
  /** Why the handshake failed. */
  readonly reason: HandshakeFailure;
  /** The peer, when it was authenticated before the failure (a refusal). */
  readonly peer: PeerHello | undefined;

  /**
   * Makes the error.
   *
   * @param reason Why the handshake failed.
   * @param message A sentence for the log.
   * @param options The `cause`, and the peer if it was authenticated.
   */
  constructor(
    reason: HandshakeFailure,
    message: string,
    options: ErrorOptions & { peer?: PeerHello } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HandshakeError";
    this.reason = reason;
    this.peer = options.peer;
  }
}

/**
 * {@linkcode SecureChannel.send} on a channel that is closed, or whose
 * connection failed while sending.
 */
export class ChannelClosedError extends Error {
  /**
   * Makes the error.
   *
   * @param message A sentence for the log.
   * @param options The `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ChannelClosedError";
  }
}

/**
 * Why a {@linkcode SecureChannel} closed:
 *
 * - `"local"`: {@linkcode SecureChannel.close} was called;
 * - `"eof"`: the peer closed the connection (possibly mid-frame);
 * - `"tampered"`: a frame failed authentication (altered, replayed, reordered
 *   or dropped in transit);
 * - `"oversize"`: the peer sent a frame above `maxFrameBytes`;
 * - `"protocol"`: an authenticated record of an unexpected kind;
 * - `"io"`: reading or writing failed.
 */
export type ChannelCloseReason = "local" | "eof" | "tampered" | "oversize" | "protocol" | "io";

/** Read buffer during the handshake: holds every handshake frame, costs little per socket. */
const HANDSHAKE_BUFFER_BYTES = 2048;

/** Read buffer of an open channel: many small frames per read. */
const CHANNEL_BUFFER_BYTES = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const lenientDecoder = new TextDecoder();

function checkIdentity(me: MeshIdentity): void {
  if (me === null || typeof me !== "object") {
    throw new TypeError("Cannot start mesh handshake: identity must be an object");
  }
  for (const field of ["nodeId", "boot", "advertise", "secret"] as const) {
    if (typeof me[field] !== "string") {
      throw new TypeError(
        `Cannot start mesh handshake: identity.${field} must be a string, got ${typeof me[field]}`,
      );
    }
  }
  const problem = helloProblem(me);
  if (problem !== undefined) throw new RangeError(`Cannot start mesh handshake: ${problem}`);
  if (me.secret.length === 0) {
    throw new RangeError("Cannot start mesh handshake: cluster secret is empty");
  }
}

function helloProblem(hello: PeerHello): string | undefined {
  if (!NODE_ID_PATTERN.test(hello.nodeId)) {
    return "node id must be 1-32 letters, digits or hyphens";
  }
  if (!BOOT_PATTERN.test(hello.boot)) {
    return "boot id must be 1-64 letters, digits, '_' or '-'";
  }
  const port = ADVERTISE_PATTERN.exec(hello.advertise)?.[1];
  if (port === undefined || Number(port) > 65535) {
    return `advertise address ${JSON.stringify(hello.advertise.slice(0, 80))} is not host:port`;
  }
  return undefined;
}

function encodeHello(me: MeshIdentity): Uint8Array<ArrayBuffer> {
  const json = JSON.stringify({ nodeId: me.nodeId, boot: me.boot, advertise: me.advertise });
  return concatBytes(new Uint8Array([RECORD_HELLO]), encoder.encode(json));
}

function decodeHello(content: Uint8Array): PeerHello {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(content));
  } catch (cause) {
    throw new HandshakeError("garbage", "Cannot complete mesh handshake: peer hello is not JSON", {
      cause,
    });
  }
  const { nodeId, boot, advertise } = (value ?? {}) as Record<string, unknown>;
  if (typeof nodeId !== "string" || typeof boot !== "string" || typeof advertise !== "string") {
    throw new HandshakeError(
      "garbage",
      "Cannot complete mesh handshake: peer hello lacks nodeId, boot or advertise",
    );
  }
  const hello: PeerHello = { nodeId, boot, advertise };
  const problem = helloProblem(hello);
  if (problem !== undefined) {
    throw new HandshakeError("garbage", `Cannot complete mesh handshake: peer hello: ${problem}`);
  }
  return hello;
}

/** The built-in refusal: a peer with this node's own id. */
function ownIdRefusal(me: MeshIdentity, peer: PeerHello): string | undefined {
  if (peer.nodeId !== me.nodeId) return undefined;
  return peer.boot === me.boot
    ? `node ${me.nodeId} connected to itself`
    : `node id ${me.nodeId} is already in the cluster`;
}

function readOptions(options: SecureChannelOptions): Required<Omit<SecureChannelOptions, "admit">> {
  const { handshakeTimeoutMs = 5000, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES } = options;
  if (!(Number.isFinite(handshakeTimeoutMs) && handshakeTimeoutMs > 0)) {
    throw new RangeError(
      `Cannot start mesh handshake: handshakeTimeoutMs ${handshakeTimeoutMs} must be above 0`,
    );
  }
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > MAX_FRAME_LIMIT) {
    throw new RangeError(
      `Cannot start mesh handshake: maxFrameBytes ${maxFrameBytes} must be a whole number from 1 to ${MAX_FRAME_LIMIT}`,
    );
  }
  if (options.admit !== undefined && typeof options.admit !== "function") {
    throw new TypeError("Cannot start mesh handshake: admit must be a function");
  }
  return { handshakeTimeoutMs, maxFrameBytes };
}

interface HandshakeContext {
  readonly stream: ByteStream;
  readonly reader: FrameReader;
  readonly deadline: number;
  /** Set when the deadline passed; the handshake must not go on. */
  expired: boolean;
}

/** Runs `work` under the deadline; on any failure the stream is closed. */
async function underDeadline(
  stream: ByteStream,
  timeoutMs: number,
  work: (context: HandshakeContext) => Promise<SecureChannel>,
): Promise<SecureChannel> {
  const context: HandshakeContext = {
    stream,
    reader: new FrameReader(stream, HANDSHAKE_BUFFER_BYTES),
    deadline: Date.now() + timeoutMs,
    expired: false,
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      context.expired = true;
      reject(
        new HandshakeError(
          "timeout",
          `Cannot complete mesh handshake: not finished within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
  });
  const running = work(context);
  // If the deadline wins, whatever the handshake still produces is discarded.
  running.then((channel) => context.expired && channel.close(), () => {});
  try {
    return await Promise.race([running, timeout]);
  } catch (error) {
    closeQuietly(stream);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Sends a REJECT and waits (bounded) for the peer to close before closing. */
async function reject(context: HandshakeContext, code: number): Promise<void> {
  try {
    const body = encodeMeshHandshake(MeshHandshakeType.reject, new Uint8Array([code]));
    await writeAll(context.stream, framed(body));
  } catch {
    return;
  }
  await linger(context);
}

async function linger(context: HandshakeContext): Promise<void> {
  const ms = Math.max(0, Math.min(LINGER_MS, context.deadline - Date.now()));
  const timer = setTimeout(() => closeQuietly(context.stream), ms);
  try {
    await context.reader.drain(64 * 1024);
  } catch {
    // Closed by the timer, or reset by the peer.
  } finally {
    clearTimeout(timer);
  }
}

function garbage(detail: string, cause?: unknown): HandshakeError {
  return new HandshakeError(
    "garbage",
    `Cannot complete mesh handshake: peer sent garbage: ${detail}`,
    cause === undefined ? {} : { cause },
  );
}

async function readFrame(context: HandshakeContext, max: number): Promise<Uint8Array<ArrayBuffer>> {
  let body: Uint8Array<ArrayBuffer> | null;
  try {
    body = await context.reader.read(max);
  } catch (error) {
    if (error instanceof FrameSizeError) throw garbage(error.message.replace(/^.*: /, ""), error);
    throw new HandshakeError(
      "closed",
      "Cannot complete mesh handshake: connection failed",
      { cause: error },
    );
  }
  if (body === null) {
    throw new HandshakeError("closed", "Cannot complete mesh handshake: connection closed by peer");
  }
  return body;
}

/** Reads one handshake message of the expected type (or a REJECT, if allowed). */
async function readHandshake(
  context: HandshakeContext,
  expected: MeshHandshakeType,
  acceptReject: boolean,
): Promise<{ body: Uint8Array<ArrayBuffer>; payload: Uint8Array<ArrayBuffer> }> {
  const body = await readFrame(context, HANDSHAKE_MAX_FRAME_BYTES);
  let message;
  try {
    message = decodeMeshHandshake(body);
  } catch (error) {
    throw garbage((error as Error).message.replace(/^.*: /, ""), error);
  }
  if (message.version !== MESH_VERSION) {
    throw new HandshakeError(
      "version",
      `Cannot complete mesh handshake: peer speaks mesh protocol version ${message.version}, this node speaks ${MESH_VERSION}`,
    );
  }
  if (acceptReject && message.type === MeshHandshakeType.reject) {
    const code = message.payload[0];
    if (code === MeshRejectCode.badSecret) {
      throw new HandshakeError(
        "bad_secret",
        "Cannot complete mesh handshake: peer did not accept our proof of the cluster secret (check that both nodes use the same secret)",
      );
    }
    if (code === MeshRejectCode.version) {
      throw new HandshakeError(
        "version",
        `Cannot complete mesh handshake: peer does not speak mesh protocol version ${MESH_VERSION}`,
      );
    }
    throw garbage(`unknown reject reason ${code}`);
  }
  if (message.type !== expected) {
    throw garbage(`expected handshake message type ${expected}, got ${message.type}`);
  }
  return { body, payload: message.payload };
}

/** Reads and opens record 0 of the peer (HELLO or REFUSE). */
async function readFirstRecord(
  context: HandshakeContext,
  opener: MeshFrameOpener,
): Promise<Uint8Array<ArrayBuffer>> {
  const body = await readFrame(context, HANDSHAKE_MAX_FRAME_BYTES);
  const plaintext = await opener.open(body);
  if (plaintext === null || plaintext.length === 0) {
    throw garbage("first record failed authentication");
  }
  return plaintext;
}

async function keysFor(
  me: MeshIdentity,
  privateKey: CryptoKey,
  peerPayload: Uint8Array<ArrayBuffer>,
  transcript: Uint8Array<ArrayBuffer>,
) {
  const salt = await deriveMeshSecretSalt(me.secret);
  try {
    return await deriveMeshSessionKeys(
      salt,
      privateKey,
      peerPayload.slice(0, MESH_PUBLIC_KEY_BYTES),
      transcript,
    );
  } catch (error) {
    if (error instanceof SyntaxError) throw garbage("unusable ephemeral public key", error);
    throw error;
  }
}

function helloPayload(publicKey: Uint8Array): Uint8Array<ArrayBuffer> {
  return concatBytes(publicKey, crypto.getRandomValues(new Uint8Array(MESH_NONCE_BYTES)));
}

/** Validates options and identity before a handshake; on failure closes the stream and rethrows. */
function validatedStart(
  stream: ByteStream,
  me: MeshIdentity,
  options: SecureChannelOptions,
): ReturnType<typeof readOptions> {
  try {
    const read = readOptions(options);
    checkIdentity(me);
    return read;
  } catch (error) {
    closeQuietly(stream);
    throw error;
  }
}

/**
 * Dials side of the handshake: proves the cluster secret first, checks the
 * responder's proof, exchanges identities, and returns the open channel.
 *
 * @param stream A fresh connection to the peer's mesh listener (e.g. a
 * `Deno.TcpConn`). Closed on any failure.
 * @param me This node's identity and the cluster secret.
 * @param options Timeout and frame size.
 * @returns The channel; {@linkcode SecureChannel.peer} says who answered.
 * @throws {HandshakeError} If the handshake fails (see its `reason`); a
 * refusal by the peer has reason `"refused"` and the peer's reason in the
 * message.
 * @throws {TypeError} If `me` or `options` has the wrong shape.
 * @throws {RangeError} If a value in `me` or `options` is out of range.
 *
 * @example
 * ```ts ignore
 * const conn = await Deno.connect({ hostname: "10.0.0.2", port: 7946 });
 * const channel = await initiateChannel(conn, me);
 * await channel.send(new TextEncoder().encode("hello"));
 * ```
 */
export async function initiateChannel(
  stream: ByteStream,
  me: MeshIdentity,
  options: SecureChannelOptions = {},
): Promise<SecureChannel> {
  const { maxFrameBytes, handshakeTimeoutMs } = validatedStart(stream, me, options);
  return await underDeadline(stream, handshakeTimeoutMs, async (context) => {
    const ephemeral = await generateMeshEphemeral();
    const init = encodeMeshHandshake(MeshHandshakeType.init, helloPayload(ephemeral.publicKey));
    await send(context, framed(init));

    const reply = await readHandshake(context, MeshHandshakeType.reply, true);
    const keys = await keysFor(
      me,
      ephemeral.privateKey,
      reply.payload,
      concatBytes(init, reply.body),
    );
    const sealer = new MeshFrameSealer(keys.initiatorToResponder);
    const opener = new MeshFrameOpener(keys.responderToInitiator);
    const [proof, hello] = await Promise.all([
      computeMeshProof(keys.initiatorProof, keys.transcriptHash),
      sealer.seal(encodeHello(me)),
    ]);
    await send(
      context,
      framed(encodeMeshHandshake(MeshHandshakeType.initiatorProof, proof), hello),
    );

    const peerProof = await readHandshake(context, MeshHandshakeType.responderProof, true);
    if (!(await verifyMeshProof(keys.responderProof, keys.transcriptHash, peerProof.payload))) {
      throw new HandshakeError(
        "bad_secret",
        "Cannot complete mesh handshake: peer did not prove the cluster secret",
      );
    }
    const record = await readFirstRecord(context, opener);
    if (record[0] === RECORD_REFUSE) {
      const reason = sanitizeText(lenientDecoder.decode(record.subarray(1))).slice(
        0,
        MAX_REFUSAL_CHARS,
      );
      throw new HandshakeError("refused", `Cannot join mesh: peer refused this node: ${reason}`);
    }
    if (record[0] !== RECORD_HELLO) throw garbage(`unexpected first record kind ${record[0]}`);
    const peer = decodeHello(record.subarray(1));
    const refusal = ownIdRefusal(me, peer);
    if (refusal !== undefined) {
      throw new HandshakeError("refused", `Cannot join mesh: ${refusal}`, { peer });
    }
    return new SecureChannel(CONSTRUCT, {
      stream,
      reader: context.reader,
      sealer,
      opener,
      peer,
      maxFrameBytes,
    });
  });
}

/**
 * Listening side of the handshake: checks the initiator's proof before
 * anything that depends on the secret is sent, asks `admit`, proves the
 * secret in turn, and returns the open channel.
 *
 * Nothing is allocated for the peer beyond the socket, one ephemeral key and
 * the read buffer until its proof verifies, and garbage is dropped as soon
 * as it is seen. Logging failures is left to the caller (see
 * {@linkcode FailureLog}).
 *
 * @param stream A freshly accepted connection. Closed on any failure.
 * @param me This node's identity and the cluster secret.
 * @param options Timeout, frame size and the admission check.
 * @returns The channel; {@linkcode SecureChannel.peer} says who connected.
 * @throws {HandshakeError} If the handshake fails (see its `reason`); a
 * refusal has reason `"refused"` and the refused peer in `peer`.
 * @throws {TypeError} If `me` or `options` has the wrong shape.
 * @throws {RangeError} If a value in `me` or `options` is out of range.
 * @throws {unknown} Whatever `admit` throws (the stream is closed first).
 *
 * @example
 * ```ts ignore
 * const channel = await acceptChannel(conn, me, {
 *   admit: (peer) => live.has(peer.nodeId) ? `node id ${peer.nodeId} is already in the cluster` : undefined,
 * });
 * ```
 */
export async function acceptChannel(
  stream: ByteStream,
  me: MeshIdentity,
  options: SecureChannelOptions = {},
): Promise<SecureChannel> {
  const { maxFrameBytes, handshakeTimeoutMs } = validatedStart(stream, me, options);
  const { admit } = options;
  return await underDeadline(stream, handshakeTimeoutMs, async (context) => {
    let init;
    try {
      init = await readHandshake(context, MeshHandshakeType.init, false);
    } catch (error) {
      if (error instanceof HandshakeError && error.reason === "version") {
        await reject(context, MeshRejectCode.version);
      }
      throw error;
    }
    const ephemeral = await generateMeshEphemeral();
    const reply = encodeMeshHandshake(MeshHandshakeType.reply, helloPayload(ephemeral.publicKey));
    // Keys first: an unusable public key is garbage before anything is sent.
    const keys = await keysFor(
      me,
      ephemeral.privateKey,
      init.payload,
      concatBytes(init.body, reply),
    );
    await send(context, framed(reply));

    const proof = await readHandshake(context, MeshHandshakeType.initiatorProof, false);
    if (!(await verifyMeshProof(keys.initiatorProof, keys.transcriptHash, proof.payload))) {
      await reject(context, MeshRejectCode.badSecret);
      throw new HandshakeError(
        "bad_secret",
        "Cannot complete mesh handshake: peer did not prove the cluster secret",
      );
    }

    // Authenticated: from here on the peer knows the secret.
    const sealer = new MeshFrameSealer(keys.responderToInitiator);
    const opener = new MeshFrameOpener(keys.initiatorToResponder);
    const record = await readFirstRecord(context, opener);
    if (record[0] !== RECORD_HELLO) throw garbage(`unexpected first record kind ${record[0]}`);
    const peer = decodeHello(record.subarray(1));
    // No admission decision for a handshake that has already timed out.
    if (context.expired) {
      throw new HandshakeError("timeout", "Cannot complete mesh handshake: timed out");
    }
    let refusal = ownIdRefusal(me, peer);
    if (refusal === undefined && admit !== undefined) refusal = admit(peer);
    const ownProof = encodeMeshHandshake(
      MeshHandshakeType.responderProof,
      await computeMeshProof(keys.responderProof, keys.transcriptHash),
    );
    if (refusal !== undefined) {
      const text = Array.from(sanitizeText(String(refusal))).slice(0, MAX_REFUSAL_CHARS).join("");
      const refuse = await sealer.seal(
        concatBytes(new Uint8Array([RECORD_REFUSE]), encoder.encode(text)),
      );
      await send(context, framed(ownProof, refuse));
      await linger(context);
      throw new HandshakeError(
        "refused",
        `Cannot complete mesh handshake: refused node ${peer.nodeId} at ${peer.advertise}: ${text}`,
        { peer },
      );
    }
    const hello = await sealer.seal(encodeHello(me));
    await send(context, framed(ownProof, hello));
    return new SecureChannel(CONSTRUCT, {
      stream,
      reader: context.reader,
      sealer,
      opener,
      peer,
      maxFrameBytes,
    });
  });
}

async function send(context: HandshakeContext, bytes: Uint8Array): Promise<void> {
  try {
    await writeAll(context.stream, bytes);
  } catch (cause) {
    throw new HandshakeError("closed", "Cannot complete mesh handshake: connection failed", {
      cause,
    });
  }
}

const CONSTRUCT = Symbol("SecureChannel");

interface ChannelParts {
  stream: ByteStream;
  reader: FrameReader;
  sealer: MeshFrameSealer;
  opener: MeshFrameOpener;
  peer: PeerHello;
  maxFrameBytes: number;
}

/**
 * An authenticated, encrypted, ordered message channel to one peer node,
 * made by {@linkcode initiateChannel} or {@linkcode acceptChannel}.
 *
 * Messages are opaque bytes of at most `maxFrameBytes`. The channel does not
 * reconnect: once closed (by either side, a failed frame, or an I/O error)
 * it stays closed; make a new one.
 *
 * @example
 * ```ts ignore
 * const channel = await initiateChannel(conn, me);
 * channel.send(new TextEncoder().encode("ping"));
 * for await (const message of channel.messages()) handle(channel.peer, message);
 * console.log("link to", channel.peer.nodeId, "closed:", channel.closeReason);
 * ```
 */
export class SecureChannel {
  /** Who is at the other end; proven to know the cluster secret. */
  readonly peer: PeerHello;
  #stream: ByteStream;
  #reader: FrameReader;
  #sealer: MeshFrameSealer;
  #opener: MeshFrameOpener;
  #maxFrameBytes: number;
  #closeReason: ChannelCloseReason | undefined;
  #writes: Promise<void> = Promise.resolve();
  #reading = false;

  /**
   * Not for direct use: call {@linkcode initiateChannel} or
   * {@linkcode acceptChannel}.
   *
   * @param token An internal token.
   * @param parts The handshake's results.
   * @throws {TypeError} If called from outside this module.
   */
  constructor(token: symbol, parts: ChannelParts) {
    if (token !== CONSTRUCT) {
      throw new TypeError(
        "Cannot construct SecureChannel: use initiateChannel() or acceptChannel()",
      );
    }
    this.peer = parts.peer;
    this.#stream = parts.stream;
    this.#reader = parts.reader;
    this.#sealer = parts.sealer;
    this.#opener = parts.opener;
    this.#maxFrameBytes = parts.maxFrameBytes;
    this.#reader.resize(CHANNEL_BUFFER_BYTES);
  }

  /** Whether the channel is closed. */
  get closed(): boolean {
    return this.#closeReason !== undefined;
  }

  /** Why the channel closed, or `undefined` while it is open. */
  get closeReason(): ChannelCloseReason | undefined {
    return this.#closeReason;
  }

  /**
   * Sends one message. Calls are sealed and written in call order, so
   * concurrent sends are fine; await them (or bound how many are pending) to
   * get backpressure from a slow peer.
   *
   * @param message At most `maxFrameBytes` bytes; copied before this returns.
   * @returns Resolves once the frame is handed to the stream.
   * @throws {TypeError} If `message` is not a `Uint8Array`.
   * @throws {RangeError} If `message` is longer than `maxFrameBytes` (the
   * channel stays open).
   * @throws {ChannelClosedError} If the channel is closed, or the write
   * failed (the channel is then closed).
   */
  send(message: Uint8Array): Promise<void> {
    if (!(message instanceof Uint8Array)) {
      return Promise.reject(
        new TypeError(`Cannot send mesh frame: message must be a Uint8Array`),
      );
    }
    if (message.length > this.#maxFrameBytes) {
      return Promise.reject(
        new RangeError(
          `Cannot send mesh frame: ${message.length} bytes exceeds maximum ${this.#maxFrameBytes}`,
        ),
      );
    }
    if (this.closed) {
      return Promise.reject(
        new ChannelClosedError(
          `Cannot send mesh frame: channel to ${this.peer.nodeId} is closed (${this.#closeReason})`,
        ),
      );
    }
    const plaintext = new Uint8Array(1 + message.length);
    plaintext[0] = RECORD_DATA;
    plaintext.set(message, 1);
    // The counter is taken now, so frames reach the stream in call order.
    const sealed = this.#sealer.seal(plaintext);
    const written = this.#writes.then(async () => {
      const body = await sealed;
      if (this.closed) {
        throw new ChannelClosedError(
          `Cannot send mesh frame: channel to ${this.peer.nodeId} is closed (${this.#closeReason})`,
        );
      }
      await writeAll(this.#stream, framed(body));
    });
    this.#writes = written.catch(() => {});
    return written.catch((error) => {
      if (error instanceof ChannelClosedError) throw error;
      this.#shutdown("io");
      throw new ChannelClosedError(
        `Cannot send mesh frame: connection to ${this.peer.nodeId} failed`,
        { cause: error },
      );
    });
  }

  /**
   * Yields the peer's messages in order. Ends when the connection closes, a
   * frame fails authentication or is too large (the channel is then closed;
   * see {@linkcode SecureChannel.closeReason}). One iteration at a time;
   * leaving the loop early keeps the channel open.
   *
   * @returns The messages.
   * @throws {Error} If another iteration of `messages()` is running.
   */
  async *messages(): AsyncGenerator<Uint8Array<ArrayBuffer>, void, undefined> {
    if (this.#reading) {
      throw new Error("Cannot read mesh channel: messages() is already being iterated");
    }
    this.#reading = true;
    try {
      while (!this.closed) {
        let body: Uint8Array<ArrayBuffer> | null;
        try {
          body = await this.#reader.read(this.#maxFrameBytes + 1 + MESH_TAG_BYTES);
        } catch (error) {
          this.#shutdown(
            error instanceof FrameSizeError
              ? "oversize"
              : error instanceof TruncatedFrameError
              ? "eof"
              : "io",
          );
          return;
        }
        if (body === null) {
          this.#shutdown("eof");
          return;
        }
        const plaintext = await this.#opener.open(body);
        if (plaintext === null) {
          this.#shutdown("tampered");
          return;
        }
        if (plaintext[0] !== RECORD_DATA) {
          this.#shutdown("protocol");
          return;
        }
        yield plaintext.subarray(1);
      }
    } finally {
      this.#reading = false;
    }
  }

  /** Closes the channel and its stream. Idempotent. */
  close(): void {
    this.#shutdown("local");
  }

  #shutdown(reason: ChannelCloseReason): void {
    if (this.#closeReason !== undefined) return;
    this.#closeReason = reason;
    closeQuietly(this.#stream);
  }
}
