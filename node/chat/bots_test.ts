import assert from "node:assert/strict";
import { type ChatEvent, eventId } from "../../core/event.ts";
import { checkEventRules } from "../../core/event_rules.ts";
import { SnapshotStore } from "../store/snapshot_store.ts";
import { BotRegistry } from "./bots.ts";
import { commandContext, handleInput } from "./commands.ts";
import { EventLog } from "./event_log.ts";
import { Hub } from "./hub.ts";
import { RecordingSink } from "../../tests/helpers/chat_fixtures.ts";

const BOT_KEY = `SHA256:${"b".repeat(43)}`;
const OP_KEY = `SHA256:${"o".repeat(43)}`;

function mark(seq: number, wall: number, nick: string, text: string, origin = "n2"): ChatEvent {
  return {
    origin,
    seq,
    hlc: { wall, counter: 0, node: origin },
    room: "",
    kind: "bot",
    from: nick,
    text,
  };
}

Deno.test("BotRegistry: the newest mark of a nick wins, whatever order marks arrive in", () => {
  const marks = [
    mark(1, 10, "Deploy", "on"),
    mark(2, 20, "deploy", "off"),
    mark(3, 30, "DEPLOY", "on"),
  ];
  for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]]) {
    const registry = new BotRegistry();
    const dropped = order.map((i) => registry.apply(marks[i]!));
    assert.equal(registry.isBot("deploy"), true, `order ${order}`);
    assert.equal(registry.size, 1);
    assert.deepEqual([...registry.marks()], [marks[2]]);
    assert.equal(dropped.filter((e) => e !== undefined).length, 2, "each loser is dropped once");
  }
  const off = new BotRegistry();
  off.apply(marks[0]!);
  off.apply(marks[1]!);
  assert.equal(off.isBot("deploy"), false, "an off mark is kept and wins over an older on");
  assert.equal(off.apply(marks[0]!), marks[0], "a replayed older on loses");
});

Deno.test("BotRegistry drops a new nick's mark when full", () => {
  const registry = new BotRegistry(1);
  assert.equal(registry.apply(mark(1, 10, "a", "on")), undefined);
  const second = mark(2, 20, "b", "on");
  assert.equal(registry.apply(second), second);
  assert.equal(registry.isBot("b"), false);
  assert.throws(() => new BotRegistry(0), RangeError);
});

Deno.test('a bot mark is on or off, in room ""', () => {
  checkEventRules(mark(1, 1, "deploy", "on"));
  assert.throws(() => checkEventRules(mark(1, 1, "deploy", "yes")), /on or off/);
  assert.throws(
    () => checkEventRules({ ...mark(1, 1, "deploy", "on"), room: "lobby" }),
    /room must be empty/,
  );
});

Deno.test("a bot mark from a peer is applied, and a peer's refused one is not", () => {
  const log = new EventLog({ origin: "n1" });
  assert.equal(log.apply(mark(1, Date.now(), "deploy", "on")), true);
  assert.equal(log.bots.isBot("Deploy"), true);
  assert.equal(log.apply(mark(2, Date.now(), "deploy", "maybe")), false);
  assert.equal(log.bots.isBot("deploy"), true);
});

function person(hub: Hub, user: string, fingerprint?: string, history?: number) {
  const sink = new RecordingSink();
  const session = hub.connect(sink, { user, ...(history === undefined ? {} : { history }) }, {
    via: "test",
    address: "-",
    ...(fingerprint === undefined ? {} : { fingerprint }),
  });
  const run = (line: string) => handleInput(commandContext(hub, session), line);
  return { sink, session, run };
}

function hubWithNicks(): Hub {
  const log = new EventLog({ origin: "n1" });
  return new Hub({ nodeId: "n1", log, rateBurst: 0, ops: [OP_KEY], nickGuard: log.nicks });
}

function welcomeHistory(sink: RecordingSink): number {
  const welcome = sink.frames.find((f) => f.t === "welcome");
  assert.ok(welcome?.t === "welcome");
  return welcome.history.length;
}

Deno.test("/bot on marks a nick the session's key owns: /who and /whois show it, no history on join", async () => {
  const hub = hubWithNicks();
  const ann = person(hub, "ann");
  await ann.run("hello before the bot");
  const bot = person(hub, "deploy", BOT_KEY);
  assert.equal(welcomeHistory(bot.sink), 1, "not a bot yet: it gets the history");
  await bot.run("/bot on");
  assert.match(bot.sink.reply("bot")[0]!, /^deploy is a bot now/);
  await ann.run("/who");
  assert.deepEqual(ann.sink.reply("who"), ["2 in #lobby:", "  ann (n1)", "  deploy (n1) [bot]"]);
  await ann.run("/whois deploy");
  assert.ok(ann.sink.reply("whois").includes("  a bot (marked with /bot)"));
  await bot.run("/quit");

  const again = person(hub, "deploy", BOT_KEY);
  assert.equal(welcomeHistory(again.sink), 0, "a bot gets no history on login");
  await again.run("/join ops");
  await again.run("/join lobby");
  const joined = again.sink.frames.filter((f) => f.t === "joined");
  assert.deepEqual(joined.map((f) => f.t === "joined" ? f.history.length : -1), [0, 0]);
  await again.run("/quit");

  const asks = person(hub, "deploy", BOT_KEY, 5);
  assert.equal(welcomeHistory(asks.sink), 1, "a bot whose hello asks for history gets it");
  await asks.run("/bot off");
  await ann.run("/who");
  assert.deepEqual(ann.sink.reply("who"), ["2 in #lobby:", "  ann (n1)", "  deploy (n1)"]);
});

Deno.test("/bot refuses a nick no key of the session owns, and someone else's nick to non-operators", async () => {
  const hub = hubWithNicks();
  const guest = person(hub, "guest");
  await assert.rejects(() => guest.run("/bot on"), /Only a registered nick can be a bot/);
  await assert.rejects(() => guest.run("/bot maybe"), /use on or off/);
  person(hub, "deploy", BOT_KEY);
  await assert.rejects(() => guest.run("/bot on deploy"), /for operators only/);
  assert.equal(hub.isBot("deploy"), false);

  const root = person(hub, "root", OP_KEY);
  await assert.rejects(() => root.run("/bot on guest"), /not a registered nick/);
  await root.run("/bot on deploy");
  assert.equal(hub.isBot("deploy"), true);
  await guest.run("/bot");
  assert.deepEqual(guest.sink.reply("bot"), ["guest is not marked as a bot"]);
});

Deno.test("SnapshotStore keeps bot marks outside the history budget, without the ones replaced", async () => {
  const dir = `./data/test-unit-${crypto.randomUUID().slice(0, 8)}`;
  const boot = async (historyBudgetBytes?: number) => {
    const store = await SnapshotStore.open(dir, { nodeId: "n1", intervalMs: 0 });
    const log = new EventLog({
      origin: store.origin,
      lastSeq: store.lastSeq,
      ...(historyBudgetBytes === undefined ? {} : { historyBudgetBytes }),
    });
    store.attach(log);
    return { store, log };
  };
  try {
    const first = await boot();
    first.log.append({ room: "", kind: "bot", from: "deploy", text: "off" });
    first.log.append({ room: "", kind: "bot", from: "deploy", text: "on" });
    first.log.append({ room: "", kind: "bot", from: "ci", text: "on" });
    for (let i = 0; i < 20; i++) {
      first.log.append({ room: "lobby", kind: "message", from: "ann", text: `line ${i}` });
    }
    await first.store.close();
    const second = await boot(1024);
    assert.equal(second.log.bots.isBot("deploy"), true);
    assert.equal(second.log.bots.isBot("ci"), true);
    const marks = [...second.log.events()].filter((e) => e.kind === "bot").map(eventId).sort();
    assert.deepEqual(marks, ["n1:2", "n1:3"], "the replaced mark stays gone");
    await second.store.close();
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
