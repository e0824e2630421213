/**
 * The short chaos scenarios: kill -9 and SIGSTOP under steady traffic on
 * node processes, and cut links on in-process nodes meshed over the memory
 * transport (the long ones are `deno task chaos`).
 */
import assert from "node:assert/strict";
import {
  chaosFailures,
  type FaultKind,
  formatReport,
  LARGE_EVENTS_SCENARIO,
  runChaos,
} from "./chaos/scenario.ts";
import { seededRandom } from "./helpers/memory_network.ts";
import { hasNatsServer } from "./helpers/nats_servers.ts";

Deno.test("seededRandom() replays the same numbers for the same seed", () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const first = Array.from({ length: 5 }, a);
  assert.deepEqual(first, Array.from({ length: 5 }, b));
  assert.ok(first.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(first, Array.from({ length: 5 }, seededRandom(43)));
});

for (const faults of [["kill", "stop"], ["cut", "cut"]] satisfies FaultKind[][]) {
  const what = faults[0] === "cut" ? "cut links, on in-process nodes," : "kill -9 and SIGSTOP";
  Deno.test(`${what} under traffic lose and duplicate nothing acknowledged`, async () => {
    const report = await runChaos({ faults, perSecond: 4, calmMs: 1500 });
    const table = formatReport(report);
    console.log(table);
    assert.deepEqual(chaosFailures(report), [], table);
    assert.ok(report.acked > 50, `only ${report.acked} acks\n${table}`);
    assert.equal(report.delivered, report.acked, table);
    // A fault only tests something if lines were acknowledged while it lasted,
    // and a cut only if the cut-off node missed some of them.
    for (const fault of report.faults) {
      assert.ok(fault.ackedDuring > 0, table);
      if (fault.kind === "cut") assert.ok(fault.behindAtHeal! > 0, JSON.stringify(fault));
    }
  });
}

Deno.test({
  name:
    "kill -9 and SIGSTOP under traffic, nodes replicating over NATS JetStream, lose and duplicate nothing acknowledged",
  ignore: !hasNatsServer(),
  fn: async () => {
    const report = await runChaos({
      faults: ["kill", "stop"],
      perSecond: 4,
      calmMs: 1500,
      nats: true,
    });
    const table = formatReport(report);
    console.log(table);
    assert.deepEqual(chaosFailures(report), [], table);
    assert.ok(report.acked > 50, `only ${report.acked} acks\n${table}`);
    assert.equal(report.delivered, report.acked, table);
    for (const fault of report.faults) assert.ok(fault.ackedDuring > 0, table);
  },
});

Deno.test("runChaos() refuses to mix cuts with kill or stop in one run", async () => {
  await assert.rejects(runChaos({ faults: ["kill", "cut"] }), RangeError);
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
