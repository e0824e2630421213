import assert from "node:assert/strict";
import { RestartBackoff } from "./restart_backoff.ts";

Deno.test("RestartBackoff.next() doubles the delay up to the maximum for a node that keeps dying quickly", () => {
  const backoff = new RestartBackoff();
  const delays = Array.from({ length: 6 }, () => backoff.next({ ranMs: 2000, started: true }));
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 10_000, 10_000]);
});

Deno.test("RestartBackoff.next() starts over after a node that ran long enough to count as healthy", () => {
  const backoff = new RestartBackoff();
  backoff.next({ ranMs: 100, started: true });
  backoff.next({ ranMs: 100, started: true });
  assert.equal(backoff.next({ ranMs: 100, started: true }), 4000);
  assert.equal(backoff.next({ ranMs: 60_000, started: true }), 1000);
});

Deno.test("RestartBackoff.next() gives up after three starts in a row that never listened", () => {
  const backoff = new RestartBackoff();
  assert.equal(backoff.next({ ranMs: 300, started: false }), 1000);
  assert.equal(backoff.next({ ranMs: 300, started: false }), 2000);
  assert.equal(backoff.next({ ranMs: 300, started: false }), undefined);
  assert.equal(backoff.failedStarts, 3);
});

Deno.test("RestartBackoff.next() counts failed starts only while they are in a row", () => {
  const backoff = new RestartBackoff({ maxFailedStarts: 2 });
  assert.notEqual(backoff.next({ ranMs: 300, started: false }), undefined);
  assert.notEqual(backoff.next({ ranMs: 5000, started: true }), undefined);
  assert.notEqual(backoff.next({ ranMs: 300, started: false }), undefined);
  assert.equal(backoff.next({ ranMs: 300, started: false }), undefined);
});

Deno.test("RestartBackoff rejects delays and counts that make no sense", () => {
  assert.throws(() => new RestartBackoff({ initialMs: 5000, maxMs: 1000 }), RangeError);
  assert.throws(() => new RestartBackoff({ initialMs: -1 }), RangeError);
  assert.throws(() => new RestartBackoff({ maxFailedStarts: 0 }), RangeError);
});
