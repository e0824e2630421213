// Copyright the meshchat authors. MIT license.
import assert from "node:assert/strict";
import { type MemoryEndpoint, MemoryNetwork, seededRandom } from "./helpers/memory_network.ts";

/** An endpoint that records everything that happens to it. */
function recorder(network: MemoryNetwork<string>) {
  const log: string[] = [];
  const endpoint: MemoryEndpoint<string> = {
    receive: (from, message) => log.push(`${network.now()} ${from}: ${message}`),
    tick: () => log.push(`${network.now()} tick`),
    linkUp: (peer) => log.push(`up ${peer}`),
    linkDown: (peer) => log.push(`down ${peer}`),
    dialFailed: (address) => log.push(`failed ${address}`),
  };
  return { log, endpoint, messages: () => log.filter((l) => l.includes(": ")) };
}

function pair(options: ConstructorParameters<typeof MemoryNetwork<string>>[0] = {}) {
  const network = new MemoryNetwork<string>({ start: 0, ...options });
  const a = recorder(network);
  const b = recorder(network);
  network.attach("a", "a:1", a.endpoint);
  network.attach("b", "b:1", b.endpoint);
  network.dial("a", "b:1");
  network.advance(5);
  return { network, a, b };
}

Deno.test("MemoryNetwork links endpoints on dial and delivers in order without faults", () => {
  const { network, a, b } = pair();
  assert.deepEqual(a.log, ["up b"]);
  assert.deepEqual(b.log, ["up a"]);
  assert.ok(network.linked("b", "a"));
  for (const text of ["one", "two", "three"]) network.send("a", "b", text);
  network.advance(1);
  assert.deepEqual(b.messages(), ["6 a: one", "6 a: two", "6 a: three"]);
  assert.equal(network.send("a", "nobody", "x"), false);
});

Deno.test("MemoryNetwork ticks attached endpoints every tickMs", () => {
  const network = new MemoryNetwork<string>({ start: 0, tickMs: 50 });
  const a = recorder(network);
  network.attach("a", "a:1", a.endpoint);
  network.advance(160);
  assert.deepEqual(a.log, ["50 tick", "100 tick", "150 tick"]);
});

Deno.test("MemoryNetwork fails a dial to an address where nobody listens", () => {
  const network = new MemoryNetwork<string>();
  const a = recorder(network);
  network.attach("a", "a:1", a.endpoint);
  network.dial("a", "b:1");
  network.advance(5);
  assert.deepEqual(a.log, ["failed b:1"]);
});

Deno.test("MemoryNetwork.cut() drops one direction and keeps the link up", () => {
  const { network, a, b } = pair();
  network.cut("a", "b", { oneWay: true });
  network.send("a", "b", "lost");
  network.send("b", "a", "kept");
  network.advance(5);
  assert.deepEqual(b.messages(), []);
  assert.deepEqual(a.messages(), ["6 b: kept"]);
  assert.ok(network.linked("a", "b"));
  network.heal("a", "b");
  network.send("a", "b", "again");
  network.advance(5);
  assert.deepEqual(b.messages(), ["11 a: again"]);
});

Deno.test("MemoryNetwork.pause() holds messages until resume() and keeps links up", () => {
  const { network, a, b } = pair();
  network.pause("b");
  network.send("a", "b", "while paused");
  network.advance(500);
  assert.deepEqual(b.log, ["up a"], "no ticks, no messages");
  assert.ok(network.linked("a", "b"));
  network.resume("b");
  assert.deepEqual(b.messages(), ["505 a: while paused"]);
  assert.equal(a.log.filter((l) => l.endsWith("tick")).length, 5, "the others go on");
});

Deno.test("MemoryNetwork.detach() closes links and loses messages to the crashed endpoint", () => {
  const { network, a, b } = pair();
  network.send("a", "b", "to the dead");
  network.send("b", "a", "last words");
  network.detach("b");
  network.advance(5);
  assert.deepEqual(a.log, ["up b", "down b", "6 b: last words"]);
  assert.deepEqual(b.messages(), []);
  // A restart at the same address gets nothing meant for the old run.
  network.send("a", "b", "nothing");
  const b2 = recorder(network);
  network.attach("b", "b:1", b2.endpoint);
  network.dial("b", "a:1");
  network.advance(5);
  assert.deepEqual(b2.log, ["up a"]);
});

Deno.test("MemoryNetwork drops, duplicates and reorders under faults, replayably per seed", () => {
  const run = (seed: number) => {
    const { network, b } = pair({
      seed,
      faults: { drop: 0.2, duplicate: 0.2, minDelayMs: 1, maxDelayMs: 50 },
    });
    for (let i = 0; i < 200; i++) network.send("a", "b", String(i));
    network.advance(100);
    return { received: b.messages().map((l) => Number(l.split(": ")[1])), stats: network.stats };
  };
  const { received, stats } = run(42);
  assert.deepEqual(run(42).received, received);
  assert.notDeepEqual(run(43).received, received);
  assert.ok(stats.dropped > 10 && stats.duplicated > 10, JSON.stringify(stats));
  assert.equal(received.length, 200 - stats.dropped + stats.duplicated);
  assert.ok(received.some((x, i) => i > 0 && x < received[i - 1]!), "reordered");
});

Deno.test("MemoryNetwork.advanceUntil() stops as soon as the condition holds", () => {
  const network = new MemoryNetwork<string>({ start: 0 });
  assert.equal(network.advanceUntil(() => network.now() >= 250, 1000), 300);
  assert.throws(() => network.advanceUntil(() => false, 500), /within 500 ms/);
});

Deno.test("seededRandom() is deterministic and within [0, 1)", () => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  for (let i = 0; i < 1000; i++) {
    const x = a();
    assert.equal(x, b());
    assert.ok(x >= 0 && x < 1);
  }
});
