/**
 * A fresh directory for one test under `data/tmp`: the only place tests may
 * write (deno.json grants `--allow-write=./data`), made first on a clean clone.
 *
 * @param prefix Start of the directory's name.
 * @returns The new directory's path.
 */
export async function scratchDir(prefix?: string): Promise<string> {
  await Deno.mkdir("./data/tmp", { recursive: true });
  return await Deno.makeTempDir({ dir: "./data/tmp", prefix });
}
