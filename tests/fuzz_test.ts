/**
 * Fuzzing in `deno task test`: every decoder property with a few thousand
 * runs, the kept regressions, and a bounded live-port fuzzer against a real
 * node. `deno task fuzz` (tests/fuzz/main.ts) runs the properties with
 * 100,000+ runs each.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FUZZ_PROPERTIES, runsFor } from "./fuzz/properties.ts";
import { REGRESSION_CASES, REGRESSION_SEEDS } from "./fuzz/regressions.ts";
import { fuzzLivePorts } from "./fuzz/live_ports.ts";

/** Runs of a weight-1 property here; `deno task fuzz` uses 100,000. */
const BASE_RUNS = 3000;

for (const property of FUZZ_PROPERTIES) {
  const runs = runsFor(property, BASE_RUNS);
  Deno.test(`fuzz: ${property.name} (${runs} runs)`, async () => {
    await property.run({ numRuns: runs });
  });
}

for (const regression of REGRESSION_CASES) {
  Deno.test(`fuzz regression: ${regression.name}`, () => regression.run());
}

for (const { property, seed, path, note } of REGRESSION_SEEDS) {
  Deno.test(`fuzz seed ${seed} replays: ${note}`, async () => {
    const found = FUZZ_PROPERTIES.find((p) => p.name === property);
    assert.ok(found, `no property named ${property}`);
    // Replays every case up to the failing one (the path's first step is its
    // index), so the seed still covers it after the arbitraries shrink differently.
    const index = Number(path.split(":")[0]);
    await found.run({ numRuns: index + 1, seed });
  });
}

Deno.test({
  name:
    "fuzz: a node survives random and mutated bytes on its client port, mesh port and WebSocket and keeps serving",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // Fixed, so a failure replays; `deno task fuzz` runs other seeds.
    const seed = 20_261_122;
    const result = await fuzzLivePorts({ seed, connectionsPerPort: 1000, budgetMs: 15_000 });
    const context = `seed ${seed}: ${JSON.stringify({ ...result, log: undefined })}\n${
      result.log.slice(-3000)
    }`;
    assert.ok(result.alive, `node died; ${context}`);
    const { client, mesh, ws } = result.connections;
    assert.ok(client >= 50 && mesh >= 50 && ws >= 50, context);
    assert.ok(result.control.delivered >= 5, `control chat starved; ${context}`);
    assert.ok(
      result.worstLatencyMs < 2000,
      `control latency ${result.worstLatencyMs} ms; ${context}`,
    );
    assert.ok(
      result.afterLatencyMs < 1000,
      `latency after ${result.afterLatencyMs} ms; ${context}`,
    );
    if (Number.isFinite(result.rssKiB.before) && Number.isFinite(result.rssKiB.after)) {
      const grown = (result.rssKiB.after - result.rssKiB.before) / 1024;
      assert.ok(grown < 100, `node RSS grew ${grown.toFixed(1)} MB; ${context}`);
    }
    assert.doesNotMatch(result.log, /Uncaught|panicked/, context);
    console.log(
      `live fuzz seed ${seed}: ${client}+${mesh}+${ws} connections (client, mesh, ws), ` +
        `${(result.bytesSent / 1e6).toFixed(1)} MB in ${result.elapsedMs} ms, ` +
        `${result.control.delivered} control messages (worst ${result.worstLatencyMs} ms), ` +
        `RSS ${result.rssKiB.before} → ${result.rssKiB.after} KiB`,
    );
  },
});
