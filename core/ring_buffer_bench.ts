// Copyright the meshchat authors. MIT license.
import { RingBuffer } from "./ring_buffer.ts";

const CAPACITY = 16_384;
const PUSHES = 100_000;

Deno.bench({
  name: "RingBuffer.push() 1e5 items with eviction (capacity 16384)",
  group: "push",
  fn() {
    const buffer = new RingBuffer<number>(CAPACITY);
    for (let i = 0; i < PUSHES; i++) buffer.push(i);
  },
});

Deno.bench({
  name: "RingBuffer.insertSorted() 1e5 in-order items (capacity 16384)",
  group: "push",
  fn() {
    const buffer = new RingBuffer<number>(CAPACITY);
    const compare = (a: number, b: number) => a - b;
    for (let i = 0; i < PUSHES; i++) buffer.insertSorted(i, compare);
  },
});

const full = new RingBuffer<number>(CAPACITY);
for (let i = 0; i < PUSHES; i++) full.push(i);

Deno.bench({
  name: "RingBuffer.latest(50) on a full buffer",
  fn() {
    full.latest(50);
  },
});
