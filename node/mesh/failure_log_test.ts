import assert from "node:assert/strict";
import { FailureLog } from "./failure_log.ts";

Deno.test("FailureLog.shouldLog() says yes once per address per minute", () => {
  let now = 1_000_000;
  const log = new FailureLog({ now: () => now });
  assert.equal(log.shouldLog("203.0.113.9"), true);
  assert.equal(log.shouldLog("203.0.113.9"), false);
  assert.equal(log.shouldLog("198.51.100.7"), true);
  now += 59_999;
  assert.equal(log.shouldLog("203.0.113.9"), false);
  now += 1;
  assert.equal(log.shouldLog("203.0.113.9"), true);
  assert.equal(log.shouldLog("203.0.113.9"), false);
  assert.equal(log.takeSuppressed(), 3);
  assert.equal(log.takeSuppressed(), 0);
});

Deno.test("FailureLog keeps at most maxAddresses and counts what it does not log", () => {
  let now = 0;
  const log = new FailureLog({ maxAddresses: 3, now: () => now });
  for (let i = 0; i < 1000; i++) log.shouldLog(`10.0.${i >> 8}.${i & 255}`);
  assert.equal(log.size, 3);
  assert.equal(log.takeSuppressed(), 997);
  // A full log still refuses repeats and new addresses until entries expire.
  assert.equal(log.shouldLog("10.0.0.0"), false);
  assert.equal(log.shouldLog("192.0.2.1"), false);
  now += 60_000;
  assert.equal(log.shouldLog("192.0.2.1"), true);
  assert.equal(log.size, 1);
  assert.throws(() => new FailureLog({ maxAddresses: 0 }), RangeError);
  assert.throws(() => new FailureLog({ intervalMs: -1 }), RangeError);
});
