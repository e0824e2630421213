// Copyright the meshchat authors. MIT license.
import { encodeFrame, FrameDecoder } from "./ndjson.ts";

const FRAMES = 10_000;
const CHUNK_BYTES = 64 * 1024;

function sampleFrame(i: number) {
  return {
    t: "msg",
    room: "lobby",
    from: `user${i % 100}`,
    id: `node-1:${i}`,
    text: `message number ${i} with a little more text in it, héllo wörld 🎉`,
    ts: 1_732_000_000_000 + i,
  };
}

const encoded = (() => {
  const frames = Array.from({ length: FRAMES }, (_, i) => encodeFrame(sampleFrame(i)));
  const total = frames.reduce((n, f) => n + f.length, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const frame of frames) {
    bytes.set(frame, at);
    at += frame.length;
  }
  return bytes;
})();
const chunks: Uint8Array[] = [];
for (let at = 0; at < encoded.length; at += CHUNK_BYTES) {
  chunks.push(encoded.subarray(at, at + CHUNK_BYTES));
}

Deno.bench({
  name: `FrameDecoder.push() ${FRAMES} frames of ~${
    Math.round(encoded.length / FRAMES)
  } bytes in 64 KiB chunks`,
  fn() {
    const decoder = new FrameDecoder();
    let count = 0;
    for (const chunk of chunks) count += decoder.push(chunk).length;
    if (count !== FRAMES) throw new Error(`Decoded ${count} frames`);
  },
});

const frame = sampleFrame(42);

Deno.bench({
  name: `encodeFrame() one ${encodeFrame(frame).length}-byte frame`,
  fn() {
    encodeFrame(frame);
  },
});
