/**
 * What the soak benchmark samples of one node process: resident memory and
 * open file descriptors from `/proc` (Linux), the size of its data directory,
 * and, when the node answers an operator's `/stats`, what it retains
 * (events, history bytes, rooms, presence entries, version-vector origins)
 * and its JavaScript heap if the answer shows one.
 *
 * @module
 */
import { SshTestClient, type TestKey } from "../helpers/ssh_client.ts";

/** One node's figures at one moment; a figure that could not be read is absent. */
export interface NodeSample {
  /** Resident set size (KiB), `VmRSS` of `/proc/PID/status`. */
  readonly rssKiB?: number;
  /** Entries of `/proc/PID/fd`. */
  readonly fds?: number;
  /** Bytes of every file under the data directory. */
  readonly dataBytes?: number;
  /** JavaScript heap in use (bytes), from `/stats`. */
  readonly heapBytes?: number;
  /** Events retained in memory, from `/stats`. */
  readonly retainedEvents?: number;
  /** Their size (bytes), from `/stats`. */
  readonly historyBytes?: number;
  /** Rooms held, from `/stats`. */
  readonly rooms?: number;
  /** Presence entries, from `/stats`. */
  readonly presenceEntries?: number;
  /** Origins in the version vector, from `/stats`. */
  readonly versionOrigins?: number;
}

/** The figures a `/stats` answer can give. */
export type StatsFigures = Pick<
  NodeSample,
  "heapBytes" | "retainedEvents" | "historyBytes" | "rooms" | "presenceEntries" | "versionOrigins"
>;

/**
 * Runs a command and returns its standard output, or undefined when it fails.
 * (Deno asks for `--allow-all` to read `/proc/PID/...` directly; `ps` and
 * `ls` need only `--allow-run=ps,ls`.)
 */
async function output(command: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads a process's resident set size (`ps -o rss=`, which is `VmRSS` of
 * `/proc/PID/status` on Linux).
 *
 * @param pid Process id.
 * @returns KiB, or undefined when it cannot be read (process gone, no `ps`).
 */
export async function readRssKiB(pid: number): Promise<number | undefined> {
  const text = await output("ps", ["-o", "rss=", "-p", String(pid)]);
  const kib = Number(text?.trim());
  return text === undefined || text.trim() === "" || !Number.isFinite(kib) ? undefined : kib;
}

/**
 * Counts a process's open file descriptors: the entries of `/proc/PID/fd`
 * (Linux), listed by `ls`.
 *
 * @param pid Process id.
 * @returns The count, or undefined when it cannot be read.
 */
export async function countFds(pid: number): Promise<number | undefined> {
  const text = await output("ls", ["-1U", `/proc/${pid}/fd`]);
  return text === undefined ? undefined : text.split("\n").filter((l) => l !== "").length;
}

/**
 * Lists every file under a directory with its size (files that vanish
 * during the walk, as Deno KV's journal may, are skipped).
 *
 * @param dir The directory.
 * @returns Bytes per path relative to `dir`, or undefined when it cannot be read.
 */
export async function directoryFiles(dir: string): Promise<Record<string, number> | undefined> {
  const files: Record<string, number> = {};
  const walk = async (path: string, depth: number): Promise<void> => {
    if (depth > 8) return;
    for await (const entry of Deno.readDir(path)) {
      const child = `${path}/${entry.name}`;
      try {
        if (entry.isDirectory) await walk(child, depth + 1);
        else if (entry.isFile) files[child.slice(dir.length + 1)] = (await Deno.lstat(child)).size;
      } catch {
        // removed meanwhile
      }
    }
  };
  try {
    await walk(dir, 0);
    return files;
  } catch {
    return undefined;
  }
}

/**
 * Adds up the sizes of every file under a directory.
 *
 * @param dir The directory.
 * @returns Bytes, or undefined when the directory cannot be read.
 */
export async function directoryBytes(dir: string): Promise<number | undefined> {
  const files = await directoryFiles(dir);
  return files === undefined ? undefined : Object.values(files).reduce((s, n) => s + n, 0);
}

/** Bytes per unit of a `/stats` size (`formatBytes` prints powers of 1,024 as KB, MB...). */
const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

function bytesOf(value: string, unit: string | undefined): number | undefined {
  const n = Number(value.replaceAll(",", ""));
  const scale = UNIT_BYTES[(unit ?? "b").toLowerCase()];
  return Number.isFinite(n) && scale !== undefined ? Math.round(n * scale) : undefined;
}

function countIn(text: string, pattern: RegExp): number | undefined {
  const match = pattern.exec(text);
  if (!match) return undefined;
  const n = Number(match[1]!.replaceAll(",", ""));
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Reads the figures of a `/stats` answer (its text lines, as an SSH session
 * shows them): `retained events: N (SIZE of history)`, `rooms: N`,
 * `version vector: N origins`, `presence entries: N`, and a heap figure
 * (`heap… N UNIT`) if there is one. Absent figures are left out.
 *
 * @param text The answer.
 * @returns The figures found.
 */
export function parseStats(text: string): StatsFigures {
  const figures: Record<string, number> = {};
  const put = (name: string, value: number | undefined) => {
    if (value !== undefined) figures[name] = value;
  };
  const retained = /retained events:\s*([\d,]+)\s*\(([\d.,]+)\s*([kmg]i?b|b)\b/i.exec(text);
  if (retained) {
    put("retainedEvents", Number(retained[1]!.replaceAll(",", "")));
    put("historyBytes", bytesOf(retained[2]!, retained[3]));
  }
  put("rooms", countIn(text, /^\s*rooms:\s*([\d,]+)/im));
  put("versionOrigins", countIn(text, /version vector:\s*([\d,]+)\s*origin/i));
  put("presenceEntries", countIn(text, /presence entries:\s*([\d,]+)/i));
  const heap = /heap[\w ]*?[:=]?\s*([\d.,]+)\s*([kmg]i?b|b)?\b/i.exec(text);
  if (heap) put("heapBytes", bytesOf(heap[1]!, heap[2]));
  return figures as StatsFigures;
}

/**
 * Asks a node for `/stats` over SSH as an operator (an `exec` session: the
 * command is its only line) and reads its figures.
 *
 * @param sshPort The node's SSH port.
 * @param key An operator's key (listed in the node's `--ops` file).
 * @param username Nick to log in as.
 * @param waitMs Longest wait for the whole exchange.
 * @returns The figures found (none when there is no `/stats`) and the answer's text.
 */
export async function readStats(
  sshPort: number,
  key: TestKey,
  username: string,
  waitMs = 5_000,
): Promise<{ figures: StatsFigures; answer: string }> {
  let ssh: SshTestClient | undefined;
  try {
    ssh = await SshTestClient.connect(sshPort, { username, key, waitMs });
    const run = await ssh.exec("/stats");
    run.end();
    await run.waitClosed(waitMs);
    return { figures: parseStats(run.text), answer: run.text };
  } catch (error) {
    return { figures: {}, answer: `(${(error as Error).message})` };
  } finally {
    ssh?.end();
  }
}
