import assert from "node:assert/strict";
import { clockTime, countOf, formatMsg } from "./chat_format.ts";
import type { MsgFrame } from "./protocol.ts";

function leave(text: string): MsgFrame {
  return { t: "msg", id: "n1:1", time: 0, room: "dev", kind: "leave", from: "Alice", text };
}

const PLAIN = { color: false, timestamps: false, currentRoom: "dev" };

Deno.test("formatMsg() shows a leave without repeating the word left", () => {
  assert.equal(formatMsg(leave("left"), PLAIN), "← Alice left #dev");
  assert.equal(formatMsg(leave(""), PLAIN), "← Alice left #dev");
});

Deno.test("formatMsg() shows why someone left when they said or something happened", () => {
  assert.equal(formatMsg(leave("quit"), PLAIN), "← Alice left #dev (quit)");
  assert.equal(formatMsg(leave("back tomorrow"), PLAIN), "← Alice left #dev (back tomorrow)");
  assert.equal(formatMsg(leave("too slow"), PLAIN), "← Alice left #dev (too slow)");
});

Deno.test("countOf() uses the singular for one and the plural otherwise", () => {
  assert.equal(countOf(1, "room"), "1 room");
  assert.equal(countOf(0, "room"), "0 rooms");
  assert.equal(countOf(2, "ban"), "2 bans");
  assert.equal(countOf(1, "person", "people"), "1 person");
  assert.equal(countOf(5, "person", "people"), "5 people");
});

Deno.test("formatMsg() shows the time in the reader's time zone", () => {
  // 2026-01-15 12:34 UTC: 21:34 in Tokyo, 13:34 in Paris (winter).
  const frame: MsgFrame = {
    t: "msg",
    id: "n1:1",
    time: Date.UTC(2026, 0, 15, 12, 34),
    room: "lobby",
    kind: "message",
    from: "bob",
    text: "hi",
  };
  assert.equal(
    formatMsg(frame, { color: false, currentRoom: "lobby", timeZone: "Asia/Tokyo" }),
    "21:34 <bob> hi",
  );
  assert.equal(
    formatMsg(frame, { color: false, currentRoom: "lobby", timeZone: "Europe/Paris" }),
    "13:34 <bob> hi",
  );
  assert.equal(clockTime(Date.UTC(2026, 0, 15, 0, 5), "UTC"), "00:05");
});
