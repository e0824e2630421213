// Copyright the meshchat authors. MIT license.
import assert from "node:assert/strict";
import fc from "fast-check";
import { NICK_PATTERN, nickKey, normalizeRoom, ROOM_PATTERN, validateNick } from "./names.ts";

const NICK_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
const nickArb = fc.string({
  unit: fc.constantFrom(...NICK_CHARS),
  minLength: 1,
  maxLength: 16,
});

Deno.test("validateNick() returns a valid nick unchanged", () => {
  for (const nick of ["a", "Alice", "bob_2", "x.y-z", "0123456789abcdef", "-", "..."]) {
    assert.equal(validateNick(nick), nick);
  }
});

Deno.test("validateNick() throws a readable RangeError for an invalid nick", () => {
  assert.throws(() => validateNick("x y"), {
    name: "RangeError",
    message: 'Invalid nick "x y": use 1-16 letters, digits, dot, underscore or hyphen',
  });
  for (const bad of ["", "a".repeat(17), "héllo", "a/b", "a\nb", "#room", "a@b", "ｆｕｌｌ"]) {
    assert.throws(() => validateNick(bad), RangeError, JSON.stringify(bad));
  }
});

Deno.test("validateNick() quotes hostile input safely and briefly in its message", () => {
  assert.throws(() => validateNick("\x1b[2Jevil\u202e"), {
    message: 'Invalid nick "evil": use 1-16 letters, digits, dot, underscore or hyphen',
  });
  assert.throws(() => validateNick("x".repeat(1000)), (error: Error) => {
    assert.ok(error.message.length < 120, error.message);
    assert.ok(error.message.includes("x".repeat(40) + "…"));
    return true;
  });
});

Deno.test("validateNick() throws a TypeError for a value that is not a string", () => {
  for (const bad of [undefined, null, 42, {}, ["alice"]]) {
    assert.throws(() => validateNick(bad), TypeError);
  }
  assert.throws(() => validateNick(null), {
    message: "Invalid nick: expected a string, got null",
  });
});

Deno.test("nickKey() lowercases so nicks are unique regardless of case", () => {
  assert.equal(nickKey("Alice"), "alice");
  assert.equal(nickKey("ALICE"), nickKey("alice"));
  assert.equal(nickKey("Not A Nick"), "not a nick");
});

Deno.test("normalizeRoom() strips one leading # and lowercases", () => {
  assert.equal(normalizeRoom("#Lobby"), "lobby");
  assert.equal(normalizeRoom("lobby"), "lobby");
  assert.equal(normalizeRoom("Dev.Ops_2-x"), "dev.ops_2-x");
  assert.equal(normalizeRoom("#" + "A".repeat(32)), "a".repeat(32));
});

Deno.test("normalizeRoom() throws a RangeError for an invalid room", () => {
  for (
    const bad of [
      "",
      "#",
      "##lobby",
      "a b",
      "a".repeat(33),
      "#" + "a".repeat(33),
      "héllo",
      "\u212a",
      "lobby\n",
    ]
  ) {
    assert.throws(() => normalizeRoom(bad), RangeError, JSON.stringify(bad));
  }
  assert.throws(() => normalizeRoom("no way"), {
    message:
      'Invalid room "no way": use 1-32 letters, digits, dot, underscore or hyphen, after an optional #',
  });
  assert.throws(() => normalizeRoom(7), TypeError);
});

Deno.test("validateNick() accepts exactly what NICK_PATTERN describes", () => {
  fc.assert(
    fc.property(fc.oneof(nickArb, fc.string({ maxLength: 20 })), (text) => {
      let accepted = true;
      try {
        assert.equal(validateNick(text), text);
      } catch (error) {
        assert.ok(error instanceof RangeError);
        accepted = false;
      }
      assert.equal(accepted, NICK_PATTERN.test(text));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("nickKey() is case-insensitive and idempotent", () => {
  fc.assert(
    fc.property(nickArb, (nick) => {
      const key = nickKey(nick);
      assert.equal(key, nickKey(nick.toUpperCase()));
      assert.equal(nickKey(key), key);
      assert.ok(NICK_PATTERN.test(key));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("normalizeRoom() output matches ROOM_PATTERN and is a fixed point", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.string({ unit: fc.constantFrom(...NICK_CHARS), minLength: 1, maxLength: 32 }),
      (hash, name) => {
        const room = normalizeRoom(hash ? `#${name}` : name);
        assert.ok(ROOM_PATTERN.test(room));
        assert.equal(room, name.toLowerCase());
        assert.equal(normalizeRoom(room), room);
        assert.equal(normalizeRoom(`#${room}`), room);
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("normalizeRoom() either throws a RangeError or returns a valid room", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (text) => {
      try {
        assert.ok(ROOM_PATTERN.test(normalizeRoom(text)));
      } catch (error) {
        assert.ok(error instanceof RangeError);
      }
    }),
    { numRuns: 1000 },
  );
});
