/**
 * The cluster secret file: read by a node (`--cluster-secret-file FILE`),
 * made by `deno task cluster`. The secret never goes on a command line,
 * where every local account can read it (`ps`, `/proc/PID/cmdline`), so it
 * comes from this file or from `MESHCHAT_CLUSTER_SECRET`.
 *
 * A file that other accounts may read or change is refused, as OpenSSH
 * refuses such a private key: a warning would still leave the secret out.
 *
 * @module
 */
import { UsageError } from "../../core/cli_flags.ts";
import { encodeBase64 } from "../../core/crypto/_base64.ts";

/** The secret file cannot be used; the message says why and how to fix it. */
export class ClusterSecretError extends UsageError {
  /** @param message What is wrong and the fix. */
  constructor(message: string) {
    super(message);
    this.name = "ClusterSecretError";
  }
}

/**
 * Reads a cluster secret file: the secret is its text without surrounding
 * whitespace.
 *
 * @param path The file.
 * @returns The secret.
 * @throws {ClusterSecretError} When the file is missing, unreadable, empty,
 *   or readable or writable by group or others.
 */
export function readClusterSecretFile(path: string): string {
  const cannot = `Cannot use --cluster-secret-file ${path}`;
  let text: string;
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) throw new ClusterSecretError(`${cannot}: it is not a file`);
    // mode is null on Windows, where there are no such bits to check.
    if (info.mode !== null && (info.mode & 0o077) !== 0) {
      throw new ClusterSecretError(
        `${cannot}: other accounts can read or change it (mode ${
          octal(info.mode)
        }); run chmod 600 ${path}`,
      );
    }
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof ClusterSecretError) throw error;
    if (error instanceof Deno.errors.NotCapable) {
      throw new ClusterSecretError(
        `${cannot}: the node may read only under ./data; keep the file there, or run deno run --allow-net --allow-read=./data,${path} --allow-write=./data --allow-env=MESHCHAT_CLUSTER_SECRET main.ts node ...`,
      );
    }
    throw new ClusterSecretError(`${cannot}: ${firstLine(error)}`);
  }
  const secret = text.trim();
  if (secret === "") {
    throw new ClusterSecretError(
      `${cannot}: the file is empty; write a long random secret to it, e.g. head -c 32 /dev/urandom | base64 > ${path}`,
    );
  }
  return secret;
}

/**
 * Reads the secret file at `path`, or creates it (mode 0600) with a new
 * random secret when there is none, so a cluster keeps its secret across
 * runs and a node started by hand can join with the same file.
 *
 * @param path The file.
 * @returns The secret, and whether the file was created now.
 * @throws {ClusterSecretError} When an existing file cannot be used (see
 *   {@linkcode readClusterSecretFile}) or the file cannot be written.
 */
export function loadOrCreateClusterSecretFile(
  path: string,
): { secret: string; created: boolean } {
  try {
    Deno.statSync(path);
    return { secret: readClusterSecretFile(path), created: false };
  } catch (error) {
    if (error instanceof ClusterSecretError) throw error;
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new ClusterSecretError(`Cannot use cluster secret file ${path}: ${firstLine(error)}`);
    }
  }
  // base64url: all 256 bits in 43 characters, none of them special to a shell.
  const secret = encodeBase64(crypto.getRandomValues(new Uint8Array(32)), "base64url");
  try {
    const slash = path.lastIndexOf("/");
    if (slash > 0) Deno.mkdirSync(path.slice(0, slash), { recursive: true, mode: 0o700 });
    // createNew: never overwrite a secret another process wrote meanwhile.
    Deno.writeTextFileSync(path, `${secret}\n`, { createNew: true, mode: 0o600 });
    Deno.chmodSync(path, 0o600); // the mode above is filtered by the umask; make it exact
  } catch (error) {
    throw new ClusterSecretError(`Cannot create cluster secret file ${path}: ${firstLine(error)}`);
  }
  return { secret, created: true };
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!.replace(/\.$/, "");
}
