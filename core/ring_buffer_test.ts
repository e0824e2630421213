// Copyright the meshchat authors. MIT license.
import assert from "node:assert/strict";
import fc from "fast-check";
import { RingBuffer } from "./ring_buffer.ts";

const byNumber = (a: number, b: number) => a - b;

Deno.test("RingBuffer constructor rounds the capacity up to a power of two", () => {
  assert.equal(new RingBuffer(1).capacity, 1);
  assert.equal(new RingBuffer(3).capacity, 4);
  assert.equal(new RingBuffer(16).capacity, 16);
  assert.equal(new RingBuffer(17).capacity, 32);
  assert.equal(new RingBuffer(2 ** 30).capacity, 2 ** 30);
});

Deno.test("RingBuffer constructor rejects a capacity that is not an integer from 1 to 2 ** 30", () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity, 2 ** 30 + 1]) {
    assert.throws(() => new RingBuffer(bad), RangeError, String(bad));
  }
  assert.throws(
    () => new RingBuffer(0),
    {
      name: "RangeError",
      message: "Cannot create ring buffer: capacity 0 is not an integer from 1 to 1073741824",
    },
  );
});

Deno.test("RingBuffer.push() appends until full and returns undefined", () => {
  const buffer = new RingBuffer<string>(4);
  assert.equal(buffer.length, 0);
  assert.equal(buffer.push("a"), undefined);
  assert.equal(buffer.push("b"), undefined);
  assert.equal(buffer.length, 2);
  assert.deepEqual(buffer.toArray(), ["a", "b"]);
  assert.equal(buffer.firstPosition, 0);
  assert.equal(buffer.nextPosition, 2);
});

Deno.test("RingBuffer.push() overwrites the oldest entry when full", () => {
  const buffer = new RingBuffer<number>(4);
  for (let i = 0; i < 4; i++) assert.equal(buffer.push(i), undefined);
  assert.equal(buffer.push(4), 0);
  assert.equal(buffer.push(5), 1);
  assert.deepEqual(buffer.toArray(), [2, 3, 4, 5]);
  assert.equal(buffer.length, 4);
  assert.equal(buffer.firstPosition, 2);
  assert.equal(buffer.nextPosition, 6);
});

Deno.test("RingBuffer.push() grows the backing array beyond its initial size", () => {
  const buffer = new RingBuffer<number>(100);
  for (let i = 0; i < 300; i++) buffer.push(i);
  assert.equal(buffer.capacity, 128);
  assert.equal(buffer.length, 128);
  assert.equal(buffer.at(0), 172);
  assert.equal(buffer.at(-1), 299);
});

Deno.test("RingBuffer with capacity 1 keeps only the newest item", () => {
  const buffer = new RingBuffer<string>(1);
  assert.equal(buffer.push("a"), undefined);
  assert.equal(buffer.push("b"), "a");
  assert.deepEqual(buffer.toArray(), ["b"]);
  assert.equal(buffer.insertSorted("a", (x, y) => x.localeCompare(y)), "a");
  assert.equal(buffer.insertSorted("c", (x, y) => x.localeCompare(y)), "b");
  assert.deepEqual(buffer.toArray(), ["c"]);
});

Deno.test("RingBuffer.insertSorted() keeps ascending order for out-of-order items", () => {
  const buffer = new RingBuffer<number>(8);
  for (const n of [10, 30, 20, 40, 5, 35]) {
    assert.equal(buffer.insertSorted(n, byNumber), undefined);
  }
  assert.deepEqual(buffer.toArray(), [5, 10, 20, 30, 35, 40]);
});

Deno.test("RingBuffer.insertSorted() puts an equal item after the existing ones", () => {
  const buffer = new RingBuffer<{ key: number; tag: string }>(8);
  const byKey = (a: { key: number }, b: { key: number }) => a.key - b.key;
  buffer.insertSorted({ key: 1, tag: "first" }, byKey);
  buffer.insertSorted({ key: 2, tag: "two" }, byKey);
  buffer.insertSorted({ key: 1, tag: "second" }, byKey);
  assert.deepEqual(buffer.toArray().map((e) => e.tag), [
    "first",
    "second",
    "two",
  ]);
});

Deno.test("RingBuffer.insertSorted() evicts the oldest item when full", () => {
  const buffer = new RingBuffer<number>(4);
  for (const n of [10, 20, 30, 40]) buffer.insertSorted(n, byNumber);
  assert.equal(buffer.insertSorted(25, byNumber), 10);
  assert.deepEqual(buffer.toArray(), [20, 25, 30, 40]);
  assert.equal(buffer.firstPosition, 1);
  assert.equal(buffer.insertSorted(50, byNumber), 20);
  assert.deepEqual(buffer.toArray(), [25, 30, 40, 50]);
  assert.equal(buffer.firstPosition, 2);
});

Deno.test("RingBuffer.insertSorted() returns the item itself when full and it is the oldest", () => {
  const buffer = new RingBuffer<number>(4);
  for (const n of [10, 20, 30, 40]) buffer.push(n);
  assert.equal(buffer.insertSorted(5, byNumber), 5);
  assert.deepEqual(buffer.toArray(), [10, 20, 30, 40]);
  assert.equal(buffer.firstPosition, 0);
  // An item equal to the oldest sorts after it, so it is kept.
  assert.equal(buffer.insertSorted(10, byNumber), 10);
  assert.deepEqual(buffer.toArray(), [10, 20, 30, 40]);
  assert.equal(buffer.insertSorted(15, byNumber), 10);
  assert.deepEqual(buffer.toArray(), [15, 20, 30, 40]);
});

Deno.test("RingBuffer.insertSorted() works across the wrap-around point", () => {
  const buffer = new RingBuffer<number>(8);
  for (let i = 0; i < 13; i++) buffer.push(i * 10);
  // head is now in the middle of the backing array
  assert.deepEqual(buffer.toArray(), [50, 60, 70, 80, 90, 100, 110, 120]);
  assert.equal(buffer.insertSorted(75, byNumber), 50);
  assert.equal(buffer.insertSorted(65, byNumber), 60);
  assert.equal(buffer.insertSorted(125, byNumber), 65);
  assert.deepEqual(buffer.toArray(), [70, 75, 80, 90, 100, 110, 120, 125]);
  assert.equal(buffer.firstPosition, 8);
});

Deno.test("RingBuffer.at() indexes from the oldest and negatively from the newest", () => {
  const buffer = new RingBuffer<string>(4);
  for (const s of ["a", "b", "c", "d", "e"]) buffer.push(s);
  assert.equal(buffer.at(0), "b");
  assert.equal(buffer.at(3), "e");
  assert.equal(buffer.at(-1), "e");
  assert.equal(buffer.at(-4), "b");
  assert.equal(buffer.at(4), undefined);
  assert.equal(buffer.at(-5), undefined);
  assert.equal(buffer.at(0.5), undefined);
  assert.equal(buffer.at(NaN), undefined);
});

Deno.test("RingBuffer.latest() returns the newest items oldest first", () => {
  const buffer = new RingBuffer<number>(8);
  assert.deepEqual(buffer.latest(3), []);
  for (let i = 1; i <= 10; i++) buffer.push(i);
  assert.deepEqual(buffer.latest(3), [8, 9, 10]);
  assert.deepEqual(buffer.latest(0), []);
  assert.deepEqual(buffer.latest(100), [3, 4, 5, 6, 7, 8, 9, 10]);
});

Deno.test("RingBuffer.latest() rejects a negative or fractional count", () => {
  const buffer = new RingBuffer<number>(8);
  assert.throws(() => buffer.latest(-1), RangeError);
  assert.throws(() => buffer.latest(1.5), RangeError);
  assert.throws(() => buffer.latest(NaN), RangeError);
});

Deno.test("RingBuffer.from() yields items at or after an absolute position", () => {
  const buffer = new RingBuffer<string>(4);
  for (const s of ["a", "b", "c", "d", "e", "f"]) buffer.push(s);
  // positions: c=2, d=3, e=4, f=5
  assert.deepEqual([...buffer.from(4)], ["e", "f"]);
  assert.deepEqual([...buffer.from(2)], ["c", "d", "e", "f"]);
  assert.deepEqual([...buffer.from(0)], ["c", "d", "e", "f"]);
  assert.deepEqual([...buffer.from(-Infinity)], ["c", "d", "e", "f"]);
  assert.deepEqual([...buffer.from(6)], []);
  assert.deepEqual([...buffer.from(100)], []);
  assert.deepEqual([...buffer.from(3.5)], ["e", "f"]);
  assert.throws(() => buffer.from(NaN), RangeError);
});

Deno.test("RingBuffer.from() yields items pushed during iteration", () => {
  const buffer = new RingBuffer<number>(4);
  buffer.push(1);
  const iterator = buffer.from(0);
  assert.deepEqual(iterator.next(), { value: 1, done: false });
  buffer.push(2);
  assert.deepEqual(iterator.next(), { value: 2, done: false });
  for (let i = 3; i <= 9; i++) buffer.push(i);
  // 3..5 were evicted while the reader was away
  assert.deepEqual([...iterator], [6, 7, 8, 9]);
});

Deno.test("RingBuffer.clear() empties the buffer and keeps positions monotonic", () => {
  const buffer = new RingBuffer<number>(4);
  for (let i = 0; i < 6; i++) buffer.push(i);
  buffer.clear();
  assert.equal(buffer.length, 0);
  assert.deepEqual(buffer.toArray(), []);
  assert.equal(buffer.firstPosition, 6);
  assert.equal(buffer.nextPosition, 6);
  buffer.push(42);
  assert.deepEqual([...buffer.from(6)], [42]);
  assert.equal(buffer.at(0), 42);
});

Deno.test("RingBuffer is iterable oldest to newest", () => {
  const buffer = new RingBuffer<number>(2);
  for (let i = 0; i < 5; i++) buffer.push(i);
  assert.deepEqual([...buffer], [3, 4]);
});

/** A command applied both to a RingBuffer and to a plain-array model. */
type Op =
  | { kind: "push"; value: number }
  | { kind: "insert"; value: number }
  | { kind: "clear" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.integer({ min: 0, max: 50 }).map((value) => ({ kind: "push" as const, value })),
  },
  {
    weight: 5,
    arbitrary: fc.integer({ min: 0, max: 50 }).map((value) => ({ kind: "insert" as const, value })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "clear" as const }) },
);

Deno.test("RingBuffer.push() behaves like an array that drops its head beyond capacity", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.array(fc.integer(), { maxLength: 200 }),
      (requested, values) => {
        const buffer = new RingBuffer<number>(requested);
        const model: number[] = [];
        let evicted = 0;
        for (const value of values) {
          model.push(value);
          const expected = model.length > buffer.capacity ? model.shift() : undefined;
          if (expected !== undefined) evicted++;
          assert.equal(buffer.push(value), expected);
        }
        assert.deepEqual(buffer.toArray(), model);
        assert.deepEqual([...buffer], model);
        assert.equal(buffer.firstPosition, evicted);
        assert.equal(buffer.nextPosition, values.length);
        assert.ok(buffer.capacity >= requested && buffer.capacity < requested * 2);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("RingBuffer operations match a sorted-array model", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.array(opArb, { maxLength: 150 }),
      fc.integer({ min: -5, max: 200 }),
      (requested, ops, position) => {
        const buffer = new RingBuffer<number>(requested);
        const capacity = buffer.capacity;
        let model: number[] = [];
        let evicted = 0;
        for (const op of ops) {
          if (op.kind === "clear") {
            evicted += model.length;
            model = [];
            buffer.clear();
            continue;
          }
          let expected: number | undefined;
          if (op.kind === "push") {
            model.push(op.value);
          } else {
            let i = model.length;
            while (i > 0 && model[i - 1]! > op.value) i--;
            if (model.length === capacity && i === 0) {
              assert.equal(buffer.insertSorted(op.value, byNumber), op.value);
              assert.deepEqual(buffer.toArray(), model);
              continue;
            }
            model.splice(i, 0, op.value);
          }
          if (model.length > capacity) {
            expected = model.shift();
            evicted++;
          }
          const actual = op.kind === "push"
            ? buffer.push(op.value)
            : buffer.insertSorted(op.value, byNumber);
          assert.equal(actual, expected);
        }
        assert.deepEqual(buffer.toArray(), model);
        assert.equal(buffer.length, model.length);
        assert.equal(buffer.firstPosition, evicted);
        assert.equal(buffer.nextPosition, evicted + model.length);
        for (let i = -model.length - 1; i <= model.length; i++) {
          assert.equal(buffer.at(i), model.at(i));
        }
        for (const n of [0, 1, 3, capacity, capacity + 1]) {
          assert.deepEqual(buffer.latest(n), n === 0 ? [] : model.slice(-n));
        }
        assert.deepEqual(
          [...buffer.from(position)],
          model.slice(Math.max(0, position - evicted)),
        );
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("RingBuffer.insertSorted() keeps any insertion order sorted", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }),
      fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 200 }),
      (requested, values) => {
        const buffer = new RingBuffer<number>(requested);
        for (const value of values) buffer.insertSorted(value, byNumber);
        const items = buffer.toArray();
        for (let i = 1; i < items.length; i++) {
          assert.ok(items[i - 1]! <= items[i]!);
        }
        assert.equal(items.length, Math.min(values.length, buffer.capacity));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("RingBuffer.shift() evicts the oldest item and keeps positions monotonic", () => {
  const buffer = new RingBuffer<number>(8);
  assert.equal(buffer.shift(), undefined);
  for (let i = 1; i <= 5; i++) buffer.push(i);
  assert.equal(buffer.shift(), 1);
  assert.equal(buffer.shift(), 2);
  assert.deepEqual(buffer.toArray(), [3, 4, 5]);
  assert.equal(buffer.firstPosition, 2);
  assert.equal(buffer.nextPosition, 5);
  for (let i = 6; i <= 12; i++) buffer.push(i);
  assert.deepEqual(buffer.toArray(), [5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual([...buffer.from(9)], [10, 11, 12]);
});
