// Copyright the meshchat authors. MIT license.
import assert from "node:assert/strict";
import fc from "fast-check";
import { TokenBucket } from "./rate_limiter.ts";

/** A clock that only moves when told. */
function fakeClock(start = 0) {
  let time = start;
  return {
    now: () => time,
    advance(ms: number) {
      time += ms;
    },
    set(ms: number) {
      time = ms;
    },
  };
}

Deno.test("TokenBucket starts full and allows a burst of capacity", () => {
  const clock = fakeClock();
  const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 1, now: clock.now });
  assert.equal(bucket.available, 3);
  assert.equal(bucket.tryTake(), true);
  assert.equal(bucket.tryTake(), true);
  assert.equal(bucket.tryTake(), true);
  assert.equal(bucket.tryTake(), false);
  assert.equal(bucket.available, 0);
});

Deno.test("TokenBucket refills at refillPerSecond up to capacity", () => {
  const clock = fakeClock(1_000_000);
  const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 2, now: clock.now });
  assert.equal(bucket.tryTake(5), true);
  clock.advance(250);
  assert.equal(bucket.available, 0.5);
  assert.equal(bucket.tryTake(), false);
  clock.advance(250);
  assert.equal(bucket.tryTake(), true);
  clock.advance(60_000);
  assert.equal(bucket.available, 5);
});

Deno.test("TokenBucket.tryTake() takes nothing when there are not enough tokens", () => {
  const clock = fakeClock();
  const bucket = new TokenBucket({ capacity: 4, refillPerSecond: 1, now: clock.now });
  assert.equal(bucket.tryTake(3), true);
  assert.equal(bucket.tryTake(2), false);
  assert.equal(bucket.available, 1);
  assert.equal(bucket.tryTake(0), true);
  assert.equal(bucket.tryTake(5), false);
});

Deno.test("TokenBucket.msUntilAvailable() says how long to wait, and waiting that long is enough", () => {
  const clock = fakeClock();
  const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 3, now: clock.now });
  assert.equal(bucket.msUntilAvailable(), 0);
  bucket.tryTake(2);
  const wait = bucket.msUntilAvailable();
  assert.equal(wait, 334);
  clock.advance(wait - 1);
  assert.equal(bucket.tryTake(), false);
  clock.advance(1);
  assert.equal(bucket.tryTake(), true);
  assert.equal(bucket.msUntilAvailable(2), 666); // 0.002 tokens left
});

Deno.test("TokenBucket.msUntilAvailable() returns Infinity when the tokens can never be available", () => {
  const clock = fakeClock();
  const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 1, now: clock.now });
  assert.equal(bucket.msUntilAvailable(3), Infinity);
  const once = new TokenBucket({ capacity: 2, refillPerSecond: 0, now: clock.now });
  assert.equal(once.tryTake(2), true);
  clock.advance(1e9);
  assert.equal(once.tryTake(), false);
  assert.equal(once.msUntilAvailable(), Infinity);
});

Deno.test("TokenBucket adds no tokens while the clock goes backwards", () => {
  const clock = fakeClock(10_000);
  const bucket = new TokenBucket({ capacity: 10, refillPerSecond: 1, now: clock.now });
  bucket.tryTake(10);
  clock.set(5_000);
  assert.equal(bucket.available, 0);
  clock.set(9_000);
  assert.equal(bucket.available, 0);
  clock.set(12_000);
  assert.equal(bucket.available, 2);
});

Deno.test("TokenBucket constructor validates its options", () => {
  const now = () => 0;
  assert.throws(() => new TokenBucket({ capacity: 0, refillPerSecond: 1, now }), RangeError);
  assert.throws(() => new TokenBucket({ capacity: -1, refillPerSecond: 1, now }), RangeError);
  assert.throws(() => new TokenBucket({ capacity: Infinity, refillPerSecond: 1, now }), RangeError);
  assert.throws(() => new TokenBucket({ capacity: 1, refillPerSecond: -1, now }), RangeError);
  assert.throws(() => new TokenBucket({ capacity: 1, refillPerSecond: NaN, now }), RangeError);
  assert.throws(
    () => new TokenBucket({ capacity: 1, refillPerSecond: 1, now: 5 as unknown as () => number }),
    TypeError,
  );
  assert.throws(() => new TokenBucket({ capacity: 1, refillPerSecond: 1, now: () => NaN }), {
    name: "RangeError",
    message: "Cannot read clock: time NaN is not a finite number",
  });
  assert.throws(() => new TokenBucket({ capacity: 1, refillPerSecond: 1, now }).tryTake(-1), {
    name: "RangeError",
    message: "Cannot take tokens: count -1 is not a non-negative finite number",
  });
  assert.throws(
    () => new TokenBucket({ capacity: 1, refillPerSecond: 1, now }).msUntilAvailable(NaN),
    RangeError,
  );
});

Deno.test("TokenBucket never allows more than capacity plus rate times elapsed time", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.double({ min: 0, max: 50, noNaN: true }),
      fc.array(
        fc.record({
          advance: fc.integer({ min: 0, max: 2000 }),
          count: fc.integer({ min: 0, max: 5 }),
        }),
        { maxLength: 100 },
      ),
      (capacity, rate, steps) => {
        const clock = fakeClock(1_000);
        const bucket = new TokenBucket({ capacity, refillPerSecond: rate, now: clock.now });
        let taken = 0;
        let elapsed = 0;
        for (const { advance, count } of steps) {
          clock.advance(advance);
          elapsed += advance;
          const before = bucket.available;
          const ok = bucket.tryTake(count);
          assert.equal(ok, count <= before + 1e-9);
          if (ok) taken += count;
          const bound = capacity + (rate * elapsed) / 1000;
          assert.ok(taken <= bound + 1e-6, `${taken} > ${bound}`);
          assert.ok(bucket.available >= 0 && bucket.available <= capacity);
        }
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("TokenBucket.msUntilAvailable() is exactly the wait needed", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.double({ min: 0.01, max: 100, noNaN: true }),
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: 1, max: 20 }),
      (capacity, rate, spend, want) => {
        fc.pre(spend <= capacity && want <= capacity);
        const clock = fakeClock(0);
        const bucket = new TokenBucket({ capacity, refillPerSecond: rate, now: clock.now });
        bucket.tryTake(spend);
        const wait = bucket.msUntilAvailable(want);
        assert.ok(Number.isFinite(wait) && wait >= 0);
        if (wait > 0) {
          clock.advance(wait - 1);
          assert.equal(bucket.msUntilAvailable(want) > 0, true);
          clock.advance(1);
        }
        assert.equal(bucket.msUntilAvailable(want), 0);
        assert.equal(bucket.tryTake(want), true);
      },
    ),
    { numRuns: 1000 },
  );
});
