import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import { HybridClock } from "../../core/hybrid_clock.ts";
import { ProtocolError } from "../../core/protocol.ts";
import { commandContext, handleInput } from "./commands.ts";
import { Hub, type SessionOrigin } from "./hub.ts";
import {
  formatModAction,
  hostOf,
  type ModAction,
  Moderation,
  type ModIssuer,
  parseDuration,
  parseModAction,
  parseOpsFile,
} from "./moderation.ts";
import { RecordingSink } from "../../tests/helpers/chat_fixtures.ts";

const OP_FP = "SHA256:" + "A".repeat(43);
const BOB_FP = "SHA256:" + "B".repeat(43);

function modEvent(
  seq: number,
  wall: number,
  action: ModAction,
  origin = "n1",
  issuer: ModIssuer | null = { fp: OP_FP, root: true },
): ChatEvent {
  return {
    origin,
    seq,
    hlc: { wall, counter: 0, node: origin },
    room: "",
    kind: "mod",
    from: "op",
    text: formatModAction(action, issuer ?? undefined),
  };
}

Deno.test("parseModAction() reads what formatModAction() writes and refuses malformed actions", () => {
  const actions: ModAction[] = [
    { a: "op", fp: OP_FP },
    { a: "deop", fp: OP_FP },
    { a: "ban", target: { type: "nick", value: "bob" }, until: null },
    { a: "ban", target: { type: "addr", value: "10.0.0.1" }, until: 5 },
    { a: "unban", target: { type: "fp", value: BOB_FP } },
    { a: "mute", nick: "bob", until: 7 },
    { a: "unmute", nick: "bob" },
    { a: "kick", nick: "bob", reason: "spam" },
    { a: "motd", text: "be nice" },
  ];
  for (const action of actions) assert.deepEqual(parseModAction(formatModAction(action)), action);
  for (
    const bad of [
      "",
      "[]",
      '{"a":"nuke"}',
      '{"a":"op"}',
      '{"a":"ban","target":{"nick":"b","fp":"x"}}',
      '{"a":"ban","target":{"nick":"b"},"until":-1}',
      '{"a":"mute","nick":""}',
      `{"a":"motd","text":"${"x".repeat(600)}"}`,
    ]
  ) {
    assert.throws(() => parseModAction(bad), TypeError, bad);
  }
});

Deno.test("Moderation derives the same state whatever the order of its events", () => {
  const events = [
    modEvent(1, 10, { a: "ban", target: { type: "nick", value: "bob" }, until: null }),
    modEvent(2, 20, { a: "unban", target: { type: "nick", value: "Bob" } }),
    modEvent(1, 15, { a: "ban", target: { type: "nick", value: "BOB" }, until: 1000 }, "n2"),
    modEvent(3, 30, { a: "op", fp: OP_FP }),
    modEvent(2, 25, { a: "deop", fp: OP_FP }, "n2"),
    modEvent(4, 40, { a: "mute", nick: "eve", until: null }),
    modEvent(3, 35, { a: "motd", text: "old" }, "n2"),
    modEvent(5, 50, { a: "motd", text: "new" }),
    modEvent(6, 60, { a: "ban", target: { type: "addr", value: "10.0.0.9" }, until: 500 }),
  ];
  const state = (order: ChatEvent[]) => {
    const mod = new Moderation();
    for (const event of order) mod.apply(event);
    mod.apply(order[0]!); // a duplicate changes nothing
    return {
      bob: mod.banOf({ nick: "bob" }, 100),
      addr: mod.banOf({ address: "10.0.0.9:4000" }, 100),
      op: mod.isOp(OP_FP),
      eve: mod.muted("Eve", 100),
      motd: mod.motd,
      bans: mod.bans(100),
    };
  };
  const expected = state(events);
  assert.equal(expected.bob, undefined);
  assert.equal(expected.op, true);
  assert.equal(expected.motd, "new");
  assert.deepEqual(expected.eve, { until: null, by: "op" });
  assert.equal(expected.addr?.until, 500);
  for (let i = 0; i < 20; i++) {
    const shuffled = [...events].sort(() => Math.random() - 0.5);
    assert.deepEqual(state(shuffled), expected);
  }
});

Deno.test("Moderation applies a mod event only if its issuer was an operator at that point of the log order, whatever the arrival order", () => {
  const CAROL_FP = "SHA256:" + "C".repeat(43);
  const bob = { fp: BOB_FP, root: false };
  const nick = (value: string) => ({ type: "nick" as const, value });
  const events = [
    modEvent(1, 10, { a: "op", fp: BOB_FP }),
    modEvent(1, 20, { a: "ban", target: nick("carol"), until: null }, "n2", bob),
    modEvent(2, 30, { a: "deop", fp: BOB_FP }),
    modEvent(2, 40, { a: "ban", target: nick("dave"), until: null }, "n2", bob),
    modEvent(3, 45, { a: "op", fp: CAROL_FP }, "n2", bob),
    // Forged by a peer: no issuer, or a key nobody made an operator.
    modEvent(1, 50, { a: "ban", target: nick("erin"), until: null }, "n3", null),
    modEvent(2, 60, { a: "motd", text: "owned" }, "n3", { fp: CAROL_FP, root: false }),
  ];
  const state = (order: ChatEvent[]) => {
    const mod = new Moderation();
    for (const event of order) mod.apply(event);
    return {
      bans: mod.bans(0).map((ban) => ban.target.value),
      ops: mod.ops(),
      motd: mod.motd,
    };
  };
  const expected = { bans: ["carol"], ops: [], motd: "" };
  assert.deepEqual(state(events), expected);
  assert.deepEqual(state([...events].reverse()), expected);
  for (let i = 0; i < 30; i++) {
    assert.deepEqual(state([...events].sort(() => Math.random() - 0.5)), expected);
  }
});

Deno.test("Moderation bounds its log and still answers after folding old events", () => {
  const mod = new Moderation({ maxEvents: 4 });
  for (let i = 1; i <= 10; i++) {
    mod.apply(modEvent(i, i * 10, { a: "motd", text: `m${i}` }));
  }
  assert.equal(mod.motd, "m10");
  // Older than the folded history: ignored.
  assert.equal(mod.apply(modEvent(1, 5, { a: "motd", text: "late" }, "n2")).current, false);
  assert.equal(mod.motd, "m10");
});

Deno.test("Moderation lets bans and mutes expire by the clock it is given", () => {
  const mod = new Moderation();
  mod.apply(modEvent(1, 1, { a: "ban", target: { type: "fp", value: BOB_FP }, until: 1000 }));
  mod.apply(modEvent(2, 2, { a: "mute", nick: "bob", until: 2000 }));
  assert.equal(mod.banOf({ nick: "x", fingerprint: BOB_FP }, 999)?.target.type, "fp");
  assert.equal(mod.banOf({ nick: "x", fingerprint: BOB_FP }, 1000), undefined);
  assert.deepEqual(mod.bans(1000), []);
  assert.equal(mod.muted("bob", 1999)?.until, 2000);
  assert.equal(mod.muted("bob", 2000), undefined);
});

Deno.test("Moderation.purgeExpired() forgets expired and lifted bans and mutes, and only once the state doubled", () => {
  const mod = new Moderation();
  const ban = (i: number, until: number | null) =>
    mod.apply(modEvent(i, i, { a: "ban", target: { type: "nick", value: `n${i}` }, until }));
  for (let i = 1; i <= 2000; i++) ban(i, 5000);
  ban(2001, null);
  mod.apply(modEvent(2002, 2002, { a: "mute", nick: "bob", until: 9000 }));
  mod.apply(modEvent(2003, 2003, { a: "mute", nick: "eve", until: 100 }));
  mod.apply(modEvent(2004, 2004, { a: "unmute", nick: "carol" }));
  mod.apply(modEvent(2005, 2005, { a: "op", fp: BOB_FP }));
  assert.equal(mod.size, 2005);
  assert.equal(mod.purgeExpired(6000), 2002, "2,000 expired bans, eve's mute, carol's unmute");
  assert.equal(mod.size, 3, "the permanent ban, bob's mute and the grant stay");
  assert.equal(mod.banOf({ nick: "n2001" }, 6000)?.until, null);
  assert.equal(mod.muted("bob", 6000)?.until, 9000);
  assert.equal(mod.isOp(BOB_FP), true);
  // Amortised: a small state is not swept again on every call.
  ban(3000, 1);
  assert.equal(mod.purgeExpired(6000), 0);
  assert.equal(mod.purgeExpired(6000, { force: true }), 1);
});

Deno.test("Moderation.purgeExpired() lets no older event resurrect a purged ban, in the log or folded", () => {
  for (const maxEvents of [65_536, 4]) {
    const mod = new Moderation({ maxEvents });
    const bob = { type: "nick", value: "bob" } as const;
    mod.apply(modEvent(1, 100, { a: "ban", target: bob, until: null }, "n1"));
    mod.apply(modEvent(1, 300, { a: "ban", target: bob, until: 1000 }, "n3"));
    // Filler that folds the bans out of a small log.
    for (let i = 2; i <= 6; i++) {
      mod.apply(modEvent(i, 300 + i, { a: "motd", text: `m${i}` }, "n3"));
    }
    assert.equal(mod.purgeExpired(2000, { force: true }), 1);
    assert.equal(mod.banOf({ nick: "bob" }, 2000), undefined);
    // A permanent ban issued before the expiring one arrives late: the newer ban still wins.
    mod.apply(modEvent(1, 200, { a: "ban", target: bob, until: null }, "n2"));
    assert.equal(mod.banOf({ nick: "bob" }, 2000), undefined, `maxEvents ${maxEvents}`);
    assert.deepEqual(mod.bans(2000), []);
  }
});

Deno.test("Moderation.apply() throws on a malformed event and leaves the state alone", () => {
  const mod = new Moderation();
  assert.throws(() => mod.apply({ ...modEvent(1, 1, { a: "motd", text: "x" }), text: "{" }));
  assert.equal(mod.motd, "");
});

Deno.test("hostOf(), parseDuration() and parseOpsFile() read what people write", () => {
  assert.equal(hostOf("10.0.0.1:5000"), "10.0.0.1");
  assert.equal(hostOf("[::1]:5000"), "::1");
  assert.equal(hostOf("::1:5000"), "::1");
  assert.equal(hostOf("::ffff:127.0.0.1:22"), "127.0.0.1");
  assert.equal(parseDuration("10m"), 600_000);
  assert.equal(parseDuration("2H"), 7_200_000);
  assert.equal(parseDuration("1d"), 86_400_000);
  assert.throws(() => parseDuration("0m"), RangeError);
  assert.throws(() => parseDuration("soon"), RangeError);
  assert.deepEqual(parseOpsFile(`# ops\n\n${OP_FP}  # alice\n${BOB_FP}=\n`), [OP_FP, BOB_FP]);
  assert.throws(() => parseOpsFile("alice\n"), SyntaxError);
});

// ---- The hub, with fake sinks ----

function setup() {
  let time = 1_000_000;
  const now = () => time;
  const hubs = ["n1", "n2"].map((nodeId) =>
    new Hub({ nodeId, now, rateBurst: 0, ops: [OP_FP], clock: new HybridClock(nodeId, { now }) })
  );
  // Two hubs wired like a mesh: every event and presence change reaches the other.
  for (const [i, hub] of hubs.entries()) {
    const other = hubs[1 - i]!;
    hub.log.onApplied((event) => other.log.apply(event));
    hub.onPresence(() => other.updateRemotePresence(hub.nodeId, hub.localPresence()));
  }
  let port = 40000;
  const join = (user: string, options: { fp?: string; host?: string; node?: number } = {}) => {
    const hub = hubs[options.node ?? 0]!;
    const sink = new RecordingSink();
    const origin: SessionOrigin = {
      via: options.fp ? "ssh" : "tcp",
      address: `${options.host ?? "127.0.0.1"}:${port++}`,
      ...(options.fp ? { fingerprint: options.fp } : {}),
    };
    const session = hub.connect(sink, { user }, origin);
    const run = (line: string) => {
      const ctx = commandContext(hub, session);
      return handleInput(ctx, line);
    };
    return { sink, session, run };
  };
  return { hubs, join, advance: (ms: number) => (time += ms) };
}

async function refused(promise: Promise<unknown>, code: string): Promise<ProtocolError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ProtocolError, `expected ${code}, got ${String(error)}`);
  assert.equal(error.code, code);
  return error;
}

Deno.test("Hub: a non-operator gets forbidden for operator commands, and TCP clients are never ops", async () => {
  const { join } = setup();
  const bob = join("bob", { fp: BOB_FP });
  const tcp = join("carol");
  for (const line of ["/kick carol", "/ban carol", "/mute carol", "/banned", "/op bob"]) {
    await refused(bob.run(line), "forbidden");
    await refused(tcp.run(line), "forbidden");
  }
  await refused(bob.run("/motd hello"), "forbidden");
  assert.ok(!bob.sink.info().some((l) => l.includes("/kick")));
  const op = join("alice", { fp: OP_FP });
  await op.run("/help");
  assert.ok(op.sink.info().some((l) => l.includes("/kick") && l.includes("operators only")));
});

Deno.test("Hub: /kick disconnects the person on the other node and tells them why", async () => {
  const { join } = setup();
  const op = join("alice", { fp: OP_FP });
  const bob = join("bob", { node: 1 });
  await op.run("/kick bob flooding");
  const bye = bob.sink.frames.find((f) => f.t === "bye");
  assert.ok(bye?.t === "bye" && bye.reason.includes("kicked by alice: flooding") && bye.expelled);
  assert.equal(bob.session.open, false);
  assert.ok(bob.sink.closed);
  await refused(op.run("/kick nobody"), "no_such_user");
  // A kick is not a ban: bob may come back.
  join("bob", { node: 1 });
});

Deno.test("Hub: /ban refuses the nick, key or address at connect on every node until it expires", async () => {
  const { join, advance, hubs } = setup();
  const op = join("alice", { fp: OP_FP });
  const bob = join("bob", { node: 1 });
  await op.run("/ban bob 10m");
  assert.equal(bob.session.open, false, "banning a nick kicks it");
  for (const node of [0, 1]) {
    const error = await refused(Promise.resolve().then(() => join("bob", { node })), "banned");
    assert.match(error.message, /nick bob is banned for 10m/);
  }
  await op.run(`/ban ${BOB_FP}`);
  await refused(Promise.resolve().then(() => join("robert", { fp: BOB_FP, node: 1 })), "banned");
  await op.run("/ban 10.1.2.3 1h");
  await refused(Promise.resolve().then(() => join("mallory", { host: "10.1.2.3" })), "banned");
  await op.run("/banned");
  const listed = op.sink.info().join("\n");
  assert.match(listed, /3 bans:/);
  assert.match(listed, /address 10\.1\.2\.3 for 1h/);
  advance(10 * 60_000 + 1);
  join("bob", { node: 1 }).session.sink.close("done");
  assert.equal(hubs[1]!.moderation.bans(hubs[1]!.now()).length, 2);
  await op.run(`/unban ${BOB_FP}`);
  join("robert", { fp: BOB_FP });
  await refused(op.run("/unban nobody"), "bad_args");
});

Deno.test("Hub: /mute refuses the person's messages with a clear error until unmuted", async () => {
  const { join } = setup();
  const op = join("alice", { fp: OP_FP });
  const bob = join("bob", { node: 1 });
  await op.run("/mute bob 5m");
  assert.ok(bob.sink.info().some((l) => l.includes("muted by alice")));
  const error = await refused(bob.run("hello"), "muted");
  assert.match(error.message, /You are muted for 5m/);
  await refused(bob.run("/me waves"), "muted");
  await refused(bob.run("/msg alice hi"), "muted");
  await op.run("/unmute bob");
  await bob.run("hello again");
  assert.deepEqual(op.sink.texts(), ["hello again"]);
});

Deno.test("Hub: /ignore hides one person's messages from this session only", async () => {
  const { join } = setup();
  const alice = join("alice");
  const bob = join("bob", { node: 1 });
  const carol = join("carol");
  await alice.run("/ignore bob");
  await bob.run("hi all");
  await bob.run("/msg alice psst");
  assert.deepEqual(alice.sink.texts(), []);
  assert.ok(!alice.sink.frames.some((f) => f.t === "msg" && f.kind === "private"));
  assert.deepEqual(carol.sink.texts(), ["hi all"]);
  await alice.run("/ignore");
  assert.ok(alice.sink.info().includes("You ignore: bob"));
  await alice.run("/unignore bob");
  await bob.run("back");
  assert.deepEqual(alice.sink.texts(), ["back"]);
  await refused(alice.run("/unignore bob"), "bad_args");
});

Deno.test("Hub: /motd is set by an operator and shown in every node's welcome", async () => {
  const { join } = setup();
  const op = join("alice", { fp: OP_FP });
  await op.run("/motd Be kind");
  for (const node of [0, 1]) {
    const welcome = join(`p${node}`, { node }).sink.frames[0];
    assert.ok(welcome?.t === "welcome" && welcome.motd === "Be kind");
  }
  const bob = join("bob");
  await bob.run("/motd");
  assert.ok(bob.sink.info().includes("Message of the day: Be kind"));
});

Deno.test("Hub: /op grants op to a person's key cluster-wide; keyless people cannot be ops", async () => {
  const { join } = setup();
  const op = join("alice", { fp: OP_FP });
  const bob = join("bob", { fp: BOB_FP, node: 1 });
  join("carol");
  await refused(op.run("/op carol"), "bad_args");
  await op.run(`/op ${BOB_FP}`);
  assert.ok(bob.sink.info().some((l) => l.includes("You are an operator now")));
  await bob.run("/kick carol");
  await op.run(`/deop ${BOB_FP}`);
  await refused(bob.run("/kick alice"), "forbidden");
});

Deno.test("Hub: a malformed mod event from a peer is kept for replication but changes nothing", () => {
  const { hubs } = setup();
  const event = { ...modEvent(1, 5, { a: "motd", text: "x" }, "n9"), text: '{"a":"nuke"}' };
  assert.equal(hubs[0]!.log.apply(event), true);
  assert.equal(hubs[0]!.log.get("n9", 1), event);
  assert.equal(hubs[0]!.moderation.motd, "");
});

Deno.test("Hub.restore() rebuilds moderation state from mod events without kicking anyone", () => {
  const { hubs } = setup();
  const fresh = new Hub({ nodeId: "n3" });
  fresh.log.restore([
    modEvent(1, 5, { a: "ban", target: { type: "nick", value: "bob" }, until: null }, "n9"),
  ]);
  assert.equal(fresh.moderation.bans(0).length, 1);
  assert.equal([...fresh.events()].length, 1);
  assert.equal(hubs.length, 2);
});

Deno.test("Hub: a muted person cannot speak through /nick, /topic, /away, /seal or a quit message", async () => {
  const { join } = setup();
  const op = join("alice", { fp: OP_FP });
  const bob = join("bob", { node: 1 });
  await op.run("/mute bob 5m");
  for (const line of ["/nick bobby", "/topic buy my stuff", "/away buy my stuff", "/me waves"]) {
    await refused(bob.run(line), "muted");
  }
  assert.equal(bob.session.nick, "bob");
  await bob.run("/back");
  await bob.run("/join den");
  await refused(
    bob.run(
      '/seal {"v":1,"kdf":"argon2id","salt":"q0qTfOZ9vX3kP1b0n1eLkA==","m":65536,"t":3,"p":4}',
    ),
    "muted",
  );
  await bob.run("/quit buy my stuff");
  const leaves = op.sink.frames.flatMap((f) =>
    f.t === "msg" && f.kind === "leave" && f.from === "bob" ? [f.text] : []
  );
  assert.deepEqual(leaves, ["quit"]);
});

Deno.test("Hub: a mute holds on the person, not the nick: after a forced rename and on a new nick from the same host", async () => {
  const { join, hubs } = setup();
  const op = join("alice", { fp: OP_FP });
  const guest = join("mallory", { host: "10.9.9.9" });
  const keyed = join("trent", { fp: BOB_FP, node: 1 });
  await op.run("/mute mallory 1h");
  guest.session.sink.close("gone");
  hubs[0]!.disconnect(guest.session);
  // Same host, new nick, no key: still muted.
  const again = join("mallory2", { host: "10.9.9.9" });
  await refused(again.run("hello"), "muted");
  // Someone else from another host is not.
  await join("carol", { host: "10.1.1.1" }).run("hi");
  // A keyed person muted on another node stays muted under a new nick there.
  await op.run("/mute trent 1h");
  hubs[1]!.updateRemotePresence("n9", [{ nick: "trent", rooms: ["lobby"], since: 0 }]);
  assert.notEqual(keyed.session.nick, "trent", "lost the nick race");
  await refused(keyed.run("hello"), "muted");
  await op.run("/unmute trent");
  await keyed.run("hello");
});

Deno.test("Hub: /quit sanitises its reason before the others see it", async () => {
  const { join } = setup();
  const alice = join("alice");
  const bob = join("bob");
  await bob.run("/quit bye\x1b]0;owned\x07 \x1b[2J\u009b31m\u202Edlrow");
  const leave = alice.sink.frames.find((f) => f.t === "msg" && f.kind === "leave");
  assert.ok(leave?.t === "msg");
  assert.equal(leave.text, "bye dlrow");
});

Deno.test("Hub: a newcomer alone in a room with others' history cannot seal it; an operator can unseal a room", async () => {
  const { join, hubs } = setup();
  const params = '{"v":1,"kdf":"argon2id","salt":"q0qTfOZ9vX3kP1b0n1eLkA==","m":65536,"t":3,"p":4}';
  const carol = join("carol", { node: 1 });
  await carol.run("/join den");
  await carol.run("our room");
  await carol.run("/leave den");
  const mallory = join("mallory");
  await mallory.run("/join den");
  const error = await refused(mallory.run(`/seal ${params}`), "forbidden");
  assert.match(error.message, /others' history/);
  assert.equal(hubs[0]!.findRoom("den")?.sealed, undefined);
  // A fresh room may be sealed by the one person in it; an operator can take the seal away.
  await mallory.run("/join hideout");
  await mallory.run(`/seal ${params}`);
  assert.ok(hubs[1]!.findRoom("hideout")?.sealed);
  const op = join("alice", { fp: OP_FP, node: 1 });
  await refused(mallory.run("/unseal hideout"), "forbidden");
  await op.run("/unseal hideout");
  for (const hub of hubs) assert.equal(hub.findRoom("hideout")?.sealed, undefined);
  await mallory.run("plain again");
});

Deno.test("Hub.restore() keeps a room an operator unsealed unsealed", () => {
  const seal = {
    origin: "n9",
    seq: 1,
    hlc: { wall: 5, counter: 0, node: "n9" },
    room: "den",
    kind: "seal" as const,
    from: "mallory",
    text: '{"v":1,"kdf":"argon2id","salt":"q0qTfOZ9vX3kP1b0n1eLkA==","m":65536,"t":3,"p":4}',
  };
  const fresh = new Hub({ nodeId: "n3" });
  fresh.log.restore([modEvent(1, 9, { a: "unseal", room: "den" }), seal]);
  assert.equal(fresh.findRoom("den")?.sealed, undefined);
});
