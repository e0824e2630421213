import assert from "node:assert/strict";
import { HandshakeSlots } from "./handshake_slots.ts";

/** Admits a connection and records whether it was evicted. */
function connect(slots: HandshakeSlots, address: string, member = false) {
  const conn = { evicted: false, slot: undefined as ReturnType<HandshakeSlots["admit"]> };
  conn.slot = slots.admit(address, { member, evict: () => conn.evicted = true });
  return conn;
}

Deno.test("HandshakeSlots: idle connections from one address never lock out a new one", () => {
  const slots = new HandshakeSlots({ maxTotal: 64, maxPerAddress: 8 });
  const idle = Array.from({ length: 64 }, () => connect(slots, "127.0.0.1"));
  assert.equal(slots.heldBy("127.0.0.1"), 8);
  assert.equal(idle.filter((c) => c.evicted).length, 56);
  const peer = connect(slots, "127.0.0.1");
  assert.ok(peer.slot, "the peer was refused");
  peer.slot.progressed();
  // More idle connections push out idle ones, never the handshake under way.
  for (let i = 0; i < 100; i++) connect(slots, "127.0.0.1");
  assert.equal(peer.evicted, false);
  assert.equal(slots.heldBy("127.0.0.1"), 8);
});

Deno.test("HandshakeSlots counts an IPv6 /64 as one address", () => {
  const slots = new HandshakeSlots({ maxTotal: 64, maxPerAddress: 2 });
  const first = connect(slots, "2001:db8:1:2::1");
  connect(slots, "2001:db8:1:2::ffff");
  connect(slots, "2001:db8:1:2:aaaa::3");
  assert.equal(first.evicted, true, "a third address in the same /64 is the same address");
  assert.equal(slots.heldBy("2001:db8:1:2::9"), 2);
  const other = connect(slots, "2001:db8:1:3::1");
  assert.equal(other.evicted, false);
  assert.equal(slots.total, 3);
});

Deno.test("HandshakeSlots: a full pool makes room at the address holding the most", () => {
  const slots = new HandshakeSlots({ maxTotal: 8, maxPerAddress: 8, reservedForMembers: 0 });
  const flood = Array.from({ length: 6 }, () => connect(slots, "198.51.100.1"));
  const calm = [connect(slots, "198.51.100.2"), connect(slots, "198.51.100.3")];
  const late = connect(slots, "198.51.100.4");
  assert.ok(late.slot);
  assert.equal(flood[0]!.evicted, true);
  assert.ok(calm.every((c) => !c.evicted));
  assert.equal(slots.total, 8);
});

Deno.test("HandshakeSlots keeps capacity for known members", () => {
  const slots = new HandshakeSlots({ maxTotal: 8, maxPerAddress: 8, reservedForMembers: 2 });
  const strangers = Array.from({ length: 20 }, (_, i) => connect(slots, `203.0.113.${i}`));
  assert.equal(slots.total, 6, "strangers stay out of the reserve");
  const members = [connect(slots, "192.0.2.7", true), connect(slots, "192.0.2.8", true)];
  assert.ok(members.every((m) => m.slot && !m.evicted));
  // A full pool: a member pushes out a stranger; a stranger never pushes out a member.
  const third = connect(slots, "192.0.2.9", true);
  assert.ok(third.slot);
  for (let i = 0; i < 20; i++) connect(slots, `203.0.113.${100 + i}`);
  assert.ok([...members, third].every((m) => !m.evicted));
  assert.equal(strangers.filter((s) => !s.evicted).length <= 5, true);
});

Deno.test("HandshakeSlots.release() frees a slot once", () => {
  const slots = new HandshakeSlots({ maxTotal: 2, maxPerAddress: 2, reservedForMembers: 0 });
  const a = connect(slots, "192.0.2.1");
  a.slot!.release();
  a.slot!.release();
  assert.equal(slots.total, 0);
  connect(slots, "192.0.2.1");
  connect(slots, "192.0.2.2");
  assert.equal(slots.total, 2);
  assert.throws(() => new HandshakeSlots({ maxPerAddress: 0 }), RangeError);
  assert.throws(() => new HandshakeSlots({ maxTotal: 4, reservedForMembers: 4 }), RangeError);
});
