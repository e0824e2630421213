import assert from "node:assert/strict";
import type { MsgFrame } from "../../core/protocol.ts";
import { Conversations } from "./conversations.ts";

function msg(id: string, time: number, fields: Partial<MsgFrame> = {}): MsgFrame {
  return { t: "msg", id, time, room: "lobby", kind: "message", from: "bob", text: "hi", ...fields };
}

Deno.test("Conversations.add() keeps time order, drops repeats, and counts unread mentions elsewhere", () => {
  const conversations = new Conversations();
  conversations.nick = "ann";
  conversations.show("other");
  conversations.add(msg("n1:2", 20), undefined, true);
  conversations.add(msg("n1:3", 30, { text: "ann: look" }), undefined, true);
  // Scrollback: older history merges in front, a repeat is dropped.
  conversations.add(msg("n1:1", 10), undefined, false);
  assert.equal(conversations.add(msg("n1:2", 20), undefined, false), undefined);
  const lobby = conversations.get("lobby");
  assert.deepEqual(lobby.entries.map((e) => e.id), ["n1:1", "n1:2", "n1:3"]);
  assert.deepEqual([lobby.unread, lobby.mentioned], [2, true]);
  conversations.show("lobby");
  assert.deepEqual([lobby.unread, lobby.mentioned], [0, false]);
});

Deno.test("Conversations puts private messages with the other person and tracks members", () => {
  const conversations = new Conversations();
  conversations.nick = "ann";
  conversations.setMembers("lobby", [{ nick: "bob", node: "n1" }]);
  conversations.add(msg("n1:1", 1, { kind: "private", room: "", to: "ann" }), undefined, true);
  conversations.add(
    msg("n1:2", 2, { kind: "private", room: "", from: "ann", to: "bob" }),
    undefined,
    true,
  );
  assert.equal(conversations.get("@bob").entries.length, 2);
  conversations.add(msg("n1:3", 3, { kind: "join", from: "cid" }), undefined, true);
  conversations.add(msg("n1:4", 4, { kind: "nick", text: "robert" }), undefined, true);
  assert.deepEqual(
    [...conversations.get("lobby").members.values()].map((m) => m.nick).sort(),
    ["cid", "robert"],
  );
});
