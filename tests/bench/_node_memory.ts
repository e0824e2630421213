/**
 * What the memory benchmarks of a single node process share: how it is
 * started (rate limits off, its own data folder) and how its memory is read.
 *
 * @module
 */

/**
 * Node flags for a memory benchmark: data in `dir`, no rate limits, a
 * periodic snapshot every `snapshotIntervalS` seconds.
 *
 * @param dir Data folder.
 * @param snapshotIntervalS `--snapshot-interval`.
 * @returns The flags.
 */
export function benchNodeArgs(dir: string, snapshotIntervalS: number): string[] {
  return [
    "--data",
    dir,
    "--burst",
    "0",
    "--max-bytes-per-conn",
    "0",
    "--snapshot-interval",
    String(snapshotIntervalS),
  ];
}

/**
 * KiB as MiB, to one decimal.
 *
 * @param kib Size in KiB.
 * @returns Size in MiB.
 */
export function mib(kib: number): number {
  return Math.round(kib / 102.4) / 10;
}

/**
 * A field of `/proc/PID/status` in KiB. Deno lets a program read another
 * process's `/proc` entry only with every permission, so a one-line
 * `deno eval` (which has them) reads it; `ps` knows no high-water mark.
 *
 * @param pid The process.
 * @param field `VmRSS` (resident now) or `VmHWM` (highest resident).
 * @returns The value in KiB.
 * @throws {Error} When the field cannot be read.
 */
export async function procStatusKiB(pid: number, field: "VmHWM" | "VmRSS"): Promise<number> {
  const out = await new Deno.Command("deno", {
    args: ["eval", "--quiet", `console.log(Deno.readTextFileSync("/proc/${pid}/status"))`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const status = new TextDecoder().decode(out.stdout);
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (match === null) throw new Error(`Cannot read ${field} of process ${pid}`);
  return Number(match[1]);
}
