/**
 * The soak benchmark in brief: the flatness criterion on known series, then
 * a 60 s soak of a real 3-node cluster (churning clients, long lines,
 * private messages, `/join` spam, `/nick` churn, SSH sessions, one kill -9
 * and restart) whose RSS, descriptors and data directories must be flat over
 * the second half once every room holds its `--history 64`.
 *
 * The soak runs as its own process: sampling needs `ps` and `ls`, which the
 * test permissions do not grant. Its allowances are generous (25 %/min, three
 * residual standard deviations, and 4 MiB for the data directory, whose
 * journal is still filling) because a fresh node's heap is still growing
 * into its working size 30 s in, and a loaded 2-core machine must pass: it
 * catches descriptor leaks (one per session would be ~40 over the window)
 * and gross memory growth. The full `deno task soak` judges at 2 %/min.
 */
import assert from "node:assert/strict";
import { judgeSlope } from "./bench/soak_slope.ts";
import { parseStats } from "./bench/soak_probe.ts";
import type { SoakResult } from "./bench/soak.ts";

Deno.test("judgeSlope() calls a steady leak growing and a noisy plateau flat", () => {
  // A sawtooth around 100 with no trend, and the same plus 5 units a minute.
  const plateau = Array.from({ length: 40 }, (_, i) => ({ t: i / 4, y: 100 + (i % 4) * 2 }));
  const leak = plateau.map((p) => ({ t: p.t, y: p.y + 5 * p.t }));
  assert.equal(judgeSlope(plateau).verdict, "flat");
  const fit = judgeSlope(leak);
  assert.equal(fit.verdict, "growing");
  assert.ok(Math.abs(fit.slopePerMinute - 5) < 0.5, `slope ${fit.slopePerMinute}`);
  // Falling is never growing; too few samples give no verdict.
  assert.equal(judgeSlope(plateau.map((p) => ({ t: p.t, y: 200 - p.t }))).verdict, "flat");
  assert.equal(judgeSlope(leak.slice(0, 3)).verdict, "inconclusive");
  // Within the relative allowance (1 %/min of ~100 < 2 %/min): flat.
  assert.equal(judgeSlope(plateau.map((p) => ({ t: p.t, y: p.y + p.t }))).verdict, "flat");
});

Deno.test("parseStats() reads the figures of a /stats answer and leaves out what is absent", () => {
  const answer = [
    "Node n1:",
    "  retained events: 1,234 (1.5 MB of history)",
    "  rooms: 17",
    "  version vector: 3 origins, 0 out-of-order seqs",
    "  sessions: 20, presence entries: 61",
  ].join("\n");
  assert.deepEqual(parseStats(answer), {
    retainedEvents: 1234,
    historyBytes: 1.5 * 1024 * 1024,
    rooms: 17,
    versionOrigins: 3,
    presenceEntries: 61,
  });
  assert.deepEqual(parseStats(`${answer}\n  heap used: 40 MB`).heapBytes, 40 * 1024 * 1024);
  assert.deepEqual(parseStats("Unknown command: /stats"), {});
});

/** Flags of the 60 s soak: small rooms so the budget is reached in seconds. */
const SHORT_SOAK = [
  "--seconds",
  "60",
  "--clients",
  "16",
  "--rate",
  "3",
  "--rooms",
  "4",
  "--history",
  "64",
  "--sample-seconds",
  "2",
  "--kill-at",
  "5",
  "--ssh-every",
  "3",
  "--stats-every",
  "5",
  "--relative",
  "0.25",
  "--noise",
  "3",
  // Deno KV's journal (SQLite's WAL) fills to about 4 MiB before it is reused.
  "--data-slack-mib",
  "4",
  // 16 client slots and SSH sessions come and go: descriptors move by that many.
  "--fd-slack",
  "20",
];

Deno.test({
  name: "A 60 s soak with churn, SSH sessions and a kill -9 stays flat once the history is full",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const out = `./data/tmp/soak-test-${crypto.randomUUID().slice(0, 8)}.json`;
    const child = new Deno.Command("deno", {
      args: [
        "run",
        "--quiet",
        "--allow-net=127.0.0.1,localhost",
        "--allow-read=.",
        "--allow-write=./data",
        "--allow-run=deno,ps,ls",
        "tests/bench/soak.ts",
        ...SHORT_SOAK,
        "--out",
        out,
        "--quiet",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // The soak bounds itself; this bounds a soak that hangs anyway.
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    try {
      const { stdout, stderr } = await child.output();
      const printed = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
      let result: SoakResult;
      try {
        result = JSON.parse(await Deno.readTextFile(out));
      } catch (error) {
        throw new Error(`Soak wrote no result:\n${printed}`, { cause: error });
      }
      const c = result.counters;
      assert.ok(c.sessions >= 30 && c.nicks >= 100 && c.messages >= 500, printed);
      assert.ok(c.longLines > 0 && c.privates > 0 && c.spamJoins > 0 && c.nickChanges > 0, printed);
      assert.ok(c.sshSessions > 0, printed);
      assert.notEqual(result.restart, null, printed);
      assert.ok(result.budgetReachedSeconds !== null, `budget never reached:\n${printed}`);
      const metrics = new Set(result.fits.map((f) => f.metric));
      for (const metric of ["rssKiB", "fds", "dataBytes"] as const) {
        assert.ok(metrics.has(metric), `no ${metric} samples:\n${printed}`);
      }
      assert.equal(result.verdict, "flat", printed);
    } finally {
      clearTimeout(timer);
      await Deno.remove(out).catch(() => {});
    }
  },
});
