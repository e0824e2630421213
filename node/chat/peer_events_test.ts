/**
 * Attacks by a buggy or compromised peer on the hub's apply path: crafted
 * events fed to `Hub.apply` (what the replicator does with every event a
 * peer sends) must be checked like a person's input.
 */
import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import { HybridClock } from "../../core/hybrid_clock.ts";

import { Hub } from "./hub.ts";
import { RecordingSink, warningLogger } from "../../tests/helpers/chat_fixtures.ts";
import { formatModAction } from "./moderation.ts";

const OP_FP = "SHA256:" + "A".repeat(43);
const EVIL_FP = "SHA256:" + "E".repeat(43);
const START = 1_700_000_000_000;

function setup() {
  let time = START;
  const now = () => time;
  const { logger, warnings } = warningLogger();
  const hub = new Hub({
    nodeId: "n1",
    now,
    rateBurst: 0,
    logger,
    clock: new HybridClock("n1", { now }),
  });
  const join = (user: string) => {
    const sink = new RecordingSink();
    const session = hub.connect(sink, { user }, { via: "test", address: "10.0.0.1:1" });
    return { sink, session };
  };
  return { hub, join, warnings, advance: (ms: number) => (time += ms) };
}

function event(fields: Partial<ChatEvent> & { origin: string; seq: number }): ChatEvent {
  return {
    hlc: { wall: START - 1000, counter: 0, node: fields.origin },
    room: "lobby",
    kind: "message",
    from: "mallory",
    text: "hello",
    ...fields,
  };
}

Deno.test("Hub.apply() refuses a peer's events that claim this node's origin, so its own next events are not skipped", () => {
  const { hub, join, warnings } = setup();
  const alice = join("alice");
  const bob = join("bob");
  const next = hub.log.lastSeq + 1;
  for (let seq = next; seq < next + 300; seq++) {
    assert.equal(hub.log.apply(event({ origin: "n1", seq, text: `forged ${seq}` })), false);
  }
  const said = hub.say(alice.session, undefined, "acknowledged line");
  assert.equal(said.seq, next);
  assert.equal(hub.log.get("n1", next)?.text, "acknowledged line");
  assert.deepEqual(bob.sink.texts(), ["acknowledged line"]);
  assert.match(warnings.join("\n"), /this node's own origin/);
});

Deno.test("Hub.apply() refuses an event whose stamp names another node than its origin", () => {
  const { hub, join } = setup();
  const bob = join("bob");
  const forged = event({ origin: "n2", seq: 1, hlc: { wall: START, counter: 0, node: "n3" } });
  assert.equal(hub.log.apply(forged), false);
  assert.equal(hub.log.get("n2", 1), undefined, "never stored");
  // Refused for good on every node: counted as seen, so n2's log goes on past it.
  assert.equal(hub.versions.has("n2", 1), true);
  assert.deepEqual(bob.sink.texts(), []);
});

Deno.test("Hub.apply() holds back an event stamped far ahead of the clock: a wall=9e15 op grant makes nobody an operator", () => {
  const { hub, advance } = setup();
  const grant = event({
    origin: "n2",
    seq: 1,
    hlc: { wall: 9e15, counter: 0, node: "n2" },
    room: "",
    kind: "mod",
    text: formatModAction({ a: "op", fp: EVIL_FP }, { fp: OP_FP, root: true }),
  });
  assert.equal(hub.log.apply(grant), false);
  assert.equal(hub.moderation.isOp(EVIL_FP), false);
  assert.equal(hub.versions.has("n2", 1), false, "not recorded: it may come again");
  // A node whose clock runs a few minutes fast is only delayed, not lost.
  const early = event({
    origin: "n3",
    seq: 1,
    hlc: { wall: START + 30 * 60_000, counter: 0, node: "n3" },
  });
  assert.equal(hub.log.apply(early), false);
  advance(25 * 60_000);
  assert.equal(hub.log.apply(early), true);
});

Deno.test("Hub.apply() re-runs the room, nick, length and sanitiser rules on a peer's events", () => {
  const { hub, join } = setup();
  const bob = join("bob");
  const bad: Partial<ChatEvent>[] = [
    { text: "hi \x1b]0;owned\x07 \u202Eevil" },
    { from: "not a nick!" },
    { room: "Lobby" },
    { room: "" },
    { text: "x".repeat(50_000) },
    { text: "   " },
    { kind: "nick", text: "bad nick" },
    { kind: "topic", text: "t".repeat(301) },
    { kind: "join", text: "hello" },
    { kind: "seal", room: "lobby", text: "{}" },
    { to: "bob" },
    { kind: "private", room: "", to: "bad nick!" },
    { kind: "leave", sealed: "AAAA", text: "" },
  ];
  for (const [i, fields] of bad.entries()) {
    assert.equal(
      hub.log.apply(event({ origin: "n2", seq: i + 1, ...fields })),
      false,
      JSON.stringify(fields),
    );
  }
  assert.deepEqual(bob.sink.texts(), []);
  assert.equal(hub.findRoom("lobby")?.sealed, undefined);
  // The same peer's well-formed events are still taken.
  assert.equal(hub.log.apply(event({ origin: "n2", seq: 100, text: "fine" })), true);
  assert.deepEqual(bob.sink.texts(), ["fine"]);
});

Deno.test("Hub.apply() refuses a peer's seal of the default room; a concurrent plain line after a seal is kept, so logs converge", () => {
  const { hub } = setup();
  const params = { v: 1, kdf: "argon2id", salt: "q0qTfOZ9vX3kP1b0n1eLkA==", m: 65536, t: 3, p: 4 };
  const seal = (room: string, seq: number) =>
    event({ origin: "n2", seq, room, kind: "seal", text: JSON.stringify(params) });
  assert.equal(hub.log.apply(seal("lobby", 1)), false);
  assert.equal(hub.findRoom("lobby")?.sealed, undefined);
  assert.equal(hub.log.apply(seal("den", 2)), true);
  assert.ok(hub.findRoom("den")?.sealed);
  // n2 accepted this line before it knew of the seal: every node keeps it, or
  // they would refuse each other's events forever.
  assert.equal(hub.log.apply(event({ origin: "n2", seq: 3, room: "den", text: "plain" })), true);
  assert.equal(hub.findRoom("den")?.log.toArray().some((e) => e.text === "plain"), true);
});
