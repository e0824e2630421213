/**
 * Whether a path exists, for tests that check a file was written, moved or
 * left alone.
 *
 * @module
 */

/**
 * Whether `path` exists (following links).
 *
 * @param path The path.
 * @returns True when it does; false when it is not found.
 * @throws {Error} Any other error of `Deno.stat` (permissions…).
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
