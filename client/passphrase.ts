/**
 * Where the terminal client gets a sealed room's passphrase: a key file
 * (`-key-file FILE`), the `MESHCHAT_ROOM_KEY` environment variable, or a
 * no-echo prompt in the interactive terminal. The passphrase is only ever
 * turned into a room key (in a Worker) and never sent anywhere.
 *
 * @module
 */

/** The environment variable line mode reads a room passphrase from. */
export const ROOM_KEY_ENV = "MESHCHAT_ROOM_KEY";

/** Shortest passphrase `/seal` accepts for a new room. */
export const MIN_NEW_PASSPHRASE_LENGTH = 8;

/** Why a passphrase is asked for. */
export type PassphrasePurpose =
  /** Entering a room that is sealed. */
  | "join"
  /** Sealing a room: a new passphrase, asked twice. */
  | "seal"
  /** `/key`: the one used so far did not open the room's messages. */
  | "retry";

/** What {@linkcode PassphraseSource} is asked. */
export interface PassphraseRequest {
  /** The room, without `#`. */
  readonly room: string;
  /** Why. */
  readonly purpose: PassphrasePurpose;
}

/**
 * Supplies a passphrase, or `undefined` when there is none (no key file, no
 * variable, or the person cancelled the prompt). A message for the person
 * may come with the refusal.
 */
export type PassphraseSource = (
  request: PassphraseRequest,
) => Promise<string | undefined>;

/** A key file could not be used; the message is one line for the user. */
export class KeyFileError extends Error {
  /**
   * @param message What went wrong and how to fix it.
   * @param options Standard error options.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KeyFileError";
  }
}

/** Longest key file read, in bytes: a passphrase, not a document. */
const MAX_KEY_FILE_BYTES = 4096;

/**
 * Reads a room passphrase from a file: its whole content, without one final
 * line break.
 *
 * @param path The file.
 * @returns The passphrase.
 * @throws {KeyFileError} When the file cannot be read (with the Deno flag
 * that grants it), is empty, or is too large to be a passphrase.
 */
export async function readKeyFile(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new KeyFileError(
        `cannot read key file ${path}: read access not granted (add --allow-read=${path}, or use ${ROOM_KEY_ENV})`,
        { cause: error },
      );
    }
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : (error instanceof Error ? error.message : String(error)).replace(
        /\s*\(os error \d+\)/,
        "",
      );
    throw new KeyFileError(`cannot read key file ${path}: ${reason}`, { cause: error });
  }
  if (bytes.length > MAX_KEY_FILE_BYTES) {
    throw new KeyFileError(
      `cannot use key file ${path}: ${bytes.length} bytes, a passphrase has at most ${MAX_KEY_FILE_BYTES}`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new KeyFileError(`cannot use key file ${path}: not UTF-8 text`, { cause: error });
  }
  const passphrase = text.replace(/\r?\n$/, "");
  if (passphrase === "") throw new KeyFileError(`cannot use key file ${path}: it is empty`);
  return passphrase;
}

/**
 * The passphrase in `MESHCHAT_ROOM_KEY`, when the variable is set and the
 * process may read it. It never triggers a permission prompt: without env
 * access it answers `undefined`.
 *
 * @returns The passphrase, or undefined.
 */
export function passphraseFromEnv(): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: ROOM_KEY_ENV }).state !== "granted") {
      return undefined;
    }
    const value = Deno.env.get(ROOM_KEY_ENV);
    return value === undefined || value === "" ? undefined : value;
  } catch {
    return undefined;
  }
}

/**
 * Asks for a new passphrase twice (for `/seal`) and checks both match and
 * are long enough.
 *
 * @param ask Asks once, without echo; `undefined` when cancelled.
 * @param room The room being sealed.
 * @returns The passphrase, or a refusal to show.
 */
export async function askNewPassphrase(
  ask: (label: string) => Promise<string | undefined>,
  room: string,
): Promise<{ passphrase: string } | { refusal: string }> {
  const first = await ask(`New passphrase for #${room} (not shown): `);
  if (first === undefined) return { refusal: `Sealing #${room} cancelled` };
  if ([...first].length < MIN_NEW_PASSPHRASE_LENGTH) {
    return {
      refusal:
        `Passphrase too short: use at least ${MIN_NEW_PASSPHRASE_LENGTH} characters (a few words is best); #${room} not sealed`,
    };
  }
  const second = await ask(`Repeat the passphrase for #${room}: `);
  if (second === undefined) return { refusal: `Sealing #${room} cancelled` };
  if (second !== first) return { refusal: `Passphrases do not match: #${room} not sealed` };
  return { passphrase: first };
}
