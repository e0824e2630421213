import assert from "node:assert/strict";
import { refusalCode, sessionIn } from "../../tests/helpers/chat_fixtures.ts";
import { RateLimits } from "./rate_limits.ts";

Deno.test("RateLimits.spend() takes one token per action and refuses past the burst", () => {
  let time = 0;
  const rates = new RateLimits({ burst: 2, perSecond: 1, now: () => time });
  const ann = sessionIn(["a"], rates.limiter());
  rates.spend(ann);
  rates.spend(ann);
  assert.equal(refusalCode(() => rates.spend(ann)), "rate_limited");
  time += 1000;
  rates.spend(ann);
  assert.equal(ann.lastActive, 1000);
});

Deno.test("RateLimits with a burst of 0 gives no limiter: nothing is refused", () => {
  const rates = new RateLimits({ burst: 0, perSecond: 1, now: () => 0 });
  const ann = sessionIn(Array.from({ length: 64 }, (_, i) => `r${i}`), rates.limiter());
  assert.equal(ann.limiter, undefined);
  for (let i = 0; i < 100; i++) rates.spend(ann);
  rates.spendPerRoom(ann);
});

Deno.test("RateLimits.spendPerRoom() charges one more token per 8 rooms past the first 8", () => {
  const rates = new RateLimits({ burst: 10, perSecond: 1, now: () => 0 });
  const few = sessionIn(["a"], rates.limiter());
  rates.spendPerRoom(few);
  assert.equal(few.limiter!.msUntilAvailable(10), 0, "8 rooms or fewer cost nothing more");
  const many = sessionIn(Array.from({ length: 64 }, (_, i) => `r${i}`), rates.limiter());
  rates.spendPerRoom(many); // 7 more tokens
  assert.ok(many.limiter!.tryTake(3));
  assert.equal(refusalCode(() => rates.spendPerRoom(many)), "rate_limited");
});

Deno.test("RateLimits refuses a negative burst or a rate not above 0", () => {
  assert.throws(() => new RateLimits({ burst: -1, perSecond: 1, now: () => 0 }), RangeError);
  assert.throws(() => new RateLimits({ burst: 1, perSecond: 0, now: () => 0 }), RangeError);
});
