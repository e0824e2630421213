/**
 * The error a snapshot file that cannot be used raises, and the messages
 * for each cause (corrupt, of another node, newer, not accessible).
 *
 * @module
 */

/**
 * The data file cannot be used: corrupt, truncated, of another node, written
 * by a newer meshchat, or not accessible. `message` names the file and the
 * problem; `hint` says the way out.
 */
export class SnapshotStoreError extends Error {
  /** The KV file. */
  readonly path: string;
  /** What to do about it. */
  readonly hint: string;

  /**
   * @param message Sentence case, names the file.
   * @param path The KV file.
   * @param hint The way out.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, path: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SnapshotStoreError";
    this.path = path;
    this.hint = hint;
  }
}

export const RESET_HINT =
  "To start empty, run again with --reset-data: the file is moved aside (renamed with a timestamp), not deleted";

export function corruptError(path: string, cause: unknown): SnapshotStoreError {
  return new SnapshotStoreError(
    `Cannot restore snapshot from ${path}: the file is corrupt or truncated (${messageOf(cause)})`,
    path,
    RESET_HINT,
    { cause },
  );
}

export function isAccessError(error: unknown): boolean {
  return error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.NotFound;
}

export function accessError(path: string, cause: unknown): SnapshotStoreError {
  return new SnapshotStoreError(
    `Cannot open snapshot file ${path}: ${messageOf(cause)}`,
    path,
    "Check the --data directory and its permissions (deno task node may write only under ./data)",
    { cause },
  );
}

export function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!.replace(/\.$/, "");
}
