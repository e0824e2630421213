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
import {
  type BenchSessions,
  formatMemoryChange,
  formatPerSession,
  measureSessionMemory,
  memoryBenchFlags,
  type MemoryBenchOptions,
  type SessionMemoryResult,
} from "./_node_memory.ts";

/** Figures of {@linkcode benchIdleSessions}: per idle session, and its room size. */
export interface IdleSessionsResult extends SessionMemoryResult {
  /** Sessions per room. */
  readonly roomSize: number;
}

/** Options of {@linkcode benchIdleSessions} (sessions: 10,000 unless given). */
export type IdleSessionsOptions = MemoryBenchOptions;

/** Sessions per room: the join notices of a room go to everyone in it. */
const ROOM_SIZE = 100;
/** Connections opened at once. */
const IN_FLIGHT = 200;
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
 * Bytes the sessions received so far, to wait until they are quiet.
 *
 * @param clients The sessions.
 * @returns The sum.
 */
export function received(clients: readonly IdleClient[]): number {
  return clients.reduce((sum, c) => sum + c.received, 0);
}

/** Idle TCP sessions, for {@linkcode measureSessionMemory}. */
const idleTcpSessions: BenchSessions<IdleClient> = {
  open: (node, count, prefix) => openSessions(node.port, count, prefix),
  received,
  close: (client) => client.close(),
};

/**
 * Runs the idle-session benchmark.
 *
 * @param options Sessions, heap snapshot.
 * @returns The figures.
 */
export async function benchIdleSessions(
  options: IdleSessionsOptions = {},
): Promise<IdleSessionsResult> {
  const measured = await measureSessionMemory({
    id: "bench-idle",
    requested: options.sessions ?? 10_000,
    warmUp: 200,
    prefix: "i",
    kind: idleTcpSessions,
    settleMs: HELLO_TIMEOUT_MS + 500,
    heapSnapshot: options.heapSnapshot,
  });
  return { ...measured, roomSize: ROOM_SIZE };
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
  return [
    `idle TCP sessions: ${fmt(result.sessions)}${capped}, hello then silent, ` +
    `${result.roomSize} per room, opened in ${result.openSeconds} s`,
    `  ${formatMemoryChange(result)}`,
    `  ${formatPerSession("idle session", result)}`,
  ];
}

if (import.meta.main) {
  const result = await benchIdleSessions(memoryBenchFlags(Deno.args));
  console.log(formatIdleSessionsResult(result).join("\n"));
  await Deno.mkdir("data/bench", { recursive: true });
  await Deno.writeTextFile(
    "data/bench/idle_sessions.json",
    JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2) + "\n",
  );
}
