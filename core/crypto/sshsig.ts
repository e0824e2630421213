// Copyright meshchat authors. All rights reserved.

/**
 * SSH signatures as `ssh-keygen -Y sign` makes them (OpenSSH's
 * PROTOCOL.sshsig), and OpenSSH public key lines: parsed, and verified with
 * WebCrypto, so it runs in a browser as well as on the node.
 *
 * The armored signature (`-----BEGIN SSH SIGNATURE-----`, base64, `-----END
 * SSH SIGNATURE-----`) holds one blob, every `string` a uint32 length then
 * its bytes:
 *
 * ```
 * byte[6]  "SSHSIG"
 * uint32   version (1)
 * string   publickey        the signer's key, SSH wire format
 * string   namespace        what the signature is for ("meshchat"), so one made
 *                           for git or for a file cannot be used here
 * string   reserved         empty
 * string   hash_algorithm   "sha256" or "sha512"
 * string   signature        string algorithm, string signature bytes
 * ```
 *
 * What the key signed is not the message but
 * `"SSHSIG" ‖ string namespace ‖ string reserved ‖ string hash_algorithm ‖
 * string H(message)`.
 *
 * Accepted keys and algorithms: `ssh-ed25519`; `ecdsa-sha2-nistp256`,
 * `-nistp384`, `-nistp521` (each with its curve's hash, SHA-256/384/512;
 * the signature bytes are `mpint r ‖ mpint s`); RSA (`ssh-rsa` keys) signed
 * with `rsa-sha2-256` or `rsa-sha2-512`. Refused: RSA with SHA-1 (`ssh-rsa`
 * signatures), DSA, security-key types (`sk-…`, whose signed data differs)
 * and certificates. Key strength (RSA size) is the caller's policy.
 *
 * @example
 * ```ts ignore
 * const key = parsePublicKeyLine("ssh-ed25519 AAAAC3Nza… alice@laptop");
 * const signer = await verifySshSignature(pasted, {
 *   message: new TextEncoder().encode(challenge),
 *   namespace: "meshchat",
 *   publicKey: key,
 * }); // throws SshSignatureError saying why, when it does not verify
 * ```
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";
import { decodeBase64, encodeBase64 } from "./_base64.ts";

/** A signature or key this module refuses, with a reason a person can act on. */
export class SshSignatureError extends Error {
  /** Always `"SshSignatureError"`. */
  override name = "SshSignatureError";
}

/** An SSH public key this module can verify with. */
export interface SshPublicKey {
  /** Key type: `ssh-ed25519`, `ecdsa-sha2-nistp256|384|521` or `ssh-rsa`. */
  readonly type: string;
  /** The key in SSH wire format (what fingerprints hash). */
  readonly blob: Uint8Array<ArrayBuffer>;
  /** The RSA modulus size (bits), for an RSA key. */
  readonly rsaBits?: number;
}

/** A parsed SSHSIG blob. */
export interface SshSignature {
  /** The key that signed. */
  readonly publicKey: SshPublicKey;
  /** What the signature is for. */
  readonly namespace: string;
  /** The hash of the message: `sha256` or `sha512`. */
  readonly hashAlgorithm: "sha256" | "sha512";
  /** The signature algorithm (`ssh-ed25519`, `rsa-sha2-512`, …). */
  readonly algorithm: string;
  /** The signature bytes, as that algorithm writes them. */
  readonly signature: Uint8Array<ArrayBuffer>;
  /** What the key signed (see the module doc). */
  readonly signedData: (messageHash: Uint8Array) => Uint8Array<ArrayBuffer>;
}

/** What {@linkcode verifySshSignature} checks a signature against. */
export interface VerifyOptions {
  /** The message that was signed (the file's bytes). */
  readonly message: Uint8Array;
  /** The namespace it must be signed for (`-n`). */
  readonly namespace: string;
  /** The key that must have signed. @default any key (the signer is returned) */
  readonly publicKey?: SshPublicKey;
}

const MAGIC = "SSHSIG";
const BEGIN = "-----BEGIN SSH SIGNATURE-----";
const END = "-----END SSH SIGNATURE-----";
/** Longest armored signature read: an RSA-16384 one is about 6 KiB. */
const MAX_ARMORED_LENGTH = 16_384;
/** Longest public key line read. */
const MAX_KEY_LINE_LENGTH = 8_192;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The ECDSA curves: WebCrypto's name, its hash, and the size of a coordinate (bytes). */
const CURVES: Readonly<Record<string, { curve: string; hash: string; size: number }>> = {
  "ecdsa-sha2-nistp256": { curve: "P-256", hash: "SHA-256", size: 32 },
  "ecdsa-sha2-nistp384": { curve: "P-384", hash: "SHA-384", size: 48 },
  "ecdsa-sha2-nistp521": { curve: "P-521", hash: "SHA-512", size: 66 },
};

/** The RSA signature algorithms accepted and their hash. */
const RSA_HASHES: Readonly<Record<string, string>> = {
  "rsa-sha2-256": "SHA-256",
  "rsa-sha2-512": "SHA-512",
};

/** Reads SSH wire types from a byte array, refusing to read past its end. */
class WireReader {
  readonly #bytes: Uint8Array<ArrayBuffer>;
  readonly #what: string;
  #at = 0;

  constructor(bytes: Uint8Array<ArrayBuffer>, what: string) {
    this.#bytes = bytes;
    this.#what = what;
  }

  uint32(): number {
    if (this.#at + 4 > this.#bytes.length) throw this.#truncated();
    const view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset + this.#at, 4);
    this.#at += 4;
    return view.getUint32(0);
  }

  bytes(length: number): Uint8Array<ArrayBuffer> {
    if (this.#at + length > this.#bytes.length) throw this.#truncated();
    const out = this.#bytes.slice(this.#at, this.#at + length);
    this.#at += length;
    return out;
  }

  string(): Uint8Array<ArrayBuffer> {
    return this.bytes(this.uint32());
  }

  text(): string {
    return utf8Text(this.string(), this.#what);
  }

  /** An mpint as its unsigned magnitude, without leading zero bytes. */
  unsignedMpint(): Uint8Array<ArrayBuffer> {
    const value = this.string();
    if (value.length > 0 && (value[0]! & 0x80) !== 0) {
      throw new SshSignatureError(`Invalid ${this.#what}: a negative number`);
    }
    let start = 0;
    while (start < value.length && value[start] === 0) start++;
    return value.slice(start);
  }

  end(): void {
    if (this.#at !== this.#bytes.length) {
      throw new SshSignatureError(`Invalid ${this.#what}: unexpected bytes at its end`);
    }
  }

  #truncated(): SshSignatureError {
    return new SshSignatureError(`Invalid ${this.#what}: it is cut short`);
  }
}

/** UTF-8 text of a name read from the wire. */
function utf8Text(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch (error) {
    throw new SshSignatureError(`Invalid ${what}: a name is not UTF-8`, { cause: error });
  }
}

/** A name from the wire as it may be shown: printable ASCII, at most 40 characters. */
function printable(name: string): string {
  return name.replace(/[^\x21-\x7e]/g, "?").slice(0, 40);
}

/**
 * Bytes as an SSH wire `string`: a uint32 length, then the bytes.
 *
 * @param bytes The bytes.
 * @returns The encoded string.
 */
export function sshWireString(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** Refuses a type this module cannot verify, saying what is accepted. */
function unsupported(type: string): SshSignatureError {
  const shown = printable(type);
  const why = shown.startsWith("sk-")
    ? "security-key signatures are not supported"
    : "accepted are ed25519, ECDSA (nistp256/384/521) and RSA keys";
  return new SshSignatureError(`Unsupported key type ${shown}: ${why}`);
}

/**
 * Parses an SSH public key blob (wire format) and checks its fields.
 *
 * @param blob The key blob.
 * @returns The key.
 * @throws {SshSignatureError} When it is malformed or of a type not accepted.
 */
export function parsePublicKeyBlob(blob: Uint8Array): SshPublicKey {
  const copy = new Uint8Array(blob);
  const reader = new WireReader(copy, "public key");
  const type = reader.text();
  if (type === "ssh-ed25519") {
    if (reader.string().length !== 32) {
      throw new SshSignatureError("Invalid public key: an ed25519 key is 32 bytes");
    }
    reader.end();
    return { type, blob: copy };
  }
  const curve = CURVES[type];
  if (curve !== undefined) {
    const name = reader.text();
    if (`ecdsa-sha2-${name}` !== type) {
      throw new SshSignatureError(
        `Invalid public key: curve ${name.slice(0, 20)} in a ${type} key`,
      );
    }
    const point = reader.string();
    if (point.length !== 1 + 2 * curve.size || point[0] !== 0x04) {
      throw new SshSignatureError(`Invalid public key: not an uncompressed ${curve.curve} point`);
    }
    reader.end();
    return { type, blob: copy };
  }
  if (type === "ssh-rsa") {
    const e = reader.unsignedMpint();
    const n = reader.unsignedMpint();
    reader.end();
    if (e.length === 0 || n.length === 0) {
      throw new SshSignatureError("Invalid public key: an RSA number is zero");
    }
    return { type, blob: copy, rsaBits: bitLength(n) };
  }
  throw unsupported(type);
}

/**
 * Parses an OpenSSH public key line, as in `~/.ssh/id_ed25519.pub`:
 * `TYPE BASE64 [COMMENT]`.
 *
 * @param line The line (surrounding white space is ignored).
 * @returns The key.
 * @throws {SshSignatureError} When it is not such a line, its type and blob
 *   disagree, or the type is not accepted.
 */
export function parsePublicKeyLine(line: string): SshPublicKey {
  if (line.length > MAX_KEY_LINE_LENGTH) {
    throw new SshSignatureError(
      `Invalid public key: longer than ${MAX_KEY_LINE_LENGTH} characters`,
    );
  }
  const [type = "", data = ""] = line.trim().split(/\s+/);
  const expected = "Invalid public key: expected a line like ssh-ed25519 AAAA… (the .pub file)";
  let blob: Uint8Array;
  try {
    blob = decodeBase64(data, "base64");
  } catch (error) {
    throw new SshSignatureError(expected, { cause: error });
  }
  if (blob.length === 0) throw new SshSignatureError(expected);
  const key = parsePublicKeyBlob(blob);
  if (key.type !== type) {
    throw new SshSignatureError(
      `Invalid public key: a ${key.type} key labelled ${printable(type)}`,
    );
  }
  return key;
}

/**
 * The key as a public key line, `TYPE BASE64` (no comment).
 *
 * @param key The key.
 * @returns The line.
 */
export function publicKeyLine(key: SshPublicKey): string {
  return `${key.type} ${encodeBase64(key.blob, "base64")}`;
}

/**
 * The OpenSSH fingerprint of a key: `SHA256:` and the unpadded base64 of
 * the SHA-256 of its blob, as `ssh-keygen -l` prints it.
 *
 * @param key The key.
 * @returns The fingerprint.
 */
export async function sshKeyFingerprint(key: SshPublicKey): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", key.blob));
  return `SHA256:${encodeBase64(digest, "base64").replace(/=+$/, "")}`;
}

/**
 * Parses an armored SSH signature (what `ssh-keygen -Y sign` writes).
 *
 * @param armored The text, BEGIN and END lines included; line breaks and
 *   white space between them are ignored.
 * @returns The signature, not yet verified.
 * @throws {SshSignatureError} When it is not a well-formed SSHSIG of a
 *   supported version, key type, hash and algorithm.
 */
export function parseSshSignature(armored: string): SshSignature {
  if (armored.length > MAX_ARMORED_LENGTH) {
    throw new SshSignatureError(`Invalid signature: longer than ${MAX_ARMORED_LENGTH} characters`);
  }
  const text = armored.trim();
  if (!text.startsWith(BEGIN) || !text.endsWith(END)) {
    throw new SshSignatureError(`Invalid signature: paste it whole, from ${BEGIN} to ${END}`);
  }
  let blob: Uint8Array<ArrayBuffer>;
  try {
    blob = decodeBase64(text.slice(BEGIN.length, -END.length).replace(/\s+/g, ""), "base64");
  } catch (error) {
    throw new SshSignatureError("Invalid signature: its body is not base64", { cause: error });
  }
  const reader = new WireReader(blob, "signature");
  if (utf8Text(reader.bytes(MAGIC.length), "signature") !== MAGIC) {
    throw new SshSignatureError("Invalid signature: not an SSH signature (no SSHSIG magic)");
  }
  const version = reader.uint32();
  if (version !== 1) throw new SshSignatureError(`Unsupported signature version ${version}`);
  const publicKeyBlob = reader.string();
  const namespace = reader.string();
  const reserved = reader.string();
  const hashName = reader.string();
  const namespaceText = utf8Text(namespace, "signature");
  const inner = new WireReader(reader.string(), "signature");
  reader.end();
  const publicKey = parsePublicKeyBlob(publicKeyBlob);
  const hashAlgorithm = utf8Text(hashName, "signature");
  if (hashAlgorithm !== "sha256" && hashAlgorithm !== "sha512") {
    throw new SshSignatureError(
      `Unsupported hash ${printable(hashAlgorithm)}: expected sha256 or sha512`,
    );
  }
  const algorithm = inner.text();
  const signature = inner.string();
  inner.end();
  checkAlgorithm(publicKey, algorithm);
  return {
    publicKey,
    namespace: namespaceText,
    hashAlgorithm,
    algorithm,
    signature,
    signedData: (messageHash) =>
      concatBytes(
        encoder.encode(MAGIC),
        sshWireString(namespace),
        sshWireString(reserved),
        sshWireString(hashName),
        sshWireString(messageHash),
      ),
  };
}

/** The signature algorithm must be the key's own (RSA: with SHA-2). */
function checkAlgorithm(key: SshPublicKey, algorithm: string): void {
  if (key.type === "ssh-rsa") {
    if (RSA_HASHES[algorithm] !== undefined) return;
    throw new SshSignatureError(
      algorithm === "ssh-rsa"
        ? "Refused RSA signature with SHA-1 (ssh-rsa): sign with rsa-sha2-512 (ssh-keygen does by default)"
        : `Invalid signature: ${printable(algorithm)} with an RSA key`,
    );
  }
  if (algorithm !== key.type) {
    throw new SshSignatureError(
      `Invalid signature: ${printable(algorithm)} with a ${key.type} key`,
    );
  }
}

/**
 * Verifies an armored SSH signature of a message.
 *
 * @param armored What `ssh-keygen -Y sign` wrote.
 * @param options The message, the namespace, and the key that must have signed.
 * @returns The key that signed.
 * @throws {SshSignatureError} When it is malformed, for another namespace,
 *   by another key, or does not verify (the message says which).
 */
export async function verifySshSignature(
  armored: string,
  options: VerifyOptions,
): Promise<SshPublicKey> {
  const parsed = parseSshSignature(armored);
  if (parsed.namespace !== options.namespace) {
    throw new SshSignatureError(
      `Signature is for namespace ${
        printable(parsed.namespace) || '""'
      }, not ${options.namespace}: sign with -n ${options.namespace}`,
    );
  }
  if (
    options.publicKey !== undefined && !sameBytes(parsed.publicKey.blob, options.publicKey.blob)
  ) {
    throw new SshSignatureError("Signature is made with another key than the one given");
  }
  const hashName = parsed.hashAlgorithm === "sha256" ? "SHA-256" : "SHA-512";
  const messageHash = new Uint8Array(
    await crypto.subtle.digest(hashName, new Uint8Array(options.message)),
  );
  const data = parsed.signedData(messageHash);
  if (!await verifyRaw(parsed, data)) {
    throw new SshSignatureError("Signature does not verify: it is not of this message by this key");
  }
  return parsed.publicKey;
}

/** Verifies the signature bytes over the signed data with WebCrypto. */
async function verifyRaw(
  parsed: SshSignature,
  data: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  const { publicKey, algorithm, signature } = parsed;
  const reader = new WireReader(publicKey.blob, "public key");
  reader.string(); // the type, checked when parsed
  if (publicKey.type === "ssh-ed25519") {
    const key = await crypto.subtle.importKey("raw", reader.string(), "Ed25519", false, [
      "verify",
    ]);
    return signature.length === 64 && await crypto.subtle.verify("Ed25519", key, signature, data);
  }
  const curve = CURVES[publicKey.type];
  if (curve !== undefined) {
    reader.string(); // the curve name, checked when parsed
    const key = await crypto.subtle.importKey(
      "raw",
      reader.string(),
      { name: "ECDSA", namedCurve: curve.curve },
      false,
      ["verify"],
    );
    const raw = ecdsaRawSignature(signature, curve.size);
    return raw !== undefined &&
      await crypto.subtle.verify({ name: "ECDSA", hash: curve.hash }, key, raw, data);
  }
  const e = reader.unsignedMpint();
  const n = reader.unsignedMpint();
  const key = await crypto.subtle.importKey(
    "jwk",
    { kty: "RSA", e: encodeBase64(e, "base64url"), n: encodeBase64(n, "base64url") },
    { name: "RSASSA-PKCS1-v1_5", hash: RSA_HASHES[algorithm]! },
    false,
    ["verify"],
  );
  return await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, signature, data);
}

/**
 * An SSH ECDSA signature (`mpint r ‖ mpint s`) as WebCrypto's `r ‖ s`,
 * each padded to the curve's size; undefined when a number does not fit.
 */
function ecdsaRawSignature(
  signature: Uint8Array<ArrayBuffer>,
  size: number,
): Uint8Array<ArrayBuffer> | undefined {
  const reader = new WireReader(signature, "signature");
  const r = reader.unsignedMpint();
  const s = reader.unsignedMpint();
  reader.end();
  if (r.length > size || s.length > size) return undefined;
  const raw = new Uint8Array(2 * size);
  raw.set(r, size - r.length);
  raw.set(s, 2 * size - s.length);
  return raw;
}

function bitLength(magnitude: Uint8Array): number {
  return (magnitude.length - 1) * 8 + (32 - Math.clz32(magnitude[0]!));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
