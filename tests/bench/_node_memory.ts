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
 * A file of `/proc/PID/`. Deno lets a program read another process's
 * `/proc` entry only with every permission, so a one-line `deno eval`
 * (which has them) reads it.
 */
async function procFile(pid: number, name: "limits" | "status"): Promise<string> {
  const out = await new Deno.Command("deno", {
    args: ["eval", "--quiet", `console.log(Deno.readTextFileSync("/proc/${pid}/${name}"))`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

/**
 * A field of `/proc/PID/status` in KiB (`ps` knows no high-water mark).
 *
 * @param pid The process.
 * @param field `VmRSS` (resident now) or `VmHWM` (highest resident).
 * @returns The value in KiB.
 * @throws {Error} When the field cannot be read.
 */
export async function procStatusKiB(pid: number, field: "VmHWM" | "VmRSS"): Promise<number> {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(await procFile(pid, "status"));
  if (match === null) throw new Error(`Cannot read ${field} of process ${pid}`);
  return Number(match[1]);
}

/**
 * How many files a process may open (its soft limit, `ulimit -n`).
 *
 * @param pid The process.
 * @returns The limit; Infinity when unlimited.
 * @throws {Error} When the limit cannot be read.
 */
export async function openFileLimit(pid: number): Promise<number> {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(await procFile(pid, "limits"));
  if (match === null) throw new Error(`Cannot read the open-file limit of process ${pid}`);
  return match[1] === "unlimited" ? Infinity : Number(match[1]);
}

/**
 * Waits until a byte count stops growing for a second: the node has sent
 * what it had queued (join notices, history) and the sessions are idle.
 *
 * @param received Bytes received so far by every session of the bench.
 */
export async function untilQuiet(received: () => number): Promise<void> {
  let last = -1;
  while (received() !== last) {
    last = received();
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** A node's memory at one moment, right after a full garbage collection. */
export interface NodeMemory {
  /** Resident set (KiB). */
  readonly rssKiB: number;
  /** Live JavaScript heap (KiB). */
  readonly heapUsedKiB: number;
  /** JavaScript heap V8 holds, live or not (KiB). */
  readonly heapTotalKiB: number;
  /** Contents of live ArrayBuffers, outside the JavaScript heap (KiB). */
  readonly buffersKiB: number;
  /** The runtime's native objects on V8's C++ heap (sockets, keys…) (KiB). */
  readonly embedderKiB: number;
}

/**
 * The `deno run` flag that opens a node's inspector on a loopback port, for
 * {@linkcode NodeInspector.open}. The port is chosen here: with `--quiet`
 * Deno does not print the one it would pick for port 0.
 *
 * @param port A free loopback port.
 * @returns The flag.
 */
export function inspectFlag(port: number): string {
  return `--inspect=127.0.0.1:${port}`;
}

/**
 * A connection to a node process's V8 inspector (Chrome DevTools Protocol):
 * forces a full garbage collection and reads the live heap, so a memory
 * figure counts what the node keeps, not garbage it has yet to collect; and
 * writes heap snapshots, to find where the bytes go.
 */
export class NodeInspector {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, (message: CdpMessage) => void>();
  readonly #events = new Map<string, (params: Record<string, unknown>) => void>();
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as CdpMessage;
      if (message.id !== undefined) {
        this.#pending.get(message.id)?.(message);
        this.#pending.delete(message.id);
      } else if (message.method !== undefined) {
        this.#events.get(message.method)?.(message.params ?? {});
      }
    };
  }

  /**
   * Connects to the inspector of a process started with
   * {@linkcode inspectFlag}.
   *
   * @param port The inspector's port.
   * @returns The connection.
   * @throws {Error} When the inspector does not answer.
   */
  static async open(port: number): Promise<NodeInspector> {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
      webSocketDebuggerUrl: string;
    }[];
    const url = targets[0]?.webSocketDebuggerUrl;
    if (url === undefined) throw new Error(`Cannot inspect the node: no target on port ${port}`);
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error(`Cannot inspect the node: ${url} refused`));
    });
    return new NodeInspector(socket);
  }

  /**
   * Garbage-collects (twice: weakly held entries go in the second round),
   * then reads the heap and the resident set.
   *
   * @param pid The node's process id.
   * @returns The figures.
   */
  async memory(pid: number): Promise<NodeMemory> {
    await this.#call("HeapProfiler.collectGarbage");
    await this.#call("HeapProfiler.collectGarbage");
    const usage = await this.#call("Runtime.getHeapUsage") as {
      usedSize: number;
      totalSize: number;
      backingStorageSize?: number;
      embedderHeapUsedSize?: number;
    };
    const kib = (bytes = NaN) => Math.round(bytes / 1024);
    return {
      rssKiB: await procStatusKiB(pid, "VmRSS"),
      heapUsedKiB: kib(usage.usedSize),
      heapTotalKiB: kib(usage.totalSize),
      buffersKiB: kib(usage.backingStorageSize),
      embedderKiB: kib(usage.embedderHeapUsedSize),
    };
  }

  /**
   * Writes a heap snapshot (open it in Chrome DevTools' Memory tab).
   *
   * @param path The `.heapsnapshot` file to write.
   */
  async heapSnapshot(path: string): Promise<void> {
    const chunks: string[] = [];
    this.#events.set("HeapProfiler.addHeapSnapshotChunk", (params) => {
      chunks.push(String(params.chunk));
    });
    await this.#call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    this.#events.delete("HeapProfiler.addHeapSnapshotChunk");
    await Deno.writeTextFile(path, chunks.join(""));
  }

  /** Disconnects. */
  close(): void {
    this.#socket.close();
  }

  #call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, (message) => {
        if (message.error === undefined) resolve(message.result);
        else reject(new Error(`Inspector ${method} failed: ${message.error.message}`));
      });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }
}

/** A DevTools protocol message: a reply (`id`) or an event (`method`). */
interface CdpMessage {
  id?: number;
  result?: unknown;
  error?: { message: string };
  method?: string;
  params?: Record<string, unknown>;
}

/**
 * What each of `sessions` added to the node, from its memory before and
 * after they opened.
 *
 * @param before Memory of the node before.
 * @param after Memory with the sessions open.
 * @param sessions How many opened.
 * @returns KiB per session, to one decimal.
 */
export function perSession(
  before: NodeMemory,
  after: NodeMemory,
  sessions: number,
): { rssKiB: number; heapKiB: number; buffersKiB: number; embedderKiB: number } {
  const each = (kib: number) => Math.round((kib * 10) / sessions) / 10;
  return {
    rssKiB: each(after.rssKiB - before.rssKiB),
    heapKiB: each(after.heapUsedKiB - before.heapUsedKiB),
    buffersKiB: each(after.buffersKiB - before.buffersKiB),
    embedderKiB: each(after.embedderKiB - before.embedderKiB),
  };
}
