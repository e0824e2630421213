/**
 * Red-team regressions for issue 11 at the unit where each lives: events a
 * node accepts from its own people must pass the rules its peers apply, or
 * they never replicate.
 */
import assert from "node:assert/strict";
import type { ChatEvent } from "../core/event.ts";
import { checkEventRules } from "../core/event_rules.ts";
import { sanitizeText } from "../core/text_sanitizer.ts";

import { commandContext, handleInput } from "../node/chat/commands.ts";
import { Hub, type Session } from "../node/chat/hub.ts";
import { MemoryNetwork, replicatorEndpoint } from "./helpers/memory_network.ts";
import { formatModAction, type ModAction, Moderation } from "../node/chat/moderation.ts";
import { type ReplicationMessage, Replicator } from "../node/mesh/replicator.ts";
import { HybridClock } from "../core/hybrid_clock.ts";
import { EventLog } from "../node/chat/event_log.ts";
import { OriginRetirement } from "../node/mesh/origin_retirement.ts";
import { VersionVector } from "../core/version_vector.ts";
import { turnEnd } from "./helpers/turn_end.ts";
import { RecordingSink } from "./helpers/chat_fixtures.ts";

const OP_KEY = "SHA256:" + "A".repeat(43);

Deno.test("an operator's /ban of an over-long address is refused, not made into an event peers refuse", async () => {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, ops: [OP_KEY] });
  const peer = new Hub({ nodeId: "n2", rateBurst: 0 });
  const made: ChatEvent[] = [];
  hub.log.onApplied((event) => void made.push(event));
  const sink = new RecordingSink();
  const session = hub.connect(sink, { user: "root" }, {
    via: "test",
    address: "-",
    fingerprint: OP_KEY,
  });
  const ctx = commandContext(hub, session);
  // Matches the IPv6 pattern of /ban, but no address is this long.
  for (const address of [`::${"0".repeat(100)}`, `::${"0".repeat(3000)}`]) {
    await handleInput(ctx, `/ban ${address}`).catch(() => {});
  }
  const mods = made.filter((event) => event.kind === "mod");
  for (const event of mods) {
    // Whatever the node made, a peer takes: else the origin's log has a hole peers re-ask forever.
    assert.doesNotThrow(() => checkEventRules(event));
    assert.ok(peer.log.apply(event), `peer refused ${event.origin}:${event.seq}`);
  }
  // And the operator is not told "Banned" for a ban that no node enforces.
  const banned = sink.frames.filter((f) => f.t === "info" && f.cmd === "ban");
  assert.equal(banned.length, 0, JSON.stringify(banned).slice(0, 200));
  const errors = sink.frames.filter((f) => f.t === "error");
  assert.equal(errors.length, 0); // handleInput throws; errors are the frontend's
});

Deno.test("a bad peer's claim of a newer epoch does not retire another node's live origin", () => {
  // n1's view: n2 is alive under its first origin `n2`; `bad` holds the secret.
  const versions = new VersionVector();
  for (let seq = 1; seq <= 10; seq++) versions.add("n2", seq);
  const retirement = new OriginRetirement(versions, {
    self: "n1",
    members: () => ["n1", "n2", "bad"],
  });
  for (let round = 0; round < 5; round++) {
    // n2 reports honestly what it holds; bad claims n2 restarted as epoch 5 (it did not).
    retirement.report("n2", { vv: { n1: 0, n2: 10 } });
    retirement.report("bad", { vv: { n1: 0, n2: 10, "n2.5": 0 }, retired: { n2: 5 } });
    retirement.retireAgreed();
  }
  assert.equal(
    versions.isRetired("n2"),
    false,
    "n2's live origin was retired on a bad peer's word",
  );
  // n2's next event must still be new here, not taken for a duplicate.
  assert.equal(versions.add("n2", 11), true);
});

Deno.test("events a peer refuses (a clock 11 minutes ahead) are not re-sent in a tight loop", async () => {
  const net = new MemoryNetwork<ReplicationMessage>({ seed: 3, tickMs: 100 });
  const skew: Record<string, number> = { a: 0, b: 11 * 60_000 };
  let evFromB = 0;
  const replicas = new Map<string, { hub: Hub; replicator: Replicator; session: Session }>();
  for (const id of ["a", "b"]) {
    const hub = new Hub({
      nodeId: id,
      rateBurst: 0,
      clock: new HybridClock(id, { now: () => net.now() + skew[id]! }),
    });
    const replicator = new Replicator(hub.log, {
      send: (peer, message) => {
        if (id === "b" && message.k === "ev") evFromB++;
        net.send(id, peer, structuredClone(message));
      },
      upPeers: () => (net.linked("a", "b") ? [id === "a" ? "b" : "a"] : []),
    });
    net.attach(id, `${id}:1`, replicatorEndpoint(replicator));
    const session = hub.connect(new RecordingSink(), { user: `u-${id}` }, {
      via: "test",
      address: "-",
    });
    replicas.set(id, { hub, replicator, session });
  }
  const b = replicas.get("b")!;
  // b says more than one batch (2,000 events) while a is not linked.
  for (let i = 0; i < 2_500; i++) b.hub.say(b.session, "lobby", `m${i}`);
  await turnEnd();
  net.dial("a", "b:1");
  net.advance(2_000); // 20 anti-entropy rounds
  // a refuses every event of b (its stamps lead a's clock by more than 10 minutes): one
  // batch a round is what anti-entropy costs; more is a livelock.
  assert.ok(evFromB <= 60, `b sent ${evFromB} ev messages in 20 rounds`);
});

Deno.test("sanitizeText() removes the invisible format characters that are no combining mark", () => {
  // Hangul jungseong filler, deprecated format controls, specials, shorthand and musical
  // format controls, unassigned tags: all invisible, any number of them between two letters.
  const invisible = [
    0x1160,
    0x2065,
    0x206a,
    0x206f,
    0xfff0,
    0xfff8,
    0x1bca0,
    0x1bca3,
    0x1d173,
    0x1d17a,
    0xe0080,
    0xe0fff,
  ];
  for (const c of invisible) {
    const hidden = `ad${String.fromCodePoint(c).repeat(50)}min`;
    assert.equal(sanitizeText(hidden), "admin", `U+${c.toString(16).toUpperCase()} survived`);
    // And a line of nothing else is empty, not an invisible message.
    assert.equal(sanitizeText(String.fromCodePoint(c)), "");
  }
  // Variation selectors are marks: kept within the cap (emoji need VS16).
  assert.equal(sanitizeText("❤\ufe0f"), "❤\ufe0f");
});

Deno.test("a mute bound to an IPv6 address holds for the rest of its /64, as connection limits count it", () => {
  const mod = new Moderation();
  const action: ModAction = { a: "mute", nick: "bob", until: null, addr: "2001:db8:1:2::1" };
  const event: ChatEvent = {
    origin: "n1",
    seq: 1,
    hlc: { wall: 1, counter: 0, node: "n1" },
    room: "",
    kind: "mod",
    from: "root",
    text: formatModAction(action, { fp: OP_KEY, root: true }),
  };
  assert.ok(mod.apply(event).authorised);
  // Same person (no key), next address of the same /64, new nick: still muted.
  assert.notEqual(mod.muted({ nick: "bob_2", address: "[2001:db8:1:2::beef]:5000" }, 2), undefined);
  // Another /64 is someone else.
  assert.equal(mod.muted({ nick: "carol", address: "[2001:db8:1:3::1]:5000" }, 2), undefined);
});

Deno.test("a peer's presence entry with an early 'since' does not rename the owner of a registered nick", () => {
  const log = new EventLog({ origin: "n1" });
  const nicks = log.nicks;
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, log, nickGuard: nicks });
  const sink = new RecordingSink();
  const alice = hub.connect(sink, { user: "alice" }, {
    via: "ssh",
    address: "127.0.0.1:5000",
    fingerprint: OP_KEY,
  });
  assert.equal(nicks.ownerOf("alice"), OP_KEY);
  // A bad (or confused) peer claims an "alice" connected since the epoch: she wins
  // every nick race, whoever owns the nick.
  hub.updateRemotePresence("bad", [{ nick: "alice", rooms: ["lobby"], since: 0 }]);
  assert.equal(alice.nick, "alice", "the key owner was renamed by a peer's claim");
});

Deno.test("a keyless person muted from another node stays muted after reconnecting with a new nick", () => {
  const n1 = new Hub({ nodeId: "n1", rateBurst: 0, ops: [OP_KEY] });
  const n2 = new Hub({ nodeId: "n2", rateBurst: 0 });
  const root = n1.connect(new RecordingSink(), { user: "root" }, {
    via: "ssh",
    address: "127.0.0.1:1",
    fingerprint: OP_KEY,
  });
  const from = { via: "tcp", address: "192.0.2.7:40000" };
  const bob = n2.connect(new RecordingSink(), { user: "bob" }, from);
  // n1 knows bob only by nick: the mute it issues names no key and no address.
  const mute = n1.moderate(root, { a: "mute", nick: "bob", until: null });
  assert.ok(n2.log.apply(mute));
  assert.throws(() => n2.say(bob, "lobby", "hi"), /muted/);
  // bob quits and comes back from the same address under another nick.
  n2.disconnect(bob);
  const again = n2.connect(new RecordingSink(), { user: "bob_" }, {
    ...from,
    address: "192.0.2.7:40001",
  });
  assert.throws(() => n2.say(again, "lobby", "still me"), /muted/);
});

Deno.test("/nodes fits the reader's reply budget however many members a peer gossiped", async () => {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0 });
  const budget = 32 * 1024;
  const sink = Object.assign(new RecordingSink(), { replyBudget: () => budget });
  const session = hub.connect(sink, { user: "alice" }, { via: "test", address: "-" });
  // Membership gossip is capped per message, not in total: a bad peer can announce thousands.
  const members = Array.from({ length: 5_000 }, (_, i) => ({
    id: `fake-${i}`.padEnd(32, "x"),
    addr: `10.0.${i >> 8}.${i & 255}:7946`,
    state: "alive",
    incarnation: 1,
    connected: false,
  }));
  hub.cluster = { members: () => members, lostRanges: () => [] };
  const ctx = commandContext(hub, session);
  await handleInput(ctx, "/nodes");
  const reply = sink.frames.findLast((f) => f.t === "info" && f.cmd === "nodes");
  assert.ok(reply !== undefined);
  const bytes = new TextEncoder().encode(JSON.stringify(reply)).length;
  assert.ok(bytes <= budget, `/nodes reply is ${bytes} bytes, budget ${budget}`);
});

Deno.test("/away and /nick cost rate in proportion to the rooms they are announced in", async () => {
  let now = 1_000_000;
  const hub = new Hub({ nodeId: "n1", rateBurst: 10, ratePerSecond: 5, now: () => now });
  let announced = 0;
  hub.log.onApplied((event) => {
    if (event.kind === "away" || event.kind === "nick") announced++;
  });
  const sink = new RecordingSink();
  const session = hub.connect(sink, { user: "mallory" }, { via: "test", address: "-" });
  for (let i = 1; i < 64; i++) hub.join(session, `room-${i}`);
  const ctx = commandContext(hub, session);
  // One simulated minute of toggling as fast as the limiter lets through.
  for (let step = 0; step < 600; step++) {
    const line = step % 3 === 0 ? "/away brb" : step % 3 === 1 ? "/back" : `/nick m${step}`;
    await handleInput(ctx, line).catch(() => {});
    now += 100;
  }
  // 5 lines a second is 300 lines a minute: as plain messages, 300 events. Each
  // announcement here makes 64; uncharged, this minute made about 64 × 300.
  assert.ok(announced <= 64 * 60, `${announced} away and nick events in one minute`);
});

// An event that breaks a rule for good (here: accepted by an older version,
// before the sanitiser removed soft hyphens) is recorded as seen, not stored:
// else its origin's contiguous seq stops there on this node forever.
Deno.test({
  name: "an event the rules refuse does not stall its origin for good on the node that refuses it",
  fn() {
    // n1's history holds a line accepted before the sanitiser removed soft hyphens (an
    // older version, or a snapshot written by one); n2, upgraded or new, refuses it.
    const n2 = new Hub({ nodeId: "n2", rateBurst: 0 });
    const at = (seq: number, text: string): ChatEvent => ({
      origin: "n1",
      seq,
      hlc: { wall: Date.now() - 60_000 + seq, counter: 0, node: "n1" },
      room: "lobby",
      kind: "message",
      from: "alice",
      text,
    });
    assert.equal(n2.log.apply(at(1, "co\u00adoperate")), false);
    assert.equal(n2.log.apply(at(2, "after it")), true);
    // Else n2 asks n1 for seq 1 every round forever, reports n1 held only up to 0 (so no
    // ack of n1's lines waits on n2 in vain), and n1's origin can never retire.
    assert.equal(n2.versions.contiguous("n1"), 2);
    // Still never shown nor stored.
    assert.deepEqual(n2.findRoom("lobby")!.log.toArray().map((e) => e.seq), [2]);
  },
});
