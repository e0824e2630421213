/**
 * `deno task fuzz`: every decoder property with 100,000 runs (weights only
 * scale the shorter runs of `deno task test`), then a larger live-port round
 * against a real node. Prints runs/s per property and writes a summary to
 * `data/bench/fuzz.json`.
 *
 * ```sh
 * deno task fuzz                      # 100,000 runs, random seed
 * deno task fuzz --runs 5000 --seed 42
 * ```
 *
 * A counterexample prints its seed and path: add them to
 * `REGRESSION_SEEDS` in `regressions.ts` (and a minimal input to
 * `REGRESSION_CASES`).
 *
 * @module
 */
import { FUZZ_PROPERTIES } from "./properties.ts";
import { fuzzLivePorts, type LiveFuzzResult } from "./live_ports.ts";

interface PropertyResult {
  name: string;
  runs: number;
  seconds: number;
  runsPerSecond: number;
  ok: boolean;
  failure?: string;
}

function flag(name: string): number | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  if (i === -1) return undefined;
  const value = Number(Deno.args[i + 1]);
  if (!Number.isSafeInteger(value)) throw new RangeError(`Invalid --${name}: expected an integer`);
  return value;
}

const base = flag("runs") ?? 100_000;
const seed = flag("seed") ?? (Date.now() % 2 ** 31);

console.log(`fuzz: ${FUZZ_PROPERTIES.length} properties, base ${base} runs, seed ${seed}`);
const results: PropertyResult[] = [];
const started = performance.now();
for (const property of FUZZ_PROPERTIES) {
  const runs = base;
  const t0 = performance.now();
  let failure: string | undefined;
  try {
    await property.run({ numRuns: runs, seed });
  } catch (error) {
    failure = String(error).replace(/(\d+,){40,}/g, "…,").slice(0, 4000);
  }
  const seconds = (performance.now() - t0) / 1000;
  const result: PropertyResult = {
    name: property.name,
    runs,
    seconds: Math.round(seconds * 10) / 10,
    runsPerSecond: Math.round(runs / seconds),
    ok: failure === undefined,
    ...(failure === undefined ? {} : { failure }),
  };
  results.push(result);
  console.log(
    `${result.ok ? "ok  " : "FAIL"} ${String(runs).padStart(7)} runs ${
      String(result.seconds).padStart(6)
    } s ${String(result.runsPerSecond).padStart(8)}/s  ${property.name}`,
  );
  if (failure) console.log(failure);
}

console.log("live ports: 1000 connections per port, 60 s budget");
let live: Omit<LiveFuzzResult, "log"> | { error: string };
try {
  const { log: _log, ...rest } = await fuzzLivePorts({
    seed,
    connectionsPerPort: 1000,
    budgetMs: 60_000,
  });
  live = rest;
  console.log(JSON.stringify(live));
} catch (error) {
  live = { error: String(error).slice(0, 4000) };
  console.log(`FAIL live ports: ${live.error}`);
}

const summary = {
  date: new Date().toISOString(),
  seed,
  baseRuns: base,
  totalSeconds: Math.round((performance.now() - started) / 1000),
  totalRuns: results.reduce((n, r) => n + r.runs, 0),
  properties: results,
  live,
};
await Deno.mkdir("./data/bench", { recursive: true });
await Deno.writeTextFile("./data/bench/fuzz.json", JSON.stringify(summary, null, 2) + "\n");
console.log(`wrote data/bench/fuzz.json (${summary.totalRuns} runs in ${summary.totalSeconds} s)`);
const failed = results.some((r) => !r.ok) || "error" in live;
if (failed) Deno.exit(1);
