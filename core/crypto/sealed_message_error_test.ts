// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import { printable, roomLabel, SealedMessageError } from "./sealed_message_error.ts";

Deno.test("SealedMessageError names the room, the reason and its code", () => {
  const cause = new Error("inner");
  const error = new SealedMessageError("wrong_key", "x", "wrong passphrase", {
    cause,
  });
  assert.equal(error.message, "Cannot open sealed message in #x: wrong passphrase");
  assert.equal(error.name, "SealedMessageError");
  assert.equal(error.code, "wrong_key");
  assert.equal(error.room, "x");
  assert.equal(error.cause, cause);
  assert.ok(error instanceof Error);
});

Deno.test("roomLabel() adds one # and escapes control characters", () => {
  assert.equal(roomLabel("general"), "#general");
  assert.equal(roomLabel("#general"), "#general");
  assert.equal(roomLabel("a\nb"), "#a\\u{a}b");
});

Deno.test("printable() escapes terminal and bidi controls and cuts long text", () => {
  assert.equal(printable("a\u001b[2Jb\u0007"), "a\\u{1b}[2Jb\\u{7}");
  assert.equal(printable("\u202eevil"), "\\u{202e}evil");
  assert.equal(printable("\u009b"), "\\u{9b}");
  assert.equal(printable("x".repeat(100)), `${"x".repeat(64)}…`);
  assert.equal(printable("héllo 👋"), "héllo 👋");
});
