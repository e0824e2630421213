import assert from "node:assert/strict";
import { type ByteWriter, holdWrites, OutboundQueue, releaseWrites } from "./outbound_queue.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** Records writes; each resolves when the test says so (or at once when `auto`). */
class FakeWriter implements ByteWriter {
  readonly writes: string[] = [];
  readonly #pending: Array<() => void> = [];
  constructor(readonly auto = true, readonly maxPerWrite = Infinity) {}
  write(data: Uint8Array): Promise<number> {
    const n = Math.min(data.length, this.maxPerWrite);
    this.writes.push(text(data.subarray(0, n)));
    if (this.auto) return Promise.resolve(n);
    return new Promise((resolve) => this.#pending.push(() => resolve(n)));
  }
  /** Completes the oldest write in flight. */
  complete(): void {
    this.#pending.shift()!();
  }
}

/** Lets the end of the event-loop turn (and the writes it starts) happen. */
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("OutboundQueue writes the frames of one synchronous run in one write", async () => {
  const writer = new FakeWriter();
  const queue = new OutboundQueue(writer);
  assert.ok(queue.enqueue(bytes("a\n")));
  assert.ok(queue.enqueue(bytes("b\n")));
  assert.ok(queue.enqueue(bytes("c\n")));
  assert.deepEqual(writer.writes, []);
  assert.equal(queue.queuedBytes, 6);
  await queue.drained();
  assert.deepEqual(writer.writes, ["a\nb\nc\n"]);
  assert.equal(queue.queuedBytes, 0);
});

Deno.test("holdWrites() gathers frames across awaits until releaseWrites()", async () => {
  const writer = new FakeWriter();
  const queue = new OutboundQueue(writer);
  holdWrites();
  try {
    for (const line of ["1\n", "2\n", "3\n"]) {
      queue.enqueue(bytes(line));
      await Promise.resolve();
    }
    assert.deepEqual(writer.writes, []);
  } finally {
    releaseWrites();
  }
  await queue.drained();
  assert.deepEqual(writer.writes, ["1\n2\n3\n"]);
});

Deno.test("a hold ends with the event-loop turn when the batch waits for I/O", async () => {
  const writer = new FakeWriter();
  const queue = new OutboundQueue(writer);
  holdWrites();
  try {
    queue.enqueue(bytes("early\n"));
    await nextTurn();
    assert.deepEqual(writer.writes, ["early\n"]);
    queue.enqueue(bytes("late\n"));
    await queue.drained();
    assert.deepEqual(writer.writes, ["early\n", "late\n"]);
  } finally {
    releaseWrites();
  }
});

Deno.test("OutboundQueue coalesces frames queued while a write is in flight", async () => {
  let release!: () => void;
  const writes: string[] = [];
  const queue = new OutboundQueue({
    write(data) {
      writes.push(text(data));
      if (writes.length > 1) return Promise.resolve(data.length);
      return new Promise((resolve) => release = () => resolve(data.length));
    },
  });
  queue.enqueue(bytes("1\n"));
  await nextTurn();
  assert.deepEqual(writes, ["1\n"]);
  for (const frame of ["2\n", "3\n", "4\n"]) queue.enqueue(bytes(frame));
  await nextTurn();
  assert.deepEqual(writes, ["1\n"], "nothing more while the first write is in flight");
  release();
  await queue.drained();
  assert.deepEqual(writes, ["1\n", "2\n3\n4\n"]);
});

Deno.test("OutboundQueue starts the writes of several queues in the order they were filled", async () => {
  const order: string[] = [];
  const queues = ["x", "y", "z"].map((name) =>
    new OutboundQueue({
      write(data) {
        order.push(name);
        return Promise.resolve(data.length);
      },
    })
  );
  const frame = bytes("shared frame\n");
  for (const queue of queues) queue.enqueue(frame);
  queues[0]!.enqueue(bytes("more\n"));
  await Promise.all(queues.map((queue) => queue.drained()));
  assert.deepEqual(order, ["x", "y", "z"]);
});

Deno.test("OutboundQueue refuses a frame past maxBytes unless forced", async () => {
  const writer = new FakeWriter(false);
  const queue = new OutboundQueue(writer, { maxBytes: 10 });
  assert.ok(queue.enqueue(bytes("12345678\n")));
  assert.equal(queue.enqueue(bytes("ab\n")), false);
  assert.equal(queue.queuedBytes, 9);
  assert.ok(queue.enqueue(bytes("ab\n"), true));
  assert.equal(queue.queuedBytes, 12);
  await nextTurn();
  writer.complete();
  await queue.drained();
  assert.deepEqual(writer.writes, ["12345678\nab\n"]);
  assert.equal(queue.queuedBytes, 0);
});

Deno.test("OutboundQueue.discardPending() drops only what is not in flight", async () => {
  const writer = new FakeWriter(false);
  const queue = new OutboundQueue(writer);
  queue.enqueue(bytes("sent\n"));
  await nextTurn();
  queue.enqueue(bytes("stale\n"));
  queue.discardPending();
  queue.enqueue(bytes("bye\n"), true);
  assert.equal(queue.queuedBytes, 9);
  writer.complete();
  await nextTurn();
  writer.complete();
  await queue.drained();
  assert.deepEqual(writer.writes, ["sent\n", "bye\n"]);
});

Deno.test("OutboundQueue finishes a partial write before the next batch", async () => {
  const writer = new FakeWriter(true, 4);
  const queue = new OutboundQueue(writer);
  queue.enqueue(bytes("hello\n"));
  queue.enqueue(bytes("world\n"));
  await queue.drained();
  assert.deepEqual(writer.writes, ["hell", "o\nwo", "rld\n"]);
  assert.equal(queue.queuedBytes, 0);
});

Deno.test("OutboundQueue splits batches at maxBatchBytes", async () => {
  const writer = new FakeWriter();
  const queue = new OutboundQueue(writer, { maxBatchBytes: 6 });
  for (const frame of ["aa\n", "bb\n", "cc\n", "0123456789\n", "dd\n"]) queue.enqueue(bytes(frame));
  await queue.drained();
  assert.deepEqual(writer.writes, ["aa\nbb\n", "cc\n", "0123456789\n", "dd\n"]);
});

Deno.test("OutboundQueue stops on a write error and refuses later frames", async () => {
  const error = new Deno.errors.BrokenPipe("gone");
  const queue = new OutboundQueue({ write: () => Promise.reject(error) });
  queue.enqueue(bytes("lost\n"));
  await queue.drained();
  assert.equal(queue.failure, error);
  assert.equal(queue.queuedBytes, 0);
  assert.equal(queue.enqueue(bytes("later\n")), false);
});

Deno.test("OutboundQueue treats a writer that throws like a failed write", async () => {
  const queue = new OutboundQueue({
    write() {
      throw new Deno.errors.BadResource("closed");
    },
  });
  queue.enqueue(bytes("x\n"));
  await queue.drained();
  assert.ok(queue.failure instanceof Deno.errors.BadResource);
});

Deno.test("OutboundQueue.close() discards pending frames and refuses new ones", async () => {
  const writer = new FakeWriter();
  const queue = new OutboundQueue(writer);
  queue.enqueue(bytes("never\n"));
  queue.close();
  assert.equal(queue.enqueue(bytes("later\n")), false);
  await queue.drained();
  assert.deepEqual(writer.writes, []);
  assert.equal(queue.queuedBytes, 0);
});

Deno.test("OutboundQueue rejects limits below one byte", () => {
  assert.throws(() => new OutboundQueue(new FakeWriter(), { maxBytes: 0 }), RangeError);
  assert.throws(() => new OutboundQueue(new FakeWriter(), { maxBatchBytes: 0 }), RangeError);
});
