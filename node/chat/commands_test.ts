import assert from "node:assert/strict";
import { ProtocolError, type ServerFrame } from "../../core/protocol.ts";
import { commandContext, commands, handleInput } from "./commands.ts";
import { Hub, type HubOptions, type SessionSink } from "./hub.ts";

/** Records what a member would see. */
class RecordingSink implements SessionSink {
  readonly frames: ServerFrame[] = [];
  send(frame: ServerFrame): void {
    this.frames.push(frame);
  }
  close(): void {}
  /** The lines of the last `info` reply to `cmd`. */
  info(cmd: string): readonly string[] {
    const frame = this.frames.findLast((f) => f.t === "info" && f.cmd === cmd);
    assert.ok(frame?.t === "info", `no ${cmd} reply`);
    return frame.lines;
  }
}

const OP_KEY = "SHA256:op";

function setup(options: Partial<HubOptions> = {}) {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, ops: [OP_KEY], ...options });
  const join = (user: string, fingerprint?: string) => {
    const sink = new RecordingSink();
    const session = hub.connect(sink, { user }, {
      via: "test",
      address: "-",
      ...(fingerprint === undefined ? {} : { fingerprint }),
    });
    const run = (line: string) => {
      const ctx = commandContext(hub, session);
      return handleInput(ctx, line);
    };
    return { sink, session, run };
  };
  return { hub, join };
}

Deno.test("/help lists each command once, and not /seal, which only the terminal client sends", async () => {
  const { join } = setup();
  for (const fingerprint of [undefined, OP_KEY]) {
    const person = join(fingerprint === undefined ? "alice" : "root", fingerprint);
    await person.run("/help");
    const words = person.sink.info("help").slice(1).map((line) => line.split(" ")[0]);
    assert.deepEqual(words, [...new Set(words)]);
    assert.ok(words.includes("/join") && !words.includes("/seal"), words.join(" "));
    assert.equal(words.includes("/kick"), fingerprint !== undefined);
  }
  // Not listed, but the terminal client's /seal still reaches it.
  assert.equal(commands.lookup("seal")?.name, "seal");
});

Deno.test("/rooms, /nodes and /banned count in the singular for one", async () => {
  const { hub, join } = setup();
  const root = join("root", OP_KEY);
  await root.run("/rooms");
  assert.equal(root.sink.info("rooms")[0], "1 room:");
  hub.cluster = {
    members:
      () => [{ id: "n1", addr: "127.0.0.1:7946", state: "alive", incarnation: 1, connected: true }],
    lostRanges: () => [],
  };
  await root.run("/nodes");
  assert.equal(root.sink.info("nodes")[0], "1 node:");
  await root.run("/ban mallory");
  await root.run("/banned");
  assert.equal(root.sink.info("banned")[0], "1 ban:");
  await root.run("/join dev");
  await root.run("/rooms");
  assert.equal(root.sink.info("rooms")[0], "2 rooms:");
});

Deno.test("/join past the limit of one room per session says 1 room", async () => {
  const { join } = setup({ maxRoomsPerSession: 1 });
  const alice = join("alice");
  await assert.rejects(
    () => alice.run("/join dev"),
    (error: unknown) =>
      error instanceof ProtocolError && error.code === "too_many_rooms" &&
      error.message.includes("you are in 1 room,"),
  );
});
