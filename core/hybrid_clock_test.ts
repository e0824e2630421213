// Copyright the meshchat authors. MIT license.
import assert from "node:assert/strict";
import fc from "fast-check";
import { compareStamps, HLC_MAX_COUNTER, type HlcStamp, HybridClock } from "./hybrid_clock.ts";

/** A fake physical clock that tests move by hand. */
function fakeTime(start = 1_000_000): { now: () => number; set(t: number): void } {
  let time = start;
  return {
    now: () => time,
    set(t: number) {
      time = t;
    },
  };
}

Deno.test("HybridClock starts at wall 0, counter 0 and reads no time when created", () => {
  let reads = 0;
  const clock = new HybridClock("n1", { now: () => ++reads });
  assert.equal(reads, 0);
  assert.deepEqual(clock.last, { wall: 0, counter: 0, node: "n1" });
});

Deno.test("HybridClock constructor validates its arguments", () => {
  assert.throws(() => new HybridClock(""), TypeError);
  assert.throws(() => new HybridClock(42 as unknown as string), TypeError);
  assert.throws(
    () => new HybridClock("n1", { now: "soon" as unknown as () => number }),
    TypeError,
  );
  assert.throws(
    () => new HybridClock("n1", { maxForwardDriftMs: -1 }),
    RangeError,
  );
  assert.throws(
    () => new HybridClock("n1", { maxForwardDriftMs: NaN }),
    RangeError,
  );
});

Deno.test("HybridClock uses Date.now by default", () => {
  const before = Date.now();
  const stamp = new HybridClock("n1").now();
  assert.ok(stamp.wall >= before && stamp.wall <= Date.now());
});

Deno.test("HybridClock.now() follows the physical clock when it moves forward", () => {
  const time = fakeTime(1000);
  const clock = new HybridClock("n1", { now: time.now });
  assert.deepEqual(clock.now(), { wall: 1000, counter: 0, node: "n1" });
  time.set(1005.7);
  assert.deepEqual(clock.now(), { wall: 1005, counter: 0, node: "n1" });
  assert.deepEqual(clock.last, { wall: 1005, counter: 0, node: "n1" });
});

Deno.test("HybridClock.now() increments the counter when the physical clock stalls or goes backwards", () => {
  const time = fakeTime(1000);
  const clock = new HybridClock("n1", { now: time.now });
  clock.now();
  assert.deepEqual(clock.now(), { wall: 1000, counter: 1, node: "n1" });
  time.set(500);
  assert.deepEqual(clock.now(), { wall: 1000, counter: 2, node: "n1" });
  time.set(1001);
  assert.deepEqual(clock.now(), { wall: 1001, counter: 0, node: "n1" });
});

Deno.test("HybridClock.now() throws when the physical clock returns a non-finite number", () => {
  const clock = new HybridClock("n1", { now: () => NaN });
  assert.throws(() => clock.now(), {
    name: "RangeError",
    message: "Cannot read clock: physical time NaN is not a finite number",
  });
});

Deno.test("HybridClock.now() throws a RangeError when the counter overflows", () => {
  const clock = new HybridClock("n1", { now: () => 1000 });
  clock.advanceTo({ wall: 1000, counter: HLC_MAX_COUNTER });
  assert.throws(() => clock.now(), RangeError);
  assert.deepEqual(clock.last, {
    wall: 1000,
    counter: HLC_MAX_COUNTER,
    node: "n1",
  });
});

Deno.test("HybridClock.receive() adopts a remote wall that is ahead", () => {
  const clock = new HybridClock("n1", { now: () => 1000 });
  clock.now();
  const stamp = clock.receive({ wall: 1500, counter: 3, node: "n2" });
  assert.deepEqual(stamp, { wall: 1500, counter: 4, node: "n1" });
  assert.deepEqual(clock.now(), { wall: 1500, counter: 5, node: "n1" });
});

Deno.test("HybridClock.receive() keeps its own wall when the remote is behind", () => {
  const time = fakeTime(2000);
  const clock = new HybridClock("n1", { now: time.now });
  clock.now();
  clock.now(); // counter 1
  time.set(1000);
  const stamp = clock.receive({ wall: 1500, counter: 9, node: "n2" });
  assert.deepEqual(stamp, { wall: 2000, counter: 2, node: "n1" });
});

Deno.test("HybridClock.receive() takes the larger counter when walls are equal", () => {
  const clock = new HybridClock("n1", { now: () => 1000 });
  clock.now();
  assert.deepEqual(clock.receive({ wall: 1000, counter: 7, node: "n2" }), {
    wall: 1000,
    counter: 8,
    node: "n1",
  });
  assert.deepEqual(clock.receive({ wall: 1000, counter: 2, node: "n2" }), {
    wall: 1000,
    counter: 9,
    node: "n1",
  });
});

Deno.test("HybridClock.receive() resets the counter when the physical clock is ahead of both", () => {
  const clock = new HybridClock("n1", { now: () => 5000 });
  assert.deepEqual(clock.receive({ wall: 1000, counter: 7, node: "n2" }), {
    wall: 5000,
    counter: 0,
    node: "n1",
  });
});

Deno.test("HybridClock.receive() clamps a remote wall too far in the future", () => {
  const time = fakeTime(1_000_000);
  const clock = new HybridClock("n1", {
    now: time.now,
    maxForwardDriftMs: 60_000,
  });
  const remote = { wall: 1_000_000 + 5 * 60_000, counter: 4, node: "n2" };
  const stamp = clock.receive(remote);
  assert.deepEqual(stamp, { wall: 1_060_000, counter: 5, node: "n1" });
  assert.deepEqual(remote, { wall: 1_300_000, counter: 4, node: "n2" });
  // A second message from the same peer does not push us any further.
  assert.deepEqual(clock.receive(remote), {
    wall: 1_060_000,
    counter: 6,
    node: "n1",
  });
  // Once real time catches up, the clock follows physical time again.
  time.set(1_070_000);
  assert.deepEqual(clock.now(), { wall: 1_070_000, counter: 0, node: "n1" });
});

Deno.test("HybridClock.receive() rejects malformed stamps and leaves the clock unchanged", () => {
  const clock = new HybridClock("n1", { now: () => 1000 });
  clock.now();
  const bad: unknown[] = [
    null,
    "stamp",
    { wall: "1", counter: 0, node: "n2" },
    { wall: 1, counter: 0, node: 2 },
  ];
  for (const stamp of bad) {
    assert.throws(() => clock.receive(stamp as HlcStamp), TypeError);
  }
  const outOfRange = [
    { wall: -1, counter: 0, node: "n2" },
    { wall: 1.5, counter: 0, node: "n2" },
    { wall: Infinity, counter: 0, node: "n2" },
    { wall: 1, counter: -1, node: "n2" },
    { wall: 1, counter: HLC_MAX_COUNTER + 1, node: "n2" },
  ];
  for (const stamp of outOfRange) {
    assert.throws(() => clock.receive(stamp), RangeError);
  }
  assert.throws(
    () => clock.receive({ wall: 1000, counter: HLC_MAX_COUNTER, node: "n2" }),
    {
      name: "RangeError",
      message: "Cannot advance hybrid clock: counter 2147483648 exceeds maximum 2147483647",
    },
  );
  assert.deepEqual(clock.last, { wall: 1000, counter: 0, node: "n1" });
});

Deno.test("HybridClock.advanceTo() moves the clock forward and never back", () => {
  const clock = new HybridClock("n1", { now: () => 1000 });
  clock.advanceTo({ wall: 2000, counter: 5 });
  assert.deepEqual(clock.last, { wall: 2000, counter: 5, node: "n1" });
  clock.advanceTo({ wall: 1500, counter: 99 });
  clock.advanceTo({ wall: 2000, counter: 4 });
  assert.deepEqual(clock.last, { wall: 2000, counter: 5, node: "n1" });
  assert.deepEqual(clock.now(), { wall: 2000, counter: 6, node: "n1" });
  assert.throws(() => clock.advanceTo({ wall: -5, counter: 0 }), RangeError);
});

Deno.test("compareStamps() orders by wall, then counter, then node", () => {
  const a = { wall: 1, counter: 9, node: "z" };
  const b = { wall: 2, counter: 0, node: "a" };
  const c = { wall: 2, counter: 1, node: "a" };
  const d = { wall: 2, counter: 1, node: "b" };
  assert.deepEqual([d, c, b, a].sort(compareStamps), [a, b, c, d]);
  assert.equal(compareStamps(c, { ...c }), 0);
  assert.equal(compareStamps(a, b), -1);
  assert.equal(compareStamps(b, a), 1);
});

const stampArb: fc.Arbitrary<HlcStamp> = fc.record({
  wall: fc.integer({ min: 0, max: 20 }),
  counter: fc.integer({ min: 0, max: 5 }),
  node: fc.constantFrom("a", "b", "B", "aa", "n1", "n10"),
});

Deno.test("compareStamps() is a total order", () => {
  fc.assert(
    fc.property(stampArb, stampArb, stampArb, (a, b, c) => {
      const ab = compareStamps(a, b);
      assert.equal(Math.sign(ab) + Math.sign(compareStamps(b, a)), 0);
      assert.equal(
        ab === 0,
        a.wall === b.wall && a.counter === b.counter && a.node === b.node,
      );
      if (ab <= 0 && compareStamps(b, c) <= 0) {
        assert.ok(compareStamps(a, c) <= 0);
      }
      assert.equal(compareStamps(a, a), 0);
    }),
    { numRuns: 2000 },
  );
});

type ClockOp =
  | { kind: "tick"; delta: number }
  | { kind: "now" }
  | { kind: "receive"; wall: number; counter: number };

const clockOpArb: fc.Arbitrary<ClockOp> = fc.oneof(
  fc.record({
    kind: fc.constant("tick" as const),
    delta: fc.integer({ min: -5_000, max: 5_000 }),
  }),
  fc.constant({ kind: "now" as const }),
  fc.record({
    kind: fc.constant("receive" as const),
    wall: fc.integer({ min: 0, max: 2_000_000 }),
    counter: fc.integer({ min: 0, max: 1000 }),
  }),
);

Deno.test("HybridClock stamps grow strictly even when the physical clock goes backwards", () => {
  fc.assert(
    fc.property(fc.array(clockOpArb, { maxLength: 100 }), (ops) => {
      const time = fakeTime(1_000_000);
      let physical = 1_000_000;
      const drift = 60_000;
      const clock = new HybridClock("n1", {
        now: time.now,
        maxForwardDriftMs: drift,
      });
      let previous = clock.last;
      let maxPhysical = physical;
      for (const op of ops) {
        if (op.kind === "tick") {
          physical = Math.max(0, physical + op.delta);
          maxPhysical = Math.max(maxPhysical, physical);
          time.set(physical);
          continue;
        }
        const remote = op.kind === "receive"
          ? { wall: op.wall, counter: op.counter, node: "n2" }
          : undefined;
        const stamp = remote ? clock.receive(remote) : clock.now();
        assert.ok(compareStamps(stamp, previous) > 0, "grows strictly");
        assert.ok(stamp.wall >= physical, "never behind physical time");
        assert.ok(stamp.wall <= maxPhysical + drift, "bounded forward drift");
        if (remote && remote.wall <= physical + drift) {
          assert.ok(compareStamps(stamp, remote) > 0, "after the remote");
        }
        assert.deepEqual(clock.last, stamp);
        previous = stamp;
      }
    }),
    { numRuns: 1000 },
  );
});

Deno.test("HybridClock.receive() result is greater than both inputs when not clamped", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1e12 }),
      fc.record({
        wall: fc.integer({ min: 0, max: 1e12 }),
        counter: fc.integer({ min: 0, max: 1e6 }),
      }),
      fc.record({
        wall: fc.integer({ min: 0, max: 1e12 }),
        counter: fc.integer({ min: 0, max: 1e6 }),
      }),
      (physical, local, remoteFields) => {
        const clock = new HybridClock("n1", {
          now: () => physical,
          maxForwardDriftMs: 1e12,
        });
        clock.advanceTo(local);
        const before = clock.last;
        const remote = { ...remoteFields, node: "n2" };
        const stamp = clock.receive(remote);
        assert.ok(compareStamps(stamp, before) > 0);
        assert.ok(compareStamps(stamp, remote) > 0);
        assert.ok(stamp.wall >= physical);
        assert.deepEqual(remote, { ...remoteFields, node: "n2" });
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("HybridClock.leadOf() measures how far a stamp leads the physical clock", () => {
  const time = fakeTime(1_000_000);
  const clock = new HybridClock("n1", { now: time.now });
  assert.equal(clock.leadOf({ wall: 1_060_000 }), 60_000);
  assert.equal(clock.leadOf({ wall: 9e15 }), 9e15 - 1_000_000);
  time.set(1_060_000);
  assert.equal(clock.leadOf({ wall: 1_060_000 }), 0);
  assert.equal(clock.leadOf({ wall: 5 }), 5 - 1_060_000);
});
