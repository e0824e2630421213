/**
 * OpenSSH's own `ssh-keygen` (Debian `openssh-client`) for tests: real key
 * pairs of every accepted type, and real `ssh-keygen -Y sign` signatures.
 * Keys live in a scratch directory under ./data/tmp, removed by `remove()`.
 *
 * @module
 */

/** A key pair ssh-keygen made. */
export interface KeygenKey {
  /** The private key file. */
  readonly path: string;
  /** The public key line (`TYPE BASE64 COMMENT`). */
  readonly publicLine: string;
  /** `ssh-keygen -l`'s `SHA256:` fingerprint. */
  readonly fingerprint: string;
}

/** The `-t`/`-b` of each key type the tests make. */
export const KEY_SPECS = {
  ed25519: ["-t", "ed25519"],
  nistp256: ["-t", "ecdsa", "-b", "256"],
  nistp384: ["-t", "ecdsa", "-b", "384"],
  nistp521: ["-t", "ecdsa", "-b", "521"],
  rsa: ["-t", "rsa", "-b", "2048"],
} as const;

/** A scratch directory of ssh-keygen keys. */
export class KeygenDir {
  readonly #dir: string;
  #count = 0;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * Makes the scratch directory.
   *
   * @returns It.
   */
  static async create(): Promise<KeygenDir> {
    const dir = `./data/tmp/keygen-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    return new KeygenDir(dir);
  }

  /**
   * Makes a key pair without a passphrase.
   *
   * @param spec The key type (see {@linkcode KEY_SPECS}).
   * @returns The key.
   */
  async key(spec: keyof typeof KEY_SPECS): Promise<KeygenKey> {
    const path = `${this.#dir}/key${++this.#count}`;
    await runSshKeygen(["-q", ...KEY_SPECS[spec], "-N", "", "-C", `test-${spec}`, "-f", path]);
    const publicLine = (await Deno.readTextFile(`${path}.pub`)).trim();
    const listed = await runSshKeygen(["-l", "-E", "sha256", "-f", `${path}.pub`]);
    const fingerprint = listed.split(" ")[1]!;
    return { path, publicLine, fingerprint };
  }

  /**
   * Signs a message as `ssh-keygen -Y sign -f KEY -n NAMESPACE` does (stdin in, signature out).
   *
   * @param key The key.
   * @param message The bytes signed (the file's contents).
   * @param namespace `-n`. @default "meshchat"
   * @param extra More flags, e.g. `["-O", "hashalg=sha256"]`.
   * @returns The armored signature.
   */
  sign(
    key: KeygenKey,
    message: string | Uint8Array,
    namespace = "meshchat",
    extra: string[] = [],
  ): Promise<string> {
    return runSshKeygen(["-Y", "sign", "-f", key.path, "-n", namespace, ...extra], message);
  }

  /** Removes the directory and its keys. */
  async remove(): Promise<void> {
    await Deno.remove(this.#dir, { recursive: true });
  }
}

/**
 * Runs `ssh-keygen` with these arguments.
 *
 * @param args Its arguments.
 * @param stdin What it reads on stdin. @default nothing
 * @returns What it printed on stdout.
 * @throws {Error} With its stderr, when it exits non-zero.
 */
export async function runSshKeygen(args: string[], stdin?: string | Uint8Array): Promise<string> {
  const child = new Deno.Command("ssh-keygen", {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  if (code !== 0) throw new Error(`ssh-keygen ${args.join(" ")} failed: ${decode(stderr)}`);
  return decode(stdout);
}
