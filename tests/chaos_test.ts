/**
 * The short chaos scenario: one fault of each kind under steady traffic on a
 * real 3-node cluster (the long one is `deno task chaos`).
 */
import assert from "node:assert/strict";
import { chaosFailures, formatReport, LARGE_EVENTS_SCENARIO, runChaos } from "./chaos/scenario.ts";
import { seededRandom } from "./helpers/memory_network.ts";

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

Deno.test("a node killed while the longest lines flow catches up megabytes in frames, losing nothing", async () => {
  const report = await runChaos({ ...LARGE_EVENTS_SCENARIO, faults: ["kill"] });
  const table = formatReport(report);
  console.log(table);
  assert.deepEqual(chaosFailures(report), [], table);
  assert.equal(report.delivered, report.acked, table);
  // The scenario is only a test if the backlog needed more than one 1 MiB frame.
  const backlog = report.faults[0]!.ackedDuring * report.lineBytes;
  assert.ok(backlog > 1 << 20, `backlog of only ${backlog} bytes\n${table}`);
});
