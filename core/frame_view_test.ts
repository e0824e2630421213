import assert from "node:assert/strict";
import type { MsgFrame } from "./protocol.ts";
import { chatPrompt, FrameView, type WelcomeFrame } from "./frame_view.ts";

function msg(from: string, text: string, room = "lobby"): MsgFrame {
  return { t: "msg", id: `n1:${text}`, time: 0, room, kind: "message", from, text };
}

function welcome(fields: Partial<WelcomeFrame> = {}): WelcomeFrame {
  const base = { t: "welcome", v: 1, nick: "ann", node: "n1", room: "lobby", rooms: ["lobby"] };
  return { ...base, topic: "", history: [], ...fields } as WelcomeFrame;
}

function view(historyLimit?: number): FrameView {
  return new FrameView({
    greeting: (welcome) => [`Hi ${welcome.nick}`],
    formatEvent: (frame) => `<${frame.from}> ${frame.text}`,
    ...(historyLimit === undefined ? {} : { historyLimit }),
  });
}

Deno.test("FrameView tracks nick and room from welcome, join, leave and nick frames", () => {
  const frames = view();
  assert.deepEqual(
    frames.show(welcome({ topic: "tea", motd: "be kind", history: [msg("bob", "earlier")] })),
    [
      { text: "Hi ann" },
      { text: "Message of the day: be kind" },
      { text: "Now in #lobby: tea" },
      { text: "<bob> earlier" },
    ],
  );
  assert.equal(frames.node, "n1");
  frames.show({ t: "joined", room: "dev", topic: "", history: [] });
  assert.equal(frames.room, "dev");
  assert.deepEqual(frames.show({ t: "left", room: "dev", current: "lobby" }), [
    { text: "You left #dev; now in #lobby" },
  ]);
  assert.deepEqual(frames.show({ t: "nick", nick: "anna" }), [{ text: "You are now anna" }]);
  assert.equal(frames.nick, "anna");
  assert.equal(frames.room, "lobby");
});

Deno.test("FrameView rings for a live mention, not for history or one's own line", () => {
  const frames = view();
  frames.show(welcome());
  assert.deepEqual(frames.show(msg("bob", "hi ann")), [{ text: "<bob> hi ann", bell: true }]);
  assert.deepEqual(frames.show(msg("bob", "hi all")), [{ text: "<bob> hi all" }]);
  assert.deepEqual(frames.show(msg("ann", "I am ann")), [{ text: "<ann> I am ann" }]);
  const replay = frames.show({ t: "history", room: "lobby", history: [msg("bob", "ann?")] });
  assert.deepEqual(replay, [{ text: "<bob> ann?" }]);
});

Deno.test("FrameView shows the newest history within its limit, and says a room is sealed", () => {
  const frames = view(2);
  const history = [msg("bob", "1"), msg("bob", "2"), msg("bob", "3")];
  const sealed = { v: 1, kdf: "argon2id", salt: "s", m: 1, t: 1, p: 1 } as const;
  assert.deepEqual(
    frames.show({ t: "joined", room: "vault", topic: "", history, sealed }),
    [
      { text: "Now in #vault (sealed: end-to-end encrypted)" },
      { text: "<bob> 2" },
      { text: "<bob> 3" },
    ],
  );
});

Deno.test("FrameView sanitises what the node sends and marks errors", () => {
  const frames = view();
  assert.deepEqual(frames.show({ t: "info", cmd: "motd", lines: ["a\x1b[2Jb"] }), [{ text: "ab" }]);
  assert.deepEqual(frames.show({ t: "error", code: "bad_frame", message: "no\x07pe" }), [
    { text: "error: nope", error: true },
  ]);
  assert.deepEqual(frames.show({ t: "bye", reason: "quit\r" }), [{ text: "Disconnected: quit" }]);
  assert.deepEqual(
    frames.show(msg("bob", "x"), (frame) => `custom ${frame.text}`),
    [{ text: "custom x" }],
  );
});

Deno.test("chatPrompt() shows room and nick, the nick coloured when asked", () => {
  assert.equal(chatPrompt("lobby", "ann", { color: false }), "[#lobby] ann> ");
  assert.equal(chatPrompt("", "ann", { color: false }), "[(no room)] ann> ");
  assert.equal(chatPrompt("vault", "ann", { color: false, roomNote: " 🔒" }), "[#vault 🔒] ann> ");
  assert.match(chatPrompt("lobby", "ann"), /^\[#lobby\] \x1b\[38;5;\d+mann\x1b\[39m> $/);
});
