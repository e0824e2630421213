// Copyright meshchat authors. All rights reserved.

/**
 * The cryptography of the node-to-node mesh link, in Web Crypto plus the
 * WebAssembly AES-GCM of `crypto/symmetric.ts` for small frames: the
 * handshake message codec, the key schedule that binds the cluster secret to
 * an ephemeral X25519 exchange, the handshake proofs, and AES-256-GCM frame
 * sealing with per-direction counter nonces. `node/mesh/mesh_channel.ts` puts it on
 * a byte stream and documents the wire protocol byte by byte.
 *
 * ## Key schedule (version 1)
 *
 * All HKDF and HMAC use SHA-256; strings are UTF-8; `||` is concatenation.
 *
 * 1. `secretSalt` = HKDF(IKM = NFC(cluster secret), salt = empty,
 *    info = "meshchat mesh v1 psk", L = 32). Computed from the secret alone,
 *    so a node may compute it once ({@linkcode deriveMeshSecretSalt}).
 * 2. `dh` = X25519(own ephemeral private key, peer's ephemeral public key).
 *    Low-order peer keys are refused (Web Crypto fails, and an all-zero
 *    result is checked too).
 * 3. `th` = SHA-256(INIT body || REPLY body): the transcript hash, covering
 *    both ephemeral keys, both nonces and both version bytes.
 * 4. `okm` = HKDF(IKM = `dh`, salt = `secretSalt`,
 *    info = "meshchat mesh v1 keys" || `th`, L = 128), that is
 *    HKDF-Expand(HKDF-Extract(secretSalt, dh), info): the keys depend on the
 *    cluster secret AND on this session's fresh exchange.
 * 5. `okm[0..32]` = initiator proof key, `okm[32..64]` = responder proof key
 *    (HMAC), `okm[64..96]` = initiator→responder traffic key,
 *    `okm[96..128]` = responder→initiator traffic key (AES-256-GCM).
 * 6. Proofs: `proof_I` = HMAC(initiator proof key, `th`),
 *    `proof_R` = HMAC(responder proof key, `th`), each 32 bytes, checked in
 *    constant time by `crypto.subtle.verify`. Separate keys mean a proof
 *    cannot be reflected back to its sender.
 *
 * ## Frames after the handshake
 *
 * Each direction has its own key and a counter `c` starting at 0, one per
 * frame. IV = 4 zero bytes || `c` as 8 bytes big-endian; no associated data;
 * the sealed frame is the ciphertext followed by the 16-byte tag. The
 * counter is never reused: {@linkcode MeshFrameSealer} takes it when
 * {@linkcode MeshFrameSealer.seal} is called and refuses to go past
 * 2^53 − 1. A receiver expects exactly the next counter, so a dropped,
 * replayed or reordered frame fails authentication like a tampered one,
 * and {@linkcode MeshFrameOpener} refuses everything after the first failure.
 *
 * Frames up to {@linkcode MESH_SYNC_FRAME_BYTES} (almost all: one event is a
 * few hundred bytes) are sealed and opened synchronously in WebAssembly;
 * a Web Crypto call costs a thread-pool round trip of 10–20 µs, which is
 * latency on every hop. Larger frames (catch-up batches) go to Web Crypto,
 * whose AES-NI is far faster per byte and does not block the event loop.
 *
 * @example Both ends of one session
 * ```ts
 * import {
 *   deriveMeshSecretSalt,
 *   deriveMeshSessionKeys,
 *   generateMeshEphemeral,
 *   MeshFrameOpener,
 *   MeshFrameSealer,
 * } from "./mesh_crypto.ts";
 * import assert from "node:assert/strict";
 *
 * const salt = await deriveMeshSecretSalt("cluster secret");
 * const a = await generateMeshEphemeral();
 * const b = await generateMeshEphemeral();
 * const transcript = new Uint8Array([...a.publicKey, ...b.publicKey]);
 * const ka = await deriveMeshSessionKeys(salt, a.privateKey, b.publicKey, transcript);
 * const kb = await deriveMeshSessionKeys(salt, b.privateKey, a.publicKey, transcript);
 * const sealed = await new MeshFrameSealer(ka.initiatorToResponder).seal(new Uint8Array([42]));
 * const opened = await new MeshFrameOpener(kb.initiatorToResponder).open(sealed);
 * assert.deepEqual(opened, new Uint8Array([42]));
 * ```
 *
 * @module
 */

import { aesGcmOpen, aesGcmSeal } from "./crypto/symmetric.ts";

/** The four bytes every handshake message starts with: ASCII `MESH`. */
export const MESH_MAGIC: Uint8Array<ArrayBuffer> = new Uint8Array([0x4d, 0x45, 0x53, 0x48]);

/** The mesh protocol version this code speaks (byte 4 of every handshake message). */
export const MESH_VERSION = 1;

/** Bytes of an X25519 public key. */
export const MESH_PUBLIC_KEY_BYTES = 32;

/** Bytes of the random nonce each side adds to the handshake. */
export const MESH_NONCE_BYTES = 16;

/** Bytes of a handshake proof (an HMAC-SHA-256 tag). */
export const MESH_PROOF_BYTES = 32;

/** Bytes a sealed frame adds to its plaintext (the AES-GCM tag). */
export const MESH_TAG_BYTES = 16;

/** Bytes of the header of every handshake message: magic, version, type. */
export const MESH_HANDSHAKE_HEADER_BYTES = 6;

/**
 * Handshake message types (byte 5 of every handshake message).
 *
 * - `init` (initiator → responder): ephemeral public key, nonce;
 * - `reply` (responder → initiator): ephemeral public key, nonce;
 * - `initiatorProof`, `responderProof`: the 32-byte proofs;
 * - `reject`: one reason byte ({@linkcode MeshRejectCode}), then the sender
 *   closes. Not authenticated: it only tells an honest peer what to log.
 */
export const MeshHandshakeType = {
  init: 0x01,
  reply: 0x02,
  initiatorProof: 0x03,
  responderProof: 0x04,
  reject: 0x0f,
} as const;

/** One of the values of {@linkcode MeshHandshakeType}. */
export type MeshHandshakeType = typeof MeshHandshakeType[keyof typeof MeshHandshakeType];

/** Reason bytes of a `reject` handshake message. */
export const MeshRejectCode = {
  /** The sender does not speak the version in the message it got (its own is in the header). */
  version: 0x01,
  /** The initiator's proof did not verify. */
  badSecret: 0x02,
} as const;

/** Payload length of each handshake message type. */
const PAYLOAD_BYTES: Record<MeshHandshakeType, number> = {
  [MeshHandshakeType.init]: MESH_PUBLIC_KEY_BYTES + MESH_NONCE_BYTES,
  [MeshHandshakeType.reply]: MESH_PUBLIC_KEY_BYTES + MESH_NONCE_BYTES,
  [MeshHandshakeType.initiatorProof]: MESH_PROOF_BYTES,
  [MeshHandshakeType.responderProof]: MESH_PROOF_BYTES,
  [MeshHandshakeType.reject]: 1,
};

/** A decoded handshake message. */
export interface MeshHandshakeMessage {
  /** The sender's protocol version. */
  readonly version: number;
  /** The message type. */
  readonly type: MeshHandshakeType;
  /** The bytes after the header. */
  readonly payload: Uint8Array<ArrayBuffer>;
}

/**
 * Encodes a handshake message body (without the frame's length prefix):
 * `MESH`, version, type, payload.
 *
 * @param type The message type.
 * @param payload The payload; its length must match the type.
 * @param version The version byte to send.
 * @returns The message body.
 * @throws {RangeError} If the payload length does not match the type, or
 * the version is not a byte.
 *
 * @example
 * ```ts
 * import { encodeMeshHandshake, MeshHandshakeType } from "./mesh_crypto.ts";
 * encodeMeshHandshake(MeshHandshakeType.reject, new Uint8Array([2])).length; // 7
 * ```
 */
export function encodeMeshHandshake(
  type: MeshHandshakeType,
  payload: Uint8Array,
  version: number = MESH_VERSION,
): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(version) || version < 0 || version > 255) {
    throw new RangeError(`Cannot encode mesh handshake: version ${version} is not a byte`);
  }
  const expected = PAYLOAD_BYTES[type];
  if (expected === undefined || payload.length !== expected) {
    throw new RangeError(
      `Cannot encode mesh handshake: type ${type} needs ${
        expected ?? "no"
      } payload bytes, got ${payload.length}`,
    );
  }
  const body = new Uint8Array(MESH_HANDSHAKE_HEADER_BYTES + payload.length);
  body.set(MESH_MAGIC, 0);
  body[4] = version;
  body[5] = type;
  body.set(payload, MESH_HANDSHAKE_HEADER_BYTES);
  return body;
}

/**
 * Decodes a handshake message body. A message from another version is
 * returned as long as its magic is right (its type and payload are not
 * checked), so the caller can tell "not a mesh node" from "another version".
 *
 * @param body The frame body.
 * @returns The version, type and payload.
 * @throws {SyntaxError} If the magic is wrong, or (for this version) the
 * type is unknown or the payload has the wrong length.
 *
 * @example
 * ```ts
 * import { decodeMeshHandshake } from "./mesh_crypto.ts";
 * decodeMeshHandshake(new TextEncoder().encode("MESH\x02\x01")).version; // 2
 * ```
 */
export function decodeMeshHandshake(body: Uint8Array): MeshHandshakeMessage {
  if (body.length < MESH_HANDSHAKE_HEADER_BYTES) {
    throw new SyntaxError(
      `Cannot decode mesh handshake: ${body.length} bytes is shorter than the header`,
    );
  }
  for (let i = 0; i < MESH_MAGIC.length; i++) {
    if (body[i] !== MESH_MAGIC[i]) {
      throw new SyntaxError("Cannot decode mesh handshake: bad magic");
    }
  }
  const version = body[4]!;
  const type = body[5]! as MeshHandshakeType;
  const payload = body.slice(MESH_HANDSHAKE_HEADER_BYTES);
  if (version !== MESH_VERSION) return { version, type, payload };
  const expected = PAYLOAD_BYTES[type];
  if (expected === undefined) {
    throw new SyntaxError(`Cannot decode mesh handshake: unknown type ${type}`);
  }
  if (payload.length !== expected) {
    throw new SyntaxError(
      `Cannot decode mesh handshake: type ${type} needs ${expected} payload bytes, got ${payload.length}`,
    );
  }
  return { version, type, payload };
}

/** An ephemeral X25519 key pair for one handshake. */
export interface MeshEphemeral {
  /** The raw 32-byte public key, sent to the peer. */
  readonly publicKey: Uint8Array<ArrayBuffer>;
  /** The private key (not extractable). */
  readonly privateKey: CryptoKey;
}

/**
 * Makes a fresh X25519 key pair for one handshake. Never reuse one: the
 * freshness of both ephemeral keys is what defeats replayed handshakes.
 *
 * @returns The key pair.
 *
 * @example
 * ```ts
 * import { generateMeshEphemeral } from "./mesh_crypto.ts";
 * const { publicKey } = await generateMeshEphemeral();
 * publicKey.length; // 32
 * ```
 */
export async function generateMeshEphemeral(): Promise<MeshEphemeral> {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { publicKey, privateKey: pair.privateKey };
}

const encoder = new TextEncoder();
const PSK_INFO = encoder.encode("meshchat mesh v1 psk");
const KEYS_INFO = encoder.encode("meshchat mesh v1 keys");

async function hkdf(
  ikm: Uint8Array<ArrayBuffer>,
  salt: Uint8Array<ArrayBuffer>,
  info: Uint8Array<ArrayBuffer>,
  bytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt, info },
    key,
    bytes * 8,
  );
  return new Uint8Array(bits);
}

/**
 * Derives the 32-byte salt of the key schedule from the cluster secret:
 * HKDF-SHA-256(IKM = UTF-8(NFC(secret)), salt = empty,
 * info = "meshchat mesh v1 psk"). The raw secret is never used as a key.
 *
 * The proofs let a peer that obtains one (an address this node dials) test
 * guesses of the secret offline, as with any pre-shared key. Use a long
 * random secret (at least 128 bits, e.g. `openssl rand -base64 32`).
 *
 * @param secret The cluster secret, at least one character.
 * @returns The salt.
 * @throws {TypeError} If the secret is not a string.
 * @throws {RangeError} If it is empty or contains a lone surrogate.
 *
 * @example
 * ```ts
 * import { deriveMeshSecretSalt } from "./mesh_crypto.ts";
 * (await deriveMeshSecretSalt("s3cret")).length; // 32
 * ```
 */
export async function deriveMeshSecretSalt(secret: string): Promise<Uint8Array<ArrayBuffer>> {
  if (typeof secret !== "string") {
    throw new TypeError(
      `Cannot derive mesh keys: cluster secret must be a string, got ${typeof secret}`,
    );
  }
  if (secret.length === 0) {
    throw new RangeError("Cannot derive mesh keys: cluster secret is empty");
  }
  if (!secret.isWellFormed()) {
    throw new RangeError("Cannot derive mesh keys: cluster secret contains a lone surrogate");
  }
  const ikm = encoder.encode(secret.normalize("NFC"));
  try {
    return await hkdf(ikm, new Uint8Array(0), PSK_INFO, 32);
  } finally {
    ikm.fill(0);
  }
}

/** The keys of one mesh session, the same on both sides. */
export interface MeshSessionKeys {
  /** SHA-256 of the handshake transcript; what the proofs sign. */
  readonly transcriptHash: Uint8Array<ArrayBuffer>;
  /** HMAC-SHA-256 key of the initiator's proof. */
  readonly initiatorProof: CryptoKey;
  /** HMAC-SHA-256 key of the responder's proof. */
  readonly responderProof: CryptoKey;
  /** AES-256-GCM key (32 bytes) of frames from the initiator to the responder. */
  readonly initiatorToResponder: Uint8Array<ArrayBuffer>;
  /** AES-256-GCM key (32 bytes) of frames from the responder to the initiator. */
  readonly responderToInitiator: Uint8Array<ArrayBuffer>;
}

/**
 * Runs the key schedule (see the module doc) for one side of a handshake.
 *
 * @param secretSalt From {@linkcode deriveMeshSecretSalt}.
 * @param privateKey This side's ephemeral private key.
 * @param peerPublicKey The peer's raw 32-byte ephemeral public key.
 * @param transcript The INIT body followed by the REPLY body.
 * @returns The proof and traffic keys and the transcript hash.
 * @throws {SyntaxError} If the peer's public key is malformed or a
 * low-order point.
 *
 * @example
 * ```ts
 * import {
 *   deriveMeshSecretSalt,
 *   deriveMeshSessionKeys,
 *   generateMeshEphemeral,
 * } from "./mesh_crypto.ts";
 * const salt = await deriveMeshSecretSalt("s3cret");
 * const me = await generateMeshEphemeral();
 * const peer = await generateMeshEphemeral();
 * const keys = await deriveMeshSessionKeys(salt, me.privateKey, peer.publicKey, new Uint8Array(96));
 * keys.transcriptHash.length; // 32
 * ```
 */
export async function deriveMeshSessionKeys(
  secretSalt: Uint8Array<ArrayBuffer>,
  privateKey: CryptoKey,
  peerPublicKey: Uint8Array<ArrayBuffer>,
  transcript: Uint8Array<ArrayBuffer>,
): Promise<MeshSessionKeys> {
  if (peerPublicKey.length !== MESH_PUBLIC_KEY_BYTES) {
    throw new SyntaxError(
      `Cannot derive mesh keys: peer public key has ${peerPublicKey.length} bytes, expected ${MESH_PUBLIC_KEY_BYTES}`,
    );
  }
  let dh: Uint8Array<ArrayBuffer>;
  try {
    const peer = await crypto.subtle.importKey("raw", peerPublicKey, { name: "X25519" }, false, []);
    dh = new Uint8Array(
      await crypto.subtle.deriveBits({ name: "X25519", public: peer }, privateKey, 256),
    );
  } catch (cause) {
    throw new SyntaxError("Cannot derive mesh keys: peer public key is not a usable X25519 key", {
      cause,
    });
  }
  if (dh.every((byte) => byte === 0)) {
    throw new SyntaxError("Cannot derive mesh keys: peer public key is a low-order point");
  }
  const transcriptHash = new Uint8Array(await crypto.subtle.digest("SHA-256", transcript));
  const info = new Uint8Array(KEYS_INFO.length + transcriptHash.length);
  info.set(KEYS_INFO, 0);
  info.set(transcriptHash, KEYS_INFO.length);
  const okm = await hkdf(dh, secretSalt, info, 128);
  dh.fill(0);
  try {
    const hmac = { name: "HMAC", hash: "SHA-256" };
    const [initiatorProof, responderProof] = await Promise.all([
      crypto.subtle.importKey("raw", okm.subarray(0, 32), hmac, false, ["sign", "verify"]),
      crypto.subtle.importKey("raw", okm.subarray(32, 64), hmac, false, ["sign", "verify"]),
    ]);
    return {
      transcriptHash,
      initiatorProof,
      responderProof,
      initiatorToResponder: okm.slice(64, 96),
      responderToInitiator: okm.slice(96, 128),
    };
  } finally {
    okm.fill(0);
  }
}

/**
 * Computes a handshake proof: HMAC-SHA-256(key, transcript hash).
 *
 * @param key {@linkcode MeshSessionKeys.initiatorProof} or
 * {@linkcode MeshSessionKeys.responderProof}.
 * @param transcriptHash {@linkcode MeshSessionKeys.transcriptHash}.
 * @returns The 32-byte proof.
 *
 * @example
 * ```ts ignore
 * const proof = await computeMeshProof(keys.initiatorProof, keys.transcriptHash);
 * ```
 */
export async function computeMeshProof(
  key: CryptoKey,
  transcriptHash: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, transcriptHash));
}

/**
 * Checks a handshake proof in constant time.
 *
 * @param key The proof key of the side that sent the proof.
 * @param transcriptHash {@linkcode MeshSessionKeys.transcriptHash}.
 * @param proof The proof received.
 * @returns Whether it is right.
 *
 * @example
 * ```ts ignore
 * if (!await verifyMeshProof(keys.initiatorProof, keys.transcriptHash, proof)) close();
 * ```
 */
export async function verifyMeshProof(
  key: CryptoKey,
  transcriptHash: Uint8Array<ArrayBuffer>,
  proof: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  if (proof.length !== MESH_PROOF_BYTES) return false;
  return await crypto.subtle.verify("HMAC", key, proof, transcriptHash);
}

/** The largest frame counter; a direction that reaches it must be closed. */
export const MESH_MAX_COUNTER: number = Number.MAX_SAFE_INTEGER;

function counterIv(counter: number): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12);
  const view = new DataView(iv.buffer);
  view.setUint32(4, Math.floor(counter / 2 ** 32));
  view.setUint32(8, counter >>> 0);
  return iv;
}

/**
 * Largest frame sealed and opened synchronously in WebAssembly (about
 * 0.3 ms at its ~60 MB/s); larger ones go to Web Crypto.
 */
export const MESH_SYNC_FRAME_BYTES = 16 * 1024;

const NO_DATA = new Uint8Array(0);

/**
 * One direction's AES-256-GCM key: raw bytes for the WebAssembly path, and
 * a Web Crypto key made on first use by a large frame.
 */
class TrafficKey {
  readonly raw: Uint8Array<ArrayBuffer>;
  #webKey?: Promise<CryptoKey>;

  constructor(raw: Uint8Array<ArrayBuffer>) {
    if (raw.length !== 32) {
      throw new RangeError(`Cannot use mesh traffic key: expected 32 bytes, got ${raw.length}`);
    }
    this.raw = raw;
  }

  webKey(): Promise<CryptoKey> {
    this.#webKey ??= crypto.subtle.importKey("raw", this.raw, "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    return this.#webKey;
  }
}

/**
 * Seals the frames of one direction: AES-256-GCM with IV = 4 zero bytes ||
 * 8-byte big-endian counter, the counter starting at 0.
 *
 * | operation | cost |
 * | --- | --- |
 * | seal, frame ≤ 16 KiB | one synchronous AES-GCM in WebAssembly |
 * | seal, larger frame | one Web Crypto AES-GCM encryption |
 *
 * @example
 * ```ts ignore
 * const sealer = new MeshFrameSealer(keys.initiatorToResponder);
 * const frame = await sealer.seal(new TextEncoder().encode("hello"));
 * ```
 */
export class MeshFrameSealer {
  #key: TrafficKey;
  #counter = 0;

  /**
   * Makes a sealer whose counter starts at 0.
   *
   * @param key A 32-byte AES-256-GCM key, used by no other sealer.
   * @throws {RangeError} If the key is not 32 bytes.
   */
  constructor(key: Uint8Array<ArrayBuffer>) {
    this.#key = new TrafficKey(key);
  }

  /** The counter the next {@linkcode MeshFrameSealer.seal} will use. */
  get counter(): number {
    return this.#counter;
  }

  /**
   * Seals one frame. The counter is taken when this is called (not when the
   * promise settles), so frames written in call order open in order.
   *
   * @param plaintext The bytes to seal.
   * @returns Ciphertext followed by the 16-byte tag.
   * @throws {RangeError} If the counter is exhausted (after 2^53 − 1 frames).
   */
  seal(plaintext: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#counter > MESH_MAX_COUNTER) {
      return Promise.reject(
        new RangeError("Cannot seal mesh frame: counter exhausted, open a new channel"),
      );
    }
    const iv = counterIv(this.#counter++);
    if (plaintext.length <= MESH_SYNC_FRAME_BYTES) {
      return Promise.resolve(aesGcmSeal(this.#key.raw, iv, plaintext, NO_DATA));
    }
    return this.#key.webKey()
      .then((key) => crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plaintext))
      .then((sealed) => new Uint8Array(sealed));
  }
}

/**
 * Opens the frames of one direction, expecting counters 0, 1, 2… in order.
 * After one frame fails, every later frame fails too.
 *
 * @example
 * ```ts ignore
 * const opener = new MeshFrameOpener(keys.initiatorToResponder);
 * const plaintext = await opener.open(frame); // null if tampered
 * ```
 */
export class MeshFrameOpener {
  #key: TrafficKey;
  #counter = 0;
  #failed = false;

  /**
   * Makes an opener whose counter starts at 0.
   *
   * @param key The 32-byte AES-256-GCM key of this direction.
   * @throws {RangeError} If the key is not 32 bytes.
   */
  constructor(key: Uint8Array<ArrayBuffer>) {
    this.#key = new TrafficKey(key);
  }

  /** Whether a frame has failed to open (the direction is dead). */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * Opens the next frame. The counter is taken when this is called.
   *
   * @param sealed Ciphertext followed by the tag.
   * @returns The plaintext, or `null` if the frame is too short, was
   * tampered with, replayed, reordered, or follows a failed frame.
   */
  async open(sealed: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer> | null> {
    if (this.#failed || sealed.length < MESH_TAG_BYTES || this.#counter > MESH_MAX_COUNTER) {
      this.#failed = true;
      return null;
    }
    const iv = counterIv(this.#counter++);
    let opened: Uint8Array<ArrayBuffer> | null;
    if (sealed.length - MESH_TAG_BYTES <= MESH_SYNC_FRAME_BYTES) {
      opened = aesGcmOpen(this.#key.raw, iv, sealed, NO_DATA);
    } else {
      try {
        const key = await this.#key.webKey();
        opened = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, sealed));
      } catch {
        opened = null;
      }
    }
    if (opened === null) this.#failed = true;
    return opened;
  }
}
