import assert from "node:assert/strict";
import { newSealParams } from "../../core/crypto/mod.ts";
import { parseSearch } from "../../core/search_query.ts";
import { commandContext, handleInput } from "./commands.ts";
import { EventLog } from "./event_log.ts";
import { MAX_SEARCH_RESULTS, searchRooms } from "./history_search.ts";
import { Hub } from "./hub.ts";
import { RecordingSink } from "../../tests/helpers/chat_fixtures.ts";

function person(hub: Hub, user: string) {
  const sink = new RecordingSink();
  const session = hub.connect(sink, { user }, { via: "test", address: "-" });
  const run = (line: string) => handleInput(commandContext(hub, session), line);
  return { sink, session, run };
}

Deno.test("/search finds messages and actions in the person's rooms, newest first", async () => {
  let now = 1_000;
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, now: () => now++ });
  const ann = person(hub, "ann");
  const bob = person(hub, "bob");
  await ann.run("the Deploy failed");
  await bob.run("/join ops");
  await bob.run("/me restarts the deploy");
  await bob.run("unrelated");
  await bob.run("/join lobby");
  await ann.run("/search DEPLOY");
  assert.deepEqual(ann.sink.reply("search"), [
    '1 match for "deploy" (newest first, times UTC):',
    "  #lobby 1970-01-01 00:00 <ann> the Deploy failed",
  ], "ann is not in #ops: its messages are not hers to search");
  await bob.run("/search deploy");
  const lines = bob.sink.reply("search");
  assert.equal(lines[0], '2 matches for "deploy" (newest first, times UTC):');
  assert.match(lines[1]!, /#ops .* \* bob restarts the deploy$/);
  assert.match(lines[2]!, /#lobby .* <ann> the Deploy failed$/);
  await bob.run("/search deploy #ops");
  assert.equal(bob.sink.reply("search").length, 2);
  await bob.run("/search deploy from:ANN");
  assert.match(bob.sink.reply("search")[1]!, /<ann>/);
  assert.equal(bob.sink.reply("search").length, 2);
});

Deno.test("/search refuses a room the person is not in, and a query without text", async () => {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0 });
  const ann = person(hub, "ann");
  const bob = person(hub, "bob");
  await bob.run("/join secret");
  await bob.run("the password is hunter2");
  await assert.rejects(() => ann.run("/search hunter2 #secret"), /not in #secret/);
  await assert.rejects(() => ann.run("/search hunter2 #nowhere"), /not in #nowhere/);
  await assert.rejects(() => ann.run("/search #lobby"), /nothing to find/);
  await assert.rejects(() => ann.run("/search"), /usage/);
});

Deno.test("/search never reads a sealed room, and says so", async () => {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0 });
  const ann = person(hub, "ann");
  await ann.run("/join vault");
  hub.seal(ann.session, "vault", newSealParams());
  await ann.run("/search anything");
  const lines = ann.sink.reply("search");
  assert.equal(lines[0], '0 matches for "anything" (newest first, times UTC):');
  assert.match(lines[1]!, /^Not searched here: #vault \(sealed: the node cannot read it/);
  await ann.run("/search anything #vault");
  assert.match(ann.sink.reply("search")[1]!, /^Not searched here: #vault/);
});

Deno.test("/search shows times in the session's time zone", async () => {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, now: () => Date.UTC(2026, 11, 4, 5, 12) });
  const ann = person(hub, "ann");
  ann.session.prefs.set("tz", "Asia/Tokyo");
  await ann.run("konnichiwa");
  await ann.run("/search konni");
  assert.deepEqual(ann.sink.reply("search"), [
    '1 match for "konni" (newest first, times Asia/Tokyo):',
    "  #lobby 2026-12-04 14:12 <ann> konnichiwa",
  ]);
});

Deno.test("searchRooms() returns at most the limit, newest first across rooms", () => {
  const log = new EventLog({ origin: "n1" });
  for (let i = 0; i < 30; i++) {
    log.append({ room: i % 2 === 0 ? "a" : "b", kind: "message", from: "ann", text: `hit ${i}` });
  }
  const rooms = [log.rooms.get("a")!, log.rooms.get("b")!];
  const { hits, partial } = searchRooms(rooms, parseSearch("hit"));
  assert.equal(hits.length, MAX_SEARCH_RESULTS);
  assert.deepEqual(hits.slice(0, 3).map((hit) => hit.excerpt), ["hit 29", "hit 28", "hit 27"]);
  assert.deepEqual(partial, []);
});

Deno.test("searchRooms() stops at its scan budget and names the rooms it searched in part", () => {
  const log = new EventLog({ origin: "n1" });
  log.append({ room: "a", kind: "message", from: "ann", text: "old needle" });
  for (let i = 0; i < 50; i++) log.append({ room: "a", kind: "message", from: "ann", text: "hay" });
  log.append({ room: "b", kind: "message", from: "ann", text: "new needle" });
  const rooms = [log.rooms.get("a")!, log.rooms.get("b")!];
  const cut = searchRooms(rooms, parseSearch("needle"), { maxScan: 40 });
  assert.deepEqual(cut.hits.map((hit) => hit.excerpt), ["new needle"]);
  assert.deepEqual(cut.partial, ["a"]);
  const whole = searchRooms(rooms, parseSearch("needle"), { maxScan: 200 });
  assert.deepEqual(whole.hits.map((hit) => hit.excerpt), ["new needle", "old needle"]);
  assert.deepEqual(whole.partial, []);
});
