import assert from "node:assert/strict";
import { holdWrites, releaseWrites } from "../write_batches.ts";
import type { FrameLine } from "../protocol_connection.ts";
import { MAX_MESSAGE_BYTES, NdjsonMessages } from "./ndjson_messages.ts";

function line(text: string): FrameLine {
  return { text: text + "\n", bytes: new TextEncoder().encode(text + "\n").length };
}

/** Resolves after the microtasks queued so far (the queue starts at one). */
function nextMicrotask(): Promise<void> {
  return new Promise((resolve) => queueMicrotask(resolve));
}

Deno.test("NdjsonMessages sends the frames of one synchronous run as one message", async () => {
  const sent: string[] = [];
  const messages = new NdjsonMessages((text) => sent.push(text));
  messages.add(line('{"t":"a"}'));
  messages.add(line('{"t":"é"}'));
  assert.equal(messages.pendingBytes, 10 + 11);
  assert.deepEqual(sent, []);
  await nextMicrotask();
  assert.deepEqual(sent, ['{"t":"a"}\n{"t":"é"}\n']);
  assert.equal(messages.pendingBytes, 0);
  messages.add(line('{"t":"b"}'));
  await nextMicrotask();
  assert.deepEqual(sent.slice(1), ['{"t":"b"}\n']);
});

Deno.test("NdjsonMessages waits for the end of a hold", async () => {
  const sent: string[] = [];
  const messages = new NdjsonMessages((text) => sent.push(text));
  holdWrites();
  try {
    messages.add(line("1"));
    await nextMicrotask();
    messages.add(line("2"));
    await nextMicrotask();
    assert.deepEqual(sent, []);
  } finally {
    releaseWrites();
  }
  assert.deepEqual(sent, ["1\n2\n"]);
});

Deno.test("NdjsonMessages cuts a burst into messages of at most MAX_MESSAGE_BYTES", () => {
  const sent: string[] = [];
  const messages = new NdjsonMessages((text) => sent.push(text));
  const big = line("x".repeat(MAX_MESSAGE_BYTES / 2 - 1)); // half the limit with its newline
  const huge = line("y".repeat(MAX_MESSAGE_BYTES + 10));
  for (const frame of [big, big, big, huge, big]) messages.add(frame);
  messages.flush();
  assert.deepEqual(sent, [big.text + big.text, big.text, huge.text, big.text]);
});

Deno.test("NdjsonMessages sends each reader its own frames when readers of a fan-out share some", () => {
  const sent: string[][] = [[], []];
  const readers = sent.map((out) => new NdjsonMessages((text) => out.push(text)));
  const shared = [line("1"), line("2")];
  for (const reader of readers) for (const frame of shared) reader.add(frame);
  readers[1]!.add(line("3"));
  for (const reader of readers) reader.flush();
  assert.deepEqual(sent, [["1\n2\n"], ["1\n2\n3\n"]]);
});

Deno.test("NdjsonMessages.discard() drops what waits, and the burst's end sends nothing", async () => {
  const sent: string[] = [];
  const messages = new NdjsonMessages((text) => sent.push(text));
  messages.add(line("1"));
  messages.add(line("2"));
  assert.equal(messages.discard(), 2);
  assert.equal(messages.pendingBytes, 0);
  await nextMicrotask();
  assert.deepEqual(sent, []);
});

/** Resolves after the event loop's next check phase (where put-off flushes run). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("NdjsonMessages holds bursts while the socket is writing, until it is free or a message is full", async () => {
  const sent: string[] = [];
  let writing = true;
  const messages = new NdjsonMessages((text) => sent.push(text), () => writing);
  messages.add(line("1"));
  await nextMicrotask();
  messages.add(line("2"));
  await nextTurn();
  assert.deepEqual(sent, [], "nothing leaves while the previous message is being written");
  writing = false;
  await nextTurn();
  assert.deepEqual(sent, ["1\n2\n"], "the bursts leave together once the socket is free");
  writing = true;
  const half = line("x".repeat(MAX_MESSAGE_BYTES / 2 - 1));
  messages.add(half);
  messages.add(half);
  await nextMicrotask();
  assert.deepEqual(sent.slice(1), [half.text + half.text], "a full message does not wait");
  messages.add(line("3"));
  messages.flush();
  assert.deepEqual(sent.slice(2), ["3\n"], "flush() sends at once, writing or not");
});
