// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import fc from "fast-check";
import { ReplayGuard } from "./replay_guard.ts";

Deno.test("ReplayGuard.accept() accepts new numbers and refuses repeats", () => {
  const guard = new ReplayGuard();
  assert.equal(guard.accept("s", 1), "ok");
  assert.equal(guard.accept("s", 2), "ok");
  assert.equal(guard.accept("s", 2), "replay");
  assert.equal(guard.accept("s", 1), "replay");
  assert.equal(guard.accept("s", 5), "ok");
  assert.equal(guard.accept("s", 3), "reordered");
  assert.equal(guard.accept("s", 4), "reordered");
  assert.equal(guard.accept("s", 3), "replay");
});

Deno.test("ReplayGuard.accept() keeps streams apart", () => {
  const guard = new ReplayGuard();
  assert.equal(guard.accept("a", 1), "ok");
  assert.equal(guard.accept("b", 1), "ok");
  assert.equal(guard.size, 2);
});

Deno.test("ReplayGuard.accept() refuses numbers that fell out of the window", () => {
  const guard = new ReplayGuard({ window: 32 });
  assert.equal(guard.accept("s", 100), "ok");
  assert.equal(guard.accept("s", 69), "reordered");
  assert.equal(guard.accept("s", 68), "too_old");
  assert.equal(guard.accept("s", 1), "too_old");
});

Deno.test("ReplayGuard.accept() forgets the bitmap after a jump of a whole window", () => {
  const guard = new ReplayGuard({ window: 32 });
  for (let seq = 1; seq <= 32; seq++) guard.accept("s", seq);
  assert.equal(guard.accept("s", 1000), "ok");
  assert.equal(guard.accept("s", 990), "reordered");
  assert.equal(guard.accept("s", 968), "too_old");
  // A jump shorter than the window clears exactly the skipped slots.
  assert.equal(guard.accept("s", 1010), "ok");
  assert.equal(guard.accept("s", 1000), "replay");
  assert.equal(guard.accept("s", 1005), "reordered");
});

Deno.test("ReplayGuard.check() answers without recording", () => {
  const guard = new ReplayGuard();
  assert.equal(guard.check("s", 1), "ok");
  assert.equal(guard.check("s", 1), "ok");
  assert.equal(guard.size, 0);
  guard.accept("s", 1);
  assert.equal(guard.check("s", 1), "replay");
});

Deno.test("ReplayGuard forgets the least recently used stream past maxStreams", () => {
  const guard = new ReplayGuard({ maxStreams: 2 });
  guard.accept("a", 1);
  guard.accept("b", 1);
  guard.accept("a", 2); // a is now the most recent
  guard.accept("c", 1); // evicts b
  assert.equal(guard.size, 2);
  assert.equal(guard.check("a", 2), "replay");
  assert.equal(guard.check("b", 1), "ok");
  guard.clear();
  assert.equal(guard.size, 0);
});

Deno.test("ReplayGuard refuses bad sequence numbers and options", () => {
  const guard = new ReplayGuard();
  for (const seq of [0, -1, 1.5, NaN, 2 ** 53]) {
    assert.throws(() => guard.accept("s", seq), RangeError);
    assert.throws(() => guard.check("s", seq), RangeError);
  }
  for (const window of [0, 16, 1000, 2 ** 25]) {
    assert.throws(() => new ReplayGuard({ window }), RangeError);
  }
  assert.throws(() => new ReplayGuard({ maxStreams: 0 }), RangeError);
});

Deno.test("ReplayGuard agrees with a set of everything seen, inside the window", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 400 }),
      (seqs) => {
        const window = 32;
        const guard = new ReplayGuard({ window });
        const seen = new Set<number>();
        let highest = 0;
        for (const seq of seqs) {
          const expected = seq > highest
            ? "ok"
            : seq <= highest - window
            ? "too_old"
            : seen.has(seq)
            ? "replay"
            : "reordered";
          assert.equal(guard.accept("s", seq), expected, `seq ${seq}`);
          if (expected === "ok" || expected === "reordered") seen.add(seq);
          highest = Math.max(highest, seq);
        }
      },
    ),
  );
});
