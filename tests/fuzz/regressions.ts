/**
 * Inputs the fuzzers found, kept as regression tests that `tests/fuzz_test.ts`
 * replays in `deno task test`:
 *
 * - {@linkcode REGRESSION_CASES}: minimal inputs, each replayed through the
 *   same check as its property (among them the four mesh-input bugs the
 *   fuzzers found and that are fixed: uncoercible gap/have values, an HLC
 *   counter at its limit, malformed presence, a huge gap range).
 * - {@linkcode REGRESSION_SEEDS}: `{ seed, path }` pairs as fast-check
 *   prints them on failure, replayed against the named property. Add one
 *   whenever `deno task fuzz` reports a counterexample.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FrameDecoder } from "../../core/ndjson.ts";
import type { ChatEvent } from "../../core/event.ts";
import { Hub } from "../../node/chat/hub.ts";
import { type ReplicationMessage, Replicator } from "../../node/mesh/replicator.ts";
import { replayIntoReplicator, replayPresence } from "./mesh_messages.ts";
import { checkClientFrame } from "./client_frames.ts";
import { typeInto } from "./line_input.ts";

/** One kept input. */
export interface RegressionCase {
  /** Test name, a sentence. */
  readonly name: string;
  /** Replays the input; throws when the bug is present. */
  run(): void | Promise<void>;
}

/** A fast-check seed to replay against a property. */
export interface RegressionSeed {
  /** The property's name (see `properties.ts`). */
  readonly property: string;
  /** Seed from the failure report. */
  readonly seed: number;
  /** Path from the failure report. */
  readonly path: string;
  /** What it found. */
  readonly note: string;
}

/** Seeds found by `deno task fuzz`, replayed in `deno task test`. */
export const REGRESSION_SEEDS: readonly RegressionSeed[] = [
  {
    property:
      "client frames: FrameDecoder gives ok|FrameError lines, bounded, independent of chunking",
    seed: 383177024,
    path: "110",
    note: "a 5000-deep JSON array: the check itself overflowed the stack (fixed in the harness)",
  },
];

/** `{"valueOf":1,"toString":1}`: valid JSON that `Number()` and `String()` throw on. */
const UNCOERCIBLE = (): unknown => JSON.parse('{"valueOf":1,"toString":1}');

function replicatorFor(hub: Hub, sent: ReplicationMessage[] = []): Replicator {
  return new Replicator(hub.log, { send: (_, m) => sent.push(m), upPeers: () => ["p1"] });
}

/** Minimal inputs, replayed as tests. */
export const REGRESSION_CASES: readonly RegressionCase[] = [
  {
    name: "FrameDecoder decodes a 5000-deep JSON line alike in one chunk or many",
    run() {
      const line = new TextEncoder().encode("[".repeat(5000) + "1" + "]".repeat(5000) + "\n");
      const whole = new FrameDecoder({ maxLineBytes: 16_384 }).push(line);
      const decoder = new FrameDecoder({ maxLineBytes: 16_384 });
      const parts = [...decoder.push(line.subarray(0, 4999)), ...decoder.push(line.subarray(4999))];
      assert.equal(parts.length, 1);
      assert.equal(JSON.stringify(parts), JSON.stringify(whole));
    },
  },
  {
    name: "parseClientFrame ignores an own __proto__ key and uncoercible values",
    run() {
      checkClientFrame(JSON.parse('{"t":"say","text":"hi","__proto__":{"t":"cmd"}}'));
      checkClientFrame(JSON.parse('{"t":{"valueOf":1,"toString":1}}'));
      checkClientFrame(JSON.parse('{"t":"hello","v":1e400,"user":"x"}'));
    },
  },
  {
    name: "the line editor echoes no OSC or C1 sequence typed or pasted",
    run() {
      typeInto("\x1b]0;owned\x07a\x9b31m\x1b[200~b\x1b]8;;x\x1b\\\x1b[201~\r", [3, 9], 4000, [
        80,
        5,
      ]);
    },
  },
  {
    name: "Replicator.receive drops a gap message whose bounds cannot be coerced",
    run() {
      const replicator = replicatorFor(new Hub({ nodeId: "n0", rateBurst: 0 }));
      replicator.receive("p1", { k: "gap", origin: "n1", from: UNCOERCIBLE(), to: 1 } as never);
      replicator.receive("p1", { k: "gap", origin: UNCOERCIBLE(), from: 1, to: 1 } as never);
    },
  },
  {
    name: "a have message with an uncoercible value does not break later acks",
    run() {
      const hub = new Hub({ nodeId: "n0", rateBurst: 0 });
      const replicator = replicatorFor(hub);
      replicator.linkUp("p1");
      replicator.receive("p1", { k: "have", vv: { n0: UNCOERCIBLE() } } as never);
      // Every later local message asks this; so does every membership change.
      void replicator.replicated({ seq: 1 } as ChatEvent);
      replicator.releaseAcks();
    },
  },
  {
    name: "a replicated event with the largest HLC counter is applied or refused, not half-applied",
    run() {
      replayIntoReplicator([{
        peer: "p1",
        message: {
          k: "ev",
          events: [{
            origin: "n1",
            seq: 1,
            hlc: { wall: Date.now() + 3_600_000, counter: 2 ** 31 - 1, node: "n1" },
            room: "lobby",
            kind: "message",
            from: "ada",
            text: "hi",
          }],
        },
      }]);
    },
  },
  {
    name: "presence from a peer with non-array rooms does not stop local clients being served",
    run() {
      replayPresence([[{ nick: "x", rooms: 5, since: 1 }]]);
    },
  },
  {
    name: "a gap message over a huge range does not make anti-entropy scan a million seqs",
    run() {
      const replicator = replicatorFor(new Hub({ nodeId: "n0", rateBurst: 0 }));
      replicator.receive("p1", { k: "gap", origin: "n1", from: 1, to: Number.MAX_SAFE_INTEGER });
      const started = performance.now();
      replicator.receive("p2", { k: "vv", vv: {} });
      const ms = performance.now() - started;
      assert.ok(ms < 50, `one vv request took ${ms.toFixed(0)} ms`);
    },
  },
];
