import assert from "node:assert/strict";
import type { MsgFrame, ServerFrame } from "../../core/protocol.ts";
import { Hub, type Session, type SessionSink } from "./hub.ts";

/**
 * A member's sink: records frames, and when `overflowsOn` matches a frame it
 * behaves like a full output queue — takes nothing more and reports the
 * session to the hub, as the frontends' sinks do.
 */
class MemberSink implements SessionSink {
  readonly frames: ServerFrame[] = [];
  session: Session | undefined;
  #full = false;
  constructor(
    readonly hub: Hub,
    readonly overflowsOn: (frame: ServerFrame) => boolean = () => false,
    readonly alsoDisconnects = false,
  ) {}
  send(frame: ServerFrame): void {
    if (this.#full) return;
    if (this.session === undefined || !this.overflowsOn(frame)) {
      this.frames.push(frame);
      return;
    }
    this.#full = true;
    this.hub.dropSlowReader(this.session);
    // What a frontend does when its connection closes at once.
    if (this.alsoDisconnects) this.hub.disconnect(this.session, "connection closed");
  }
  close(): void {}
  /** What the member saw of the room, as `kind:from:text`. */
  seen(): string[] {
    return this.frames.flatMap((f) =>
      f.t === "msg" && f.kind !== "join" ? [`${f.kind}:${f.from}:${f.text}`] : []
    );
  }
  /** What the member saw of the room, and the notices (`info:cmd`), in order. */
  seenWithNotices(): string[] {
    return this.frames.flatMap((f) =>
      f.t === "info"
        ? [`info:${f.cmd}`]
        : f.t === "msg" && f.kind !== "join"
        ? [`${f.kind}:${f.from}:${f.text}`]
        : []
    );
  }
}

const ROOT_FP = "SHA256:root";

function setup() {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, ops: [ROOT_FP] });
  const join = (
    user: string,
    overflowsOn?: (frame: ServerFrame) => boolean,
    disconnects = false,
    fingerprint?: string,
  ) => {
    const sink = new MemberSink(hub, overflowsOn, disconnects);
    const origin = { via: "test", address: "-", ...(fingerprint ? { fingerprint } : {}) };
    sink.session = hub.connect(sink, { user }, origin);
    return sink;
  };
  return { hub, join };
}

const isMsg = (kind: string, text?: string) => (frame: ServerFrame) =>
  frame.t === "msg" && frame.kind === kind && (text === undefined || frame.text === text);

Deno.test("a slow reader dropped during a fan-out leaves after everyone got the frame", () => {
  const { hub, join } = setup();
  // First in the room: its sink is the first the fan-out reaches.
  const slow = join("slow", isMsg("message", "big"));
  const ann = join("ann");
  const ben = join("ben");
  hub.say(ann.session!, undefined, "big");
  for (const member of [ann, ben]) {
    assert.deepEqual(member.seen(), ["message:ann:big", "leave:slow:too slow"]);
  }
  assert.equal(slow.session!.open, false);
});

Deno.test("a slow reader's leave that overflows another drops that one next, in order", () => {
  const { hub, join } = setup();
  join("slow1", isMsg("message", "big"));
  join("slow2", (frame) => isMsg("leave")(frame) && (frame as MsgFrame).from === "slow1");
  const ann = join("ann");
  hub.say(ann.session!, undefined, "big");
  assert.deepEqual(ann.seen(), [
    "message:ann:big",
    "leave:slow1:too slow",
    "leave:slow2:too slow",
  ]);
});

Deno.test("a disconnect of a slow reader during the fan-out waits: it leaves once, as too slow", () => {
  const { hub, join } = setup();
  join("slow", isMsg("message", "big"), true);
  const ann = join("ann");
  hub.say(ann.session!, undefined, "big");
  assert.deepEqual(ann.seen(), ["message:ann:big", "leave:slow:too slow"]);
});

Deno.test("Hub.dropSlowReader() outside a fan-out ends the session at once", () => {
  const { hub, join } = setup();
  const slow = join("slow");
  const ann = join("ann");
  hub.dropSlowReader(slow.session!);
  assert.equal(slow.session!.open, false);
  assert.deepEqual(ann.seen(), ["leave:slow:too slow"]);
});

const isInfo = (cmd: string) => (frame: ServerFrame) => frame.t === "info" && frame.cmd === cmd;

Deno.test("a slow reader dropped on a presence notice leaves after everyone got the notice", () => {
  const { hub, join } = setup();
  const slow = join("slow", isInfo("presence"));
  const ann = join("ann");
  const ben = join("ben");
  hub.updateRemotePresence("n2", [{ nick: "zed", rooms: ["lobby"], since: 1 }]);
  hub.dropRemotePresence("n2", "unreachable");
  for (const member of [ann, ben]) {
    assert.deepEqual(member.seenWithNotices(), ["info:presence", "leave:slow:too slow"]);
  }
  assert.equal(slow.session!.open, false);
});

Deno.test("a slow reader dropped on a moderation notice leaves after the others got theirs", () => {
  const { hub, join } = setup();
  const root = join("root", undefined, false, ROOT_FP);
  // One person connected twice with the same key: both are told of the grant.
  const slow = join("slow", isInfo("op"), false, "SHA256:k");
  const ann = join("ann", undefined, false, "SHA256:k");
  hub.moderate(root.session!, { a: "op", fp: "SHA256:k" });
  assert.deepEqual(ann.seenWithNotices(), ["info:op", "leave:slow:too slow"]);
  assert.equal(slow.session!.open, false);
});
