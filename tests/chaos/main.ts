/**
 * `deno task chaos [--seed N] [--scenario mixed|large-events]`: a chaos
 * scenario at full length (under two minutes) on a real 3-node cluster.
 * Prints a table, writes `data/bench/chaos.json` (`chaos-large-events.json`
 * for that variant), and exits with 1 when a check fails.
 *
 * - `mixed` (the default): kill -9, SIGSTOP and cut links, shuffled, under
 *   short lines.
 * - `large-events`: a node killed while the longest lines a node accepts
 *   flow; it restarts and catches up megabytes (see `LARGE_EVENTS_SCENARIO`).
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

const SCENARIOS: Record<string, { options: ChaosOptions; file: string }> = {
  mixed: {
    options: {
      faultCount: 8,
      // Two senders per room, on different nodes; at 2.5 lines/s each a room stays under
      // the 500 lines `/history` shows.
      sendersPerNode: 2,
      rooms: 3,
      perSecond: 2.5,
      calmMs: 3000,
      // Bounds the run under two minutes even when every catch-up takes its longest.
      faultBudgetMs: 60_000,
      convergeWaitMs: 25_000,
    },
    file: "data/bench/chaos.json",
  },
  "large-events": {
    options: { ...LARGE_EVENTS_SCENARIO, convergeWaitMs: 25_000 },
    file: "data/bench/chaos-large-events.json",
  },
};

const name = flag(Deno.args, "--scenario") ?? "mixed";
const scenario = SCENARIOS[name];
if (scenario === undefined) {
  throw new RangeError(
    `Invalid --scenario "${name}": use ${Object.keys(SCENARIOS).join(" or ")}`,
  );
}
const seed = seedFlag(Deno.args);
const report = await runChaos({
  ...scenario.options,
  ...(seed === undefined ? {} : { seed }),
  log: (line) => console.log(`chaos: ${line}`),
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
    `\nchaos: FAILED (replay with --scenario ${name} --seed ${report.seed}): ${
      failures.join("; ")
    }`,
  );
  Deno.exit(1);
}
console.log(`\nchaos: passed (${scenario.file})`);
