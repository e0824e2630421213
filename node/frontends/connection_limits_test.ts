import assert from "node:assert/strict";
import { type Admission, ConnectionLimits } from "./connection_limits.ts";

function code(admission: Admission): string {
  return admission.ok ? "ok" : admission.refusal.code;
}

Deno.test("ConnectionLimits.admit() counts per address and in total, and release() frees once", () => {
  const limits = new ConnectionLimits({ maxPerAddress: 2, maxTotal: 3, now: () => 0 });
  const a1 = limits.admit("192.0.2.1");
  const a2 = limits.admit("192.0.2.1");
  assert.equal(code(limits.admit("192.0.2.1")), "too_many_connections");
  const b1 = limits.admit("192.0.2.2");
  assert.equal(code(limits.admit("192.0.2.3")), "server_full");
  assert.equal(limits.total, 3);
  if (!a1.ok || !a2.ok || !b1.ok) throw new Error("not admitted");
  a1.release();
  a1.release();
  assert.equal(limits.openFrom("192.0.2.1"), 1);
  assert.equal(limits.total, 2);
  assert.equal(code(limits.admit("192.0.2.3")), "ok");
});

Deno.test("ConnectionLimits counts IPv6 addresses per /64 and IPv4-mapped ones as IPv4", () => {
  const limits = new ConnectionLimits({ maxPerAddress: 1, now: () => 0 });
  assert.equal(code(limits.admit("2001:db8::1")), "ok");
  assert.equal(code(limits.admit("2001:db8::2")), "too_many_connections");
  assert.equal(code(limits.admit("198.51.100.7")), "ok");
  assert.equal(code(limits.admit("::ffff:198.51.100.7")), "too_many_connections");
});

Deno.test("ConnectionLimits refuses a repeat offender for the cool-off, then forgives", () => {
  let now = 0;
  const limits = new ConnectionLimits({
    maxOffences: 3,
    offenceWindowMs: 10_000,
    coolOffMs: 5000,
    now: () => now,
  });
  assert.equal(limits.offend("192.0.2.1"), false);
  now = 11_000; // the first offence is out of the window
  assert.equal(limits.offend("192.0.2.1"), false);
  assert.equal(limits.offend("192.0.2.1"), false);
  assert.equal(limits.offend("192.0.2.1"), true);
  const refused = limits.admit("192.0.2.1");
  assert.equal(code(refused), "refused");
  assert.match(
    refused.ok ? "" : refused.refusal.message,
    /too many violations from 192\.0\.2\.1, try again in 5 s/,
  );
  assert.equal(code(limits.admit("192.0.2.2")), "ok");
  now = 14_500;
  assert.equal(limits.refusedForMs("192.0.2.1"), 1500);
  assert.equal(limits.refusedForMs("192.0.2.2"), 0);
  now = 16_000;
  assert.equal(limits.isRefused("192.0.2.1"), false);
  assert.equal(limits.refusedForMs("192.0.2.1"), 0);
  assert.equal(code(limits.admit("192.0.2.1")), "ok");
});

Deno.test("ConnectionLimits forgets the least recently offending address when full", () => {
  const limits = new ConnectionLimits({ maxOffences: 1, maxTrackedAddresses: 2, now: () => 0 });
  limits.offend("192.0.2.1");
  limits.offend("192.0.2.2");
  limits.offend("192.0.2.3");
  assert.equal(limits.isRefused("192.0.2.1"), false);
  assert.equal(limits.isRefused("192.0.2.2"), true);
  assert.equal(limits.isRefused("192.0.2.3"), true);
});

Deno.test("ConnectionLimits rejects limits that are not positive", () => {
  assert.throws(() => new ConnectionLimits({ maxPerAddress: 0 }), RangeError);
  assert.throws(() => new ConnectionLimits({ coolOffMs: 0 }), RangeError);
});
