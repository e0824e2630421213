/**
 * The short chaos scenario: one fault of each kind under steady traffic on a
 * real 3-node cluster (the long one is `deno task chaos`).
 */
import assert from "node:assert/strict";
import { chaosFailures, formatReport, mulberry32, runChaos } from "./chaos/scenario.ts";

Deno.test("mulberry32() replays the same numbers for the same seed", () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const first = Array.from({ length: 5 }, a);
  assert.deepEqual(first, Array.from({ length: 5 }, b));
  assert.ok(first.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(first, Array.from({ length: 5 }, mulberry32(43)));
});

Deno.test("kill -9, SIGSTOP and a cut link under traffic lose and duplicate nothing acknowledged", async () => {
  const report = await runChaos({ faults: ["kill", "stop", "cut"], perSecond: 4, calmMs: 1500 });
  const table = formatReport(report);
  console.log(table);
  assert.deepEqual(chaosFailures(report), [], table);
  assert.ok(report.acked > 50, `only ${report.acked} acks\n${table}`);
  assert.equal(report.delivered, report.acked, table);
});
