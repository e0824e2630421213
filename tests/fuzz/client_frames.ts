/**
 * Fuzz properties of the client protocol decoders: `FrameDecoder` (NDJSON
 * lines from arbitrary byte chunks), `parseClientFrame` (a decoded value
 * to a typed frame) and the WebSocket's `WireReader` (RFC 6455 frames from
 * arbitrary byte chunks).
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type DecodedLine, FrameDecoder, FrameError } from "../../core/ndjson.ts";
import { MAX_TEXT_LENGTH, parseClientFrame, ProtocolError } from "../../core/protocol.ts";
import {
  assertParameters,
  chunk,
  cutPoints,
  type FuzzProperty,
  hostileJson,
  hostileStreamBytes,
  mutatedBytes,
  mutatedRecord,
  validClientFrame,
  wire,
} from "./arbitraries.ts";
import { concatBytes } from "../../core/bytes.ts";
import { type WireEvent, WireReader } from "../../node/frontends/web/ws_wire.ts";
import { clientFrame } from "../helpers/ws_client.ts";

const WIRE_EVENT_KINDS = new Set(["text", "binary", "too_big", "ping", "close", "protocol_error"]);

/** A browser's frames, some split into fragments, some mutated, between hostile bytes. */
const hostileWireBytes: fc.Arbitrary<Uint8Array> = fc.array(
  fc.oneof(
    fc.tuple(hostileStreamBytes, fc.integer({ min: 0, max: 10 }), fc.boolean())
      .map(([payload, opcode, final]) => clientFrame(payload, opcode, final)),
    mutatedBytes(hostileStreamBytes.map((payload) => clientFrame(payload))),
    fc.uint8Array({ maxLength: 64 }),
  ),
  { minLength: 1, maxLength: 6 },
).map((parts) => concatBytes(...parts));

/** An event as compared across chunkings. */
function wireSummary(event: WireEvent): string {
  return event.kind === "ping" ? `ping ${[...event.payload]}` : JSON.stringify(event);
}

const FRAME_ERROR_CODES = new Set(["line_too_long", "bad_utf8", "bad_json"]);
const FRAME_FIELDS = new Set([
  "t",
  "v",
  "user",
  "room",
  "history",
  "text",
  "sealed",
  "kind",
  "cid",
  "line",
]);
const PROTOCOL_CODES = new Set(["bad_frame", "unknown_type", "text_too_long", "bad_envelope"]);

/** A line as compared across chunkings: the value, or the error's code and offset. */
function summary(line: DecodedLine): string {
  // JSON text, not the value: deepEqual recurses and overflows on deep nesting.
  if (line.ok) return `ok ${JSON.stringify(line.value)}`;
  return `${line.error.code} at ${line.error.offset}`;
}

function checkLine(line: DecodedLine): void {
  if (line.ok) return;
  assert.ok(line.error instanceof FrameError, `not a FrameError: ${line.error}`);
  assert.ok(FRAME_ERROR_CODES.has(line.error.code), line.error.code);
  assert.ok(Number.isSafeInteger(line.error.offset) && line.error.offset >= 0);
}

/**
 * Checks one client frame decode: a typed frame or a `ProtocolError`.
 *
 * @param value A decoded JSON value.
 */
export function checkClientFrame(value: unknown): void {
  let frame;
  try {
    frame = parseClientFrame(value);
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `threw ${error}`);
    assert.ok(PROTOCOL_CODES.has(error.code), error.code);
    return;
  }
  assert.equal(Object.getPrototypeOf(frame), Object.prototype);
  assert.ok(["hello", "say", "cmd", "ping"].includes(frame.t));
  for (const key of Object.keys(frame)) assert.ok(FRAME_FIELDS.has(key), `extra field ${key}`);
  for (const [key, field] of Object.entries(frame)) {
    if (key === "history") {
      assert.ok(typeof field === "number" && Number.isInteger(field) && field >= 0, key);
    } else if (key !== "v") assert.equal(typeof field, "string", key);
  }
  if (frame.t === "say") assert.ok(frame.text.length <= MAX_TEXT_LENGTH);
  if (frame.t === "cmd") assert.ok(frame.line.length <= MAX_TEXT_LENGTH);
}

/** The client-frame properties. */
export const clientFrameProperties: FuzzProperty[] = [
  {
    name:
      "client frames: WireReader gives the same events however the bytes are cut, none over the limit",
    run(options) {
      fc.assert(
        fc.property(
          hostileWireBytes,
          cutPoints,
          fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(16_384)),
          (stream, cuts, maxMessageBytes) => {
            const whole = new WireReader(maxMessageBytes).push(stream.slice());
            const reader = new WireReader(maxMessageBytes);
            const events: WireEvent[] = [];
            for (const piece of chunk(stream, cuts)) events.push(...reader.push(piece.slice()));
            for (const event of events) {
              assert.ok(WIRE_EVENT_KINDS.has(event.kind), event.kind);
              if (event.kind === "text") {
                assert.ok(new TextEncoder().encode(event.text).length <= maxMessageBytes);
              }
              if (event.kind === "ping") assert.ok(event.payload.length <= 125);
            }
            const ends = events.findIndex((e) =>
              e.kind !== "text" && e.kind !== "ping" && e.kind !== "binary"
            );
            assert.ok(ends === -1 || ends === events.length - 1, "nothing after the end");
            assert.deepEqual(events.map(wireSummary), whole.map(wireSummary));
          },
        ),
        assertParameters(options),
      );
      return Promise.resolve();
    },
  },
  {
    name: "client frames: FrameDecoder gives ok|FrameError lines, bounded, independent of chunking",
    run(options) {
      fc.assert(
        fc.property(
          fc.array(hostileStreamBytes, { minLength: 1, maxLength: 4 }),
          cutPoints,
          fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(16_384)),
          (parts, cuts, maxLineBytes) => {
            const stream = concatBytes(...parts);
            const whole = new FrameDecoder({ maxLineBytes }).push(stream);
            const decoder = new FrameDecoder({ maxLineBytes });
            const lines: DecodedLine[] = [];
            for (const piece of chunk(stream, cuts)) {
              for (const line of decoder.push(piece)) {
                checkLine(line);
                lines.push(line);
              }
              assert.ok(decoder.buffered <= maxLineBytes + 1, `buffered ${decoder.buffered}`);
            }
            assert.deepEqual(lines.map(summary), whole.map(summary));
          },
        ),
        assertParameters(options),
      );
      return Promise.resolve();
    },
  },
  {
    name: "client frames: parseClientFrame gives a typed frame or ProtocolError",
    run(options) {
      fc.assert(
        fc.property(
          fc.oneof(hostileJson, validClientFrame.chain((frame) => mutatedRecord(frame)))
            .chain((value) => fc.oneof(fc.constant(value), wire(fc.constant(value)))),
          checkClientFrame,
        ),
        assertParameters(options),
      );
      return Promise.resolve();
    },
  },
  {
    name: "client frames: decoded hostile bytes parse to frames or ProtocolError",
    run(options) {
      fc.assert(
        fc.property(hostileStreamBytes, cutPoints, (bytes, cuts) => {
          const decoder = new FrameDecoder({ maxLineBytes: 4096 });
          for (const piece of chunk(bytes, cuts)) {
            for (const line of decoder.push(piece)) {
              checkLine(line);
              if (line.ok) checkClientFrame(line.value);
            }
          }
        }),
        assertParameters(options),
      );
      return Promise.resolve();
    },
  },
];
