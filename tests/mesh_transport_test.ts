/**
 * The mesh transports: one contract run against TCP on loopback and against
 * the in-memory transport the in-process tests use, then the memory
 * network's cuts.
 */
import assert from "node:assert/strict";
import type { MeshConnection, MeshListener, MeshTransport } from "../node/mesh/transport.ts";
import { tcpTransport } from "../node/mesh/tcp_transport.ts";
import { MemoryMeshNetwork } from "./helpers/memory_transport.ts";

/** One transport under test: a listening side and a dialling side. */
interface Setup {
  /** Where the listening side binds. */
  host: string;
  listening: MeshTransport;
  dialling: MeshTransport;
  /** What the accepting side sees as the dialler's hostname. */
  diallerHost: string;
}

function memorySetup(): Setup & { network: MemoryMeshNetwork } {
  const network = new MemoryMeshNetwork();
  return {
    network,
    host: "a",
    listening: network.transportFor("a"),
    dialling: network.transportFor("b"),
    diallerHost: "b",
  };
}

const SETUPS: Record<string, () => Setup> = {
  tcp: () => ({
    host: "127.0.0.1",
    listening: tcpTransport,
    dialling: tcpTransport,
    diallerHost: "127.0.0.1",
  }),
  memory: memorySetup,
};

/** Dials the listener and takes the accepted end. */
async function connect(
  setup: Setup,
  listener: MeshListener,
): Promise<{ dialled: MeshConnection; accepted: MeshConnection }> {
  const accepts = listener[Symbol.asyncIterator]();
  const dialled = await setup.dialling.dial(listener.addr.hostname, listener.addr.port);
  const next = await accepts.next();
  assert.ok(!next.done, "a dialled connection is accepted");
  return { dialled, accepted: next.value };
}

/** Reads until `count` bytes arrived or the stream ended. */
async function readBytes(conn: MeshConnection, count: number): Promise<Uint8Array> {
  const out = new Uint8Array(count);
  let at = 0;
  while (at < count) {
    const n = await conn.read(out.subarray(at));
    if (n === null) break;
    at += n;
  }
  return out.subarray(0, at);
}

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

for (const [name, make] of Object.entries(SETUPS)) {
  Deno.test(`${name} transport: bytes cross both ways in order, and the acceptor sees the dialler's host`, async () => {
    const setup = make();
    const listener = setup.listening.listen(setup.host, 0);
    try {
      assert.ok(listener.addr.port > 0, "port 0 binds a real port");
      const { dialled, accepted } = await connect(setup, listener);
      assert.equal(accepted.remoteHostname, setup.diallerHost);
      assert.equal(dialled.remoteHostname, setup.host);
      const buffer = new Uint8Array(1);
      await dialled.write(bytes("hello "));
      await dialled.write(bytes("mesh"));
      assert.equal(text(await readBytes(accepted, 10)), "hello mesh");
      await accepted.write(bytes("back"));
      assert.equal(text(await readBytes(dialled, 4)), "back");
      // A small buffer takes the bytes in several reads.
      await accepted.write(bytes("xy"));
      assert.equal(await dialled.read(buffer), 1);
      assert.equal(text(buffer), "x");
      assert.equal(await dialled.read(buffer), 1);
      assert.equal(text(buffer), "y");
      dialled.close();
      accepted.close();
    } finally {
      listener.close();
    }
  });

  Deno.test(`${name} transport: a close is an end of stream after the bytes written before it`, async () => {
    const setup = make();
    const listener = setup.listening.listen(setup.host, 0);
    try {
      const { dialled, accepted } = await connect(setup, listener);
      await dialled.write(bytes("last words"));
      dialled.close();
      assert.equal(text(await readBytes(accepted, 100)), "last words");
      assert.equal(await accepted.read(new Uint8Array(8)), null);
      assert.throws(() => dialled.close(), Deno.errors.BadResource, "a second close throws");
      accepted.close();
    } finally {
      listener.close();
    }
  });

  Deno.test(`${name} transport: a closed listener ends its accept loop and refuses dials`, async () => {
    const setup = make();
    const listener = setup.listening.listen(setup.host, 0);
    const accepted: MeshConnection[] = [];
    const loop = (async () => {
      for await (const conn of listener) accepted.push(conn);
    })();
    listener.close();
    await loop;
    listener.close(); // harmless twice
    assert.deepEqual(accepted, []);
    await assert.rejects(
      setup.dialling.dial(listener.addr.hostname, listener.addr.port),
      Deno.errors.ConnectionRefused,
    );
  });

  Deno.test(`${name} transport: listening on a bound address throws AddrInUse`, () => {
    const setup = make();
    const listener = setup.listening.listen(setup.host, 0);
    try {
      assert.throws(
        () => setup.listening.listen(setup.host, listener.addr.port),
        Deno.errors.AddrInUse,
      );
    } finally {
      listener.close();
    }
  });
}

Deno.test("MemoryMeshNetwork.cut() resets the two nodes' connections and refuses their dials until healed", async () => {
  const setup = memorySetup();
  const { network } = setup;
  const listener = setup.listening.listen("a", 7946);
  try {
    const { dialled, accepted } = await connect(setup, listener);
    const pending = accepted.read(new Uint8Array(8));
    await accepted.write(bytes("lost")); // buffered, never read: a reset drops it
    assert.equal(network.connections("a", "b"), 1);
    network.cut("b", "a");
    assert.equal(network.connections("a", "b"), 0);
    await assert.rejects(pending, Deno.errors.ConnectionReset);
    await assert.rejects(dialled.read(new Uint8Array(8)), Deno.errors.ConnectionReset);
    await assert.rejects(dialled.write(bytes("x")), Deno.errors.ConnectionReset);
    await assert.rejects(setup.dialling.dial("a", 7946), Deno.errors.ConnectionRefused);
    dialled.close();
    accepted.close();
    network.heal("a", "b");
    const again = await connect(setup, listener);
    await again.dialled.write(bytes("ok"));
    assert.equal(text(await readBytes(again.accepted, 2)), "ok");
    again.dialled.close();
    again.accepted.close();
  } finally {
    listener.close();
  }
});

Deno.test("MemoryMeshNetwork.partition() cuts across the groups only, and healAll() undoes it", async () => {
  const network = new MemoryMeshNetwork();
  const [n1, n2, n3] = ["n1", "n2", "n3"].map((name) => network.transportFor(name)) as [
    MeshTransport,
    MeshTransport,
    MeshTransport,
  ];
  const listeners = [n1.listen("n1", 7946), n3.listen("n3", 7946)];
  try {
    const sameSide = await n2.dial("n1", 7946);
    const across = await n2.dial("n3", 7946);
    network.partition([["n1", "n2"], ["n3"]]);
    await sameSide.write(bytes("still up"));
    await assert.rejects(across.write(bytes("x")), Deno.errors.ConnectionReset);
    await assert.rejects(n1.dial("n3", 7946), Deno.errors.ConnectionRefused);
    assert.equal(network.connections("n1", "n2"), 1);
    network.healAll();
    (await n1.dial("n3", 7946)).close();
    sameSide.close();
    across.close();
  } finally {
    for (const listener of listeners) listener.close();
  }
});
