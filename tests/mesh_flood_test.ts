/**
 * Joining a cluster cannot be blocked by someone who lacks the secret:
 * idle connections to a node's mesh port, held open and reopened as soon as
 * they are closed, must not keep a peer that knows the secret from linking.
 *
 * @module
 */
import assert from "node:assert/strict";
import { freePort, startNodeProcess } from "./helpers/node_process.ts";

/** Keeps `count` idle connections open to a port, reopening each one the node closes. */
function holdIdle(port: number, count: number) {
  let running = true;
  const open = new Set<Deno.TcpConn>();
  let reopened = 0;
  const one = async () => {
    const buffer = new Uint8Array(64);
    while (running) {
      let conn: Deno.TcpConn;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      open.add(conn);
      try {
        while ((await conn.read(buffer)) !== null) {
          // never answers: only the end matters
        }
      } catch {
        // reset
      }
      open.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
      reopened++;
      // A short pause keeps the churn from eating both cores; the slot is refilled at once anyway.
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const loops = Array.from({ length: count }, one);
  return {
    reopened: () => reopened,
    async stop() {
      running = false;
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await Promise.all(loops);
    },
  };
}

Deno.test("72 idle connections to the mesh port do not keep a peer with the secret from joining", async () => {
  const secret = `flood-${crypto.randomUUID()}`;
  const victimPort = freePort();
  const victim = await startNodeProcess({
    id: "victim",
    secret,
    args: ["--mesh-port", String(victimPort)],
  });
  const flood = holdIdle(victimPort, 72);
  let joiner;
  try {
    // Let the flood take the handshake slots before the real peer arrives.
    while (flood.reopened() < 72) await new Promise((r) => setTimeout(r, 50));
    joiner = await startNodeProcess({
      id: "joiner",
      secret,
      args: ["--mesh-port", String(freePort()), "--peers", `127.0.0.1:${victimPort}`],
    });
    for (let i = 0; i < 150 && !/mesh link up peer=victim/.test(joiner.log()); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(joiner.log(), /mesh link up peer=victim/, `${joiner.log()}\n${victim.log()}`);
  } finally {
    await flood.stop();
    await Promise.all([victim.stop("SIGKILL"), joiner?.stop("SIGKILL")]);
  }
});
