/**
 * Keeps a node's data directory private to the account that runs it. The
 * directory holds private messages in the clear (Deno KV's `snapshot.kv`
 * and its `-wal` and `-shm` files), the SSH host key and nick ownership;
 * Deno creates files with the process umask, commonly 022, so by default
 * every local account could read them.
 *
 * Two layers, so one slip does not expose anything: the directory is 0700,
 * which alone keeps other accounts out whatever the file modes, and every
 * file in it is 0600. `Deno.umask()` would cover both but is unstable, so
 * modes are set explicitly instead.
 *
 * @module
 */

/** A mode that was too open and has been narrowed. */
export interface ModeFix {
  /** The file or directory. */
  readonly path: string;
  /** Its permission bits before, e.g. `0o644`. */
  readonly was: number;
  /** Its permission bits now: `0o700` for a directory, `0o600` for a file. */
  readonly now: number;
}

/** Options of {@linkcode securePrivateDir}. */
export interface SecurePrivateDirOptions {
  /** Entries looked at, at most (a data directory holds a handful). @default 10000 */
  maxEntries?: number;
}

/**
 * Creates `dir` (mode 0700) when missing, then narrows the directory, every
 * directory below it to 0700 and every file to 0600 where group or others
 * had any access. Symbolic links are not followed.
 *
 * @param dir The data directory.
 * @param options Bounds.
 * @returns What was narrowed, for the caller to warn about (empty when all was private).
 * @throws {Deno.errors.NotCapable} When the process may not write there.
 * @throws {Deno.errors.PermissionDenied} When a mode cannot be changed (another owner).
 */
export async function securePrivateDir(
  dir: string,
  options: SecurePrivateDirOptions = {},
): Promise<ModeFix[]> {
  const { maxEntries = 10_000 } = options;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const fixes: ModeFix[] = [];
  let seen = 0;
  const visit = async (path: string): Promise<void> => {
    if (++seen > maxEntries) return;
    const info = await Deno.lstat(path);
    if (info.isSymlink || info.mode === null) return; // no mode bits on Windows
    const wanted = info.isDirectory ? 0o700 : 0o600;
    if ((info.mode & 0o077) !== 0) {
      await Deno.chmod(path, wanted);
      fixes.push({ path, was: info.mode & 0o777, now: wanted });
    }
    if (info.isDirectory) {
      for await (const entry of Deno.readDir(path)) await visit(`${path}/${entry.name}`);
    }
  };
  await visit(dir.replace(/\/+$/, "") || ".");
  return fixes;
}
