import assert from "node:assert/strict";
import {
  fitPresence,
  MAX_PRESENCE_BYTES,
  MAX_ROOMS_PER_ENTRY,
  parsePresence,
  type PresenceEntry,
  RemotePresence,
} from "./presence.ts";

const bytesOf = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

Deno.test("parsePresence() keeps the good entries of a table with bad ones", () => {
  const rooms = Array.from({ length: MAX_ROOMS_PER_ENTRY + 1 }, (_, i) => `r${i}`);
  const table = parsePresence([
    { nick: "mallory", rooms, since: 1 },
    { nick: "no spaces", rooms: [], since: 2 },
    { nick: "eve", rooms: ["lobby"] },
    "not an entry",
    null,
    { nick: "bob", rooms: ["lobby"], since: 3 },
    { nick: "BOB", rooms: ["other"], since: 4 },
  ]);
  assert.deepEqual(table.entries.map((e) => e.nick), ["mallory", "bob"]);
  assert.equal(table.entries[0]!.rooms.length, MAX_ROOMS_PER_ENTRY, "the room list is cut off");
  assert.deepEqual(table.entries[1], { nick: "bob", rooms: ["lobby"], since: 3 });
  assert.equal(table.dropped, 5);
  assert.equal(table.truncated, 1);
});

Deno.test("parsePresence() leaves out bad rooms and cleans an away message", () => {
  const table = parsePresence([
    { nick: "a", rooms: ["ok", "NOT-normalised", 7, "x".repeat(33)], since: 1 },
    { nick: "b", rooms: "lobby", since: 2, away: "gone\x1b[2J " + "z".repeat(300) },
    { nick: "c", rooms: [], since: 3, away: 42, extra: "ignored" },
  ]);
  assert.deepEqual(table.entries[0], { nick: "a", rooms: ["ok"], since: 1 });
  assert.deepEqual(table.entries[1]!.rooms, []);
  assert.ok(!table.entries[1]!.away!.includes("\x1b"));
  assert.equal(table.entries[1]!.away!.length, 200);
  assert.deepEqual(table.entries[2], { nick: "c", rooms: [], since: 3 });
  assert.equal(table.truncated, 3);
  assert.equal(table.dropped, 0);
});

Deno.test("parsePresence() keeps no more than the byte bound and refuses a non-array", () => {
  const entries = Array.from({ length: 100 }, (_, i) => ({ nick: `n${i}`, rooms: [], since: i }));
  const table = parsePresence(entries, { maxBytes: 1000 });
  assert.ok(table.entries.length > 0 && table.entries.length < 100);
  assert.ok(bytesOf(table.entries) <= 1000);
  assert.equal(table.dropped, 100 - table.entries.length);
  assert.throws(() => parsePresence({ nick: "bob" }), TypeError);
});

Deno.test("fitPresence() keeps every nick before anyone's rooms", () => {
  const rooms = Array.from({ length: 64 }, (_, i) => `room-with-a-long-name-number-${i}`);
  const entries: PresenceEntry[] = Array.from(
    { length: 50 },
    (_, i) => ({ nick: `user${i}`, rooms, since: 1000 - i }),
  );
  const budget = 5000;
  const fitted = fitPresence(entries, { maxBytes: budget });
  assert.ok(bytesOf(fitted.entries) <= budget);
  assert.deepEqual(
    fitted.entries.map((e) => e.nick).toSorted(),
    entries.map((e) => e.nick).toSorted(),
  );
  assert.ok(fitted.trimmed > 0);
  // The oldest sessions get their rooms first.
  const full = fitted.entries.filter((e) => e.rooms.length > 0);
  assert.ok(full.length > 0);
  assert.equal(full[0]!.nick, "user49");
  // Under the bound nothing changes.
  const small = fitPresence(entries.slice(0, 2));
  assert.equal(small.trimmed, 0);
  assert.deepEqual(small.entries.map((e) => e.rooms.length), [64, 64]);
  assert.ok(MAX_PRESENCE_BYTES < 1 << 20, "a table fits a mesh frame");
});

Deno.test("RemotePresence tells which rooms are occupied and which a new table vacated", () => {
  const remote = new RemotePresence();
  assert.deepEqual(remote.replace("n2", [{ nick: "a", rooms: ["x", "y"], since: 1 }]), []);
  remote.replace("n3", [{ nick: "b", rooms: ["y"], since: 1 }]);
  assert.ok(remote.occupied("x") && remote.occupied("y"));
  assert.deepEqual(remote.replace("n2", [{ nick: "a", rooms: [], since: 1 }]), ["x"]);
  assert.ok(!remote.occupied("x") && remote.occupied("y"));
  assert.deepEqual(remote.drop("n3"), ["y"]);
  assert.ok(!remote.occupied("y"));
  assert.deepEqual(remote.drop("n3"), []);
});
