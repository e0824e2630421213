import assert from "node:assert/strict";
import type { ServerFrame } from "../../core/protocol.ts";
import { Hub, type SessionSink } from "./hub.ts";

/** What a local person sees. */
class Screen implements SessionSink {
  readonly frames: ServerFrame[] = [];
  send(frame: ServerFrame): void {
    this.frames.push(frame);
  }
  close(): void {}
  /** Lines of presence notices so far. */
  notices(): string[] {
    return this.frames.flatMap((f) => f.t === "info" && f.cmd === "presence" ? f.lines : []);
  }
}

function setup() {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0 });
  const screen = new Screen();
  hub.connect(screen, { user: "alice" }, { via: "test", address: "test" });
  hub.updateRemotePresence("n2", [
    { nick: "bob", rooms: ["lobby"], since: 1 },
    { nick: "carol", rooms: ["elsewhere"], since: 2 },
  ]);
  return { hub, screen };
}

Deno.test("Hub.dropRemotePresence() tells who left with an unreachable node, and who is back", () => {
  const { hub, screen } = setup();
  hub.dropRemotePresence("n2", "unreachable");
  assert.deepEqual(screen.notices(), ["bob left (node n2 unreachable)"]);
  assert.deepEqual(hub.members("lobby").map((m) => m.nick), ["alice"]);
  hub.updateRemotePresence("n2", [{ nick: "bob", rooms: ["lobby"], since: 1 }]);
  assert.deepEqual(screen.notices(), [
    "bob left (node n2 unreachable)",
    "bob is back (node n2 reachable again)",
  ]);
  // Only the first table after the return says so.
  hub.updateRemotePresence("n2", [{ nick: "bob", rooms: ["lobby"], since: 1 }]);
  assert.equal(screen.notices().length, 2);
});

Deno.test("Hub.dropRemotePresence() says nothing for a node that left on its own", () => {
  const { hub, screen } = setup();
  hub.dropRemotePresence("n2");
  assert.deepEqual(screen.notices(), []);
});

Deno.test("Hub.dropRemotePresence() tells of a restart, and a restart after unreachable means nobody is back", () => {
  const { hub, screen } = setup();
  hub.dropRemotePresence("n2", "restarted");
  assert.deepEqual(screen.notices(), ["bob left (node n2 restarted)"]);
  hub.updateRemotePresence("n2", [{ nick: "bob", rooms: ["lobby"], since: 1 }]);
  hub.dropRemotePresence("n2", "unreachable");
  hub.dropRemotePresence("n2", "restarted"); // its table is gone already: no second line
  hub.updateRemotePresence("n2", [{ nick: "bob", rooms: ["lobby"], since: 9 }]);
  assert.deepEqual(screen.notices(), [
    "bob left (node n2 restarted)",
    "bob left (node n2 unreachable)",
  ]);
});
