import assert from "node:assert/strict";
import { AckPacer } from "./ack_pacer.ts";
import { turnEnd } from "../../tests/helpers/turn_end.ts";

function recorder(intervalMs: number) {
  const sent: string[] = [];
  return { sent, pacer: new AckPacer((peer) => sent.push(peer), intervalMs) };
}

Deno.test("AckPacer sends one ack per peer for everything owed in one turn", async () => {
  const { sent, pacer } = recorder(0);
  for (let i = 0; i < 100; i++) pacer.owe("a");
  pacer.owe("b");
  assert.deepEqual(sent, [], "nothing goes before the turn ends");
  await turnEnd();
  assert.deepEqual(sent, ["a", "b"]);
});

Deno.test("AckPacer: the first ack after a quiet spell goes at once, later ones wait for the interval", async () => {
  const { sent, pacer } = recorder(50);
  pacer.owe("a");
  await turnEnd();
  assert.deepEqual(sent, ["a"]);
  pacer.owe("a"); // owed again at once: waits for the interval
  pacer.owe("a");
  await turnEnd();
  assert.deepEqual(sent, ["a"]);
  while (sent.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(sent, ["a", "a"], "one ack covers everything owed meanwhile");
});

Deno.test("AckPacer.forget() drops what is owed to a peer whose link is gone", async () => {
  const { sent, pacer } = recorder(50);
  pacer.owe("a");
  await turnEnd();
  pacer.owe("a"); // delayed
  pacer.owe("b");
  pacer.forget("a");
  pacer.forget("b");
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(sent, ["a"]);
});
