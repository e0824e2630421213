/**
 * Fuzz properties of the mesh wire before authentication: the handshake
 * codec, both sides of the handshake fed arbitrary and mutated-valid bytes
 * over an in-memory stream, and the record opener.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeMeshHandshake,
  encodeMeshHandshake,
  MESH_HANDSHAKE_HEADER_BYTES,
  MESH_VERSION,
  MeshFrameOpener,
  MeshHandshakeType,
} from "../../core/mesh_crypto.ts";
import { type ByteStream, framed } from "../../node/mesh/frame_reader.ts";
import {
  acceptChannel,
  HandshakeError,
  initiateChannel,
  type MeshIdentity,
} from "../../node/mesh/mesh_channel.ts";
import {
  assertParameters,
  chunk,
  cutPoints,
  type FuzzProperty,
  mutatedBytes,
} from "./arbitraries.ts";

const HANDSHAKE_REASONS = new Set([
  "timeout",
  "bad_secret",
  "garbage",
  "version",
  "refused",
  "closed",
]);

/** An in-memory connection that yields the given chunks, then end of stream. */
class ScriptedStream implements ByteStream {
  readonly #chunks: Uint8Array[];
  written = 0;
  closed = false;

  constructor(chunks: Uint8Array[]) {
    this.#chunks = chunks.filter((c) => c.length > 0);
  }

  read(p: Uint8Array): Promise<number | null> {
    const next = this.#chunks.shift();
    if (next === undefined || this.closed) return Promise.resolve(null);
    const n = Math.min(p.length, next.length);
    p.set(next.subarray(0, n));
    if (n < next.length) this.#chunks.unshift(next.subarray(n));
    return Promise.resolve(n);
  }

  write(p: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    this.written += p.length;
    return Promise.resolve(p.length);
  }

  close(): void {
    this.closed = true;
  }
}

const handshakeType = fc.constantFrom(...Object.values(MeshHandshakeType));

/** Well-formed handshake bodies with random contents. */
const validBody: fc.Arbitrary<Uint8Array> = handshakeType.chain((type) => {
  const length = encodeMeshHandshake(type, new Uint8Array(type === 0x0f ? 1 : type <= 2 ? 48 : 32))
    .length - MESH_HANDSHAKE_HEADER_BYTES;
  return fc.uint8Array({ minLength: length, maxLength: length }).map((payload) =>
    encodeMeshHandshake(type, payload)
  );
});

/** What a peer might send first: framed valid messages, mutated, or noise. */
const handshakeStream: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.array(validBody, { minLength: 1, maxLength: 3 }).map((bodies) => framed(...bodies)),
  mutatedBytes(fc.array(validBody, { minLength: 1, maxLength: 3 }).map((b) => framed(...b))),
  fc.uint8Array({ maxLength: 128 }),
  fc.constantFrom(
    new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    new TextEncoder().encode('{"t":"hello","v":1,"user":"x"}\n'),
    new Uint8Array([0, 0, 0xff, 0xff]),
    new Uint8Array([0xff, 0xff, 0xff, 0xff]),
  ),
);

const me: MeshIdentity = {
  nodeId: "n9",
  boot: "fuzz",
  advertise: "127.0.0.1:1",
  secret: "fuzz-secret",
};

async function checkRefused(handshake: Promise<unknown>, stream: ScriptedStream): Promise<void> {
  try {
    await handshake;
  } catch (error) {
    assert.ok(error instanceof HandshakeError, `threw ${error}`);
    assert.ok(HANDSHAKE_REASONS.has(error.reason), error.reason);
    assert.ok(stream.closed, "stream left open after a failed handshake");
    return;
  }
  assert.fail("a handshake from arbitrary bytes succeeded");
}

let openerKey: Uint8Array<ArrayBuffer> | undefined;

/** The mesh handshake properties. */
export const meshHandshakeProperties: FuzzProperty[] = [
  {
    name: "mesh handshake: decodeMeshHandshake gives a message or SyntaxError",
    run(options) {
      fc.assert(
        fc.property(
          fc.oneof(validBody, mutatedBytes(validBody), fc.uint8Array({ maxLength: 80 })),
          (body) => {
            let message;
            try {
              message = decodeMeshHandshake(body);
            } catch (error) {
              assert.ok(error instanceof SyntaxError, `threw ${error}`);
              return;
            }
            assert.equal(message.payload.length, body.length - MESH_HANDSHAKE_HEADER_BYTES);
            if (message.version === MESH_VERSION) {
              assert.ok(Object.values(MeshHandshakeType).includes(message.type));
            }
          },
        ),
        assertParameters(options),
      );
      return Promise.resolve();
    },
  },
  {
    name: "mesh handshake: acceptChannel refuses arbitrary bytes with HandshakeError",
    weight: 0.1,
    async run(options) {
      await fc.assert(
        fc.asyncProperty(handshakeStream, cutPoints, async (bytes, cuts) => {
          const stream = new ScriptedStream(chunk(bytes, cuts));
          await checkRefused(acceptChannel(stream, me, { handshakeTimeoutMs: 2000 }), stream);
        }),
        assertParameters(options),
      );
    },
  },
  {
    name: "mesh handshake: initiateChannel refuses arbitrary replies with HandshakeError",
    weight: 0.1,
    async run(options) {
      await fc.assert(
        fc.asyncProperty(handshakeStream, cutPoints, async (bytes, cuts) => {
          const stream = new ScriptedStream(chunk(bytes, cuts));
          await checkRefused(initiateChannel(stream, me, { handshakeTimeoutMs: 2000 }), stream);
        }),
        assertParameters(options),
      );
    },
  },
  {
    name: "mesh handshake: MeshFrameOpener refuses arbitrary records with null, for good",
    weight: 0.3,
    async run(options) {
      openerKey ??= crypto.getRandomValues(new Uint8Array(32));
      const key = openerKey;
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              fc.uint8Array({ minLength: 16, maxLength: 96 }),
              fc.uint8Array({ maxLength: 16 }),
            ),
            { minLength: 1, maxLength: 3 },
          ),
          async (frames) => {
            const opener = new MeshFrameOpener(key);
            for (const frame of frames) {
              assert.equal(await opener.open(Uint8Array.from(frame)), null);
              assert.ok(opener.failed);
            }
          },
        ),
        assertParameters(options),
      );
    },
  },
];
