/**
 * Two meshes in one process on loopback: what a link does when a message
 * of this node's is too big for a frame.
 */
import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import { Hub } from "../chat/hub.ts";
import type { Logger } from "../logger.ts";
import { Mesh } from "./mesh.ts";

const sink = { send() {}, close() {} };

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** A logger that keeps its lines and wakes whoever waits for one that matches. */
function recordingLogger() {
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const log = (message: string, fields: Record<string, unknown> = {}) => {
    const line = `${message} ${JSON.stringify(fields)}`;
    lines.push(line);
    for (const waiter of waiters) if (waiter.pattern.test(line)) waiter.resolve(line);
  };
  const logger: Logger = { debug() {}, info: log, warn: log, error: log };
  const next = (pattern: RegExp) =>
    new Promise<string>((resolve) => {
      const seen = lines.find((line) => pattern.test(line));
      if (seen) resolve(seen);
      else waiters.push({ pattern, resolve });
    });
  return { logger, lines, next };
}

/** A frame limit below the presence table the test builds (which fits the default 1 MiB). */
const SMALL_FRAME_BYTES = 256 * 1024;

function startMesh(hub: Hub, port: number, seeds: string[], logger: Logger): Mesh {
  const mesh = new Mesh(hub, {
    identity: {
      nodeId: hub.nodeId,
      boot: crypto.randomUUID(),
      advertise: `127.0.0.1:${port}`,
      secret: "mesh-test-secret",
    },
    hostname: "127.0.0.1",
    port,
    seeds,
    maxFrameBytes: SMALL_FRAME_BYTES,
    logger,
  });
  mesh.start();
  return mesh;
}

Deno.test({
  name: "Mesh keeps a link when a message of its own is too big for a frame",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // 2,000 people away with 200 "€": a presence table cut to the hub's bound, over the frame.
    const a = new Hub({ nodeId: "a", rateBurst: 0 });
    for (let i = 0; i < 2000; i++) {
      a.setAway(a.connect(sink, { user: `u${i}` }, { via: "test", address: "-" }), "€".repeat(200));
    }
    const b = new Hub({ nodeId: "b", rateBurst: 0 });
    const logA = recordingLogger();
    const [portA, portB] = [freePort(), freePort()];
    const meshA = startMesh(a, portA, [], logA.logger);
    const meshB = startMesh(b, portB, [`127.0.0.1:${portA}`], recordingLogger().logger);
    try {
      const outcome = await logA.next(/mesh link down|too large/);
      assert.match(outcome, /too large/, logA.lines.join("\n"));
      // The link still carries events.
      const speaker = a.connect(sink, { user: "speaker" }, { via: "test", address: "-" });
      const arrived = new Promise<ChatEvent>((resolve) =>
        b.log.onApplied((event) => event.text === "still linked" && resolve(event))
      );
      a.say(speaker, "lobby", "still linked");
      await arrived;
      assert.ok(
        !logA.lines.some((line) => line.startsWith("mesh link down")),
        logA.lines.join("\n"),
      );
    } finally {
      await Promise.all([meshA.stop(), meshB.stop()]);
    }
  },
});
