import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import { HybridClock } from "../../core/hybrid_clock.ts";
import { ProtocolError } from "../../core/protocol.ts";
import { EventLog } from "./event_log.ts";
import { Hub } from "./hub.ts";
import { warningLogger } from "../../tests/helpers/chat_fixtures.ts";

const A = `SHA256:${"a".repeat(43)}`;
const B = `SHA256:${"b".repeat(43)}`;
const START = 1_700_000_000_000;

/** A claim event as a peer would send it. */
function claim(origin: string, seq: number, wall: number, nick: string, fp: string): ChatEvent {
  return {
    origin,
    seq,
    hlc: { wall, counter: 0, node: origin },
    room: "",
    kind: "claim",
    from: nick,
    text: fp,
  };
}

/** An event log on a clock the test moves. */
function logAt(origin: string, options: { raceWindowMs?: number } = {}) {
  let time = START;
  const now = () => time;
  const { logger, warnings } = warningLogger();
  const log = new EventLog({
    origin,
    now,
    clock: new HybridClock(origin, { now }),
    logger,
    nicks: options,
  });
  return { log, warnings, advance: (ms: number) => (time += ms) };
}

Deno.test("NickRegistry.claim() gives a nick to the first key, any case, as a claim event", () => {
  const { log } = logAt("n1");
  const applied: ChatEvent[] = [];
  log.onApplied((event) => applied.push(event));
  assert.equal(log.nicks.claim("Alice", A), "claimed");
  assert.equal(log.nicks.claim("ALICE", A), "owned");
  assert.equal(log.nicks.claim("alice", B), "taken");
  assert.equal(log.nicks.ownerOf("aLiCe"), A);
  assert.deepEqual(log.nicks.nicksOf(A), ["Alice"]);
  assert.equal(log.nicks.ownerOf("bob"), undefined);
  assert.equal(applied.length, 1, "only the claim that changed something is an event");
  const [event] = applied;
  assert.deepEqual(
    { origin: event!.origin, seq: event!.seq, room: event!.room, kind: event!.kind },
    { origin: "n1", seq: 1, room: "", kind: "claim" },
  );
  assert.deepEqual([event!.from, event!.text], ["Alice", A]);
  assert.equal(log.get("n1", 1), event, "retained, so peers can ask for it");
  assert.deepEqual([...log.events()], [event]);
});

Deno.test("NickRegistry.check() refuses other keys and keyless people, use() claims", () => {
  const { log } = logAt("n1");
  const registry = log.nicks;
  assert.equal(registry.check("alice", undefined), undefined);
  registry.use("alice", undefined);
  assert.equal(registry.ownerOf("alice"), undefined, "a guest never owns a nick");
  registry.use("alice", A);
  assert.equal(registry.check("alice", A), undefined);
  assert.match(registry.check("alice", B) ?? "", /registered to another SSH key/);
  assert.match(registry.check("Alice", undefined) ?? "", /registered to an SSH key/);
});

Deno.test("NickRegistry.claim() stops one key at its quota and a full registry", () => {
  const log = new EventLog({ origin: "n1", nicks: { maxNicksPerKey: 2, maxClaims: 3 } });
  const registry = log.nicks;
  assert.equal(registry.claim("a1", A), "claimed");
  assert.equal(registry.claim("a2", A), "claimed");
  assert.equal(registry.claim("a3", A), "quota");
  registry.use("a3", A);
  assert.equal(registry.ownerOf("a3"), undefined, "past its quota a key uses nicks unowned");
  assert.equal(registry.claim("b1", B), "claimed");
  assert.equal(registry.claim("b2", B), "full");
  // A full registry takes no new nick from a peer either: the claim is dropped as it arrives.
  assert.ok(log.apply(claim("n2", 1, START, "late", B)));
  assert.equal(registry.ownerOf("late"), undefined);
  assert.equal(log.get("n2", 1), undefined);
  assert.equal(registry.size, 3);
  assert.throws(() => new EventLog({ origin: "n1", nicks: { maxClaims: 0 } }), RangeError);
});

Deno.test("Claim events converge on the earliest claim whatever order they arrive in", () => {
  const early = claim("n3", 1, START - 20, "carol", B);
  const late = claim("n2", 1, START - 10, "Carol", A);
  const tieSmall = claim("n2", 2, START - 5, "dan", B);
  const tieLarge = claim("n3", 2, START - 5, "dan", A);
  const orders = [[early, late, tieSmall, tieLarge], [tieLarge, late, tieSmall, early]];
  const outcomes = orders.map((order) => {
    const { log } = logAt("n1");
    const dropped: string[] = [];
    log.onApplied((_event, evicted) => {
      if (evicted !== undefined) dropped.push(`${evicted.origin}:${evicted.seq}`);
    });
    for (const event of order) assert.ok(log.apply(event));
    const retained = [...log.events()].map((e) => `${e.origin}:${e.seq}`).sort();
    return {
      carol: log.nicks.ownerOf("carol"),
      dan: log.nicks.ownerOf("DAN"),
      nicksOfA: log.nicks.nicksOf(A),
      retained,
      dropped: dropped.sort(),
    };
  });
  assert.deepEqual(outcomes[0], {
    carol: B,
    dan: B, // equal stamps: the smaller node id (n2) claimed first
    nicksOfA: [],
    retained: ["n2:2", "n3:1"],
    dropped: ["n2:1", "n3:2"],
  });
  assert.deepEqual(outcomes[1], outcomes[0], "same owner and same nick log in either order");
});

Deno.test("A settled registration is kept against a peer's earlier-stamped claim for another key", () => {
  const { log, advance } = logAt("n1", { raceWindowMs: 60_000 });
  assert.equal(log.nicks.claim("alice", A), "claimed");
  advance(60_001);
  assert.ok(log.apply(claim("n2", 1, 0, "alice", B)), "taken as seen, its origin's log goes on");
  assert.equal(log.nicks.ownerOf("alice"), A);
  assert.equal(log.get("n2", 1), undefined, "the losing claim is not retained");
  // Within the window, a real race still goes to the earliest claim.
  assert.equal(log.nicks.claim("bob", A), "claimed");
  advance(1000);
  assert.ok(log.apply(claim("n2", 2, START + 5, "bob", B)));
  assert.equal(log.nicks.ownerOf("bob"), B);
  assert.deepEqual(log.nicks.nicksOf(A), ["alice"]);
  // The same key's earlier claim only replaces the event: the registration stays settled.
  assert.ok(log.apply(claim("n2", 3, 1, "alice", A)));
  assert.equal(log.get("n2", 3)?.text, A);
  assert.ok(log.apply(claim("n2", 4, 0, "alice", B)));
  assert.equal(log.nicks.ownerOf("alice"), A);

  // Claims restored from a snapshot are settled at once.
  const { log: restored } = logAt("n1.1");
  restored.restore([...log.events()]);
  assert.equal(restored.nicks.ownerOf("alice"), A);
  assert.equal(restored.nicks.ownerOf("bob"), B);
  assert.ok(restored.apply(claim("n3", 1, 0, "ALICE", B)));
  assert.equal(restored.nicks.ownerOf("alice"), A);
});

Deno.test("A peer's malformed claim is refused and never reaches the registry", () => {
  const { log, warnings } = logAt("n1");
  const bad = [
    { ...claim("n2", 1, START, "alice", A), text: "SHA256:short" },
    { ...claim("n2", 2, START, "alice", A), room: "lobby" },
    { ...claim("n2", 3, START, "alice", A), from: "two words" },
    { ...claim("n2", 4, START, "alice", A), to: "bob" },
  ];
  for (const event of bad) assert.equal(log.apply(event), false);
  assert.equal(log.nicks.size, 0);
  assert.equal(warnings.filter((w) => w.startsWith("peer event refused")).length, 4);
  assert.equal(log.versions.contiguous("n2"), 4, "refused for good: counted as seen");
  assert.ok(log.apply(claim("n2", 5, START, "alice", A)), "the origin's next claim is taken");
  assert.equal(log.nicks.ownerOf("alice"), A);
});

Deno.test("Nick claims are kept whatever the history budget evicts", () => {
  const log = new EventLog({ origin: "n1", historyBudgetBytes: 4096 });
  for (let i = 0; i < 8; i++) log.nicks.claim(`nick${i}`, i % 2 ? A : B);
  assert.equal(log.historyBytes, 0, "claims are not history: the budget does not count them");
  for (let i = 0; i < 200; i++) {
    log.append({
      room: `r${i % 4}`,
      kind: "message",
      from: "ann",
      text: `line ${i} ${"x".repeat(80)}`,
    });
  }
  assert.ok(log.rooms.get("r0")!.log.length < 50, "the budget evicted messages");
  assert.equal(log.nicks.size, 8);
  const claims = [...log.events()].filter((event) => event.kind === "claim");
  assert.equal(claims.length, 8);
  for (const event of claims) assert.equal(log.get(event.origin, event.seq), event);
});

Deno.test("Hub with the log's nick registry as guard keeps registered nicks for their key", () => {
  const log = new EventLog({ origin: "n1" });
  const registry = log.nicks;
  const hub = new Hub({ nodeId: "n1", log, nickGuard: registry });
  const sink = { send() {}, close() {} };
  const keyed = hub.connect(sink, { user: "alice" }, { via: "ssh", address: "a", fingerprint: A });
  assert.equal(registry.ownerOf("alice"), A, "the first key to use a nick owns it");
  hub.disconnect(keyed);
  assert.throws(
    () => hub.connect(sink, { user: "Alice" }, { via: "tcp", address: "b" }),
    (error: ProtocolError) => error.code === "nick_taken" && /registered/.test(error.message),
  );
  const other = hub.connect(sink, { user: "bob" }, { via: "ssh", address: "c", fingerprint: B });
  assert.throws(() => hub.rename(other, "alice"), /registered to another SSH key/);
  hub.rename(other, "robert");
  assert.deepEqual(registry.nicksOf(B), ["bob", "robert"]);
  const again = hub.connect(sink, { user: "alice" }, { via: "ssh", address: "d", fingerprint: A });
  assert.equal(again.nick, "alice");
});
