import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import { HybridClock } from "../../core/hybrid_clock.ts";
import { ProtocolError } from "../../core/protocol.ts";
import { commandContext, handleInput } from "./commands.ts";
import { Hub, type Session } from "./hub.ts";
import { MAX_PRESENCE_BYTES } from "./presence.ts";
import { RecordingSink } from "../../tests/helpers/chat_fixtures.ts";

function setup(options: { burst?: number } = {}) {
  let time = 1_000_000;
  const now = () => time;
  const hub = new Hub({ nodeId: "n1", now, rateBurst: options.burst ?? 0, historySize: 16 });
  const join = (user: string, room?: string) => {
    const sink = new RecordingSink();
    const session = hub.connect(sink, room ? { user, room } : { user }, {
      via: "test",
      address: "-",
    });
    const run = (line: string, roomName?: string) => {
      const ctx = commandContext(hub, session, roomName);
      return handleInput(ctx, line);
    };
    return { sink, session, run };
  };
  return { hub, join, advance: (ms: number) => (time += ms) };
}

Deno.test("Hub.connect() welcomes with history and announces the join to the room", async () => {
  const { join } = setup();
  const alice = join("alice");
  await alice.run("first");
  const bob = join("bob");
  const welcome = bob.sink.frames[0];
  assert.equal(welcome?.t, "welcome");
  assert.deepEqual(welcome.t === "welcome" && welcome.history.map((f) => f.text), ["first"]);
  assert.deepEqual(
    alice.sink.frames.flatMap((f) => f.t === "msg" && f.kind === "join" ? [f.from] : []),
    ["alice", "bob"],
  );
});

Deno.test("Hub.apply() ignores a duplicate event id", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  const event: ChatEvent = {
    origin: "n2",
    seq: 1,
    hlc: { wall: 5, counter: 0, node: "n2" },
    room: "lobby",
    kind: "message",
    from: "remote",
    text: "once",
  };
  assert.equal(hub.log.apply(event), true);
  assert.equal(hub.log.apply({ ...event }), false);
  assert.deepEqual(alice.sink.texts(), ["once"]);
});

Deno.test("Hub.apply() keeps a room's log in hybrid-clock order when events arrive late", () => {
  const clock = new HybridClock("n1", { now: () => 1000 });
  const hub = new Hub({ nodeId: "n1", clock, rateBurst: 0 });
  const make = (origin: string, seq: number, wall: number): ChatEvent => ({
    origin,
    seq,
    hlc: { wall, counter: 0, node: origin },
    room: "r",
    kind: "message",
    from: origin,
    text: `${origin}-${seq}`,
  });
  hub.log.apply(make("b", 1, 30));
  hub.log.apply(make("a", 1, 10));
  hub.log.apply(make("c", 1, 20));
  const room = hub.findRoom("r");
  assert.deepEqual(room?.log.toArray().map((e) => e.text), ["a-1", "c-1", "b-1"]);
});

Deno.test("Hub keeps at most historySize events per room", async () => {
  const { hub, join } = setup();
  const alice = join("alice");
  for (let i = 0; i < 40; i++) await alice.run(`m${i}`);
  const room = hub.findRoom("lobby");
  assert.equal(room?.log.length, 16);
  assert.equal(room?.log.at(-1)?.text, "m39");
});

Deno.test("Hub rate-limits a person and lets them go on after the bucket refills", async () => {
  const { join, advance } = setup({ burst: 3 });
  const alice = join("alice");
  for (let i = 0; i < 3; i++) await alice.run(`ok ${i}`);
  await assert.rejects(
    () => alice.run("too many"),
    (e: unknown) => e instanceof ProtocolError && e.code === "rate_limited",
  );
  advance(1000);
  await alice.run("later");
  assert.deepEqual(alice.sink.texts(), ["ok 0", "ok 1", "ok 2", "later"]);
});

Deno.test("Hub private messages reach sender and recipient only", async () => {
  const { join } = setup();
  const alice = join("alice");
  const bob = join("bob");
  const carol = join("carol");
  await alice.run("/msg BOB psst");
  assert.deepEqual(bob.sink.texts("private"), ["psst"]);
  assert.deepEqual(alice.sink.texts("private"), ["psst"]);
  assert.deepEqual(carol.sink.texts("private"), []);
});

Deno.test("Hub /nick renames in every room and frees the old nick", async () => {
  const { hub, join } = setup();
  const alice = join("alice");
  await alice.run("/join second");
  await alice.run("/nick alicia");
  const renames = alice.sink.frames.filter((f) => f.t === "msg" && f.kind === "nick");
  assert.equal(renames.length, 2);
  assert.deepEqual(hub.members("lobby").map((m) => m.nick), ["alicia"]);
  const other = join("alice");
  assert.equal(other.session.nick, "alice");
});

Deno.test("Hub.disconnect() announces a leave in every room and is idempotent", async () => {
  const { hub, join } = setup();
  const alice = join("alice");
  const bob = join("bob");
  await alice.run("/join side");
  hub.disconnect(alice.session as Session, "bye");
  hub.disconnect(alice.session as Session, "bye");
  assert.deepEqual(bob.sink.texts("leave"), ["bye"]);
  assert.equal(hub.members("side").length, 0);
});

Deno.test("Hub commands: /help is generated from the table, unknown commands are refused", async () => {
  const { join } = setup();
  const alice = join("alice");
  await alice.run("/help");
  const help = alice.sink.frames.find((f) => f.t === "info" && f.cmd === "help");
  assert.ok(help?.t === "info" && help.lines.some((l) => l.includes("/msg NICK TEXT")));
  await assert.rejects(
    () => alice.run("/nosuch"),
    (e: unknown) => e instanceof ProtocolError && e.code === "unknown_command",
  );
  await alice.run("//not a command");
  assert.deepEqual(alice.sink.texts(), ["/not a command"]);
});

Deno.test("Hub topic: a late, older topic event does not override a newer one", () => {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0 });
  const topic = (origin: string, wall: number, text: string): ChatEvent => ({
    origin,
    seq: 1,
    hlc: { wall, counter: 0, node: origin },
    room: "r",
    kind: "topic",
    from: "x",
    text,
  });
  hub.log.apply(topic("b", 200, "new"));
  hub.log.apply(topic("a", 100, "old"));
  assert.equal(hub.findRoom("r")?.topic, "new");
});

Deno.test("Hub presence: remote members show in /who and a lost nick race renames the local session", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  hub.updateRemotePresence("n2", [{ nick: "bob", rooms: ["lobby"], since: 5 }]);
  assert.deepEqual(hub.members("lobby").map((m) => `${m.nick}@${m.node}`), ["alice@n1", "bob@n2"]);
  assert.throws(
    () => join("BOB"),
    (e: unknown) => e instanceof ProtocolError && e.code === "nick_taken",
  );
  // n2 accepted "alice" earlier than we did: ours is renamed, deterministically.
  hub.updateRemotePresence("n2", [{ nick: "Alice", rooms: ["lobby"], since: 1 }]);
  assert.equal(alice.session.nick, "alice_2");
  assert.ok(alice.sink.frames.some((f) => f.t === "error" && f.code === "nick_taken"));
  hub.dropRemotePresence("n2");
  assert.deepEqual(hub.members("lobby").map((m) => m.nick), ["alice_2"]);
});

Deno.test("Hub.join() refuses a session's room past the cap with too_many_rooms and a way out", async () => {
  const { join } = setup();
  const mallory = join("mallory");
  for (let i = 1; i < 64; i++) await mallory.run(`/join r${i}`);
  assert.equal(mallory.session.rooms.size, 64);
  await assert.rejects(
    () => mallory.run("/join one-too-many"),
    (e: unknown) =>
      e instanceof ProtocolError && e.code === "too_many_rooms" && /64 rooms/.test(e.message) &&
      /\/leave/.test(e.message),
  );
  await mallory.run("/join r1"); // a room already joined is no new room
  await mallory.run("/leave r1");
  await mallory.run("/join one-more");
  assert.ok(mallory.session.rooms.has("one-more"));
});

Deno.test("Hub.updateRemotePresence() keeps the good entries when one is bad (bob stays unique)", () => {
  const { hub, join } = setup();
  const rooms = Array.from({ length: 257 }, (_, i) => `spam-${i}`);
  hub.updateRemotePresence("n2", [
    { nick: "mallory", rooms, since: 1 },
    { nick: "bob", rooms: ["lobby"], since: 2 },
  ]);
  assert.throws(
    () => join("bob"),
    (e: unknown) => e instanceof ProtocolError && e.code === "nick_taken",
  );
  assert.equal(hub.onlineNick("mallory"), "mallory");
  assert.deepEqual(hub.members("lobby").map((m) => `${m.nick}@${m.node}`), ["bob@n2"]);
});

Deno.test("Hub.localPresence() fits the byte bound with every nick, however many rooms people are in", () => {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, historySize: 16, maxRooms: 100_000 });
  const sink = { send() {}, close() {} };
  for (let s = 0; s < 500; s++) {
    const session = hub.connect(sink, { user: `user${s}` }, { via: "test", address: "-" });
    for (let r = 1; r < 64; r++) hub.join(session, `room-${s}-with-a-long-name-${r}`);
  }
  const table = hub.localPresence();
  assert.ok(new TextEncoder().encode(JSON.stringify(table)).length <= MAX_PRESENCE_BYTES);
  assert.equal(table.length, 500);
  // What a peer makes of it: every nick, no entry dropped.
  const peer = new Hub({ nodeId: "n2", rateBurst: 0 });
  peer.updateRemotePresence("n1", table);
  assert.equal(peer.onlineNick("user499"), "user499");
});

Deno.test("Hub rooms: an empty room nobody spoke in expires; --max-rooms refuses a new one when none can", () => {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, historySize: 16, maxRooms: 3 });
  const join = (user: string) => {
    const sink = new RecordingSink();
    return { sink, session: hub.connect(sink, { user }, { via: "test", address: "-" }) };
  };
  const forgotten: string[] = [];
  hub.log.onForget((event) => forgotten.push(`${event.kind}:${event.room}`));
  const alice = join("alice");
  hub.join(alice.session, "a");
  hub.join(alice.session, "b");
  assert.throws(
    () => hub.join(alice.session, "c"),
    (e: unknown) =>
      e instanceof ProtocolError && e.code === "rooms_full" && /3 rooms/.test(e.message),
  );
  assert.equal(hub.findRoom("c"), undefined, "a refused room is not created");
  hub.leave(alice.session, "a");
  assert.equal(hub.findRoom("a"), undefined);
  assert.deepEqual(forgotten, ["join:a", "leave:a"]);
  assert.equal(hub.log.get("n1", 2), undefined, "its events are no longer retained");
  hub.join(alice.session, "c");
  hub.say(alice.session, "c", "spoken");
  hub.leave(alice.session, "c");
  assert.ok(hub.findRoom("c"), "a room spoken in stays");
  // A room occupied on another node stays until that node's table vacates it.
  hub.leave(alice.session, "b");
  hub.log.apply({
    origin: "n2",
    seq: 1,
    hlc: { wall: hub.now(), counter: 0, node: "n2" },
    room: "d",
    kind: "join",
    from: "bob",
    text: "",
  });
  hub.updateRemotePresence("n2", [{ nick: "bob", rooms: ["d"], since: 1 }]);
  hub.leave(alice.session, "lobby");
  assert.ok(hub.findRoom("d"));
  assert.ok(hub.findRoom("lobby"), "the default room never expires");
  hub.updateRemotePresence("n2", [{ nick: "bob", rooms: [], since: 1 }]);
  assert.equal(hub.findRoom("d"), undefined);
  assert.deepEqual([...hub.rooms().keys()].toSorted(), ["c", "lobby"]);
});

Deno.test("Hub.restore() drops rooms nobody spoke in", () => {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0 });
  const event = (seq: number, room: string, kind: "join" | "message"): ChatEvent => ({
    origin: "n2",
    seq,
    // Recent: a room quiet for the room TTL would expire too.
    hlc: { wall: hub.now() - 1000 + seq, counter: 0, node: "n2" },
    room,
    kind,
    from: "bob",
    text: kind === "message" ? "hi" : "",
  });
  hub.log.restore([
    event(1, "quiet", "join"),
    event(2, "busy", "join"),
    event(3, "busy", "message"),
  ]);
  assert.deepEqual([...hub.rooms().keys()], ["busy"]);
  assert.ok(hub.versions.has("n2", 1), "the version vector still holds what was applied");
});

Deno.test("Hub rooms: a full node sweeps rooms left idle by peers before it refuses a new one", () => {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, maxRooms: 3 });
  const alice = hub.connect(new RecordingSink(), { user: "alice" }, { via: "test", address: "-" });
  const remoteJoin = (seq: number, room: string): ChatEvent => ({
    origin: "n2",
    seq,
    hlc: { wall: hub.now(), counter: seq, node: "n2" },
    room,
    kind: "join",
    from: "bob",
    text: "",
  });
  // A join from n2 whose presence table never lists the room (it arrived late).
  hub.log.apply(remoteJoin(1, "late"));
  // A room occupied by n2's people until n2 goes away.
  hub.log.apply(remoteJoin(2, "gone"));
  hub.updateRemotePresence("n2", [{ nick: "bob", rooms: ["gone"], since: 1 }]);
  assert.deepEqual([...hub.rooms().keys()].toSorted(), ["gone", "late", "lobby"]);
  hub.dropRemotePresence("n2");
  assert.ok(hub.findRoom("gone"), "kept while the node may only be thought dead");
  hub.join(alice, "fresh");
  assert.deepEqual([...hub.rooms().keys()].toSorted(), ["fresh", "lobby"]);
});
