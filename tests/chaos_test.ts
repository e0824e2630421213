/**
 * The short chaos scenario: one fault of each kind under steady traffic on a
 * real 3-node cluster (the long one is `deno task chaos`).
 */
import assert from "node:assert/strict";
import { chaosFailures, formatReport, runChaos } from "./chaos/scenario.ts";
import { seededRandom } from "../node/memory_network.ts";

Deno.test("seededRandom() replays the same numbers for the same seed", () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const first = Array.from({ length: 5 }, a);
  assert.deepEqual(first, Array.from({ length: 5 }, b));
  assert.ok(first.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(first, Array.from({ length: 5 }, seededRandom(43)));
});

Deno.test("kill -9, SIGSTOP and a cut link under traffic lose and duplicate nothing acknowledged", async () => {
  const report = await runChaos({ faults: ["kill", "stop", "cut"], perSecond: 4, calmMs: 1500 });
  const table = formatReport(report);
  console.log(table);
  assert.deepEqual(chaosFailures(report), [], table);
  assert.ok(report.acked > 50, `only ${report.acked} acks\n${table}`);
  assert.equal(report.delivered, report.acked, table);
});
