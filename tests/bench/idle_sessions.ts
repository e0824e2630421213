/**
 * Memory of idle TCP sessions on a real node process: N terminal-client
 * connections (real sockets from this process) say hello, each to a room of
 * {@linkcode ROOM_SIZE}, read what the node sends until it is quiet, and
 * then stay idle. The node's resident set and live JavaScript heap, after a
 * forced full garbage collection (through its inspector), are compared with
 * the same node before they opened: the difference over N is what one idle
 * session costs, measured once the node's hello deadlines have passed. The
 * node runs with its default limits, apart from the connection counts.
 *
 * N is capped by the open-file limit of the node and of this process (each
 * holds one descriptor per session); the figures say when it was.
 *
 * Run alone: `deno run -P=e2e-bench tests/bench/idle_sessions.ts
 * [--sessions N] [--heap-snapshot data/idle.heapsnapshot]`; JSON in
 * `data/bench/idle_sessions.json`.
 *
 * @module
 */
import { freePort, startNodeProcess } from "../helpers/node_process.ts";
import {
  inspectFlag,
  NodeInspector,
  type NodeMemory,
  openFileLimit,
  perSession,
  untilQuiet,
} from "./_node_memory.ts";

/** Figures of {@linkcode benchIdleSessions}. */
export interface IdleSessionsResult {
  /** Sessions asked for. */
  readonly requested: number;
  /** Sessions opened (fewer when the open-file limit is lower). */
  readonly sessions: number;
  /** The lower of the node's and this process's open-file limits. */
  readonly openFileLimit: number;
  /** Sessions per room. */
  readonly roomSize: number;
  /** Seconds to open them all (hello to welcome), 200 at a time. */
  readonly openSeconds: number;
  /** The node before they opened, after a full GC. */
  readonly before: NodeMemory;
  /** The node with every session open and quiet, after a full GC. */
  readonly after: NodeMemory;
  /** Resident memory added per idle session (KiB). */
  readonly rssPerSessionKiB: number;
  /** Live JavaScript heap added per idle session (KiB). */
  readonly heapPerSessionKiB: number;
  /** Live ArrayBuffer contents added per session (KiB). */
  readonly buffersPerSessionKiB: number;
  /** Native runtime objects (V8's C++ heap) added per session (KiB). */
  readonly embedderPerSessionKiB: number;
}

/** Options of {@linkcode benchIdleSessions}. */
export interface IdleSessionsOptions {
  /** Sessions to open. @default 10000 */
  sessions?: number;
  /** Write a heap snapshot of the node with the sessions open here. @default none */
  heapSnapshot?: string;
}

/** Sessions per room: the join notices of a room go to everyone in it. */
const ROOM_SIZE = 100;
/** Connections opened at once. */
const IN_FLIGHT = 200;
/** Descriptors kept free for everything else a process opens. */
const SPARE_FILES = 200;
/**
 * The node's hello deadline (its default `--hello-timeout`, ms): a timer per
 * new connection until then, part of connecting rather than of being idle.
 */
const HELLO_TIMEOUT_MS = 10_000;

const encoder = new TextEncoder();

/** One idle client: hello sent, everything read and counted, nothing more sent. */
export class IdleClient {
  received = 0;
  readonly welcomed: Promise<void>;
  readonly #conn: Deno.TcpConn;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    const welcomed = Promise.withResolvers<void>();
    this.welcomed = welcomed.promise;
    this.#read(welcomed);
  }

  static async open(port: number, nick: string, room: string): Promise<IdleClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(encoder.encode(`{"t":"hello","v":1,"user":"${nick}","room":"${room}"}\n`));
    const client = new IdleClient(conn);
    await client.welcomed;
    return client;
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // closed
    }
  }

  async #read(welcomed: PromiseWithResolvers<void>): Promise<void> {
    const buffer = new Uint8Array(4096);
    let head = "";
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.received += n;
        if (head.length < 64) {
          head += new TextDecoder().decode(buffer.subarray(0, Math.min(n, 64)));
          if (head.startsWith(`{"t":"welcome"`)) welcomed.resolve();
        }
      }
    } catch {
      // reset
    }
    welcomed.reject(new Error(`Session was closed before its welcome: ${head}`));
  }
}

/**
 * Opens `count` idle sessions, `IN_FLIGHT` at a time, {@linkcode ROOM_SIZE} to a room.
 *
 * @param port The node's client port.
 * @param count Sessions to open.
 * @param prefix Starts their nicks and room names.
 * @returns The sessions, welcomed.
 */
export async function openSessions(
  port: number,
  count: number,
  prefix: string,
): Promise<IdleClient[]> {
  const clients: IdleClient[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const room = `${prefix}${Math.floor(i / ROOM_SIZE)}`;
      clients.push(await IdleClient.open(port, `${prefix}${i}`, room));
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, count) }, worker));
  return clients;
}

/**
 * Bytes the sessions received so far, for {@linkcode untilQuiet}.
 *
 * @param clients The sessions.
 * @returns The sum.
 */
export function received(clients: readonly IdleClient[]): number {
  return clients.reduce((sum, c) => sum + c.received, 0);
}

/**
 * Runs the idle-session benchmark.
 *
 * @param options Sessions, heap snapshot.
 * @returns The figures.
 */
export async function benchIdleSessions(
  options: IdleSessionsOptions = {},
): Promise<IdleSessionsResult> {
  const { sessions: requested = 10_000, heapSnapshot } = options;
  const dir = `./data/bench-idle-${crypto.randomUUID().slice(0, 8)}`;
  const inspectorPort = freePort();
  const node = await startNodeProcess({
    id: "bench-idle",
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
  const clients: IdleClient[] = [];
  try {
    const limit = Math.min(
      await openFileLimit(node.child.pid),
      await openFileLimit(Deno.pid),
    );
    const sessions = Math.min(requested, limit - SPARE_FILES);
    // Warm-up: the code paths loaded and compiled, then left.
    const warm = await openSessions(node.port, 200, "w");
    await untilQuiet(() => received(warm));
    for (const client of warm) client.close();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = await inspector.memory(node.child.pid);
    const started = performance.now();
    clients.push(...await openSessions(node.port, sessions, "i"));
    const opened = performance.now();
    const openSeconds = Math.round((opened - started) / 100) / 10;
    await untilQuiet(() => received(clients));
    const deadlinesLeft = HELLO_TIMEOUT_MS + 500 - (performance.now() - opened);
    if (deadlinesLeft > 0) await new Promise((resolve) => setTimeout(resolve, deadlinesLeft));
    const after = await inspector.memory(node.child.pid);
    if (heapSnapshot !== undefined) await inspector.heapSnapshot(heapSnapshot);
    const each = perSession(before, after, sessions);
    return {
      requested,
      sessions,
      openFileLimit: limit,
      roomSize: ROOM_SIZE,
      openSeconds,
      before,
      after,
      rssPerSessionKiB: each.rssKiB,
      heapPerSessionKiB: each.heapKiB,
      buffersPerSessionKiB: each.buffersKiB,
      embedderPerSessionKiB: each.embedderKiB,
    };
  } finally {
    inspector.close();
    for (const client of clients) client.close();
    await node.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The figures as lines for the bench report.
 *
 * @param result From {@linkcode benchIdleSessions}.
 * @returns Printable lines.
 */
export function formatIdleSessionsResult(result: IdleSessionsResult): string[] {
  const fmt = (n: number) => n.toLocaleString("en-US");
  const capped = result.sessions < result.requested
    ? ` (${fmt(result.requested)} asked: capped by the open-file limit ${
      fmt(result.openFileLimit)
    })`
    : "";
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  return [
    `idle TCP sessions: ${fmt(result.sessions)}${capped}, hello then silent, ` +
    `${result.roomSize} per room, opened in ${result.openSeconds} s`,
    `  node RSS ${mib(result.before.rssKiB)} → ${mib(result.after.rssKiB)} MiB, ` +
    `JS heap ${mib(result.before.heapUsedKiB)} → ${mib(result.after.heapUsedKiB)} MiB (after GC)`,
    `  per idle session: RSS ${result.rssPerSessionKiB} KiB; live: JS heap ` +
    `${result.heapPerSessionKiB} KiB, buffers ${result.buffersPerSessionKiB} KiB, ` +
    `runtime objects ${result.embedderPerSessionKiB} KiB`,
  ];
}

if (import.meta.main) {
  const flag = (name: string) => {
    const at = Deno.args.indexOf(name);
    return at < 0 ? undefined : Deno.args[at + 1];
  };
  const sessions = flag("--sessions");
  const heapSnapshot = flag("--heap-snapshot");
  const result = await benchIdleSessions({
    ...(sessions === undefined ? {} : { sessions: Number(sessions) }),
    ...(heapSnapshot === undefined ? {} : { heapSnapshot }),
  });
  console.log(formatIdleSessionsResult(result).join("\n"));
  await Deno.mkdir("data/bench", { recursive: true });
  await Deno.writeTextFile(
    "data/bench/idle_sessions.json",
    JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2) + "\n",
  );
}
