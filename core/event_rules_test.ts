import assert from "node:assert/strict";
import type { ChatEvent } from "./event.ts";
import { checkEventRules, cleanVisibleText, clipText, MAX_TOPIC_LENGTH } from "./event_rules.ts";
import { newSealParams, RoomKey, SealedRoom } from "./crypto/mod.ts";

function event(fields: Partial<ChatEvent> = {}): ChatEvent {
  return {
    origin: "n2",
    seq: 1,
    hlc: { wall: 1, counter: 0, node: "n2" },
    room: "lobby",
    kind: "message",
    from: "bob",
    text: "hello",
    ...fields,
  };
}

Deno.test("clipText() never splits a surrogate pair, so cleanVisibleText() output passes the rules", () => {
  assert.equal(clipText("ab😀", 3), "ab");
  assert.equal(clipText("ab😀", 4), "ab😀");
  const typed = `  ${"x".repeat(MAX_TOPIC_LENGTH - 1)}😀 \x1b[31m`;
  const topic = cleanVisibleText(typed, MAX_TOPIC_LENGTH);
  assert.equal(topic, "x".repeat(MAX_TOPIC_LENGTH - 1));
  checkEventRules(event({ kind: "topic", text: topic }));
});

Deno.test("checkEventRules() accepts what a correct node makes", async () => {
  checkEventRules(event());
  checkEventRules(event({ kind: "join", text: "" }));
  checkEventRules(event({ kind: "leave", text: "quit" }));
  checkEventRules(event({ kind: "nick", text: "robert" }));
  checkEventRules(event({ kind: "private", room: "", to: "alice" }));
  checkEventRules(event({ kind: "seal", room: "vault", text: JSON.stringify(newSealParams()) }));
  checkEventRules(event({ kind: "mod", room: "", text: '{"a":"motd","text":"hi"}' }));
  checkEventRules(event({ kind: "claim", room: "", text: `SHA256:${"a".repeat(43)}` }));
  const room = new SealedRoom("vault", RoomKey.fromBytes(new Uint8Array(32).fill(7)));
  const sealed = await room.seal({ sender: "bob", text: "secret", time: 1 });
  checkEventRules(event({ room: "vault", text: "", sealed }));
});

Deno.test("checkEventRules() refuses what no correct node makes, naming the rule", async () => {
  const cases: [Partial<ChatEvent>, RegExp][] = [
    [{ hlc: { wall: 1, counter: 0, node: "n3" } }, /stamp names node n3/],
    [{ from: "" }, /from is not a valid nick/],
    [{ room: "#Lobby" }, /normalised room/],
    [{ kind: "mod", room: "lobby" }, /room must be empty/],
    [{ to: "alice" }, /only private messages/],
    [{ kind: "private", room: "" }, /to is not a valid nick/],
    [{ text: "\u202Eevil" }, /not sanitised/],
    [{ text: "" }, /text is empty/],
    [{ text: "x".repeat(4001) }, /more than 4000/],
    [{ kind: "away", text: "a".repeat(201) }, /more than 200/],
    [{ kind: "join", text: "x" }, /no text/],
    [{ kind: "nick", text: "two words" }, /new nick/],
    [{ kind: "seal", text: '{"v":1}' }, /bad seal parameters/],
    [{ kind: "mod", room: "", text: "x".repeat(2049) }, /too long/],
    [{ kind: "claim", room: "lobby", text: `SHA256:${"a".repeat(43)}` }, /room must be empty/],
    [{ kind: "claim", room: "", text: "SHA256:short" }, /key is not SHA256/],
    [{ kind: "claim", room: "", text: `MD5:${"a".repeat(43)}` }, /key is not SHA256/],
    [{ kind: "topic", sealed: "AAAA", text: "" }, /only messages and actions/],
    [{ sealed: "AAAA", text: "x" }, /empty text/],
    [{ sealed: "not an envelope", text: "" }, /unreadable envelope/],
  ];
  for (const [fields, reason] of cases) {
    assert.throws(() => checkEventRules(event(fields)), reason, JSON.stringify(fields));
  }
  const room = new SealedRoom("vault", RoomKey.fromBytes(new Uint8Array(32).fill(7)));
  const sealed = await room.seal({ sender: "bob", text: "secret", time: 1 });
  assert.throws(
    () => checkEventRules(event({ room: "other", text: "", sealed })),
    /another room or sender/,
  );
  assert.throws(
    () => checkEventRules(event({ room: "vault", from: "mallory", text: "", sealed })),
    /another room or sender/,
  );
});
