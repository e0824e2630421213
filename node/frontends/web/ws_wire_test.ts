import assert from "node:assert/strict";
import { concatBytes } from "../../../core/bytes.ts";
import { clientFrame } from "../../../tests/helpers/ws_client.ts";
import {
  acceptKey,
  closeFrame,
  pongFrame,
  textFrame,
  validKey,
  type WireEvent,
  WireReader,
} from "./ws_wire.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** A masked frame, opcode first. */
function clientFrameOp(opcode: number, payload: Uint8Array, final = true): Uint8Array {
  return clientFrame(payload, opcode, final);
}

/** Only the header of a browser's frame that claims `length` bytes. */
function claimedHeader(length: number): Uint8Array {
  const header = new Uint8Array(14);
  header[0] = 0x81;
  header[1] = 0x80 | 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  return header;
}

function decoded(events: WireEvent[]): unknown[] {
  return events.map((e) => e.kind === "text" ? e.text : e);
}

Deno.test("acceptKey() answers RFC 6455's example handshake", async () => {
  assert.equal(await acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert.ok(validKey("dGhlIHNhbXBsZSBub25jZQ=="));
  assert.ok(!validKey("short") && !validKey(null));
});

Deno.test("the node's frames: text with 7-, 16- and 64-bit lengths, close with a cut reason, pong", () => {
  assert.deepEqual([...textFrame(text("hi"))], [0x81, 2, 104, 105]);
  assert.deepEqual([...textFrame(new Uint8Array(300)).subarray(0, 4)], [0x81, 126, 1, 44]);
  const big = textFrame(new Uint8Array(70_000));
  assert.deepEqual([...big.subarray(0, 10)], [0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
  const close = closeFrame(1008, "x".repeat(300));
  assert.deepEqual([...close.subarray(0, 4)], [0x88, 125, 0x03, 0xf0]);
  assert.deepEqual([...pongFrame(text("p"))], [0x8a, 1, 112]);
});

Deno.test("WireReader reads messages cut anywhere, fragmented or whole, and answers pings", () => {
  const stream = concatBytes(
    clientFrameOp(0x1, text('{"t":"say","text":"héllo"}')),
    clientFrameOp(0x1, text('{"t":'), false),
    clientFrameOp(0x9, text("ping!")),
    clientFrameOp(0x0, text('"ping"}')),
    clientFrameOp(0xa, new Uint8Array(0)),
    clientFrameOp(0x1, new Uint8Array(300).fill(0x61)),
  );
  for (let cut = 0; cut <= stream.length; cut += 7) {
    const reader = new WireReader(1000);
    const events = [...reader.push(stream.slice(0, cut)), ...reader.push(stream.slice(cut))];
    assert.deepEqual(decoded(events), [
      '{"t":"say","text":"héllo"}',
      { kind: "ping", payload: text("ping!") },
      '{"t":"ping"}',
      "a".repeat(300),
    ], `cut at ${cut}`);
  }
});

Deno.test("WireReader refuses a message over the limit by its declared size, before reading it", () => {
  const reader = new WireReader(100);
  // Only the header of a 1 GB frame: refused at once.
  assert.deepEqual(reader.push(claimedHeader(1 << 30)), [{ kind: "too_big", size: 1 << 30 }]);
  assert.deepEqual(reader.push(clientFrameOp(0x1, text("{}"))), [], "nothing after");
  // Fragments count together.
  const parts = new WireReader(100);
  assert.deepEqual(parts.push(clientFrameOp(0x1, new Uint8Array(60), false)), []);
  assert.deepEqual(parts.push(clientFrameOp(0x0, new Uint8Array(60))), [{
    kind: "too_big",
    size: 120,
  }]);
});

Deno.test("WireReader stops at frames a browser never sends, at binary and at close", () => {
  const first = (bytes: Uint8Array) => new WireReader(1000).push(bytes)[0];
  const unmasked = Uint8Array.of(0x81, 2, 104, 105);
  assert.equal(first(unmasked)?.kind, "protocol_error");
  assert.equal(first(clientFrameOp(0x3, text("x")))?.kind, "protocol_error", "unknown opcode");
  assert.equal(first(Uint8Array.of(0xc1, 0x80, 0, 0, 0, 0))?.kind, "protocol_error", "RSV1");
  assert.equal(first(clientFrameOp(0x0, text("x")))?.kind, "protocol_error", "lone continuation");
  assert.equal(first(clientFrameOp(0x9, text("x"), false))?.kind, "protocol_error", "split ping");
  assert.equal(first(clientFrameOp(0x9, new Uint8Array(126)))?.kind, "protocol_error", "long ping");
  assert.deepEqual(first(clientFrameOp(0x2, new Uint8Array(5))), { kind: "binary", size: 5 });
  assert.deepEqual(first(clientFrameOp(0x8, Uint8Array.of(0x03, 0xe8))), {
    kind: "close",
    code: 1000,
  });
  assert.deepEqual(first(clientFrameOp(0x8, new Uint8Array(0))), { kind: "close", code: 1005 });
  const interleaved = new WireReader(1000);
  interleaved.push(clientFrameOp(0x1, text("a"), false));
  assert.equal(interleaved.push(clientFrameOp(0x1, text("b")))[0]?.kind, "protocol_error");
});

Deno.test("WireReader decodes a read's texts together, ASCII or not, from a buffer the caller reuses", () => {
  const messages = ["{}", '{"t":"say","text":"a"}', "", "x".repeat(200), '{"t":"ping"}'];
  const mixed = [...messages, "日本 👍", "é", "plain again"];
  for (const set of [messages, mixed]) {
    const stream = concatBytes(...set.map((m) => clientFrameOp(0x1, text(m))));
    for (let cut = 0; cut <= stream.length; cut += 5) {
      const reader = new WireReader(1000);
      // One read buffer, filled again for each read (as the read loop does).
      const buffer = new Uint8Array(stream.length);
      const read = (bytes: Uint8Array) => {
        buffer.set(bytes);
        const events = reader.push(buffer.subarray(0, bytes.length));
        buffer.fill(0xee);
        return events;
      };
      const events = [...read(stream.subarray(0, cut)), ...read(stream.subarray(cut))];
      assert.deepEqual(decoded(events), set, `cut at ${cut}`);
    }
  }
});

Deno.test("WireReader delivers the texts before one that is not UTF-8, then stops", () => {
  const bad = Uint8Array.of(0x7b, 0xc3, 0x28, 0x7d); // an invalid two-byte sequence
  for (const before of [["a", "b"], ["é", "b"]]) {
    const reader = new WireReader(1000);
    const events = reader.push(concatBytes(
      ...before.map((m) => clientFrameOp(0x1, text(m))),
      clientFrameOp(0x1, bad),
      clientFrameOp(0x1, text("after")),
    ));
    assert.deepEqual(decoded(events), [
      ...before,
      { kind: "protocol_error", message: "a text message must be UTF-8" },
    ]);
    assert.deepEqual(reader.push(clientFrameOp(0x1, text("later"))), [], "nothing more is read");
  }
  const fragmented = new WireReader(1000);
  assert.deepEqual(
    decoded(fragmented.push(concatBytes(
      clientFrameOp(0x1, text("ok")),
      clientFrameOp(0x1, bad.subarray(0, 2), false),
      clientFrameOp(0x0, bad.subarray(2)),
    ))),
    ["ok", { kind: "protocol_error", message: "a text message must be UTF-8" }],
  );
});

Deno.test("WireReader counts each fragment as 16 bytes at least: endless empty fragments reach the limit", () => {
  const reader = new WireReader(1000);
  assert.deepEqual(reader.push(clientFrameOp(0x1, new Uint8Array(0), false)), []);
  const empties = concatBytes(
    ...Array.from({ length: 100 }, () => clientFrameOp(0x0, new Uint8Array(0), false)),
  );
  const events = [...reader.push(empties), ...reader.push(empties)];
  assert.deepEqual(events, [{ kind: "too_big", size: 1008 }], "the 63rd fragment is over");
  // Fragments of real size count as they are.
  const parts = new WireReader(1000);
  assert.deepEqual(parts.push(clientFrameOp(0x1, text("a".repeat(500)), false)), []);
  assert.deepEqual(decoded(parts.push(clientFrameOp(0x0, text("b".repeat(500))))), [
    "a".repeat(500) + "b".repeat(500),
  ]);
});
