// Copyright meshchat authors. All rights reserved.
//
// Real loopback TCP throughout; every test stops by itself (short handshake
// timeouts where a test waits for one).

import assert from "node:assert/strict";
import type { ByteStream } from "./frame_reader.ts";
import {
  acceptChannel,
  ChannelClosedError,
  DEFAULT_MAX_FRAME_BYTES,
  HandshakeError,
  initiateChannel,
  type MeshIdentity,
  type SecureChannel,
  type SecureChannelOptions,
} from "./mesh_channel.ts";
import { concatBytes } from "../../core/bytes.ts";
import { writeAll } from "../../core/bytes.ts";

const SECRET = "7Jq2vX9rT1mB4kZ8wP0sN6yC3hD5fG7a";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function identity(nodeId: string, overrides: Partial<MeshIdentity> = {}): MeshIdentity {
  return {
    nodeId,
    boot: crypto.randomUUID(),
    advertise: `127.0.0.1:${7945 + Number(nodeId.slice(1))}`,
    secret: SECRET,
    ...overrides,
  };
}

function framed(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** A connected loopback pair: [dialled side, accepted side]. */
async function tcpPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [client, server] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
      listener.accept(),
    ]);
    return [client, server];
  } finally {
    listener.close();
  }
}

async function channelPair(
  initiatorOptions: SecureChannelOptions = {},
  responderOptions: SecureChannelOptions = {},
): Promise<[SecureChannel, SecureChannel]> {
  const [client, server] = await tcpPair();
  return await Promise.all([
    initiateChannel(client, identity("n1"), initiatorOptions),
    acceptChannel(server, identity("n2"), responderOptions),
  ]);
}

/** Takes up to `n` messages; fewer if the channel ends first. */
async function take(channel: SecureChannel, n: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  if (n === 0) return out;
  for await (const message of channel.messages()) {
    out.push(message);
    if (out.length === n) break;
  }
  return out;
}

async function handshakeFailure(
  promise: Promise<unknown>,
  reason: HandshakeError["reason"],
): Promise<HandshakeError> {
  const error = await promise.then(
    () => assert.fail(`handshake succeeded, expected ${reason}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof HandshakeError, `expected HandshakeError, got ${error}`);
  assert.equal(error.reason, reason, error.message);
  return error;
}

/** Reads until the peer closes (or resets), `limit` bytes, or `ms` pass. */
async function readUntilClosed(conn: Deno.Conn, limit = 1 << 16, ms = 3000): Promise<Uint8Array> {
  const timer = setTimeout(() => closeQuietly(conn), ms);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    const buffer = new Uint8Array(4096);
    while (total < limit) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
      total += n;
    }
  } catch {
    // Reset by the peer, or closed by the timer.
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
  return concatBytes(...chunks);
}

/** Reads exactly `n` bytes (or fewer if the connection ends). */
async function readBytes(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const got = await conn.read(out.subarray(at));
    if (got === null) break;
    at += got;
  }
  return out.subarray(0, at);
}

/** A stream that records what it writes. */
function recording(conn: Deno.Conn, written: Uint8Array[]): ByteStream {
  return {
    read: (p) => conn.read(p),
    write: async (p) => {
      const n = await conn.write(p);
      written.push(p.slice(0, n));
      return n;
    },
    close: () => conn.close(),
  };
}

/**
 * A one-connection TCP proxy to `targetPort` that passes the dialling side's
 * frames through `alter` (frame index, body) and the other direction as is.
 */
function startProxy(
  targetPort: number,
  alter: (index: number, body: Uint8Array) => void,
): { port: number; done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const inbound = await listener.accept();
    listener.close();
    const outbound = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    const closeBoth = () => {
      closeQuietly(inbound);
      closeQuietly(outbound);
    };
    const forwardFrames = async () => {
      let pending: Uint8Array = new Uint8Array(0);
      let index = 0;
      const buffer = new Uint8Array(65536);
      for (;;) {
        const n = await inbound.read(buffer);
        if (n === null) return;
        pending = concatBytes(pending, buffer.subarray(0, n));
        while (pending.length >= 4) {
          const length = new DataView(pending.buffer, pending.byteOffset).getUint32(0);
          if (pending.length < 4 + length) break;
          const body = pending.slice(4, 4 + length);
          alter(index++, body);
          await writeAll(outbound, framed(body));
          pending = pending.slice(4 + length);
        }
      }
    };
    const forwardBytes = async () => {
      const buffer = new Uint8Array(65536);
      for (;;) {
        const n = await outbound.read(buffer);
        if (n === null) return;
        await writeAll(inbound, buffer.subarray(0, n));
      }
    };
    await Promise.all([
      forwardFrames().catch(() => {}).finally(closeBoth),
      forwardBytes().catch(() => {}).finally(closeBoth),
    ]);
  })();
  return { port: listener.addr.port, done };
}

Deno.test("initiateChannel() and acceptChannel() authenticate both nodes and exchange messages both ways", async () => {
  const [client, server] = await tcpPair();
  const n1 = identity("n1");
  const n2 = identity("n2");
  const [a, b] = await Promise.all([initiateChannel(client, n1), acceptChannel(server, n2)]);
  assert.deepEqual(a.peer, { nodeId: "n2", boot: n2.boot, advertise: n2.advertise });
  assert.deepEqual(b.peer, { nodeId: "n1", boot: n1.boot, advertise: n1.advertise });

  await a.send(encoder.encode("ping"));
  assert.deepEqual((await take(b, 1)).map((m) => decoder.decode(m)), ["ping"]);
  await b.send(encoder.encode("pong"));
  await b.send(new Uint8Array(0));
  assert.deepEqual((await take(a, 2)).map((m) => decoder.decode(m)), ["pong", ""]);
  a.close();
  b.close();
});

Deno.test("SecureChannel.send() keeps the order of 1,000 concurrent messages in both directions", async () => {
  const [a, b] = await channelPair();
  const count = 1000;
  const received = Promise.all([take(a, count), take(b, count)]);
  await Promise.all(
    Array.from({ length: count }, (_, i) => [
      a.send(encoder.encode(`a${i}`)),
      b.send(encoder.encode(`b${i}`)),
    ]).flat(),
  );
  const [atA, atB] = await received;
  assert.deepEqual(
    atB.map((m) => decoder.decode(m)),
    Array.from({ length: count }, (_, i) => `a${i}`),
  );
  assert.deepEqual(
    atA.map((m) => decoder.decode(m)),
    Array.from({ length: count }, (_, i) => `b${i}`),
  );
  a.close();
  b.close();
});

Deno.test("SecureChannel carries a message of exactly maxFrameBytes and refuses one byte more", async () => {
  const [a, b] = await channelPair();
  const max = DEFAULT_MAX_FRAME_BYTES;
  const big = new Uint8Array(max);
  for (let i = 0; i < max; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
  const received = take(b, 2);
  await a.send(big);
  await assert.rejects(a.send(new Uint8Array(max + 1)), RangeError);
  assert.equal(a.closed, false);
  await a.send(encoder.encode("after"));
  const [first, second] = await received;
  assert.equal(first!.length, max);
  assert.ok(first!.every((byte, i) => byte === big[i]));
  assert.equal(decoder.decode(second), "after");
  a.close();
  b.close();
});

Deno.test("SecureChannel closes when the peer sends a frame above its maxFrameBytes", async () => {
  const [a, b] = await channelPair({ maxFrameBytes: 4096 }, { maxFrameBytes: 1024 });
  await a.send(new Uint8Array(1024));
  await a.send(new Uint8Array(1025));
  const got = await take(b, 2);
  assert.equal(got.length, 1);
  assert.equal(b.closeReason, "oversize");
  assert.deepEqual(await take(a, 1), []);
  assert.ok(a.closed);
});

Deno.test("SecureChannel.close() ends messages() on both sides and later sends fail", async () => {
  const [a, b] = await channelPair();
  const pendingA = take(a, 1);
  const pendingB = take(b, 1);
  await new Promise((resolve) => setTimeout(resolve, 10));
  a.close();
  assert.deepEqual(await pendingA, []);
  assert.deepEqual(await pendingB, []);
  assert.equal(a.closeReason, "local");
  assert.equal(b.closeReason, "eof");
  await assert.rejects(a.send(encoder.encode("x")), ChannelClosedError);
  await assert.rejects(b.send(encoder.encode("x")), ChannelClosedError);
});

Deno.test("SecureChannel.messages() refuses a second concurrent iteration", async () => {
  const [a, b] = await channelPair();
  const first = take(a, 1);
  await new Promise((resolve) => setTimeout(resolve, 10));
  await assert.rejects(a.messages().next(), /already being iterated/);
  await b.send(encoder.encode("x"));
  assert.equal((await first).length, 1);
  a.close();
  b.close();
});

Deno.test("a wrong secret fails on both sides with bad_secret, promptly, without admit() or messages", async () => {
  const [client, server] = await tcpPair();
  let admitted = 0;
  const [initiator, responder] = await Promise.allSettled([
    handshakeFailure(
      initiateChannel(client, identity("n1", { secret: "wrong secret" })),
      "bad_secret",
    ),
    handshakeFailure(
      acceptChannel(server, identity("n2"), {
        admit: () => {
          admitted++;
          return undefined;
        },
      }),
      "bad_secret",
    ),
  ]);
  // Promptly: a failure that waited for the handshake deadline would say timeout, not bad_secret.
  assert.equal(initiator.status, "fulfilled", String((initiator as PromiseRejectedResult).reason));
  assert.equal(responder.status, "fulfilled", String((responder as PromiseRejectedResult).reason));
  assert.match(
    (responder as PromiseFulfilledResult<HandshakeError>).value.message,
    /^Cannot complete mesh handshake: peer did not prove the cluster secret$/,
  );
  assert.match((initiator as PromiseFulfilledResult<HandshakeError>).value.message, /same secret/);
  assert.equal(admitted, 0);
});

const GARBAGE: [string, () => Uint8Array][] = [
  ["random bytes", () => {
    const bytes = crypto.getRandomValues(new Uint8Array(256));
    bytes[0]! |= 0x80;
    return bytes;
  }],
  ["an HTTP request", () => encoder.encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")],
  ["a length just above the handshake maximum", () => new Uint8Array([0, 0, 4, 1])],
  ["the largest length", () => new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3])],
  ["an empty frame", () => new Uint8Array(4)],
  ["a random framed body", () => framed(crypto.getRandomValues(new Uint8Array(54)))],
  ["a mesh header of an unknown type", () => framed(encoder.encode("MESH\x01\x09"))],
  [
    "an INIT of the wrong length",
    () => framed(concatBytes(encoder.encode("MESH\x01\x01"), new Uint8Array(47))),
  ],
  [
    "an INIT with a low-order public key",
    () => framed(concatBytes(encoder.encode("MESH\x01\x01"), new Uint8Array(48))),
  ],
];

for (const [name, bytes] of GARBAGE) {
  Deno.test(`acceptChannel() drops ${name} promptly as garbage`, async () => {
    const [client, server] = await tcpPair();
    // Promptly: waiting for the handshake deadline would fail with timeout, not garbage.
    const accepted = handshakeFailure(acceptChannel(server, identity("n2")), "garbage");
    await writeAll(client, bytes()).catch(() => {});
    const [error, answer] = await Promise.all([accepted, readUntilClosed(client)]);
    assert.equal(answer.length, 0, "the responder must not answer garbage");
    assert.match(error.message, /^Cannot complete mesh handshake: peer sent garbage: /);
  });
}

Deno.test("acceptChannel() fails with closed when the peer hangs up first", async () => {
  const [client, server] = await tcpPair();
  client.close();
  await handshakeFailure(acceptChannel(server, identity("n2")), "closed");
});

Deno.test("acceptChannel() answers another protocol version with REJECT and fails with version", async () => {
  const [client, server] = await tcpPair();
  const accepted = handshakeFailure(acceptChannel(server, identity("n2")), "version");
  await writeAll(client, framed(concatBytes(encoder.encode("MESH\x02\x01"), new Uint8Array(48))));
  const answer = await readBytes(client, 11);
  client.close();
  const error = await accepted;
  assert.match(error.message, /version 2, this node speaks 1/);
  assert.deepEqual(
    answer,
    concatBytes(new Uint8Array([0, 0, 0, 7]), encoder.encode("MESH\x01\x0f\x01")),
  );
});

Deno.test("initiateChannel() fails with version when the responder speaks another version", async () => {
  const [client, server] = await tcpPair();
  const initiated = handshakeFailure(initiateChannel(client, identity("n1")), "version");
  assert.equal((await readBytes(server, 58)).length, 58);
  await writeAll(server, framed(concatBytes(encoder.encode("MESH\x03\x02"), new Uint8Array(48))));
  const error = await initiated;
  assert.match(error.message, /peer speaks mesh protocol version 3/);
  server.close();
});

Deno.test("acceptChannel() times out on a silent peer", async () => {
  const [client, server] = await tcpPair();
  const started = performance.now();
  const error = await handshakeFailure(
    acceptChannel(server, identity("n2"), { handshakeTimeoutMs: 200 }),
    "timeout",
  );
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 190, `gave up after ${elapsed} ms, before its 200 ms deadline`);
  assert.match(error.message, /within 200 ms/);
  assert.equal((await readUntilClosed(client)).length, 0);
});

Deno.test("acceptChannel() times out on a peer that stops inside a frame", async () => {
  const [client, server] = await tcpPair();
  const accepted = acceptChannel(server, identity("n2"), { handshakeTimeoutMs: 200 });
  await writeAll(client, new Uint8Array([0, 0, 0, 54, 0x4d, 0x45]));
  await handshakeFailure(accepted, "timeout");
  await readUntilClosed(client);
});

Deno.test("initiateChannel() times out on a silent responder", async () => {
  const [client, server] = await tcpPair();
  await handshakeFailure(
    initiateChannel(client, identity("n1"), { handshakeTimeoutMs: 200 }),
    "timeout",
  );
  await readUntilClosed(server);
});

Deno.test("acceptChannel() refuses a replay of an initiator's handshake", async () => {
  const written: Uint8Array[] = [];
  {
    const [client, server] = await tcpPair();
    const [a, b] = await Promise.all([
      initiateChannel(recording(client, written), identity("n1")),
      acceptChannel(server, identity("n2")),
    ]);
    a.close();
    b.close();
  }
  const recorded = concatBytes(...written);
  // INIT (58) + PROOF_I (42) + the encrypted HELLO record.
  assert.ok(recorded.length > 100);

  const [client, server] = await tcpPair();
  const accepted = handshakeFailure(acceptChannel(server, identity("n2")), "bad_secret");
  await writeAll(client, recorded);
  // A fresh REPLY (58) then REJECT bad secret (11).
  const answer = await readBytes(client, 69);
  client.close();
  await accepted;
  assert.deepEqual(
    answer.subarray(58),
    concatBytes(new Uint8Array([0, 0, 0, 7]), encoder.encode("MESH\x01\x0f\x02")),
  );
});

Deno.test("initiateChannel() refuses a replay of a responder's handshake", async () => {
  const written: Uint8Array[] = [];
  {
    const [client, server] = await tcpPair();
    const [a, b] = await Promise.all([
      initiateChannel(client, identity("n1")),
      acceptChannel(recording(server, written), identity("n2")),
    ]);
    a.close();
    b.close();
  }
  const [client, server] = await tcpPair();
  const initiated = handshakeFailure(initiateChannel(client, identity("n1")), "bad_secret");
  assert.equal((await readBytes(server, 58)).length, 58);
  await writeAll(server, concatBytes(...written));
  await initiated;
  await readUntilClosed(server);
});

Deno.test("SecureChannel closes without delivering a frame whose bits were flipped in transit", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  // Frames from the initiator: 0 INIT, 1 PROOF_I, 2 HELLO record, 3 the first message.
  const proxy = startProxy(listener.addr.port, (index, body) => {
    if (index === 3) body[7]! ^= 0x10;
  });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: proxy.port }),
    listener.accept(),
  ]);
  listener.close();
  const [a, b] = await Promise.all([
    initiateChannel(client, identity("n1")),
    acceptChannel(server, identity("n2")),
  ]);
  const atB = take(b, 2);
  await a.send(encoder.encode("transfer 100 coins"));
  await a.send(encoder.encode("a later, intact message")).catch(() => {});
  assert.deepEqual(await atB, []);
  assert.equal(b.closeReason, "tampered");
  assert.deepEqual(await take(a, 1), []);
  assert.ok(a.closed);
  await proxy.done;
});

Deno.test("a handshake altered in transit fails with bad_secret on both sides", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const proxy = startProxy(listener.addr.port, (index, body) => {
    if (index === 0) body[6 + 32]! ^= 0x01; // a bit of the initiator's nonce
  });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: proxy.port }),
    listener.accept(),
  ]);
  listener.close();
  await Promise.all([
    handshakeFailure(initiateChannel(client, identity("n1")), "bad_secret"),
    handshakeFailure(acceptChannel(server, identity("n2")), "bad_secret"),
  ]);
  await proxy.done;
});

Deno.test("acceptChannel() sends the admit() refusal to the initiator", async () => {
  const [client, server] = await tcpPair();
  const seen: string[] = [];
  const [initiator, responder] = await Promise.all([
    handshakeFailure(initiateChannel(client, identity("n2")), "refused"),
    handshakeFailure(
      acceptChannel(server, identity("n1"), {
        admit: (peer) => {
          seen.push(peer.nodeId);
          return `node id ${peer.nodeId} is already in the cluster\x1b[2J`;
        },
      }),
      "refused",
    ),
  ]);
  assert.deepEqual(seen, ["n2"]);
  assert.equal(
    initiator.message,
    "Cannot join mesh: peer refused this node: node id n2 is already in the cluster",
  );
  assert.equal(responder.peer?.nodeId, "n2");
  assert.match(responder.message, /refused node n2 at 127\.0\.0\.1:7947: node id n2 is already/);
});

Deno.test("acceptChannel() refuses a second node claiming its own node id", async () => {
  const [client, server] = await tcpPair();
  const [initiator] = await Promise.all([
    handshakeFailure(initiateChannel(client, identity("n1")), "refused"),
    handshakeFailure(acceptChannel(server, identity("n1")), "refused"),
  ]);
  assert.match(initiator.message, /node id n1 is already in the cluster$/);
});

Deno.test("initiateChannel() and acceptChannel() refuse a node connected to itself", async () => {
  const [client, server] = await tcpPair();
  const me = identity("n1");
  const [initiator] = await Promise.all([
    handshakeFailure(initiateChannel(client, me), "refused"),
    handshakeFailure(acceptChannel(server, me), "refused"),
  ]);
  assert.match(initiator.message, /node n1 connected to itself$/);
});

Deno.test("initiateChannel() rejects a bad identity or options and closes the stream", async () => {
  const [client, server] = await tcpPair();
  await assert.rejects(initiateChannel(client, identity("n 1")), RangeError);
  assert.equal((await readUntilClosed(server)).length, 0);
  for (
    const [me, options, error] of [
      [identity("n1", { secret: "" }), {}, RangeError],
      [identity("n1", { advertise: "no-port" }), {}, RangeError],
      [identity("n1", { advertise: "[::1]:70000" }), {}, RangeError],
      [identity("n1"), { handshakeTimeoutMs: 0 }, RangeError],
      [identity("n1"), { maxFrameBytes: 0.5 }, RangeError],
      [{ ...identity("n1"), boot: 7 } as unknown as MeshIdentity, {}, TypeError],
    ] as const
  ) {
    const [c, s] = await tcpPair();
    await assert.rejects(acceptChannel(s, me, options), error);
    c.close();
  }
});
