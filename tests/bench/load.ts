/**
 * Load benchmark for the connection limits: (a) normal room traffic's p99
 * latency, quiet and while one client floods 10,000 msg/s (once with only
 * the message rate limit, once with the default bytes-per-minute limit too,
 * which drops the flooder and then refuses its address); (b) 5,000 idle
 * sockets reaped by the idle timeout, with the node's RSS before, at peak
 * and after.
 *
 * Run alone: `deno run -P=e2e-bench tests/bench/load.ts`.
 *
 * @module
 */
import { type NodeProcess, startNodeProcess } from "../helpers/node_process.ts";
import {
  connect,
  type FanoutReceiver,
  type FanoutTarget,
  type LatencyResult,
  PAD,
  Receiver,
  Sender,
  writeLine,
} from "./fanout.ts";

/** What the flooder saw. */
export interface FloodResult {
  /** Messages it tried to send per second (it writes as fast as it can, up to 10,000). */
  readonly offeredPerSecond: number;
  /** Messages the node accepted (acked with an id) per second. */
  readonly acceptedPerSecond: number;
  /** `rate_limited` answers. */
  readonly rateLimited: number;
  /** Times it was dropped (`flood`, `overflow`...) and reconnected. */
  readonly drops: number;
  /** Connections refused (`refused`: a repeat offender cooling off). */
  readonly refusals: number;
}

/** One flood phase: the others' latency while one client floods. */
export interface FloodPhase {
  /** Node flags that differ from the defaults. */
  readonly flags: readonly string[];
  /** Others' latency with no flood. */
  readonly quiet: LatencyResult;
  /** Others' latency during the flood. */
  readonly flooded: LatencyResult;
  /** flooded p99 / quiet p99 (the target is ≤ 2). */
  readonly p99Ratio: number;
  /** The flooder's view. */
  readonly flooder: FloodResult;
}

/** The idle-socket runs: the same node, three rounds, to show memory does not grow per round. */
export interface IdleResult {
  /** Node RSS before any socket (KiB). */
  readonly rssBeforeKiB: number;
  /** Each round. */
  readonly rounds: readonly IdleRound[];
}

/** One round of idle sockets. */
export interface IdleRound {
  /** Sockets opened (the target is 5,000). */
  readonly sockets: number;
  /** Idle timeout used (s). */
  readonly idleTimeoutSeconds: number;
  /** Node RSS with every socket open (KiB). */
  readonly rssPeakKiB: number;
  /** Node RSS after they were reaped (KiB). */
  readonly rssAfterKiB: number;
  /** Sockets told `idle_timeout` before being closed. */
  readonly toldIdle: number;
  /** Sockets closed by the node. */
  readonly reaped: number;
  /** Seconds from the last socket opening to the last one reaped. */
  readonly reapSeconds: number;
}

/** Every figure of the load benchmark. */
export interface LoadBenchResult {
  /** Normal traffic: receivers and senders, rate. */
  readonly traffic: { receivers: number; senders: number; rate: number };
  /** Only the message rate limit (bytes per minute off). */
  readonly rateLimitOnly: FloodPhase;
  /** Default limits (bytes per minute on). */
  readonly defaults: FloodPhase;
  /** Idle sockets. */
  readonly idle: IdleResult;
}

const RECEIVERS = 10;
/** 25 people at 4 msg/s each: 100 msg/s, each under the default --rate 5. */
const SENDERS = 25;
const RATE = 100;
const SECONDS = 5;
const FLOOD_RATE = 10_000;
const IDLE_SOCKETS = 5000;
const IDLE_TIMEOUT = 5;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const encoder = new TextEncoder();

/** Senders that take turns: each line of a batch goes to the next one. */
class SenderPool {
  readonly #senders: Sender[];
  #next = 0;
  constructor(senders: Sender[]) {
    this.#senders = senders;
  }
  async write(text: string): Promise<void> {
    const lines = text.split("\n").filter((l) => l !== "");
    await Promise.all(lines.map((line) => {
      const sender = this.#senders[this.#next++ % this.#senders.length]!;
      return sender.write(line + "\n");
    }));
  }
  close(): void {
    for (const s of this.#senders) s.close();
  }
}

/**
 * Like `measureLatency` of fanout.ts, but every receiver is timed (there are
 * only ten): more samples make the p99 less noisy.
 */
async function latency(
  spec: FanoutTarget,
  receivers: FanoutReceiver[],
  senders: SenderPool,
  seconds: number,
): Promise<LatencyResult> {
  const total = RATE * seconds;
  const base = receivers.map((r) => r.lines);
  for (const r of receivers) {
    r.latencies.length = 0;
    r.timing = true;
  }
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE) + 1);
    let text = "";
    for (; sent < due; sent++) text += spec.line(sent, performance.now());
    if (text) await senders.write(text);
    await sleep(1);
  }
  const deadline = setTimeout(() => receivers.forEach((r) => r.close()), 30_000);
  await Promise.all(receivers.map((r, i) => r.until(base[i]! + total)));
  clearTimeout(deadline);
  const all = receivers.flatMap((r) => r.latencies).sort((a, b) => a - b);
  for (const r of receivers) r.timing = false;
  const lost = receivers.reduce((sum, r, i) => sum + Math.max(0, base[i]! + total - r.lines), 0);
  const at = (p: number) => all[Math.min(all.length - 1, Math.floor(p * all.length))] ?? NaN;
  const round = (x: number) => Number(x.toFixed(3));
  return {
    rate: RATE,
    samples: all.length,
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    maxMs: round(all.at(-1) ?? NaN),
    lost,
  };
}

function target(port: number): FanoutTarget {
  return {
    linesPerMessage: 1,
    async receiver(index) {
      const conn = await connect(port);
      await writeLine(conn, `{"t":"hello","v":1,"user":"r${index}","room":"load"}\n`);
      return new Receiver(conn);
    },
    sender() {
      return Promise.reject(new Error("use the sender pool"));
    },
    line: (seq, sentAt) => `{"t":"say","room":"load","text":"m${seq} sent=${sentAt} ${PAD}"}\n`,
  };
}

/** A client that floods as fast as it can up to FLOOD_RATE, reconnecting when dropped. */
class Flooder {
  #sent = 0;
  #accepted = 0;
  #rateLimited = 0;
  #drops = 0;
  #refusals = 0;
  #stopped = false;
  #conn: Deno.TcpConn | undefined;
  readonly #port: number;
  readonly #running: Promise<void>;
  readonly #started = performance.now();
  #ended = 0;

  constructor(port: number) {
    this.#port = port;
    this.#running = this.#loop();
  }

  async stop(): Promise<FloodResult> {
    this.#stopped = true;
    this.#ended = performance.now();
    try {
      this.#conn?.close();
    } catch {
      // closed
    }
    await this.#running;
    const seconds = (this.#ended - this.#started) / 1000;
    return {
      offeredPerSecond: Math.round(this.#sent / seconds),
      acceptedPerSecond: Number((this.#accepted / seconds).toFixed(1)),
      rateLimited: this.#rateLimited,
      drops: this.#drops,
      refusals: this.#refusals,
    };
  }

  async #loop(): Promise<void> {
    for (let attempt = 0; !this.#stopped; attempt++) {
      let conn: Deno.TcpConn;
      try {
        conn = await connect(this.#port);
      } catch {
        await sleep(50);
        continue;
      }
      this.#conn = conn;
      const reading = this.#read(conn);
      try {
        await writeLine(conn, `{"t":"hello","v":1,"user":"flood${attempt}","room":"flood"}\n`);
        const start = performance.now();
        let sent = 0;
        const batch = 100;
        let line = 0;
        while (!this.#stopped) {
          const due = Math.floor(((performance.now() - start) / 1000) * FLOOD_RATE);
          if (sent + batch <= due) {
            let text = "";
            for (let i = 0; i < batch; i++) {
              text += `{"t":"say","room":"flood","text":"f${line++} ${PAD}","cid":"${line}"}\n`;
            }
            await conn.write(encoder.encode(text));
            sent += batch;
            this.#sent += batch;
          } else {
            await sleep(1);
          }
        }
      } catch {
        // dropped by the node
      }
      const outcome = await reading;
      if (this.#stopped) break;
      if (outcome === "refused") this.#refusals++;
      else this.#drops++;
      await sleep(50);
    }
  }

  /** Counts answers until the node closes; says whether it was a refusal. */
  async #read(conn: Deno.TcpConn): Promise<"refused" | "dropped"> {
    const buffer = new Uint8Array(256 * 1024);
    const decoder = new TextDecoder();
    let tail = "";
    let refused = false;
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        const text = tail + decoder.decode(buffer.subarray(0, n));
        const cut = text.lastIndexOf("\n");
        tail = text.slice(cut + 1);
        const whole = text.slice(0, cut + 1);
        this.#accepted += whole.match(/"t":"ack","cid":"[^"]*","id":"/g)?.length ?? 0;
        this.#rateLimited += count(whole, `"code":"rate_limited"`);
        if (whole.includes(`"code":"refused"`)) refused = true;
      }
    } catch {
      // reset
    }
    try {
      conn.close();
    } catch {
      // closed
    }
    return refused ? "refused" : "dropped";
  }
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

async function floodPhase(flags: string[]): Promise<FloodPhase> {
  const node = await startNodeProcess({
    id: "load",
    args: ["--max-conns-per-addr", "10000", ...flags],
  });
  try {
    const spec = target(node.port);
    const receivers: FanoutReceiver[] = [];
    for (let i = 0; i < RECEIVERS; i++) receivers.push(await spec.receiver(i));
    const senders: Sender[] = [];
    for (let i = 0; i < SENDERS; i++) {
      const conn = await connect(node.port);
      await writeLine(conn, `{"t":"hello","v":1,"user":"s${i}","room":"load"}\n`);
      senders.push(new Sender(conn));
    }
    const pool = new SenderPool(senders);
    await sleep(500);
    await latency(spec, receivers, pool, 1); // warm-up
    await sleep(1500); // let the senders' buckets refill
    const quiet = await latency(spec, receivers, pool, SECONDS);
    await sleep(2500);
    const flooder = spawnFlooder(node.port, SECONDS + 1);
    await sleep(500);
    const flooded = await latency(spec, receivers, pool, SECONDS);
    const flood = await flooder;
    for (const r of receivers) r.close();
    pool.close();
    return {
      flags,
      quiet,
      flooded,
      p99Ratio: Number((flooded.p99Ms / quiet.p99Ms).toFixed(2)),
      flooder: flood,
    };
  } finally {
    await node.stop("SIGTERM");
  }
}

async function rss(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

/** One idle socket: sends one byte, then only listens; records how it ended. */
async function idleSocket(port: number): Promise<{ done: Promise<boolean> }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(" "));
  const done = (async () => {
    const buffer = new Uint8Array(1024);
    let text = "";
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        text += new TextDecoder().decode(buffer.subarray(0, n));
      }
    } catch {
      // reset
    }
    try {
      conn.close();
    } catch {
      // closed
    }
    return text.includes(`"code":"idle_timeout"`);
  })();
  return { done };
}

async function idlePhase(): Promise<IdleResult> {
  const node: NodeProcess = await startNodeProcess({
    id: "idle",
    args: ["--max-conns-per-addr", "10000", "--idle-timeout", String(IDLE_TIMEOUT)],
  });
  try {
    const pid = node.child.pid;
    await sleep(500);
    const rssBeforeKiB = await rss(pid);
    const rounds: IdleRound[] = [];
    for (let round = 0; round < 3; round++) rounds.push(await idleRound(node.port, pid));
    return { rssBeforeKiB, rounds };
  } finally {
    await node.stop("SIGTERM");
  }
}

async function idleRound(port: number, pid: number): Promise<IdleRound> {
  {
    const sockets: { done: Promise<boolean> }[] = [];
    let limit = "";
    try {
      for (let i = 0; i < IDLE_SOCKETS; i += 250) {
        const batch = Math.min(250, IDLE_SOCKETS - i);
        sockets.push(
          ...await Promise.all(Array.from({ length: batch }, () => idleSocket(port))),
        );
      }
    } catch (error) {
      limit = String(error);
    }
    if (limit) console.log(`  (stopped at ${sockets.length} sockets: ${limit})`);
    const opened = performance.now();
    await sleep(300);
    const rssPeakKiB = await rss(pid);
    let reaped = 0;
    let told = 0;
    const all = sockets.map((s) =>
      s.done.then((idle) => {
        reaped++;
        if (idle) told++;
      })
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(all),
      new Promise((resolve) => (timer = setTimeout(resolve, (IDLE_TIMEOUT + 20) * 1000))),
    ]);
    clearTimeout(timer);
    const reapSeconds = Number(((performance.now() - opened) / 1000).toFixed(1));
    await sleep(2000);
    const rssAfterKiB = await rss(pid);
    return {
      sockets: sockets.length,
      idleTimeoutSeconds: IDLE_TIMEOUT,
      rssPeakKiB,
      rssAfterKiB,
      toldIdle: told,
      reaped,
      reapSeconds,
    };
  }
}

/**
 * Runs the load benchmark.
 *
 * @returns The figures.
 */
export async function loadBench(): Promise<LoadBenchResult> {
  const rateLimitOnly = await floodPhase(["--max-bytes-per-conn", "0"]);
  const defaults = await floodPhase([]);
  const idle = await idlePhase();
  return {
    traffic: { receivers: RECEIVERS, senders: SENDERS, rate: RATE },
    rateLimitOnly,
    defaults,
    idle,
  };
}

/**
 * Prints the load figures.
 *
 * @param result From {@linkcode loadBench}.
 */
export function printLoadBench(result: LoadBenchResult): void {
  const { receivers, senders, rate } = result.traffic;
  console.log(
    `\nload: ${receivers} receivers, ${senders} senders at ${rate} msg/s in all; one client floods up to ${
      FLOOD_RATE.toLocaleString("en-US")
    } msg/s`,
  );
  for (
    const [name, phase] of [
      ["message rate limit only (--max-bytes-per-conn 0)", result.rateLimitOnly],
      ["default limits", result.defaults],
    ] as const
  ) {
    const f = phase.flooder;
    console.log(`  ${name}`);
    console.log(
      `    others' p99: quiet ${phase.quiet.p99Ms} ms, flooded ${phase.flooded.p99Ms} ms (×${phase.p99Ratio}, target ≤ 2); p50 ${phase.quiet.p50Ms} → ${phase.flooded.p50Ms} ms; lost ${phase.flooded.lost}`,
    );
    console.log(
      `    flooder: offered ${
        f.offeredPerSecond.toLocaleString("en-US")
      } msg/s, accepted ${f.acceptedPerSecond} msg/s, rate_limited ${
        f.rateLimited.toLocaleString("en-US")
      }, dropped ${f.drops}×, refused ${f.refusals}×`,
    );
  }
  const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
  console.log(
    `  idle sockets (one byte each, then silent), --idle-timeout ${IDLE_TIMEOUT}; node RSS before: ${
      mib(result.idle.rssBeforeKiB)
    }`,
  );
  for (const [n, i] of result.idle.rounds.entries()) {
    console.log(
      `    round ${n + 1}: ${i.sockets.toLocaleString("en-US")} open ${
        mib(i.rssPeakKiB)
      }, after reaping ${
        mib(i.rssAfterKiB)
      }; reaped ${i.reaped}/${i.sockets} (${i.toldIdle} told idle_timeout) within ${i.reapSeconds} s`,
    );
  }
}

/**
 * The flooder runs in its own process, so that its busy loop does not delay
 * the receivers' clocks in this one.
 */
async function spawnFlooder(port: number, seconds: number): Promise<FloodResult> {
  const out = await new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "tests/bench/load.ts",
      "--flood",
      String(port),
      String(seconds),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("flooder failed");
  return JSON.parse(new TextDecoder().decode(out.stdout)) as FloodResult;
}

if (import.meta.main) {
  if (Deno.args[0] === "--flood") {
    const flooder = new Flooder(Number(Deno.args[1]));
    await sleep(Number(Deno.args[2]) * 1000);
    console.log(JSON.stringify(await flooder.stop()));
  } else {
    const result = await loadBench();
    printLoadBench(result);
  }
}
