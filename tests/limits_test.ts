/**
 * Connection limits on real node processes: connections per address and in
 * total, idle timeout, bytes per minute, hello / SSH login / mesh handshake
 * deadlines, repeat offenders refused for a while. Small limits and short
 * timeouts come from flags, so every wait here is short and bounded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { freePort, type NodeProcess, startNodeProcess } from "./helpers/node_process.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { SshTestClient } from "./helpers/ssh_client.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects when `promise` takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a raw connection until the peer closes it (bounded); returns the text. */
async function readUntilClosed(conn: Deno.TcpConn, ms: number): Promise<string> {
  const buffer = new Uint8Array(4096);
  let text = "";
  const decoder = new TextDecoder();
  await within(
    (async () => {
      try {
        while (true) {
          const n = await conn.read(buffer);
          if (n === null) return;
          text += decoder.decode(buffer.subarray(0, n), { stream: true });
        }
      } catch {
        // reset: closed too
      }
    })(),
    ms,
    `connection closed (got ${JSON.stringify(text.slice(0, 200))})`,
  );
  try {
    conn.close();
  } catch {
    // already closed
  }
  return text;
}

async function stopAll(nodes: NodeProcess[]): Promise<void> {
  const statuses = await Promise.all(nodes.map((n) => n.stop("SIGTERM")));
  statuses.forEach((status, i) => assert.equal(status.code, 0, nodes[i]!.log()));
}

Deno.test("a node enforces connection limits and tells offenders why", async (t) => {
  const [limited, full, strict] = await Promise.all([
    startNodeProcess({
      id: "lim",
      args: [
        "--max-conns-per-addr",
        "3",
        "--idle-timeout",
        "1",
        "--max-bytes-per-conn",
        "65536",
        "--hello-timeout",
        "0.5",
        "--max-offences",
        "1000",
      ],
    }),
    startNodeProcess({ id: "full", args: ["--max-conns", "2", "--max-conns-per-addr", "10"] }),
    startNodeProcess({
      id: "strict",
      args: ["--hello-timeout", "0.3", "--max-offences", "2", "--cool-off", "2"],
    }),
  ]);
  try {
    await t.step("the 4th connection from one address is refused when the limit is 3", async () => {
      const clients = await Promise.all(
        [1, 2, 3].map((i) => RawClient.join(limited.port, `per-${i}`)),
      );
      const extra = await RawClient.connect(limited.port);
      const refusal = await extra.error("too_many_connections");
      assert.match(String(refusal.message), /127\.0\.0\.1 already has 3 connections \(limit 3\)/);
      await within(extra.ended, 2000, "refused connection ended");
      // Others carry on, and a freed slot can be used again.
      await clients[0]!.send({ t: "ping" });
      await clients[0]!.next((f) => f.t === "pong");
      clients[0]!.close();
      await sleep(200);
      const again = await RawClient.join(limited.port, "per-again");
      for (const c of [...clients, again]) c.close();
      await sleep(200);
    });

    await t.step("the total limit refuses with server_full", async () => {
      const a = await RawClient.join(full.port, "full-a");
      const b = await RawClient.join(full.port, "full-b");
      const c = await RawClient.connect(full.port);
      const refusal = await c.error("server_full");
      assert.match(String(refusal.message), /server is full/);
      await within(c.ended, 2000, "refused connection ended");
      a.close();
      b.close();
    });

    await t.step("a connection that sends nothing is dropped with idle_timeout", async () => {
      const quiet = await RawClient.join(limited.port, "quiet");
      const talker = await RawClient.join(limited.port, "talker");
      const pinging = (async () => {
        for (let i = 0; i < 8; i++) {
          await talker.send({ t: "ping" });
          await sleep(300);
        }
      })();
      const error = await quiet.error("idle_timeout");
      assert.match(String(error.message), /nothing received for 1 s/);
      await within(quiet.ended, 3000, "idle connection ended");
      await pinging;
      assert.equal(talker.isEnded, false, "a client that pings is not idle");
      talker.close();
      await sleep(200);
    });

    await t.step("a connection over its bytes per minute is dropped with flood", async () => {
      const flooder = await RawClient.join(limited.port, "flooder");
      const line = JSON.stringify({ t: "ping", pad: "x".repeat(1000) }) + "\n";
      // 100 KB against a budget of 64 KiB per minute.
      await flooder.sendRaw(line.repeat(100)).catch(() => {});
      const error = await flooder.error("flood");
      assert.match(String(error.message), /more than 65536 bytes sent per minute/);
      await within(flooder.ended, 3000, "flooder dropped");
    });

    await t.step("a connection that does not say hello in time is dropped", async () => {
      const silent = await RawClient.connect(limited.port);
      await silent.error("no_hello");
      await within(silent.ended, 3000, "silent connection ended");
    });

    await t.step("a repeat offender is refused for the cool-off, then allowed again", async () => {
      for (let i = 0; i < 2; i++) {
        const silent = await RawClient.connect(strict.port);
        await silent.error("no_hello");
        await within(silent.ended, 3000, "silent connection ended");
      }
      const refused = await RawClient.connect(strict.port);
      const error = await refused.error("refused");
      assert.match(
        String(error.message),
        /too many violations from 127\.0\.0\.1, try again in \d s/,
      );
      await within(refused.ended, 2000, "refused connection ended");
      await sleep(2200);
      const back = await RawClient.join(strict.port, "back");
      back.close();
    });
  } finally {
    await stopAll([limited, full, strict]);
  }
});

Deno.test("the SSH port honours the per-address limit and the login deadline", async () => {
  const node = await startNodeProcess({
    id: "sshlim",
    ssh: true,
    args: ["--max-conns-per-addr", "2", "--ssh-login-timeout", "0.5", "--max-offences", "1000"],
  });
  try {
    const a = await SshTestClient.connect(node.sshPort!, { username: "ssh-a" });
    const b = await SshTestClient.connect(node.sshPort!, { username: "ssh-b" });
    const extra = await Deno.connect({ hostname: "127.0.0.1", port: node.sshPort! });
    const text = await readUntilClosed(extra, 3000);
    assert.match(text, /^Refused: 127\.0\.0\.1 already has 2 connections \(limit 2\)\r\n$/);
    await assert.rejects(SshTestClient.connect(node.sshPort!, { username: "ssh-c" }));
    a.end();
    b.end();
    await sleep(300);
    // A freed slot, but no login: cut at the login deadline.
    const slow = await Deno.connect({ hostname: "127.0.0.1", port: node.sshPort! });
    const started = Date.now();
    await readUntilClosed(slow, 3000);
    assert.ok(Date.now() - started >= 400, "not cut before the deadline");
  } finally {
    const status = await node.stop("SIGTERM");
    assert.equal(status.code, 0, node.log());
  }
});

Deno.test("the mesh port caps handshakes in progress per address; the longest-waiting makes room", async () => {
  const meshPort = freePort();
  const node = await startNodeProcess({ id: "meshlim", args: ["--mesh-port", String(meshPort)] });
  const conns: Deno.TcpConn[] = [];
  try {
    // 8 connections that never handshake take every slot for 127.0.0.1.
    for (let i = 0; i < 8; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port: meshPort }));
    }
    await sleep(200);
    // One more: the oldest idle one is closed to make room, not the newcomer.
    conns.push(await Deno.connect({ hostname: "127.0.0.1", port: meshPort }));
    await readUntilClosed(conns[0]!, 3000);
    // The others are cut by the handshake deadline.
    await readUntilClosed(conns[8]!, 7000);
    assert.match(node.log(), /mesh handshakes over limit: closed the longest-waiting/);
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    const status = await node.stop("SIGTERM");
    assert.equal(status.code, 0, node.log());
  }
});
