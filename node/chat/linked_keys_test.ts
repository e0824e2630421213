import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import { EventLog } from "./event_log.ts";
import { Hub } from "./hub.ts";
import { RecordingSink } from "../../tests/helpers/chat_fixtures.ts";

const A = `SHA256:${"a".repeat(43)}`;
const B = `SHA256:${"b".repeat(43)}`;
const C = `SHA256:${"c".repeat(43)}`;

/** A link event as a peer would send it. */
function link(origin: string, seq: number, wall: number, nick: string, text: string): ChatEvent {
  return {
    origin,
    seq,
    hlc: { wall, counter: 0, node: origin },
    room: "",
    kind: "link",
    from: nick,
    text,
  };
}

Deno.test("a linked key owns the nick only while it is registered; the newest link event wins in any order", () => {
  const events = [
    link("p", 1, 1000, "ann", `+${B}`),
    link("p", 2, 2000, "ann", `-${B}`),
    link("p", 3, 3000, "ann", `+${C}`),
  ];
  for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0]]) {
    const log = new EventLog({ origin: "n1" });
    for (const i of order) assert.equal(log.apply(events[i]!), true);
    // No claim yet: a link alone owns nothing.
    assert.equal(log.nicks.owns("ann", C), false);
    log.nicks.claim("Ann", A);
    assert.equal(log.nicks.owns("ANN", C), true, `order ${order}`);
    assert.equal(log.nicks.owns("ann", B), false, `order ${order}`);
    assert.deepEqual(log.nicks.keysOf("ann"), [A, C]);
    assert.equal(log.nicks.check("ann", C), undefined);
    assert.equal(log.nicks.claim("ann", C), "owned");
    // The link events are the log's, for replication and snapshots: one per nick and key.
    assert.equal([...log.events()].filter((e) => e.kind === "link").length, 2);
  }
});

Deno.test("a peer's link event that breaks the rules is refused", () => {
  const log = new EventLog({ origin: "n1" });
  assert.equal(log.apply(link("p", 1, 1000, "ann", B)), false, "no + or -");
  assert.equal(log.apply(link("p", 2, 1000, "ann", "+SHA256:short")), false);
  assert.equal(log.apply({ ...link("p", 3, 1000, "ann", `+${B}`), room: "lobby" }), false);
});

Deno.test("Hub.linkKey(): only a session whose key owns its nick links, the registering key stays, at most 8 keys", () => {
  const log = new EventLog({ origin: "n3" });
  const keyed = new Hub({ nodeId: "n3", log, nickGuard: log.nicks });
  const owner = keyed.connect(new RecordingSink(), { user: "ann" }, {
    via: "tcp",
    address: "10.0.0.1:1",
    fingerprint: A,
  });
  assert.equal(keyed.linkKey(owner, "+", B), true);
  assert.equal(keyed.linkKey(owner, "+", B), false, "linked already");
  assert.throws(() => keyed.linkKey(owner, "-", A), /registered ann and stays its key/);
  for (let i = 0; i < 6; i++) {
    keyed.linkKey(owner, "+", `SHA256:${String(i).repeat(43)}`);
  }
  assert.throws(() => keyed.linkKey(owner, "+", C), /the most a nick may have/);
  const guest = keyed.connect(new RecordingSink(), { user: "bob" }, {
    via: "tcp",
    address: "10.0.0.2:1",
  });
  assert.throws(() => keyed.linkKey(guest, "+", C), /Only a key that owns bob/);
  const other = keyed.connect(new RecordingSink(), { user: "carl" }, {
    via: "tcp",
    address: "10.0.0.3:1",
    fingerprint: C,
  });
  // carl's key owns carl, not ann: it cannot link keys to ann by naming her.
  assert.equal(keyed.linkKey(other, "+", B), true);
  assert.deepEqual(log.nicks.keysOf("carl"), [C, B]);
  assert.equal(log.nicks.owns("ann", C), false);
});
