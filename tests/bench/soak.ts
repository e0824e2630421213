/**
 * `deno task soak`: a busy public server compressed into minutes. A real
 * 3-node cluster takes churning clients (short and long lines, private
 * messages, `/join` spam, `/nick` churn, room switches), SSH sessions that
 * come and go, and one `kill -9` and restart; every few seconds each node's
 * resident memory, open file descriptors and data-directory size are sampled,
 * and, when the node answers an operator's `/stats`, what it retains (events,
 * history bytes, rooms, presence entries, version-vector origins; the heap
 * too if `/stats` shows it).
 *
 * The run passes when RSS, descriptors, data-directory size and heap (when
 * shown) are flat on every node over the window: the second half of the run,
 * or later if the history budget (every talk room holding `--history` lines)
 * is reached after the half. RSS, descriptors and heap of a restarted node
 * are judged on its new process only. "Flat" is defined in `soak_slope.ts`:
 * the least-squares growth across the window is within twice the residual
 * standard deviation or under 2 % of the mean per minute. The `/stats`
 * counts are fitted and shown, not judged (see {@linkcode JUDGED}).
 *
 * Prints a table, writes `data/bench/soak.json` (`--out FILE` elsewhere),
 * and exits with 1 when a series grows or no verdict is possible.
 *
 * ```sh
 * deno task soak                       # 12 minutes (at most 15)
 * deno task soak --minutes 4 --clients 30
 * deno task soak --node-args="--history-budget 64"   # "=" as the value starts with a dash
 * ```
 *
 * Sampling needs `--allow-run=deno,ps,ls` (`ps` for RSS, `ls /proc/PID/fd` for descriptors:
 * Deno asks for `--allow-all` to read `/proc/PID` itself), which the task grants.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startCluster, type TestCluster } from "../helpers/cluster.ts";
import { generateKey, type TestKey } from "../helpers/ssh_client.ts";
import { sshFingerprint } from "../../node/frontends/ssh/ssh_host_key.ts";
import {
  countFds,
  directoryBytes,
  directoryFiles,
  type NodeSample,
  readRssKiB,
  readStats,
} from "./soak_probe.ts";
import { judgeSlope, type SlopeFit, type SlopeOptions } from "./soak_slope.ts";
import { Workload, type WorkloadCounters, type WorkloadOptions } from "./soak_workload.ts";

/** The longest soak (seconds): the issue bounds it at 15 minutes. */
export const MAX_SECONDS = 15 * 60;

/**
 * Node flags every soak passes besides `--history`: the load comes from one
 * address (127.0.0.1), so the per-address limits that protect a public node
 * from one abuser are lifted; the cluster helper already turns rate limits
 * off (`--burst 0`).
 */
export const BASE_NODE_ARGS: readonly string[] = [
  "--max-conns-per-addr",
  "1000",
  "--max-offences",
  "100000",
];

/** Options of {@linkcode runSoak}. */
export interface SoakOptions {
  /** Length of the run (s), at most 900. @default 720 */
  seconds?: number;
  /** Events kept per room (`--history`); the budget is reached once every talk room has this many lines. @default 256 */
  history?: number;
  /** More node flags (`--history-budget 64`...), after the others. @default none */
  nodeArgs?: readonly string[];
  /** The traffic. @default WorkloadOptions defaults */
  workload?: WorkloadOptions;
  /** Seconds between samples. @default 5 */
  sampleSeconds?: number;
  /** When node 3 is killed with SIGKILL (s). @default 15 % of the run */
  killAtSeconds?: number;
  /** How long it stays down (s). @default 3 */
  downSeconds?: number;
  /** Ask each node for `/stats` (retained events, rooms, heap...) as an operator over SSH. @default true */
  stats?: boolean;
  /** Ask for `/stats` every this many samples (each asks costs an SSH login per node). @default 6 */
  statsEvery?: number;
  /** Flatness allowances. @default SlopeOptions defaults */
  slope?: SlopeOptions;
  /**
   * Data-directory growth allowed across the window (MiB) besides `slope`:
   * for short runs, where Deno KV's journal (SQLite's WAL, reused after
   * about 4 MiB) is still filling.
   * @default 0
   */
  dataSlackMiB?: number;
  /**
   * Open-descriptor growth allowed across the window besides `slope`: every
   * client connection holds one, so with churning clients the count moves by
   * up to the number of connections open at once, whatever the slope says.
   * @default 0
   */
  fdSlack?: number;
  /** Progress lines. @default none */
  log?: (line: string) => void;
}

/** The series judged: from the process, the disk, and `/stats`. */
export const METRICS = [
  "rssKiB",
  "fds",
  "dataBytes",
  "heapBytes",
  "retainedEvents",
  "historyBytes",
  "rooms",
  "presenceEntries",
  "versionOrigins",
] as const;

/** One sampled series. */
export type Metric = typeof METRICS[number];

/**
 * The series that decide the verdict, as the issue asks: memory, descriptors
 * and disk. The `/stats` counts are fitted and shown but do not decide: each
 * has its own cap (the private log keeps 4,096 events, empty rooms expire),
 * reached at its own time, often after a short run ends.
 */
export const JUDGED: ReadonlySet<Metric> = new Set(["rssKiB", "fds", "dataBytes", "heapBytes"]);

/** One sample of one node. */
export interface SoakSample extends NodeSample {
  /** Seconds since the traffic started. */
  readonly t: number;
  /** Node id. */
  readonly node: string;
  /** Process id (a restarted node has a new one). */
  readonly pid: number;
}

/** The verdict on one node's series. */
export interface SoakFit extends Omit<SlopeFit, "verdict"> {
  /**
   * As {@linkcode SlopeFit}, plus `warming`: a restarted node's memory still
   * rising but not above its peers' peak (plus their allowance), i.e.
   * growing back to the level the nodes that were never killed hold flat.
   */
  readonly verdict: SlopeFit["verdict"] | "warming";
  readonly node: string;
  readonly metric: Metric;
  /** First value of the run (of the node's current process for RSS, fds and heap). */
  readonly first: number;
  /** Highest value in the window. */
  readonly peak: number;
  /** Whether this series decides the verdict ({@linkcode JUDGED}). */
  readonly judged: boolean;
  /** Whether the node was restarted during the run (the series is of its new process). */
  readonly restarted: boolean;
}

/** Everything one soak measured. */
export interface SoakResult {
  readonly seconds: number;
  /** Events kept per room (`--history`). */
  readonly history: number;
  readonly nodeArgs: readonly string[];
  readonly workload: Required<WorkloadOptions>;
  readonly counters: WorkloadCounters;
  /** Lines acknowledged per talk room at the end. */
  readonly perRoom: readonly number[];
  /** When every talk room had `--history` lines (s), or null if never. */
  readonly budgetReachedSeconds: number | null;
  /** Start of the judged window (s). */
  readonly windowStartSeconds: number;
  /** The kill: when, and how long the restarted node took to listen (ms). */
  readonly restart: { killedAtSeconds: number; restartMs: number } | null;
  /** Whether `/stats` gave figures and a heap figure; when not, what the node answered. */
  readonly stats: { available: boolean; heap: boolean; note: string };
  /** Each node's data-directory files (bytes) at the end. */
  readonly dataFiles: Record<string, Record<string, number>>;
  /** Allowances used (`dataSlackMiB` for the data directory, `fdSlack` for descriptors). */
  readonly allowances: SlopeOptions & { dataSlackMiB: number; fdSlack: number };
  readonly samples: readonly SoakSample[];
  readonly fits: readonly SoakFit[];
  /** `flat`: every series flat; `growing`: at least one grows; `inconclusive`: too few samples or budget never reached. */
  readonly verdict: "flat" | "growing" | "inconclusive";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sleeps, or returns early (false) once the signal is aborted. */
function sleepUnless(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve(true);
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", stop, { once: true });
  });
}

function fingerprintOf(publicKey: string): string {
  const blob = Uint8Array.from(atob(publicKey.split(" ")[1]!), (c) => c.charCodeAt(0));
  return sshFingerprint(blob);
}

/**
 * Runs one soak on a fresh 3-node cluster; every process is stopped and
 * every scratch file removed before it returns or throws.
 *
 * @param options Length, flags, traffic and allowances.
 * @returns The samples, the fits and the verdict.
 * @throws {RangeError} When the length is not in (0, 900] s.
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakResult> {
  const {
    seconds = 720,
    history = 256,
    nodeArgs = [],
    workload: workloadOptions = {},
    sampleSeconds = 5,
    downSeconds = 3,
    stats = true,
    statsEvery = 6,
    slope = {},
    dataSlackMiB = 0,
    fdSlack = 0,
    log = () => {},
  } = options;
  const killAtSeconds = options.killAtSeconds ?? Math.round(seconds * 0.15);
  if (!(seconds > 0 && seconds <= MAX_SECONDS)) {
    throw new RangeError(
      `Cannot run the soak: length must be 1 to ${MAX_SECONDS} s, got ${seconds}`,
    );
  }
  if (!(Number.isInteger(statsEvery) && statsEvery >= 1)) {
    throw new RangeError(
      `Cannot run the soak: --stats-every must be a whole number ≥ 1, got ${statsEvery}`,
    );
  }
  if (!(sampleSeconds > 0)) {
    throw new RangeError(
      `Cannot run the soak: sample interval must be positive, got ${sampleSeconds}`,
    );
  }
  const opKey: TestKey = generateKey();
  const opsFile = `./data/tmp/soak-ops-${crypto.randomUUID().slice(0, 8)}.txt`;
  await Deno.mkdir("./data/tmp", { recursive: true });
  await Deno.writeTextFile(opsFile, `# soak operator\n${fingerprintOf(opKey.public)}\n`);
  const args = [
    "--history",
    String(history),
    ...BASE_NODE_ARGS,
    ...(stats ? ["--ops", opsFile] : []),
    ...nodeArgs,
  ];
  let cluster: TestCluster | undefined;
  let workload: Workload | undefined;
  let killer: Promise<void> | undefined;
  const ending = new AbortController();
  const down = new Set<number>();
  try {
    log(`starting 3 nodes: ${args.filter((a) => a !== opsFile).join(" ")}`);
    cluster = await startCluster({ ssh: true, args });
    const nodes = cluster.nodes;
    const up = () => nodes.filter((_, i) => !down.has(i));
    workload = new Workload({
      clientPorts: () => up().map((n) => n.process.port),
      sshPorts: () => up().flatMap((n) => n.process.sshPort ?? []),
    }, workloadOptions);
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    workload.start();

    let restart: SoakResult["restart"] = null;
    killer = (async () => {
      if (killAtSeconds >= seconds) return;
      if (!await sleepUnless(killAtSeconds * 1000, ending.signal)) return;
      const victim = 2;
      down.add(victim);
      const killedAtSeconds = elapsed();
      log(`t=${killedAtSeconds.toFixed(0)}s kill -9 ${nodes[victim]!.id}`);
      await nodes[victim]!.process.stop("SIGKILL");
      // Not restarted once the run is ending: close() would miss the new process.
      if (!await sleepUnless(downSeconds * 1000, ending.signal)) return;
      const t0 = performance.now();
      await cluster!.restart(victim);
      restart = { killedAtSeconds, restartMs: Math.round(performance.now() - t0) };
      down.delete(victim);
      log(`t=${elapsed().toFixed(0)}s ${nodes[victim]!.id} back after ${restart.restartMs} ms`);
    })();

    const samples: SoakSample[] = [];
    // Asked until a node answers without figures (no /stats in this build).
    const statsState = { asking: stats, figures: false, heap: false, note: "" };
    let budgetReachedSeconds: number | null = null;
    const rounds = Math.floor(seconds / sampleSeconds);
    for (let k = 0; k <= rounds; k++) {
      const wait = started + k * sampleSeconds * 1000 - performance.now();
      if (wait > 0) await sleep(wait);
      const t = elapsed();
      const round = await Promise.all(
        up().map(async (node) => {
          const pid = node.process.child.pid;
          const [rssKiB, fds, dataBytes, answer] = await Promise.all([
            readRssKiB(pid),
            countFds(pid),
            directoryBytes(node.dataDir),
            statsState.asking && k % statsEvery === 0 && node.process.sshPort !== undefined
              ? readStats(node.process.sshPort, opKey, `soakop${node.id}`)
              : undefined,
          ]);
          if (answer !== undefined) {
            const found = Object.keys(answer.figures).length > 0;
            statsState.figures ||= found;
            statsState.heap ||= answer.figures.heapBytes !== undefined;
            if (!found && !statsState.figures) {
              statsState.asking = false;
              statsState.note = `no figures in the /stats answer: ${
                answer.answer.trim().split("\n").slice(-3).join(" / ")
              }`;
            }
          }
          const sample: SoakSample = {
            t,
            node: node.id,
            pid,
            ...(rssKiB === undefined ? {} : { rssKiB }),
            ...(fds === undefined ? {} : { fds }),
            ...(dataBytes === undefined ? {} : { dataBytes }),
            ...answer?.figures,
          };
          return sample;
        }),
      );
      samples.push(...round);
      if (budgetReachedSeconds === null && Math.min(...workload.perRoom) >= history) {
        budgetReachedSeconds = t;
        log(`t=${t.toFixed(0)}s budget reached: every talk room has ${history} lines`);
      }
      if (k % Math.max(1, Math.round(30 / sampleSeconds)) === 0) {
        const c = workload.counters;
        const rss = round.map((s) => `${s.node} ${((s.rssKiB ?? 0) / 1024).toFixed(0)}`).join(" ");
        log(
          `t=${t.toFixed(0)}s sessions ${c.sessions} nicks ${c.nicks} msgs ${c.messages} ` +
            `ssh ${c.sshSessions} fail ${c.failures} | RSS MiB ${rss}`,
        );
      }
    }
    await killer;
    await workload.stop();
    const dataFiles: Record<string, Record<string, number>> = {};
    for (const node of nodes) dataFiles[node.id] = await directoryFiles(node.dataDir) ?? {};
    const statsNote = !stats
      ? "not asked (--no-stats)"
      : !statsState.figures
      ? statsState.note || "no node had an SSH port"
      : statsState.heap
      ? "figures and heap from /stats"
      : "figures from /stats; it shows no heap figure";
    const windowStartSeconds = Math.max(seconds / 2, budgetReachedSeconds ?? seconds);
    const fits = fitAll(
      samples,
      nodes.map((n) => n.id),
      windowStartSeconds,
      slope,
      { dataBytes: dataSlackMiB * 1024 * 1024, fds: fdSlack },
    );
    const judged = fits.filter((f) => f.judged);
    const verdict = budgetReachedSeconds === null
      ? "inconclusive"
      : judged.some((f) => f.verdict === "growing")
      ? "growing"
      : judged.length === 0 || judged.some((f) => f.verdict === "inconclusive")
      ? "inconclusive"
      : "flat";
    return {
      seconds,
      history,
      nodeArgs: args.filter((a) => a !== opsFile && a !== "--ops"),
      workload: workloadSettings(workloadOptions),
      counters: { ...workload.counters },
      perRoom: [...workload.perRoom],
      budgetReachedSeconds,
      windowStartSeconds,
      restart,
      stats: { available: statsState.figures, heap: statsState.heap, note: statsNote },
      dataFiles,
      allowances: { relativePerMinute: 0.02, noiseFactor: 2, ...slope, dataSlackMiB, fdSlack },
      samples,
      fits,
      verdict,
    };
  } finally {
    ending.abort();
    await killer?.catch(() => {});
    await workload?.stop();
    await cluster?.close();
    await Deno.remove(opsFile).catch(() => {});
  }
}

/** The workload's settings with their defaults filled in (for the report). */
function workloadSettings(options: WorkloadOptions): Required<WorkloadOptions> {
  return {
    clients: 60,
    actionsPerSecond: 2,
    actionsPerSession: 40,
    rooms: 16,
    longLineChars: 3000,
    sshEverySeconds: 2,
    seed: 1,
    waitMs: 5000,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  };
}

/**
 * Fits every node's series over the window; RSS, fds and heap only of the
 * node's last process.
 *
 * @param samples Every sample of the run.
 * @param ids Node ids.
 * @param windowStartSeconds Start of the judged window (s).
 * @param slope Allowances.
 * @param slack Extra growth allowed per metric (data directory in bytes, descriptors in count).
 * @returns One fit per node and metric that has samples.
 */
export function fitAll(
  samples: readonly SoakSample[],
  ids: readonly string[],
  windowStartSeconds: number,
  slope: SlopeOptions,
  slack: Partial<Record<(typeof METRICS)[number], number>>,
): SoakFit[] {
  const fits: SoakFit[] = [];
  for (const node of ids) {
    const own = samples.filter((s) => s.node === node);
    const lastPid = own.at(-1)?.pid;
    const restarted = new Set(own.map((s) => s.pid)).size > 1;
    for (const metric of METRICS) {
      // A restarted process starts its memory and descriptors from scratch; its data directory does not.
      const series = own.filter((s) =>
        s[metric] !== undefined && (metric === "dataBytes" || s.pid === lastPid)
      );
      if (series.length === 0) continue;
      const window = series.filter((s) => s.t >= windowStartSeconds);
      const fit = judgeSlope(
        window.map((s) => ({ t: s.t / 60, y: s[metric]! })),
        slack[metric] === undefined ? slope : { ...slope, absolute: slack[metric] },
      );
      fits.push({
        ...fit,
        node,
        metric,
        first: series[0]![metric]!,
        peak: Math.max(...window.map((s) => s[metric]!)),
        judged: JUDGED.has(metric),
        restarted,
      });
    }
  }
  // A restarted node's memory regrows to its working size from scratch (the
  // others took minutes to get there): rising but not past them is warm-up.
  return fits.map((fit) => {
    if (!fit.restarted || fit.verdict !== "growing") return fit;
    if (fit.metric !== "rssKiB" && fit.metric !== "heapBytes") return fit;
    const peers = fits.filter((f) => f.metric === fit.metric && !f.restarted);
    if (peers.length === 0) return fit;
    const ceiling = Math.max(...peers.map((p) => p.peak + p.allowance));
    return fit.peak <= ceiling ? { ...fit, verdict: "warming" as const } : fit;
  });
}

const METRIC_LABEL: Record<SoakFit["metric"], { name: string; unit: number; suffix: string }> = {
  rssKiB: { name: "RSS", unit: 1024, suffix: "MiB" },
  fds: { name: "fds", unit: 1, suffix: "" },
  dataBytes: { name: "data dir", unit: 1024 * 1024, suffix: "MiB" },
  heapBytes: { name: "heap", unit: 1024 * 1024, suffix: "MiB" },
  retainedEvents: { name: "events", unit: 1, suffix: "" },
  historyBytes: { name: "history", unit: 1024 * 1024, suffix: "MiB" },
  rooms: { name: "rooms", unit: 1, suffix: "" },
  presenceEntries: { name: "presence", unit: 1, suffix: "" },
  versionOrigins: { name: "vv origins", unit: 1, suffix: "" },
};

/**
 * Formats a soak result as a table with a summary.
 *
 * @param result The result.
 * @returns Printable lines.
 */
export function formatSoak(result: SoakResult): string {
  const c = result.counters;
  const f1 = (n: number) => n.toFixed(1);
  const lines = [
    `soak: ${result.seconds} s, 3 nodes, flags ${result.nodeArgs.join(" ")}`,
    `  ${result.workload.clients} client slots × ${result.workload.actionsPerSecond} actions/s, ` +
    `${result.workload.rooms} talk rooms, SSH every ${result.workload.sshEverySeconds} s`,
    `  ${c.sessions} sessions, ${c.nicks} nicks, ${c.messages} lines (${c.longLines} long), ` +
    `${c.privates} private, ${c.spamJoins} /join spam, ${c.nickChanges} /nick, ` +
    `${c.sshSessions} SSH sessions; ${c.errors} error answers, ${c.failures} failures`,
    `  budget (${result.history} lines in every talk room) reached at ${
      result.budgetReachedSeconds === null ? "never" : `${result.budgetReachedSeconds.toFixed(0)} s`
    }; window from ${result.windowStartSeconds.toFixed(0)} s`,
    `  kill -9: ${
      result.restart === null
        ? "none"
        : `at ${
          result.restart.killedAtSeconds.toFixed(0)
        } s, listening again ${result.restart.restartMs} ms after restart`
    }`,
    `  /stats: ${result.stats.note}`,
    "",
    `  ${"node".padEnd(5)}${"metric".padEnd(14)}${"first".padStart(9)}${"mean".padStart(9)}${
      "peak".padStart(9)
    }${"slope/min".padStart(11)}${"growth".padStart(9)}${"σ".padStart(8)}${
      "allowed".padStart(9)
    }  verdict`,
  ];
  for (const fit of result.fits) {
    const { name, unit, suffix } = METRIC_LABEL[fit.metric];
    const v = (n: number) => f1(n / unit);
    lines.push(
      `  ${fit.node.padEnd(5)}${`${name}${suffix ? ` ${suffix}` : ""}`.padEnd(14)}${
        v(fit.first).padStart(9)
      }${v(fit.mean).padStart(9)}${v(fit.peak).padStart(9)}${v(fit.slopePerMinute).padStart(11)}${
        v(fit.growth).padStart(9)
      }${v(fit.residualStdDev).padStart(8)}${v(fit.allowance).padStart(9)}  ${
        fit.judged ? fit.verdict : `(${fit.verdict}: shown, not judged)`
      }`,
    );
  }
  lines.push("", `verdict: ${result.verdict}`);
  return lines.join("\n");
}

/** Splits `--node-args "--a 1 --b 2"` into flags (no quoting: flags have no spaces). */
function splitFlags(text: string | undefined): string[] {
  return text === undefined ? [] : text.split(/\s+/).filter((a) => a !== "");
}

function numberFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new RangeError(`Invalid --${name} "${value}": use a non-negative number`);
  }
  return n;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      minutes: { type: "string" },
      seconds: { type: "string" },
      clients: { type: "string" },
      rate: { type: "string" },
      rooms: { type: "string" },
      history: { type: "string" },
      "session-actions": { type: "string" },
      "ssh-every": { type: "string" },
      "sample-seconds": { type: "string" },
      "kill-at": { type: "string" },
      seed: { type: "string" },
      relative: { type: "string" },
      noise: { type: "string" },
      "data-slack-mib": { type: "string" },
      "fd-slack": { type: "string" },
      "node-args": { type: "string" },
      out: { type: "string" },
      "no-stats": { type: "boolean" },
      "stats-every": { type: "string" },
      quiet: { type: "boolean" },
    },
  });
  const minutes = numberFlag(values.minutes, "minutes");
  const seconds = numberFlag(values.seconds, "seconds") ??
    (minutes === undefined ? undefined : minutes * 60);
  const out = values.out ?? "data/bench/soak.json";
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  const result = await runSoak(defined({
    seconds,
    history: numberFlag(values.history, "history"),
    nodeArgs: splitFlags(values["node-args"]),
    sampleSeconds: numberFlag(values["sample-seconds"], "sample-seconds"),
    killAtSeconds: numberFlag(values["kill-at"], "kill-at"),
    stats: !values["no-stats"],
    statsEvery: numberFlag(values["stats-every"], "stats-every"),
    dataSlackMiB: numberFlag(values["data-slack-mib"], "data-slack-mib"),
    fdSlack: numberFlag(values["fd-slack"], "fd-slack"),
    workload: defined({
      clients: numberFlag(values.clients, "clients"),
      actionsPerSecond: numberFlag(values.rate, "rate"),
      rooms: numberFlag(values.rooms, "rooms"),
      actionsPerSession: numberFlag(values["session-actions"], "session-actions"),
      sshEverySeconds: numberFlag(values["ssh-every"], "ssh-every"),
      seed: numberFlag(values.seed, "seed"),
    }),
    slope: defined({
      relativePerMinute: numberFlag(values.relative, "relative"),
      noiseFactor: numberFlag(values.noise, "noise"),
    }),
    log: values.quiet ? () => {} : (line: string) => console.log(line),
  }));
  console.log(formatSoak(result));
  await Deno.mkdir(out.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
  console.log(`wrote ${out}`);
  if (result.verdict !== "flat") Deno.exit(1);
}
