/**
 * `deno task chaos [--seed N] [--scenario mixed|partition|large-events|nats]`:
 * chaos scenarios at full length on a 3-node cluster. Without `--scenario`
 * it runs `mixed`, then `partition`. Prints a table per scenario, writes
 * `data/bench/chaos.json` (`chaos-<scenario>.json` for the others), and
 * exits with 1 when a check fails.
 *
 * - `mixed`: kill -9 and SIGSTOP, shuffled, under short lines, on node
 *   processes (under two minutes).
 * - `partition`: one node's mesh links cut then healed, again and again,
 *   on in-process nodes meshed over the memory transport (the binary has
 *   no way to cut a link; see `chaos_cluster.ts`), under a minute.
 * - `large-events`: a node killed while the longest lines a node accepts
 *   flow; it restarts and catches up megabytes (see `LARGE_EVENTS_SCENARIO`).
 * - `nats`: `mixed` with the nodes replicating through a 3-server NATS
 *   JetStream cluster (`--nats`) instead of the mesh (needs `nats-server`).
 *
 * @module
 */
import {
  chaosFailures,
  type ChaosOptions,
  formatReport,
  LARGE_EVENTS_SCENARIO,
  runChaos,
} from "./scenario.ts";

/** The value of `--name V` or `--name=V`, or undefined. */
function flag(args: string[], name: string): string | undefined {
  const at = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (at === -1) return undefined;
  return args[at]!.includes("=") ? args[at]!.slice(name.length + 1) : args[at + 1];
}

function seedFlag(args: string[]): number | undefined {
  const raw = flag(args, "--seed");
  if (raw === undefined) return undefined;
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new RangeError(`Invalid --seed "${raw}": use an integer from 0 to 4294967295`);
  }
  return seed;
}

/**
 * Two senders per room, on different nodes; at 2.5 lines/s each a room stays
 * under the 500 lines `/history` shows.
 */
const STEADY_LOAD: ChaosOptions = { sendersPerNode: 2, rooms: 3, perSecond: 2.5, calmMs: 3000 };

const SCENARIOS: Record<string, { options: ChaosOptions; file: string }> = {
  mixed: {
    options: {
      ...STEADY_LOAD,
      faultCount: 8,
      faultKinds: ["kill", "stop"],
      // Bounds the run under two minutes even when every catch-up takes its longest.
      faultBudgetMs: 60_000,
      convergeWaitMs: 25_000,
    },
    file: "data/bench/chaos.json",
  },
  partition: {
    options: {
      ...STEADY_LOAD,
      faultCount: 4,
      faultKinds: ["cut"],
      faultBudgetMs: 30_000,
      convergeWaitMs: 25_000,
    },
    file: "data/bench/chaos-partition.json",
  },
  "large-events": {
    options: { ...LARGE_EVENTS_SCENARIO, convergeWaitMs: 25_000 },
    file: "data/bench/chaos-large-events.json",
  },
  nats: {
    options: {
      ...STEADY_LOAD,
      nats: true,
      faultCount: 8,
      faultKinds: ["kill", "stop"],
      faultBudgetMs: 60_000,
      convergeWaitMs: 25_000,
    },
    file: "data/bench/chaos-nats.json",
  },
};

/** Runs one scenario, writes its JSON, and says whether it passed. */
async function run(name: string, seed: number | undefined): Promise<boolean> {
  const scenario = SCENARIOS[name];
  if (scenario === undefined) {
    throw new RangeError(
      `Invalid --scenario "${name}": use ${Object.keys(SCENARIOS).join(" or ")}`,
    );
  }
  const report = await runChaos({
    ...scenario.options,
    ...(seed === undefined ? {} : { seed }),
    log: (line) => console.log(`chaos ${name}: ${line}`),
  });
  console.log(`\n${formatReport(report)}`);
  await Deno.mkdir("data/bench", { recursive: true });
  await Deno.writeTextFile(
    scenario.file,
    JSON.stringify({ scenario: name, ...report }, null, 2) + "\n",
  );
  const failures = chaosFailures(report);
  if (failures.length > 0) {
    console.error(
      `\nchaos ${name}: FAILED (replay with --scenario ${name} --seed ${report.seed}): ${
        failures.join("; ")
      }`,
    );
    return false;
  }
  console.log(`\nchaos ${name}: passed (${scenario.file})\n`);
  return true;
}

const chosen = flag(Deno.args, "--scenario");
const seed = seedFlag(Deno.args);
let passed = true;
for (const name of chosen === undefined ? ["mixed", "partition"] : [chosen]) {
  passed = await run(name, seed) && passed;
}
if (!passed) Deno.exit(1);
