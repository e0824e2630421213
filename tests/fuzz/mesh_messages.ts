/**
 * Fuzz properties of what arrives over an authenticated mesh link:
 * `parseEvent`, `parseMembershipMessage`, and `Replicator.receive` against a
 * real `Hub`.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type ChatEvent, EVENT_KINDS, MAX_EVENT_BODY, parseEvent } from "../../core/event.ts";
import { checkEventRules } from "../../core/event_rules.ts";
import { parseMembershipMessage } from "../../node/mesh/membership.ts";
import { Hub } from "../../node/chat/hub.ts";
import { type ReplicationMessage, Replicator } from "../../node/mesh/replicator.ts";
import {
  assertParameters,
  type FuzzProperty,
  hostileJson,
  mutatedRecord,
  nastyNumber,
  nastyString,
  wire,
} from "./arbitraries.ts";

const ORIGINS = ["n1", "n2", "n1.1"];

/**
 * Largest HLC counter generated for otherwise valid events. KNOWN BUG (see
 * `regressions.ts`): a counter at `HLC_MAX_COUNTER` makes `Hub.apply` throw
 * after it has already marked the event in its version vector, so the
 * property stays below it until that is fixed.
 */
export const SAFE_COUNTER_MAX = 2 ** 30;

/**
 * Valid events from a few origins with small sequence numbers, so that
 * sequences of them overlap, fill gaps and duplicate each other.
 *
 * @param maxCounter Largest HLC counter.
 * @returns Valid events as plain JSON values.
 */
export function validEvent(maxCounter = SAFE_COUNTER_MAX): fc.Arbitrary<Record<string, unknown>> {
  return fc.record({
    origin: fc.constantFrom(...ORIGINS),
    seq: fc.integer({ min: 1, max: 12 }),
    wall: fc.oneof(fc.constant(Date.now()), fc.nat(), fc.maxSafeNat()),
    counter: fc.oneof(fc.nat(3), fc.integer({ min: 0, max: maxCounter })),
    room: fc.constantFrom("lobby", "r", "", "__proto__"),
    kind: fc.constantFrom(...EVENT_KINDS),
    from: fc.constantFrom("ada", "bob", "__proto__"),
    text: nastyString,
    extra: fc.option(
      fc.record({ to: fc.constantFrom("ada", "bob"), cid: fc.uuid(), sealed: fc.base64String() }, {
        requiredKeys: [],
      }),
      { nil: undefined },
    ),
  }).map(({ origin, seq, wall, counter, room, kind, from, text, extra }) => ({
    origin,
    seq,
    hlc: { wall, counter, node: origin },
    room,
    kind,
    from,
    text,
    ...extra,
  }));
}

/** Valid events, near-valid mutations of them, or any JSON. */
const eventLike = fc.oneof(
  { weight: 4, arbitrary: validEvent() },
  { weight: 2, arbitrary: validEvent().chain((e) => mutatedRecord(e)) },
  { weight: 1, arbitrary: hostileJson },
);

const versionVectorLike = fc.oneof(
  fc.dictionary(fc.constantFrom(...ORIGINS, "__proto__", "x"), fc.oneof(nastyNumber, hostileJson)),
  fc.dictionary(fc.constantFrom(...ORIGINS), fc.nat(14)),
  hostileJson,
);

/** Replication messages: valid, near-valid and arbitrary. */
const replicationMessage: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant("ev"),
      events: fc.oneof(
        { weight: 5, arbitrary: fc.array(eventLike, { maxLength: 6 }) },
        hostileJson,
      ),
      more: fc.oneof(fc.boolean(), hostileJson),
    }, { requiredKeys: ["k", "events"] }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constantFrom("vv", "have"), vv: versionVectorLike }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("gap"),
      origin: fc.oneof(fc.constantFrom(...ORIGINS), hostileJson),
      from: fc.oneof(fc.integer({ min: -2, max: 20 }), hostileJson),
      to: fc.oneof(fc.integer({ min: -2, max: 40 }), hostileJson),
    }),
  },
  { weight: 1, arbitrary: hostileJson },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Record<string, unknown>>(
      { k: "ev", events: [] },
      { k: "vv", vv: {} },
      { k: "gap", origin: "n1", from: 1, to: 3 },
    ).chain((m) => mutatedRecord(m)),
  },
);

const nonNull = (m: unknown) => m !== null && m !== undefined;

const peerEvent = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      peer: fc.constantFrom("p1", "p2"),
      message: wire(replicationMessage).filter(nonNull),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      link: fc.constantFrom("up", "down"),
      peer: fc.constantFrom("p1", "p2"),
    }),
  },
);

function checkEvent(event: ChatEvent): void {
  assert.equal(Object.getPrototypeOf(event), Object.prototype);
  assert.match(event.origin, /^[A-Za-z0-9.~-]{1,64}$/);
  assert.ok(Number.isSafeInteger(event.seq) && event.seq >= 1);
  assert.ok(EVENT_KINDS.includes(event.kind));
  assert.ok(typeof event.text === "string" && event.text.length <= MAX_EVENT_BODY);
  for (const key of ["room", "from"] as const) {
    assert.ok(typeof event[key] === "string" && event[key].length <= 64, key);
  }
}

/**
 * Ids of well-formed events in an `ev` message that break a rule every node
 * applies: the log records those as seen (refused for good) without storing them.
 */
function noteRefusedForGood(message: unknown, into: Set<string>): void {
  const events = (message as { k?: unknown; events?: unknown })?.events;
  if ((message as { k?: unknown })?.k !== "ev" || !Array.isArray(events)) return;
  for (const value of events) {
    let event: ChatEvent;
    try {
      event = parseEvent(value);
    } catch {
      continue;
    }
    try {
      checkEventRules(event);
      if (event.kind === "seal" && event.room === "lobby") into.add(`${event.origin}:${event.seq}`);
    } catch {
      into.add(`${event.origin}:${event.seq}`);
    }
  }
}

/**
 * Replays peer messages into a fresh hub and replicator; asserts nothing
 * throws and that the version vector claims only applied, refused-for-good or lost events.
 *
 * @param steps Link changes and messages from peers.
 */
export function replayIntoReplicator(
  steps: readonly ({ peer: string; message: unknown } | { peer: string; link: string })[],
): void {
  const hub = new Hub({ nodeId: "n0", rateBurst: 0 });
  const sent: { peer: string; message: ReplicationMessage }[] = [];
  const replicator = new Replicator(hub.log, {
    send: (peer, message) => sent.push({ peer, message }),
    upPeers: () => ["p1", "p2"],
  });
  const applied = new Set<string>();
  hub.log.onApplied((event) => {
    checkEvent(event);
    applied.add(`${event.origin}:${event.seq}`);
  });
  const refusedForGood = new Set<string>();
  for (const step of steps) {
    if ("link" in step) {
      if (step.link === "up") replicator.linkUp(step.peer);
      else replicator.linkDown(step.peer);
    } else {
      noteRefusedForGood(step.message, refusedForGood);
      replicator.receive(step.peer, step.message as ReplicationMessage);
    }
  }
  const lost = replicator.lostRanges().map((range) => {
    const colon = range.lastIndexOf(":");
    const [from, to] = range.slice(colon + 1).split("-").map(Number);
    return { origin: range.slice(0, colon), from: from!, to: to! };
  });
  for (const origin of hub.versions.origins()) {
    const contiguous = hub.versions.contiguous(origin);
    for (let seq = 1; seq <= Math.min(contiguous, 5000); seq++) {
      const ok = applied.has(`${origin}:${seq}`) || refusedForGood.has(`${origin}:${seq}`) ||
        lost.some((r) => r.origin === origin && r.from <= seq && seq <= r.to);
      assert.ok(ok, `version vector claims ${origin}:${seq}, never applied, refused nor lost`);
    }
  }
  for (const id of applied) {
    const colon = id.lastIndexOf(":");
    assert.ok(hub.versions.has(id.slice(0, colon), Number(id.slice(colon + 1))), id);
  }
  // Everything it would send a peer that knows nothing is valid and JSON-safe.
  sent.length = 0;
  replicator.receive("p3", { k: "vv", vv: {} });
  for (const { message } of sent) {
    JSON.stringify(message);
    if (message.k === "ev") { for (const event of message.events) checkEvent(parseEvent(event)); }
  }
}

const MEMBER_STATES = ["alive", "suspect", "dead", "left"];

const gossipEntry = fc.record({
  id: fc.constantFrom("n1", "n2"),
  addr: fc.constant("127.0.0.1:7000"),
  boot: fc.uuid(),
  incarnation: fc.nat(5),
  state: fc.constantFrom(...MEMBER_STATES),
});

const validMembershipMessage: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({
    t: fc.constantFrom("ping", "ack"),
    seq: fc.nat(),
    gossip: fc.array(gossipEntry, { maxLength: 3 }),
  }),
  fc.record({
    t: fc.constantFrom("ping-req", "ack-req"),
    seq: fc.nat(),
    target: fc.constant("n2"),
  }),
  fc.record({ t: fc.constant("gossip"), gossip: fc.array(gossipEntry, { maxLength: 3 }) }),
);

const gossipMutation: fc.Arbitrary<unknown> = validMembershipMessage.chain((m) =>
  Array.isArray(m.gossip) && m.gossip.length > 0
    ? fc.tuple(fc.nat(m.gossip.length - 1), mutatedRecord(m.gossip[0] as Record<string, unknown>))
      .map(([i, entry]) => {
        const gossip = [...(m.gossip as unknown[])];
        gossip[i] = entry;
        return { ...m, gossip };
      })
    : mutatedRecord(m)
);

const presenceEntries: fc.Arbitrary<unknown> = wire(fc.oneof(
  fc.array(
    fc.oneof(
      fc.record({
        nick: fc.constantFrom("ada", "Ada", "bob", "__proto__"),
        rooms: fc.array(fc.constantFrom("lobby", "r"), { maxLength: 2 }),
        since: nastyNumber,
        away: nastyString,
      }, { requiredKeys: ["nick", "rooms", "since"] }),
      fc.record({ nick: fc.constant("bob"), rooms: fc.constant(["lobby"]), since: fc.nat() })
        .chain((e) => mutatedRecord(e)),
      hostileJson,
    ),
    { maxLength: 4 },
  ),
  hostileJson,
));

const session = { via: "tcp", address: "127.0.0.1:1" } as const;

/**
 * Applies presence tables from peers to a hub with local sessions, then
 * checks that local clients are still served.
 *
 * @param updates Presence `entries` as a peer would send them.
 */
export function replayPresence(updates: readonly unknown[]): void {
  const hub = new Hub({ nodeId: "n0", rateBurst: 0 });
  const sink = { send: () => {}, close: () => {} };
  const ada = hub.connect(sink, { user: "ada" }, session);
  // A remote "ada" that wins the nick race renames the local one: that is fine.
  for (const [i, entries] of updates.entries()) {
    try {
      hub.updateRemotePresence(i % 2 === 0 ? "p1" : "p2", entries as never);
    } catch {
      // The mesh catches and logs what a malformed message throws.
    }
    for (const member of hub.members("lobby")) assert.equal(typeof member.nick, "string");
    hub.localPresence();
  }
  const zed = hub.connect(sink, { user: "zed9" }, session);
  hub.join(zed, "r");
  hub.say(ada, undefined, "still here");
}

/** The mesh message properties. */
export const meshMessageProperties: FuzzProperty[] = [
  {
    name: "mesh messages: parseEvent gives a ChatEvent or TypeError",
    run(options) {
      fc.assert(
        fc.property(wire(eventLike), (value) => {
          let event;
          try {
            event = parseEvent(value);
          } catch (error) {
            assert.ok(error instanceof TypeError, `threw ${error}`);
            return;
          }
          checkEvent(event);
          assert.equal(event.hlc.node, (value as { hlc: { node: string } }).hlc.node);
        }),
        assertParameters(options),
      );
      return Promise.resolve();
    },
  },
  {
    name: "mesh messages: parseMembershipMessage gives a message or TypeError/RangeError",
    run(options) {
      fc.assert(
        fc.property(
          wire(
            fc.oneof(
              validMembershipMessage,
              gossipMutation,
              mutatedRecord({ t: "ping" }),
              hostileJson,
            ),
          ),
          (value) => {
            try {
              parseMembershipMessage(value);
            } catch (error) {
              assert.ok(
                error instanceof TypeError || error instanceof RangeError,
                `threw ${error}`,
              );
            }
          },
        ),
        assertParameters(options),
      );
      return Promise.resolve();
    },
  },
  {
    name: "mesh messages: Replicator.receive never throws and the version vector stays truthful",
    weight: 0.3,
    run(options) {
      fc.assert(
        fc.property(fc.array(peerEvent, { maxLength: 12 }), (steps) => {
          replayIntoReplicator(steps);
        }),
        assertParameters(options),
      );
      return Promise.resolve();
    },
  },
  {
    name: "mesh messages: presence from a peer never stops the hub serving local clients",
    weight: 0.3,
    run(options) {
      fc.assert(
        fc.property(fc.array(presenceEntries, { maxLength: 4 }), (updates) => {
          replayPresence(updates);
        }),
        assertParameters(options),
      );
      return Promise.resolve();
    },
  },
];
