/**
 * The terminal client's identity: an Ed25519 key in OpenSSH's own format
 * (core/crypto/ssh_ed25519_key.ts), `id_ed25519` (mode 0600) and
 * `id_ed25519.pub` in the settings directory (client/settings.ts), made on
 * the first run. The client proves it in every `hello`, so the first nick it
 * uses is its own on every node, as an SSH key's is — and since it is an
 * ordinary OpenSSH key file, `ssh -i ~/.config/meshchat/id_ed25519` logs in
 * to a node's SSH port as the same identity.
 *
 * `-identity FILE` uses another key file (e.g. `~/.ssh/id_ed25519`, so the
 * SSH key and the client are one identity); `-guest` uses none.
 *
 * Never prompts for a permission: without access to the settings
 * directory the client joins as a guest and says so.
 *
 * @module
 */
import { SshEd25519Key } from "../core/crypto/ssh_ed25519_key.ts";
import { SshSignatureError } from "../core/crypto/sshsig.ts";
import { permissionGranted } from "./settings.ts";

/** The key file's name in the settings directory. */
export const IDENTITY_FILE = "id_ed25519";

/** An identity key that cannot be used; the message is one line for the person. */
export class IdentityKeyError extends Error {
  /** Always `"IdentityKeyError"`. */
  override name = "IdentityKeyError";
}

/** What {@linkcode loadIdentity} found. */
export interface LoadedIdentity {
  /** The key, or undefined: the client joins as a guest. */
  readonly key?: SshEd25519Key;
  /** Its file. */
  readonly path?: string;
  /** True when the key was made just now. */
  readonly created?: boolean;
  /** Why there is no key, when the person did not ask for none. */
  readonly notice?: string;
}

/** Options of {@linkcode loadIdentity}. */
export interface LoadIdentityOptions {
  /** The settings directory, where the default key lives; undefined when unknown. */
  readonly directory: string | undefined;
  /** A key file given on the command line (must exist). @default the directory's `id_ed25519` */
  readonly file?: string;
}

/**
 * Reads the client's key, making it on the first run.
 *
 * @param options The settings directory and the key file given, if any.
 * @returns The key and its path, or why there is none.
 * @throws {IdentityKeyError} When the key file given (or the default one)
 *   exists but cannot be read or used, or cannot be made: joining as a guest
 *   instead would quietly give up the person's nick.
 */
export async function loadIdentity(options: LoadIdentityOptions): Promise<LoadedIdentity> {
  const { directory, file } = options;
  if (file !== undefined) return { key: await readKey(file), path: file };
  if (directory === undefined) {
    return { notice: "No identity key (HOME is not known): you join as a guest" };
  }
  const path = `${directory}/${IDENTITY_FILE}`;
  if (
    !permissionGranted({ name: "read", path: directory }) ||
    !permissionGranted({ name: "write", path: directory })
  ) {
    return {
      notice: `No identity key (no access to ${directory}): you join as a guest; ` +
        "deno task client keeps a key there",
    };
  }
  try {
    return { key: await readKey(path), path };
  } catch (error) {
    if (!(error instanceof IdentityKeyError && error.cause instanceof Deno.errors.NotFound)) {
      throw error;
    }
  }
  const key = await SshEd25519Key.generate("meshchat");
  try {
    await Deno.mkdir(directory, { recursive: true, mode: 0o700 });
    // createNew: two clients starting at once do not overwrite each other's key.
    await Deno.writeTextFile(path, key.privateKeyFile(), { mode: 0o600, createNew: true });
    await Deno.chmod(path, 0o600);
    await Deno.writeTextFile(`${path}.pub`, `${key.publicKeyLine()}\n`, { mode: 0o644 });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return { key: await readKey(path), path };
    throw new IdentityKeyError(
      `Cannot make identity key ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return { key, path, created: true };
}

async function readKey(path: string): Promise<SshEd25519Key> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotCapable ||
        error instanceof Deno.errors.PermissionDenied
      ? `no permission (run with --allow-read=${path})`
      : (error as Error).message.replace(/\s*\(os error \d+\)/, "");
    throw new IdentityKeyError(`Cannot read identity key ${path}: ${why}`, { cause: error });
  }
  try {
    return await SshEd25519Key.parse(text);
  } catch (error) {
    if (!(error instanceof SshSignatureError)) throw error;
    throw new IdentityKeyError(`Cannot use identity key ${path}: ${error.message}`, {
      cause: error,
    });
  }
}
