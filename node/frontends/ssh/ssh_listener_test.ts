import assert from "node:assert/strict";
import { generateKey, SshTestClient } from "../../../tests/helpers/ssh_client.ts";
import { Hub } from "../../chat/hub.ts";
import { SshAuthLimiter } from "./ssh_auth_limiter.ts";
import { generateEd25519Key } from "./ssh_host_key.ts";
import { SshListener, type SshListenerOptions } from "./ssh_listener.ts";

async function withListener(
  options: Partial<SshListenerOptions>,
  run: (listener: SshListener, hub: Hub) => Promise<void>,
): Promise<void> {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0 });
  const listener = await SshListener.listen(hub, {
    hostname: "127.0.0.1",
    port: 0,
    hostKey: generateEd25519Key().privateKey,
    ...options,
  });
  try {
    await run(listener, hub);
  } finally {
    hub.shutdown("test over");
    await listener.close(500);
  }
}

async function closedWithin(conn: Deno.TcpConn, ms: number): Promise<boolean> {
  const buffer = new Uint8Array(1024);
  const deadline = Date.now() + ms;
  try {
    while (Date.now() < deadline) {
      const read = conn.read(buffer);
      const timeout = new Promise<"timeout">((resolve) =>
        setTimeout(() => resolve("timeout"), deadline - Date.now())
      );
      const n = await Promise.race([read, timeout]);
      if (n === "timeout") return false;
      if (n === null) return true;
    }
    return false;
  } catch {
    return true;
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "SshListener cuts a connection that does not log in within the deadline",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const limiter = new SshAuthLimiter({ burst: 1 });
    await withListener({ handshakeTimeoutMs: 300, limiter }, async (listener) => {
      const silent = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      assert.equal(await closedWithin(silent, 3000), true, "the silent connection was cut");
      // The timeout counted as a failure: the address is now held back.
      assert.equal(limiter.allows("127.0.0.1"), false);
      const next = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      assert.equal(await closedWithin(next, 1000), true, "refused before the handshake");
    });
  },
});

Deno.test({
  name: "SshListener serves a chat session and closes it on shutdown",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withListener({}, async (listener, hub) => {
      const client = await SshTestClient.connect(listener.addr.port, {
        username: "alice",
        key: generateKey(),
      });
      const shell = await client.shell(false);
      await shell.waitFor("Your SSH key is SHA256:");
      assert.equal([...hub.sessions()].map((s) => s.nick).join(), "alice");
      assert.equal([...hub.sessions()][0]?.origin.via, "ssh");
      assert.equal(listener.connections, 1);
      hub.shutdown("bye now");
      await shell.waitFor("Disconnected: bye now");
      await shell.waitClosed();
      client.end();
    });
  },
});

Deno.test({
  name: "SshListener refuses guests when guests are off",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withListener({ guests: false }, async (listener) => {
      await assert.rejects(
        SshTestClient.connect(listener.addr.port, { username: "guest", waitMs: 3000 }),
        /authentication methods failed/,
      );
    });
  },
});

Deno.test({
  name: "SshListener limits the connections one address has not logged in yet",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withListener({ maxPendingPerAddress: 2 }, async (listener) => {
      const port = listener.addr.port;
      const first = await Deno.connect({ hostname: "127.0.0.1", port });
      const second = await Deno.connect({ hostname: "127.0.0.1", port });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const third = await Deno.connect({ hostname: "127.0.0.1", port });
      assert.equal(await closedWithin(third, 1000), true, "the third is refused");
      first.close();
      second.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Logged-in sessions do not count: many people may share one address.
      const clients = [];
      for (let i = 0; i < 4; i++) {
        clients.push(await SshTestClient.connect(port, { username: `u${i}`, key: generateKey() }));
      }
      for (const client of clients) client.end();
    });
  },
});
