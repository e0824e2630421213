import assert from "node:assert/strict";
import type { MsgFrame } from "../core/protocol.ts";
import { parseSearch } from "../core/search_query.ts";
import { localSearchLines, OpenedMessages } from "./local_search.ts";

function sealedFrame(id: string, room: string, time: number, from = "ann", kind = "message") {
  return { t: "msg", id, time, room, kind, from, text: "", sealed: "…" } as MsgFrame;
}

Deno.test("OpenedMessages.search() finds opened messages of the rooms given, newest first", () => {
  const opened = new OpenedMessages();
  opened.remember(sealedFrame("n1:1", "vault", 100), "the Code is 1234");
  opened.remember(sealedFrame("n1:2", "vault", 300, "bob", "action"), "changes the code");
  opened.remember(sealedFrame("n1:3", "other", 200), "a code elsewhere");
  opened.remember(sealedFrame("n1:4", "vault", 400, "bob", "join"), "code");
  const hits = opened.search(parseSearch("code"), new Set(["vault"]));
  assert.deepEqual(hits.map((hit) => [hit.id, hit.kind, hit.excerpt]), [
    ["n1:2", "action", "changes the code"],
    ["n1:1", "message", "the Code is 1234"],
  ]);
  assert.deepEqual(
    opened.search(parseSearch("code from:ann"), new Set(["vault", "other"])).map((h) => h.id),
    ["n1:3", "n1:1"],
  );
  assert.deepEqual(opened.search(parseSearch("code #other"), new Set(["vault"])), []);
});

Deno.test("OpenedMessages keeps each message once and forgets the oldest past its bound", () => {
  const opened = new OpenedMessages(2);
  opened.remember(sealedFrame("n1:1", "vault", 1), "one");
  opened.remember(sealedFrame("n1:1", "vault", 1), "one");
  opened.remember(sealedFrame("n1:2", "vault", 2), "two");
  opened.remember(sealedFrame("n1:3", "vault", 3), "three");
  assert.equal(opened.size, 2);
  assert.deepEqual(opened.search(parseSearch("o"), new Set(["vault"])).map((h) => h.id), ["n1:2"]);
  assert.throws(() => new OpenedMessages(0), RangeError);
});

Deno.test("localSearchLines() says the search was local and which sealed rooms it covered", () => {
  const opened = new OpenedMessages();
  opened.remember(sealedFrame("n1:1", "vault", Date.UTC(2026, 11, 4, 5, 12)), "the code");
  const query = parseSearch("code");
  assert.deepEqual(localSearchLines(query, ["vault"], opened.search(query, new Set(["vault"]))), [
    'Searched locally (sealed #vault, the messages this client opened): 1 match for "code" ' +
    "(newest first, times UTC):",
    "  #vault 2026-12-04 05:12 <ann> the code",
  ]);
});
