/**
 * What the memory benchmarks of a single node process share: how it is
 * started (rate limits off, its own data folder), how its memory is read,
 * and the steps of a per-session figure ({@linkcode measureSessionMemory}).
 *
 * @module
 */
import { freePort, type NodeProcess, startNodeProcess } from "../helpers/node_process.ts";

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
async function openFileLimit(pid: number): Promise<number> {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(await procFile(pid, "limits"));
  if (match === null) throw new Error(`Cannot read the open-file limit of process ${pid}`);
  return match[1] === "unlimited" ? Infinity : Number(match[1]);
}

/** Descriptors kept free for everything else a process opens. */
const SPARE_FILES = 200;

/**
 * How many sessions fit the open-file limits of a node and of this process
 * (each holds one descriptor per session).
 *
 * @param nodePid The node's process id.
 * @param requested Sessions asked for.
 * @returns The sessions to open, and the lower of the two limits.
 */
export async function sessionsWithinFileLimit(
  nodePid: number,
  requested: number,
): Promise<{ sessions: number; openFileLimit: number }> {
  const limit = Math.min(await openFileLimit(nodePid), await openFileLimit(Deno.pid));
  return { sessions: Math.min(requested, limit - SPARE_FILES), openFileLimit: limit };
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

/** What {@linkcode measureSessionMemory} measured. */
export interface SessionMemoryResult {
  /** Sessions asked for. */
  readonly requested: number;
  /** Sessions opened (fewer when the open-file limit is lower). */
  readonly sessions: number;
  /** The lower of the node's and this process's open-file limits. */
  readonly openFileLimit: number;
  /** Seconds to open them all (login to welcome). */
  readonly openSeconds: number;
  /** The node before they opened, after a full GC. */
  readonly before: NodeMemory;
  /** The node with every session open and quiet, after a full GC. */
  readonly after: NodeMemory;
  /** Resident memory added per session (KiB). */
  readonly rssPerSessionKiB: number;
  /** Live JavaScript heap added per session (KiB). */
  readonly heapPerSessionKiB: number;
  /** Live ArrayBuffer contents added per session (KiB). */
  readonly buffersPerSessionKiB: number;
  /** Native runtime objects (V8's C++ heap) added per session (KiB). */
  readonly embedderPerSessionKiB: number;
}

/** The kind of session a memory benchmark opens: TCP clients, SSH PTYs… */
export interface BenchSessions<S> {
  /**
   * Opens `count` sessions on `node`, their names starting with `prefix`.
   *
   * @returns The sessions, each welcomed.
   */
  open(node: NodeProcess, count: number, prefix: string): Promise<S[]>;
  /** Bytes the sessions received so far, summed. */
  received(sessions: readonly S[]): number;
  /** Closes one session. */
  close(session: S): void;
}

/** Options of {@linkcode measureSessionMemory}. */
export interface SessionMemoryOptions<S> {
  /** Node id, which also names its data folder under `./data`. */
  readonly id: string;
  /** Run the node's SSH listener. @default false */
  readonly ssh?: boolean;
  /** Sessions to open (fewer when the open-file limits are lower). */
  readonly requested: number;
  /** Sessions opened and closed first, so the code paths are loaded and compiled. */
  readonly warmUp: number;
  /** Starts the nicks of the measured sessions (the warm-up's start with `w`). */
  readonly prefix: string;
  /** The sessions to open. */
  readonly kind: BenchSessions<S>;
  /** Read the figure no sooner than this long after the last session opened (ms). @default 0 */
  readonly settleMs?: number;
  /** Write a heap snapshot of the node with the sessions open here. @default none */
  readonly heapSnapshot?: string | undefined;
}

/**
 * What one session costs a fresh node: a node with its connection counts
 * raised and its inspector open takes a warm-up round, then `requested`
 * sessions, which are left until nothing has arrived for a second; its
 * memory after a full GC, minus the same before they opened, over their
 * number.
 *
 * @param options The node, the sessions, when to read.
 * @returns The figures.
 */
export async function measureSessionMemory<S>(
  options: SessionMemoryOptions<S>,
): Promise<SessionMemoryResult> {
  const { requested, kind } = options;
  const dir = `./data/${options.id}-${crypto.randomUUID().slice(0, 8)}`;
  const inspectorPort = freePort();
  const node = await startNodeProcess({
    id: options.id,
    ssh: options.ssh ?? false,
    denoFlags: [inspectFlag(inspectorPort)],
    args: [
      "--data",
      dir,
      "--max-conns-per-addr",
      String(requested + 100),
      "--max-conns",
      String(requested + 100),
    ],
  });
  const inspector = await NodeInspector.open(inspectorPort);
  const open: S[] = [];
  try {
    const { sessions, openFileLimit: limit } = await sessionsWithinFileLimit(
      node.child.pid,
      requested,
    );
    const warm = await kind.open(node, options.warmUp, "w");
    await untilQuiet(() => kind.received(warm));
    for (const session of warm) kind.close(session);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = await inspector.memory(node.child.pid);
    const started = performance.now();
    open.push(...await kind.open(node, sessions, options.prefix));
    const opened = performance.now();
    await untilQuiet(() => kind.received(open));
    const settleLeft = (options.settleMs ?? 0) - (performance.now() - opened);
    if (settleLeft > 0) await new Promise((resolve) => setTimeout(resolve, settleLeft));
    const after = await inspector.memory(node.child.pid);
    if (options.heapSnapshot !== undefined) await inspector.heapSnapshot(options.heapSnapshot);
    const each = perSession(before, after, sessions);
    return {
      requested,
      sessions,
      openFileLimit: limit,
      openSeconds: Math.round((opened - started) / 100) / 10,
      before,
      after,
      rssPerSessionKiB: each.rssKiB,
      heapPerSessionKiB: each.heapKiB,
      buffersPerSessionKiB: each.buffersKiB,
      embedderPerSessionKiB: each.embedderKiB,
    };
  } finally {
    inspector.close();
    for (const session of open) kind.close(session);
    await node.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The node's memory before and after, for a bench report.
 *
 * @param result From {@linkcode measureSessionMemory}.
 * @returns One line, without indent.
 */
export function formatMemoryChange(result: SessionMemoryResult): string {
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  return `node RSS ${mib(result.before.rssKiB)} → ${mib(result.after.rssKiB)} MiB, ` +
    `JS heap ${mib(result.before.heapUsedKiB)} → ${mib(result.after.heapUsedKiB)} MiB (after GC)`;
}

/**
 * What one session costs, for a bench report.
 *
 * @param what The session, e.g. `idle session`.
 * @param result From {@linkcode measureSessionMemory}.
 * @returns One line, without indent.
 */
export function formatPerSession(what: string, result: SessionMemoryResult): string {
  return `per ${what}: RSS ${result.rssPerSessionKiB} KiB; live: JS heap ` +
    `${result.heapPerSessionKiB} KiB, buffers ${result.buffersPerSessionKiB} KiB, ` +
    `runtime objects ${result.embedderPerSessionKiB} KiB`;
}

/** What a per-session memory benchmark lets its caller choose. */
export interface MemoryBenchOptions {
  /** Sessions to open. @default each benchmark's own */
  sessions?: number;
  /** Write a heap snapshot of the node with the sessions open here. @default none */
  heapSnapshot?: string;
}

/**
 * The command-line options a memory benchmark run alone takes:
 * `--sessions N` and `--heap-snapshot FILE`.
 *
 * @param args The command line.
 * @returns The options given.
 */
export function memoryBenchFlags(args: readonly string[]): MemoryBenchOptions {
  const flag = (name: string) => {
    const at = args.indexOf(name);
    return at < 0 ? undefined : args[at + 1];
  };
  const sessions = flag("--sessions");
  const heapSnapshot = flag("--heap-snapshot");
  return {
    ...(sessions === undefined ? {} : { sessions: Number(sessions) }),
    ...(heapSnapshot === undefined ? {} : { heapSnapshot }),
  };
}
