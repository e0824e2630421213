/**
 * Coming back, end to end on real node processes with SSH key logins: the
 * "since you left" replay, unread counts and `/mentions` after the node
 * restarted from its snapshot, and a private message to an offline nick
 * kept on one node and delivered at the next login on another.
 */
import assert from "node:assert/strict";
import { startCluster } from "./helpers/cluster.ts";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { startNodeProcess } from "./helpers/node_process.ts";
import { generateKey, type SshStream, SshTestClient, type TestKey } from "./helpers/ssh_client.ts";
import { waitFor } from "./helpers/wait_for.ts";

/** A plain (no PTY) SSH session logged in with a key, in #lobby. */
async function sshLogin(port: number, nick: string, key: TestKey) {
  const client = await SshTestClient.connect(port, { username: nick, key });
  const stream = await client.shell(false);
  await stream.waitFor("Now in #lobby");
  return { client, stream };
}

/** Types `/quit` and waits for the session to end. */
async function quit(session: { client: SshTestClient; stream: SshStream }): Promise<void> {
  session.stream.write("/quit\n");
  await session.stream.waitClosed();
  session.client.end();
}

/** Sends a line and waits for its outcome: the frame that answers its cid. */
async function line(client: RawClient, text: string, room?: string): Promise<Frame> {
  const cid = crypto.randomUUID().slice(0, 8);
  const frame = text.startsWith("/")
    ? { t: "cmd", line: text, cid, ...(room ? { room } : {}) }
    : { t: "say", text, cid, ...(room ? { room } : {}) };
  await client.send(frame);
  return await client.next((f) => (f.t === "ack" || f.t === "error") && f.cid === cid);
}

Deno.test("after a restart from the snapshot, a person with a key gets the replay since they left, unread counts and /mentions", async () => {
  const dir = `./data/tmp/coming-back-${crypto.randomUUID().slice(0, 8)}`;
  const start = () => startNodeProcess({ id: "cb1", ssh: true, args: ["--data", dir] });
  let node = await start();
  const key = generateKey();
  try {
    const bob = await RawClient.join(node.port, "bob");
    const alice = await sshLogin(node.sshPort!, "alice", key);
    alice.stream.write("/join dev\n");
    await alice.stream.waitFor("Now in #dev");
    alice.stream.write("/join lobby\n");
    await alice.stream.waitFor("Now in #lobby");
    await line(bob, "before you left");
    await alice.stream.waitFor("before you left");
    await quit(alice);
    await bob.next((f) => f.t === "msg" && f.kind === "leave" && f.from === "alice");

    for (const text of ["one", "two", "alice: are you there?"]) await line(bob, text);
    await line(bob, "/join dev");
    await line(bob, "said in dev", "dev");
    bob.close();
    const stopped = await node.stop();
    assert.equal(stopped.code, 0, node.log().slice(-3000));
    node = await start();
    assert.match(node.log(), /snapshot restored/);

    const back = await sshLogin(node.sshPort!, "alice", key);
    const replay = await back.stream.waitFor("Unread since you left: #dev 1");
    assert.match(replay, /before you left/);
    assert.doesNotMatch(replay, /\bone\b[^]*—— since you left/, "the history ends at the mark");
    assert.match(
      replay,
      /—— since you left #lobby: 3 new ——[^]*one[^]*two[^]*alice: are you there\?[^]*Unread/,
    );
    back.stream.write("/unread\n");
    await back.stream.waitFor(/Unread in 1 room \(\/join a room to read it\):\s+#dev 1/);
    back.stream.write("/mentions\n");
    await back.stream.waitFor(
      /1 mention since you were last seen:\s+#lobby bob: alice: are you there\?/,
    );
    back.stream.write("/join dev\n");
    await back.stream.waitFor(/—— since you left #dev: 1 new ——[^]*said in dev/);
    back.stream.write("/unread\n");
    await back.stream.waitFor("Nothing unread in the rooms you left");
    await quit(back);
  } finally {
    await node.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a private message to an offline nick is kept on one node and delivered once at the next login on another", async () => {
  const cluster = await startCluster({ size: 2, ssh: true });
  const key = generateKey();
  try {
    const [n1, n2] = cluster.nodes.map((n) => n.process) as [
      typeof cluster.nodes[0]["process"],
      typeof cluster.nodes[0]["process"],
    ];
    await quit(await sshLogin(n1.sshPort!, "alice", key)); // her key owns alice now
    const bob = await RawClient.join(n2.port, "bob");
    // Until the claim reaches n2, alice is nobody there and the message is refused.
    await waitFor(
      async () => (await line(bob, "/msg alice hello from n2")).t === "ack",
      "n2 to keep messages for alice",
    );
    const kept = await bob.seen((f) => f.t === "info" && f.cmd === "msg");
    assert.match(String((kept.lines as string[])[0]), /^alice is offline: your message is kept/);
    // n1 has bob's later line, so it has the message too (one origin's events arrive in order).
    const watcher = await RawClient.join(n1.port, "watcher");
    const done = await line(bob, "done");
    await watcher.next((f) => f.t === "msg" && f.id === done.id);
    watcher.close();

    const alice = await sshLogin(n1.sshPort!, "alice", key);
    await alice.stream.waitFor(/—— while you were away: 1 private message ——[^]*hello from n2/);
    await quit(alice);
    const again = await sshLogin(n1.sshPort!, "alice", key);
    again.stream.write("/unread\n");
    const shown = await again.stream.waitFor("Nothing unread in the rooms you left");
    assert.doesNotMatch(shown, /while you were away|hello from n2/, "delivered once");
    await quit(again);
    bob.close();
  } finally {
    await cluster.close();
  }
});
