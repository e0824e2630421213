/**
 * An Ed25519 key as OpenSSH keeps it, so one key file serves the terminal
 * client and `ssh -i`: the private key file (`openssh-key-v1`, unencrypted,
 * what `ssh-keygen -t ed25519 -N ""` writes), its public key line (the
 * `.pub`), its `SHA256:` fingerprint, and SSH signatures (`ssh-keygen -Y
 * sign`'s SSHSIG format, verified by {@linkcode verifySshSignature}).
 *
 * The private key file, after base64 between `-----BEGIN OPENSSH PRIVATE
 * KEY-----` and `-----END OPENSSH PRIVATE KEY-----`, every `string` a uint32
 * length then its bytes:
 *
 * ```
 * byte[15] "openssh-key-v1\0"
 * string   ciphername  "none"   (an encrypted file is refused: no passphrases here)
 * string   kdfname     "none"
 * string   kdfoptions  ""
 * uint32   keys        1
 * string   publickey   string "ssh-ed25519", string pub[32]
 * string   private section, padded with 1, 2, 3… to a multiple of 8:
 *            uint32 check, uint32 check (equal)
 *            string "ssh-ed25519", string pub[32], string seed[32] ‖ pub[32], string comment
 * ```
 *
 * Pure TypeScript and WebCrypto: it runs in a browser too.
 *
 * @example
 * ```ts
 * import { SshEd25519Key } from "./ssh_ed25519_key.ts";
 * import { verifySshSignature } from "./sshsig.ts";
 * import assert from "node:assert/strict";
 *
 * const key = await SshEd25519Key.generate("alice@laptop");
 * const again = await SshEd25519Key.parse(key.privateKeyFile());
 * assert.equal(await again.fingerprint(), await key.fingerprint());
 * const message = new TextEncoder().encode("hello");
 * const signature = await key.sign(message, "meshchat-login");
 * await verifySshSignature(signature, { message, namespace: "meshchat-login" });
 * ```
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";
import { decodeBase64, encodeBase64 } from "./_base64.ts";
import {
  parsePublicKeyBlob,
  sshKeyFingerprint,
  type SshPublicKey,
  SshSignatureError,
  sshWireString,
} from "./sshsig.ts";

const KEY_TYPE = "ssh-ed25519";
const AUTH_MAGIC = "openssh-key-v1\0";
const BEGIN_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END_KEY = "-----END OPENSSH PRIVATE KEY-----";
const BEGIN_SIGNATURE = "-----BEGIN SSH SIGNATURE-----";
const END_SIGNATURE = "-----END SSH SIGNATURE-----";
/** Longest private key file read: an Ed25519 one is about 400 characters. */
const MAX_KEY_FILE_LENGTH = 8192;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** One Ed25519 key pair, with its OpenSSH encodings (see the module doc). */
export class SshEd25519Key {
  /** The public key, as SSH signatures and fingerprints carry it. */
  readonly publicKey: SshPublicKey;
  /** The comment stored with the key (`alice@laptop`), possibly empty. */
  readonly comment: string;
  readonly #seed: Uint8Array<ArrayBuffer>;
  readonly #public: Uint8Array<ArrayBuffer>;
  readonly #signingKey: CryptoKey;

  private constructor(
    seed: Uint8Array<ArrayBuffer>,
    pub: Uint8Array<ArrayBuffer>,
    comment: string,
    signingKey: CryptoKey,
  ) {
    this.#seed = seed;
    this.#public = pub;
    this.comment = comment;
    this.#signingKey = signingKey;
    this.publicKey = parsePublicKeyBlob(keyBlob(pub));
  }

  /**
   * Makes a new random key.
   *
   * @param comment Stored in the file and the public key line.
   * @returns The key.
   */
  static async generate(comment = ""): Promise<SshEd25519Key> {
    const pair = await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"]);
    const jwk = await crypto.subtle.exportKey("jwk", (pair as CryptoKeyPair).privateKey);
    return await SshEd25519Key.#fromParts(
      decodeBase64(jwk.d!, "base64url"),
      decodeBase64(jwk.x!, "base64url"),
      comment,
    );
  }

  /**
   * Reads an OpenSSH private key file (unencrypted Ed25519).
   *
   * @param text The file's text.
   * @returns The key.
   * @throws {SshSignatureError} When it is not such a file, is encrypted,
   *   holds another key type, or its halves disagree (the message says which).
   */
  static async parse(text: string): Promise<SshEd25519Key> {
    const trimmed = text.trim();
    if (trimmed.length > MAX_KEY_FILE_LENGTH) {
      throw new SshSignatureError(
        `Invalid key file: longer than ${MAX_KEY_FILE_LENGTH} characters`,
      );
    }
    if (!trimmed.startsWith(BEGIN_KEY) || !trimmed.endsWith(END_KEY)) {
      throw new SshSignatureError(`Invalid key file: not an OpenSSH private key (${BEGIN_KEY})`);
    }
    let blob: Uint8Array<ArrayBuffer>;
    try {
      blob = decodeBase64(
        trimmed.slice(BEGIN_KEY.length, -END_KEY.length).replace(/\s+/g, ""),
        "base64",
      );
    } catch (error) {
      throw new SshSignatureError("Invalid key file: its body is not base64", { cause: error });
    }
    const reader = new KeyFileReader(blob);
    if (reader.text(AUTH_MAGIC.length) !== AUTH_MAGIC) {
      throw new SshSignatureError("Invalid key file: not openssh-key-v1");
    }
    const cipher = reader.stringText();
    const kdf = reader.stringText();
    reader.string(); // kdf options
    if (cipher !== "none" || kdf !== "none") {
      throw new SshSignatureError(
        'Cannot use an encrypted key file: make one without a passphrase (ssh-keygen -N "")',
      );
    }
    if (reader.uint32() !== 1) throw new SshSignatureError("Invalid key file: expected one key");
    const publicBlob = reader.string();
    const secret = new KeyFileReader(reader.string());
    if (secret.uint32() !== secret.uint32()) {
      throw new SshSignatureError("Invalid key file: its check numbers differ (corrupt)");
    }
    const type = secret.stringText();
    if (type !== KEY_TYPE) {
      throw new SshSignatureError(
        `Unsupported key type ${type.replace(/[^\x21-\x7e]/g, "?").slice(0, 40)}: ` +
          "only ssh-ed25519 key files can be used here",
      );
    }
    const pub = secret.string();
    const pair = secret.string();
    const comment = secret.stringText();
    const seed = pair.slice(0, 32);
    if (
      pub.length !== 32 || pair.length !== 64 || !sameBytes(pair.subarray(32), pub) ||
      !sameBytes(keyBlob(pub), publicBlob)
    ) {
      throw new SshSignatureError("Invalid key file: its public and private halves disagree");
    }
    const key = await SshEd25519Key.#fromParts(seed, pub, comment);
    // A seed that does not go with this public key is a corrupt file: its
    // signatures would never verify. WebCrypto cannot derive the public key,
    // so a signature of the seed's is checked against it.
    const probe = encoder.encode("meshchat key check");
    const verifying = await crypto.subtle.importKey("raw", pub, "Ed25519", false, ["verify"]);
    const probeSignature = await crypto.subtle.sign("Ed25519", key.#signingKey, probe);
    if (!await crypto.subtle.verify("Ed25519", verifying, probeSignature, probe)) {
      throw new SshSignatureError("Invalid key file: its public and private halves disagree");
    }
    return key;
  }

  static async #fromParts(
    seed: Uint8Array<ArrayBuffer>,
    pub: Uint8Array<ArrayBuffer>,
    comment: string,
  ): Promise<SshEd25519Key> {
    const signingKey = await crypto.subtle.importKey(
      "jwk",
      {
        kty: "OKP",
        crv: "Ed25519",
        d: encodeBase64(seed, "base64url"),
        x: encodeBase64(pub, "base64url"),
      },
      "Ed25519",
      false,
      ["sign"],
    );
    return new SshEd25519Key(seed, pub, comment, signingKey);
  }

  /**
   * The `SHA256:` fingerprint, as `ssh-keygen -l` prints it.
   *
   * @returns The fingerprint.
   */
  fingerprint(): Promise<string> {
    return sshKeyFingerprint(this.publicKey);
  }

  /**
   * The public key line, as in a `.pub` file: `ssh-ed25519 BASE64 [COMMENT]`.
   *
   * @returns The line, without a newline.
   */
  publicKeyLine(): string {
    const line = `${KEY_TYPE} ${encodeBase64(this.publicKey.blob, "base64")}`;
    return this.comment === "" ? line : `${line} ${this.comment}`;
  }

  /**
   * The private key file, as `ssh-keygen -N ""` writes it (see the module doc).
   *
   * @returns The file's text, ending in a newline.
   */
  privateKeyFile(): string {
    const check = crypto.getRandomValues(new Uint8Array(4));
    const unpadded = concatBytes(
      check,
      check,
      sshWireString(encoder.encode(KEY_TYPE)),
      sshWireString(this.#public),
      sshWireString(concatBytes(this.#seed, this.#public)),
      sshWireString(encoder.encode(this.comment)),
    );
    const padding = Uint8Array.from(
      { length: (8 - unpadded.length % 8) % 8 },
      (_, i) => i + 1,
    );
    const blob = concatBytes(
      encoder.encode(AUTH_MAGIC),
      sshWireString(encoder.encode("none")),
      sshWireString(encoder.encode("none")),
      sshWireString(new Uint8Array(0)),
      uint32(1),
      sshWireString(this.publicKey.blob),
      sshWireString(concatBytes(unpadded, padding)),
    );
    return `${BEGIN_KEY}\n${wrap(encodeBase64(blob, "base64"), 70)}\n${END_KEY}\n`;
  }

  /**
   * Signs a message as `ssh-keygen -Y sign -n NAMESPACE` does (SHA-512).
   *
   * @param message The message.
   * @param namespace What the signature is for: one made for another
   *   namespace does not verify for this one.
   * @returns The armored signature.
   */
  async sign(message: Uint8Array, namespace: string): Promise<string> {
    const hashName = encoder.encode("sha512");
    const namespaceBytes = encoder.encode(namespace);
    const hash = new Uint8Array(
      await crypto.subtle.digest("SHA-512", new Uint8Array(message)),
    );
    const signedData = concatBytes(
      encoder.encode("SSHSIG"),
      sshWireString(namespaceBytes),
      sshWireString(new Uint8Array(0)),
      sshWireString(hashName),
      sshWireString(hash),
    );
    const signature = new Uint8Array(
      await crypto.subtle.sign("Ed25519", this.#signingKey, signedData),
    );
    const blob = concatBytes(
      encoder.encode("SSHSIG"),
      uint32(1),
      sshWireString(this.publicKey.blob),
      sshWireString(namespaceBytes),
      sshWireString(new Uint8Array(0)),
      sshWireString(hashName),
      sshWireString(
        concatBytes(sshWireString(encoder.encode(KEY_TYPE)), sshWireString(signature)),
      ),
    );
    return `${BEGIN_SIGNATURE}\n${wrap(encodeBase64(blob, "base64"), 76)}\n${END_SIGNATURE}\n`;
  }
}

/** The SSH wire blob of an Ed25519 public key. */
function keyBlob(pub: Uint8Array): Uint8Array<ArrayBuffer> {
  return concatBytes(sshWireString(encoder.encode(KEY_TYPE)), sshWireString(pub));
}

function uint32(value: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += width) lines.push(text.slice(i, i + width));
  return lines.join("\n");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Reads the wire types of a key file, refusing to read past its end. */
class KeyFileReader {
  readonly #bytes: Uint8Array<ArrayBuffer>;
  #at = 0;

  constructor(bytes: Uint8Array<ArrayBuffer>) {
    this.#bytes = bytes;
  }

  uint32(): number {
    const bytes = this.#take(4);
    return new DataView(bytes.buffer).getUint32(0);
  }

  string(): Uint8Array<ArrayBuffer> {
    return this.#take(this.uint32());
  }

  stringText(): string {
    return this.#decode(this.string());
  }

  text(length: number): string {
    return this.#decode(this.#take(length));
  }

  #decode(bytes: Uint8Array): string {
    try {
      return decoder.decode(bytes);
    } catch (error) {
      throw new SshSignatureError("Invalid key file: a name is not UTF-8", { cause: error });
    }
  }

  #take(length: number): Uint8Array<ArrayBuffer> {
    if (this.#at + length > this.#bytes.length) {
      throw new SshSignatureError("Invalid key file: it is cut short");
    }
    const out = this.#bytes.slice(this.#at, this.#at + length);
    this.#at += length;
    return out;
  }
}
