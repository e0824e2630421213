import assert from "node:assert/strict";
import { SshAuthLimiter } from "./ssh_auth_limiter.ts";

Deno.test("SshAuthLimiter holds an address back after its burst of failures", () => {
  let now = 0;
  const limiter = new SshAuthLimiter({ burst: 3, perMinute: 6, now: () => now });
  for (let i = 0; i < 3; i++) {
    assert.equal(limiter.allows("192.0.2.7"), true);
    limiter.fail("192.0.2.7");
  }
  assert.equal(limiter.allows("192.0.2.7"), false);
  assert.equal(limiter.allows("192.0.2.8"), true, "other addresses are not affected");
  now += 9_999;
  assert.equal(limiter.allows("192.0.2.7"), false);
  now += 1;
  assert.equal(limiter.allows("192.0.2.7"), true, "6 per minute forgives one every 10 s");
  limiter.fail("192.0.2.7");
  assert.equal(limiter.allows("192.0.2.7"), false);
});

Deno.test("SshAuthLimiter forgets the least recently failing address when full", () => {
  const limiter = new SshAuthLimiter({ burst: 1, maxAddresses: 2, now: () => 0 });
  limiter.fail("192.0.2.1");
  limiter.fail("192.0.2.2");
  limiter.fail("192.0.2.1");
  limiter.fail("192.0.2.3");
  assert.equal(limiter.allows("192.0.2.2"), true, "forgotten");
  assert.equal(limiter.allows("192.0.2.1"), false);
  assert.equal(limiter.allows("192.0.2.3"), false);
});

Deno.test("SshAuthLimiter refuses a burst of zero", () => {
  assert.throws(() => new SshAuthLimiter({ burst: 0 }), RangeError);
});
