import assert from "node:assert/strict";
import {
  type ByteStream,
  framed,
  FrameReader,
  FrameSizeError,
  TruncatedFrameError,
} from "./frame_reader.ts";
import { writeAll } from "../../core/bytes.ts";

/** A stream that hands out `bytes` in reads of at most `chunk` bytes, and records writes. */
function streamOf(bytes: Uint8Array, chunk = Infinity, writeChunk = Infinity) {
  let at = 0;
  const written: number[] = [];
  const stream: ByteStream = {
    read(p) {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(p.length, chunk, bytes.length - at);
      p.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
    write(p) {
      const n = Math.min(p.length, writeChunk);
      written.push(...p.subarray(0, n));
      return Promise.resolve(n);
    },
    close() {},
  };
  return { stream, written };
}

Deno.test("FrameReader.read() returns each framed body, across reads of one byte", async () => {
  const bodies = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(5000).fill(7)];
  const { stream } = streamOf(framed(...bodies), 1);
  const reader = new FrameReader(stream, 16);
  for (const body of bodies) assert.deepEqual(await reader.read(10_000), body);
  assert.equal(await reader.read(10_000), null);
});

Deno.test("FrameReader.read() refuses a length above the maximum before reading its body", async () => {
  const { stream } = streamOf(framed(new Uint8Array(100)));
  await assert.rejects(new FrameReader(stream, 16).read(99), FrameSizeError);
});

Deno.test("FrameReader.read() reports a stream that ends inside a frame", async () => {
  const bytes = framed(new Uint8Array(10)).subarray(0, 8);
  await assert.rejects(new FrameReader(streamOf(bytes).stream, 16).read(100), TruncatedFrameError);
  const header = framed(new Uint8Array(10)).subarray(0, 2);
  await assert.rejects(new FrameReader(streamOf(header).stream, 16).read(100), TruncatedFrameError);
});

Deno.test("writeAll() writes every byte through short writes", async () => {
  const { stream, written } = streamOf(new Uint8Array(0), Infinity, 3);
  await writeAll(stream, framed(new Uint8Array([9, 8, 7, 6])));
  assert.deepEqual(written, [0, 0, 0, 4, 9, 8, 7, 6]);
});
