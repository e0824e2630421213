import assert from "node:assert/strict";
import { writeAll } from "../../../core/bytes.ts";
import { ConnDuplex } from "./socket_stream.ts";

const text = (s: string) => new TextEncoder().encode(s);

/**
 * Runs `body` with a `ConnDuplex` over the accepted end of a loopback
 * connection (`first` put back in front) and the dialling end; closes both after.
 */
async function withDuplex(
  first: Uint8Array<ArrayBuffer> | undefined,
  body: (duplex: ConnDuplex, client: Deno.TcpConn) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [server, client] = await Promise.all([
    listener.accept(),
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
  ]);
  listener.close();
  const duplex = new ConnDuplex(server, first);
  try {
    await body(duplex, client);
  } finally {
    duplex.destroy();
    client.close();
  }
}

/** Reads with `read` until `expected` bytes came or the end, as text. */
async function readText(
  read: (buffer: Uint8Array) => Promise<number | null>,
  expected: number,
): Promise<string> {
  const buffer = new Uint8Array(64);
  let got = "";
  while (got.length < expected) {
    const n = await read(buffer);
    if (n === null) break;
    got += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return got;
}

Deno.test("ConnDuplex.takeReads() hands over the head, what the stream read, then the connection, in order", () =>
  withDuplex(undefined, async (duplex, client) => {
    // The stream's consumer (node:http) takes the first chunk and stops; the stream reads on.
    await writeAll(client, text("request"));
    const first = await new Promise<Uint8Array>((resolve) => duplex.once("data", resolve));
    duplex.pause();
    assert.equal(new TextDecoder().decode(first), "request");
    await writeAll(client, text("-buffered"));
    await new Promise((resolve) => setTimeout(resolve, 50)); // read by the stream meanwhile
    const reader = duplex.takeReads(text("head"));
    assert.equal(await readText((b) => reader.read(b), 13), "head-buffered");
    await writeAll(client, text("-direct"));
    assert.equal(await readText((b) => reader.read(b), 7), "-direct");
    client.closeWrite();
    assert.equal(await reader.read(new Uint8Array(8)), null, "the peer's end");
  }));

Deno.test("ConnDuplex.takeReads() gives the head at once while a read waits for the peer", () =>
  withDuplex(undefined, async (duplex, client) => {
    await writeAll(client, text("request+hello"));
    await new Promise<Uint8Array>((resolve) => duplex.once("data", resolve));
    duplex.pause(); // a read of the stream's is in flight now, waiting for bytes that do not come
    const reader = duplex.takeReads(text("hello"));
    assert.equal(await readText((b) => reader.read(b), 5), "hello");
    const next = reader.read(new Uint8Array(8));
    await writeAll(client, text("later"));
    const n = await next;
    assert.equal(n, 5, "the bytes of the read in flight are not lost");
    client.closeWrite();
    assert.equal(await reader.read(new Uint8Array(8)), null);
  }));

Deno.test("ConnDuplex.takeReads() keeps the bytes of the stream's read that lands while the head is handled", () =>
  withDuplex(undefined, async (duplex, client) => {
    await writeAll(client, text("request"));
    await new Promise((resolve) => duplex.once("data", resolve));
    duplex.pause();
    // node:http takes a while before it hands the connection over: the stream's next read waits.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const reader = duplex.takeReads(text("hello"));
    assert.equal(await readText((b) => reader.read(b), 5), "hello");
    // Sent while the hello is handled: that read of the stream's gets it.
    await writeAll(client, text("second"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await writeAll(client, text("third"));
    client.closeWrite();
    assert.equal(await readText((b) => reader.read(b), 100), "secondthird");
  }));

Deno.test("ConnDuplex.takeReads() gives the bytes read before the duplex was made first", () =>
  withDuplex(text("first"), async (duplex, client) => {
    duplex.read(0); // the stream asks for them: they are pushed on the next turn, unless taken first
    const reader = duplex.takeReads(new Uint8Array(0));
    await writeAll(client, text("-more"));
    client.closeWrite();
    assert.equal(await readText((b) => reader.read(b), 100), "first-more");
  }));
