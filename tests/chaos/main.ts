/**
 * `deno task chaos [--seed N]`: the chaos scenario at full length (under two
 * minutes) on a real 3-node cluster. Prints a table, writes
 * `data/bench/chaos.json`, and exits with 1 when a check fails.
 *
 * @module
 */
import { chaosFailures, formatReport, runChaos } from "./scenario.ts";

function seedFlag(args: string[]): number | undefined {
  const at = args.findIndex((a) => a === "--seed" || a.startsWith("--seed="));
  if (at === -1) return undefined;
  const raw = args[at]!.includes("=") ? args[at]!.split("=")[1] : args[at + 1];
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new RangeError(`Invalid --seed "${raw}": use an integer from 0 to 4294967295`);
  }
  return seed;
}

const seed = seedFlag(Deno.args);
const report = await runChaos({
  ...(seed === undefined ? {} : { seed }),
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
  log: (line) => console.log(`chaos: ${line}`),
});
console.log(`\n${formatReport(report)}`);
await Deno.mkdir("data/bench", { recursive: true });
await Deno.writeTextFile("data/bench/chaos.json", JSON.stringify(report, null, 2) + "\n");
const failures = chaosFailures(report);
if (failures.length > 0) {
  console.error(`\nchaos: FAILED (replay with --seed ${report.seed}): ${failures.join("; ")}`);
  Deno.exit(1);
}
console.log(`\nchaos: passed (data/bench/chaos.json)`);
