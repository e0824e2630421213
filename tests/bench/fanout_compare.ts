/**
 * meshchat beside the servers people would pick instead, in one run: the
 * shared fan-out harness (`../shared/bench/fanout`, see its README) runs
 * Redis, NATS, ngIRCd, InspIRCd, a bare Node broadcast server and meshchat
 * (over its mesh, and as `meshchat-nats` over a NATS JetStream cluster) with
 * the same client process, message size and counts. This script copies
 * the harness into `data/bench/fanout/harness` with this project's meshchat
 * launcher (tests/bench/fanout/meshchat.mjs), runs every scenario the
 * performance goals name, prints the medians and writes them, with the
 * derived figures, to `data/bench/fanout.json`.
 *
 * ```sh
 * apt-get install -y redis-server nats-server ngircd inspircd   # the anchors
 * deno task bench:compare                   # 3 rounds (about 15 minutes)
 * deno task bench:compare --rounds 1 --only meshchat
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { toMsgFrame } from "../../core/protocol.ts";
import { encodeFrame } from "../../core/ndjson.ts";

/** One scenario: the harness's arguments and environment. */
interface Scenario {
  readonly name: string;
  readonly receivers: number;
  readonly messages: number;
  /** Paced sender, messages/s; 0 = full speed. */
  readonly rate: number;
  readonly modes: "single" | "cluster" | "both";
  /** Nodes of a meshchat cluster (the anchors' clusters are 3). */
  readonly nodes?: number;
  /** Only meshchat (the growth runs). */
  readonly meshchatOnly?: boolean;
}

/** The medians of one (target, mode) over the rounds. */
export interface FanoutRow {
  readonly target: string;
  readonly mode: string;
  readonly nodes: number;
  readonly runs: number;
  readonly ok: number;
  readonly deliveriesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly serverCpuMs: number;
  readonly clientCpuMs: number;
  /** Sum over the rounds. */
  readonly lost: number;
}

const SCENARIOS: readonly Scenario[] = [
  { name: "full speed, R=100", receivers: 100, messages: 2000, rate: 0, modes: "both" },
  { name: "full speed, R=500", receivers: 500, messages: 2000, rate: 0, modes: "single" },
  { name: "paced 1,000 msg/s, R=100", receivers: 100, messages: 3000, rate: 1000, modes: "both" },
  ...[5, 7].flatMap((nodes) => [
    {
      name: `growth: ${nodes} nodes, full speed`,
      receivers: 100,
      messages: 2000,
      rate: 0,
      modes: "cluster" as const,
      nodes,
      meshchatOnly: true,
    },
    {
      name: `growth: ${nodes} nodes, paced 1,000 msg/s`,
      receivers: 100,
      messages: 3000,
      rate: 1000,
      modes: "cluster" as const,
      nodes,
      meshchatOnly: true,
    },
  ]),
];

const ANCHORS: Record<string, string> = {
  redis: "redis-server",
  nats: "nats-server",
  "meshchat-nats": "nats-server",
  ngircd: "ngircd",
  inspircd: "inspircd",
};

const OUT = "data/bench/fanout";

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "inherit" })
    .output();
  return { ok: out.success, text: new TextDecoder().decode(out.stdout) };
}

async function installed(program: string): Promise<boolean> {
  return (await run("bash", ["-c", `command -v ${program}`])).ok;
}

/**
 * Bytes of one delivered `msg` frame carrying the harness's ~100-byte
 * payload, encoded by the node's own encoder (every receiver reads them).
 */
export function msgFrameBytes(payloadBytes = 100): number {
  const text = `M|1999|1764816000123456|`.padEnd(payloadBytes, "x");
  const event = {
    origin: "b1.1",
    seq: 12_345,
    hlc: { wall: 1_764_816_000_123, counter: 0, node: "b1" },
    room: "bench",
    kind: "message" as const,
    from: "snd",
    text,
  };
  return encodeFrame(toMsgFrame(event)).length;
}

/** Copies the harness and puts this project's launcher in place of its own. */
async function prepareHarness(source: string): Promise<string> {
  const copy = `${OUT}/harness`;
  const script =
    `rm -rf "$2" && mkdir -p "$(dirname "$2")" && cp -r "$1" "$2" && rm -rf "$2/run" "$2/results" && cp tests/bench/fanout/meshchat.mjs "$2/servers/meshchat.mjs"`;
  const copied = await run("bash", ["-c", script, "copy", source, copy]);
  if (!copied.ok) {
    throw new Error(`Cannot copy the fan-out harness from ${source}: pass --harness DIR`);
  }
  return copy;
}

/** Parses the harness's `key=value` result lines. */
function parseLines(text: string): Record<string, string>[] {
  return text.split("\n").filter((line) => line.startsWith("target=")).map((line) => {
    const fields: Record<string, string> = {};
    for (const match of line.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
      fields[match[1]!] = match[2]!.startsWith('"') ? JSON.parse(match[2]!) : match[2]!;
    }
    return fields;
  });
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summarize(lines: Record<string, string>[], nodes: number): FanoutRow[] {
  const groups = new Map<string, Record<string, string>[]>();
  for (const line of lines) {
    const key = `${line.target}|${line.mode}`;
    groups.set(key, [...(groups.get(key) ?? []), line]);
  }
  return [...groups].map(([key, runs]) => {
    const [target, mode] = key.split("|") as [string, string];
    const ok = runs.filter((r) => r.status === "complete" || r.status === "idle");
    const med = (field: string) => median(ok.map((r) => Number(r[field])));
    return {
      target,
      mode,
      nodes: mode === "single" ? 1 : target.startsWith("meshchat") ? nodes : 3,
      runs: runs.length,
      ok: ok.length,
      deliveriesPerSecond: Math.round(med("deliveries_per_s")),
      p50Ms: med("p50_ms"),
      p99Ms: med("p99_ms"),
      serverCpuMs: med("srv_cpu_ms"),
      clientCpuMs: med("cli_cpu_ms"),
      lost: ok.reduce((sum, r) => sum + Number(r.lost ?? 0), 0),
    };
  });
}

async function runScenario(
  harness: string,
  scenario: Scenario,
  targets: string[],
  rounds: number,
): Promise<FanoutRow[]> {
  const lines: Record<string, string>[] = [];
  const env = {
    MESHCHAT_DIR: Deno.cwd(),
    FB_OUT: `${Deno.cwd()}/${OUT}`,
    RATE: String(scenario.rate),
    MESHCHAT_NODES: String(scenario.nodes ?? 3),
  };
  const wanted = scenario.meshchatOnly ? targets.filter((t) => t.startsWith("meshchat")) : targets;
  for (let round = 0; round < rounds; round++) {
    for (const target of wanted) {
      // meshchat-nats is the harness's meshchat target with its launcher told to use NATS.
      const overNats = target === "meshchat-nats";
      const args = [
        `${harness}/run.sh`,
        overNats ? "meshchat" : target,
        String(scenario.receivers),
        String(scenario.messages),
        scenario.modes,
      ];
      const result = await run(
        "bash",
        args,
        overNats ? { ...env, MESHCHAT_REPLICATION: "nats" } : env,
      );
      const parsed = parseLines(result.text).map((line): Record<string, string> => ({
        ...line,
        target,
      }));
      for (const line of parsed) {
        console.log(
          `  ${scenario.name} round ${round + 1}: ${target} ${line.mode} ${
            line.status === "complete"
              ? `${line.deliveries_per_s}/s p99 ${line.p99_ms} ms cpu ${line.srv_cpu_ms} ms`
              : `${line.status} ${line.error ?? ""}`
          }`,
        );
      }
      lines.push(...parsed);
    }
  }
  return summarize(lines, scenario.nodes ?? 3);
}

/** Figures the goals are stated in, from one scenario's rows. */
function derived(rows: readonly FanoutRow[], scenario: Scenario): Record<string, number> {
  const { messages, receivers } = scenario;
  const find = (target: string, mode: string) =>
    rows.find((r) => r.target === target && r.mode === mode);
  const out: Record<string, number> = {};
  for (const row of rows) {
    out[`${row.target}_${row.mode}_cpu_ns_per_delivery`] = Math.round(
      row.serverCpuMs * 1e6 / (messages * receivers),
    );
  }
  for (const target of ["meshchat", "meshchat-nats", "nats", "redis", "ngircd", "inspircd"]) {
    const single = find(target, "single");
    const cluster = find(target, "cluster");
    if (!single || !cluster) continue;
    out[`${target}_cluster_cpu_ratio`] = Number(
      (cluster.serverCpuMs / single.serverCpuMs).toFixed(2),
    );
    // (cluster CPU − single CPU) / messages / receiving nodes, as the goal is stated.
    out[`${target}_link_us_per_msg_per_receiving_node`] = Math.round(
      (cluster.serverCpuMs - single.serverCpuMs) * 1000 / messages / (cluster.nodes - 1),
    );
  }
  return out;
}

function table(name: string, rows: readonly FanoutRow[]): string {
  const head =
    "| target | mode | nodes | ok/runs | deliveries/s | p50 ms | p99 ms | server CPU ms | lost |";
  const body = rows.map((r) =>
    `| ${r.target} | ${r.mode} | ${r.nodes} | ${r.ok}/${r.runs} | ${
      r.deliveriesPerSecond.toLocaleString("en")
    } | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.serverCpuMs} | ${r.lost} |`
  );
  return [`### ${name}`, "", head, "|---|---|---|---|---|---|---|---|---|", ...body].join("\n");
}

/**
 * Runs the comparison and writes `data/bench/fanout.json`.
 *
 * @param options Harness folder, rounds and targets.
 * @returns The scenarios with their rows and derived figures.
 */
export async function compareWithAnchors(options: {
  harness: string;
  rounds: number;
  only?: string;
}) {
  const targets = ["redis", "nats", "ngircd", "inspircd", "nodetcp", "meshchat", "meshchat-nats"]
    .filter((t) => options.only === undefined || options.only.split(",").includes(t));
  const missing: string[] = [];
  for (const target of targets) {
    const program = ANCHORS[target];
    if (program !== undefined && !await installed(program)) missing.push(target);
  }
  if (missing.length > 0) {
    console.log(
      `fan-out comparison: ${missing.join(", ")} not installed, left out ` +
        "(apt-get install -y redis-server nats-server ngircd inspircd)",
    );
  }
  const present = targets.filter((t) => !missing.includes(t));
  const harness = await prepareHarness(options.harness);
  const results = [];
  for (const scenario of SCENARIOS) {
    const rows = await runScenario(harness, scenario, present, options.rounds);
    console.log(`\n${table(scenario.name, rows)}\n`);
    results.push({ ...scenario, rows, derived: derived(rows, scenario) });
  }
  const frameBytes = msgFrameBytes();
  console.log(`one delivered msg frame with a 100-byte payload: ${frameBytes} bytes`);
  const report = {
    when: new Date().toISOString(),
    rounds: options.rounds,
    msgFrameBytes: frameBytes,
    scenarios: results,
  };
  await Deno.writeTextFile("data/bench/fanout.json", JSON.stringify(report, null, 2));
  console.log("fan-out comparison written to data/bench/fanout.json");
  return report;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      harness: { type: "string", default: "../shared/bench/fanout" },
      rounds: { type: "string", default: "3" },
      only: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno task bench:compare [--rounds N] [--only meshchat,meshchat-nats,nats,...] [--harness DIR]",
    );
    Deno.exit(0);
  }
  await compareWithAnchors({
    harness: values.harness,
    rounds: Number(values.rounds),
    ...(values.only === undefined ? {} : { only: values.only }),
  });
}
