import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import type { ServerFrame } from "../../core/protocol.ts";
import { commandContext, handleInput } from "./commands.ts";
import { EventLog } from "./event_log.ts";
import { Hub, type Session } from "./hub.ts";
import { COUNT_LIMIT, REPLAY_LIMIT } from "./coming_back.ts";
import { formatSeenMark } from "../../core/seen_mark.ts";
import { RecordingSink, refusalCode } from "../../tests/helpers/chat_fixtures.ts";

const ALICE_KEY = "SHA256:" + "a".repeat(43);
const BOB_KEY = "SHA256:" + "b".repeat(43);

function newHub(log = new EventLog({ origin: "n1" })): Hub {
  return new Hub({ nodeId: "n1", log, nickGuard: log.nicks, rateBurst: 0 });
}

function login(hub: Hub, user: string, fingerprint?: string, room = "lobby") {
  const sink = new RecordingSink();
  const session = hub.connect(sink, { user, room }, {
    via: "test",
    address: "10.0.0.1:1",
    ...(fingerprint === undefined ? {} : { fingerprint }),
  });
  return { sink, session };
}

function run(hub: Hub, session: Session, line: string) {
  return handleInput(commandContext(hub, session), line);
}

/** The frames after the welcome, as short strings: `info:LINE` or `msg:TEXT` (joins left out). */
function afterWelcome(frames: readonly ServerFrame[]): string[] {
  return frames.slice(1).flatMap((f) =>
    f.t === "info"
      ? f.lines.map((l) => `info:${l}`)
      : f.t === "msg" && f.kind !== "join"
      ? [`msg:${f.text}`]
      : []
  );
}

function seenEvents(log: EventLog): ChatEvent[] {
  return [...log.events()].filter((e) => e.kind === "seen");
}

Deno.test("a person with a key comes back to a welcome that ends where they left, a marked replay and unread counts", async () => {
  const hub = newHub();
  const alice = login(hub, "alice", ALICE_KEY);
  await run(hub, alice.session, "/join dev");
  await run(hub, alice.session, "/join lobby");
  const bob = login(hub, "bob");
  await run(hub, bob.session, "before you left");
  hub.disconnect(alice.session);
  // #dev, where nothing was said, is marked at its newest event.
  assert.deepEqual(seenEvents(hub.log).map((e) => e.room).sort(), ["dev", "lobby"]);

  for (const text of ["one", "two", "three"]) await run(hub, bob.session, text);
  await run(hub, bob.session, "/join dev");
  await run(hub, bob.session, "in dev while you were out");

  const back = login(hub, "alice", ALICE_KEY);
  const welcome = back.sink.frames[0]!;
  assert.equal(welcome.t, "welcome");
  assert.deepEqual(welcome.t === "welcome" && welcome.history.map((m) => m.text), [
    "before you left",
  ]);
  assert.deepEqual(afterWelcome(back.sink.frames).slice(0, 5), [
    "info:—— since you left #lobby: 3 new ——",
    "msg:one",
    "msg:two",
    "msg:three",
    "info:Unread since you left: #dev 1 (/join a room to read it)",
  ]);
  await run(hub, back.session, "/unread");
  assert.deepEqual(back.sink.reply("unread"), [
    "Unread in 1 room (/join a room to read it):",
    "  #dev 1",
  ]);
  // Joining the room replays it; then nothing is unread.
  await run(hub, back.session, "/join dev");
  assert.ok(back.sink.info().includes("—— since you left #dev: 1 new ——"));
  assert.deepEqual(back.sink.texts().slice(-1), ["in dev while you were out"]);
  await run(hub, back.session, "/unread");
  assert.deepEqual(back.sink.reply("unread"), ["Nothing unread in the rooms you left"]);
});

Deno.test("marks move only when the room moved on, and only the latest per nick and room is kept", async () => {
  const hub = newHub();
  const alice = login(hub, "alice", ALICE_KEY);
  const bob = login(hub, "bob");
  assert.equal(hub.comingBack.markAll(hub.sessions()), 1, "alice's lobby; bob is a guest");
  assert.equal(hub.comingBack.markAll(hub.sessions()), 0, "nothing new since");
  await run(hub, bob.session, "hello");
  assert.equal(hub.comingBack.markAll(hub.sessions()), 1);
  const again = await run(hub, bob.session, "again");
  hub.log.append({ room: "lobby", kind: "away", from: "bob", text: "lunch" });
  assert.equal(hub.comingBack.markAll(hub.sessions()), 1, "at the message, not the away");
  hub.disconnect(alice.session);
  const seen = seenEvents(hub.log);
  assert.equal(seen.length, 1, "the replaced marks are gone, and leaving moved nothing");
  assert.equal(seen[0]!.text, formatSeenMark(again!));
});

Deno.test("a guest gets no replay and is told that unread counts need a key", async () => {
  const hub = newHub();
  const guest = login(hub, "gus");
  const bob = login(hub, "bob");
  await run(hub, bob.session, "hi");
  hub.disconnect(guest.session);
  assert.equal(seenEvents(hub.log).length, 0);
  const again = login(hub, "gus");
  assert.deepEqual(afterWelcome(again.sink.frames), []);
  await run(hub, again.session, "/unread");
  assert.match(again.sink.reply("unread")[0]!, /kept for a nick your key owns/);
});

Deno.test("a private message to an owned nick that is offline is kept and delivered once, at the next login", async () => {
  const hub = newHub();
  hub.disconnect(login(hub, "alice", ALICE_KEY).session); // registers alice to her key
  const bob = login(hub, "bob");
  await assert.rejects(() => run(hub, bob.session, "/msg nobody hello"), /No such user/);
  await run(hub, bob.session, "/msg ALICE are you there?");
  assert.match(bob.sink.reply("msg")[0]!, /^alice is offline: your message is kept/);
  assert.deepEqual(bob.sink.texts("private"), ["are you there?"]);
  // Nobody else gets alice's messages: not a guest, not another key, under any case of her nick.
  for (const [user, key] of [["alice", undefined], ["ALICE", BOB_KEY]] as const) {
    assert.equal(refusalCode(() => login(hub, user, key)), "nick_taken");
  }

  const back = login(hub, "alice", ALICE_KEY);
  assert.deepEqual(afterWelcome(back.sink.frames), [
    "info:—— while you were away: 1 private message ——",
    "msg:are you there?",
  ]);
  await run(hub, back.session, "/msg bob yes");
  hub.disconnect(back.session);
  const later = login(hub, "alice", ALICE_KEY);
  assert.deepEqual(afterWelcome(later.sink.frames), [], "delivered already");
  assert.deepEqual(hub.privateHistory("alice", 10).map((e) => e.text), ["are you there?", "yes"]);
});

Deno.test("/mentions lists what named you since you were last seen, even after you read it", async () => {
  const hub = newHub();
  hub.disconnect(login(hub, "alice", ALICE_KEY).session);
  const bob = login(hub, "bob");
  await run(hub, bob.session, "alice: ping");
  await run(hub, bob.session, "malice is not a mention");
  await run(hub, bob.session, "/me waves at Alice");
  const back = login(hub, "alice", ALICE_KEY);
  hub.comingBack.markAll(hub.sessions()); // the mark moves while she reads...
  await run(hub, bob.session, "alice, and now?");
  await run(hub, back.session, "/mentions");
  assert.deepEqual(back.sink.reply("mentions"), [
    "3 mentions since you were last seen:",
    "  #lobby bob: alice: ping",
    "  #lobby * bob waves at Alice",
    "  #lobby bob: alice, and now?",
  ]);
  // A guest's mentions count from the start of the session.
  const guest = login(hub, "gus");
  await run(hub, bob.session, "gus?");
  await run(hub, guest.session, "/mentions");
  assert.deepEqual(guest.sink.reply("mentions"), [
    "1 mention since you were last seen:",
    "  #lobby bob: gus?",
  ]);
});

Deno.test("the replay is bounded and says how many it leaves out; history 0 asks for none", async () => {
  const hub = newHub();
  hub.disconnect(login(hub, "alice", ALICE_KEY).session);
  const bob = login(hub, "bob", BOB_KEY);
  await run(hub, bob.session, "first");
  const alice = login(hub, "alice", ALICE_KEY);
  hub.disconnect(alice.session);
  for (let i = 0; i < REPLAY_LIMIT + 5; i++) await run(hub, bob.session, `m${i}`);
  const back = login(hub, "alice", ALICE_KEY);
  const lines = afterWelcome(back.sink.frames);
  assert.equal(
    lines[0],
    `info:—— since you left #lobby: ${REPLAY_LIMIT + 5} new, the last ${REPLAY_LIMIT} shown ` +
      "(/history for more) ——",
  );
  assert.equal(lines.length, 1 + REPLAY_LIMIT);
  assert.equal(lines.at(-1), `msg:m${REPLAY_LIMIT + 4}`);
  hub.disconnect(back.session);
  await run(hub, bob.session, "one more");
  const bot = new RecordingSink();
  hub.connect(bot, { user: "alice", history: 0 }, {
    via: "test",
    address: "10.0.0.1:1",
    fingerprint: ALICE_KEY,
  });
  assert.deepEqual(afterWelcome(bot.frames), []);
});

Deno.test("marks and kept messages survive a restore from the log's events", async () => {
  const hub = newHub();
  hub.disconnect(login(hub, "alice", ALICE_KEY).session);
  const bob = login(hub, "bob");
  await run(hub, bob.session, "said while away");
  await run(hub, bob.session, "/msg alice kept for you");
  const restored = new EventLog({ origin: "n1.1" });
  // Claims last: the log restores them first, whatever the order it is given.
  const events = [...hub.log.events()];
  restored.restore([
    ...events.filter((e) => e.kind !== "claim"),
    ...events.filter((e) => e.kind === "claim"),
  ]);
  assert.equal(restored.mail.to("alice").length, 1);
  const again = newHub(restored);
  const back = login(again, "alice", ALICE_KEY);
  assert.deepEqual(afterWelcome(back.sink.frames), [
    "info:—— since you left #lobby: 1 new ——",
    "msg:said while away",
    "info:—— while you were away: 1 private message ——",
    "msg:kept for you",
  ]);
});

Deno.test("a count stops at COUNT_LIMIT and says so", async () => {
  const hub = newHub();
  const alice = login(hub, "alice", ALICE_KEY, "dev");
  hub.disconnect(alice.session);
  for (let i = 0; i <= COUNT_LIMIT; i++) {
    hub.log.append({ room: "dev", kind: "message", from: "bob", text: `m${i}` });
  }
  const back = login(hub, "alice", ALICE_KEY);
  assert.deepEqual(afterWelcome(back.sink.frames), [
    `info:Unread since you left: #dev ${COUNT_LIMIT}+ (/join a room to read it)`,
  ]);
  await run(hub, back.session, "/join dev");
  assert.ok(
    back.sink.info().includes(
      `—— since you left #dev: ${COUNT_LIMIT}+ new, the last ${REPLAY_LIMIT} shown ` +
        "(/history for more) ——",
    ),
  );
});

Deno.test("a second device starts where the person's device online here has read, not at the last mark", async () => {
  const hub = newHub();
  hub.disconnect(login(hub, "alice", ALICE_KEY).session); // a mark at the start
  const phone = login(hub, "alice", ALICE_KEY);
  const bob = login(hub, "bob");
  for (const text of ["one", "two"]) await run(hub, bob.session, text);
  assert.deepEqual(afterWelcome(phone.sink.frames).filter((f) => f.startsWith("msg:")), [
    "msg:one",
    "msg:two",
  ]);
  const laptop = login(hub, "alice", ALICE_KEY);
  assert.deepEqual(
    afterWelcome(laptop.sink.frames).filter((f) => f.includes("since you left")),
    [],
    "the phone saw one and two as they came",
  );
});
