/**
 * `/search` on real processes: a two-node cluster, raw protocol clients, SSH and
 * the real terminal client in a sealed room.
 */
import assert from "node:assert/strict";
import { startCluster } from "./helpers/cluster.ts";
import { ClientProcess, RecordingProxy } from "./helpers/client_process.ts";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { SshTestClient } from "./helpers/ssh_client.ts";
import { waitFor } from "./helpers/wait_for.ts";

let nextCid = 1;

/** Runs a command and returns its `info` reply, or the error frame that refused it. */
async function command(client: RawClient, line: string, cmd: string): Promise<Frame> {
  const cid = `c${nextCid++}`;
  await client.send({ t: "cmd", line, cid });
  return await client.next((f) =>
    (f.t === "info" && f.cmd === cmd) || (f.t === "error" && f.cid === cid)
  );
}

async function join(client: RawClient, room: string): Promise<void> {
  await client.send({ t: "cmd", line: `/join ${room}`, cid: `j${nextCid++}` });
  await client.next((f) => f.t === "joined" && f.room === room);
}

async function say(client: RawClient, text: string, room: string): Promise<void> {
  const cid = `s${nextCid++}`;
  await client.send({ t: "say", text, room, cid });
  await client.next((f) => f.t === "ack" && f.cid === cid);
}

Deno.test({
  name:
    "/search finds a message sent on another node, with #room and from: filters, in your rooms only",
  async fn() {
    const cluster = await startCluster({ size: 2, ssh: true });
    const clients: RawClient[] = [];
    let ssh: SshTestClient | undefined;
    try {
      const [n1, n2] = cluster.nodes.map((n) => n.process.port);
      const bob = await RawClient.join(n2!, "bob");
      clients.push(bob);
      await join(bob, "ops");
      await say(bob, "the Deploy of build 42 failed on node two", "lobby");
      await say(bob, "ops: deploy rolled back", "ops");
      const ann = await RawClient.join(n1!, "ann");
      clients.push(ann);
      await say(ann, "my deploy went fine", "lobby");

      // Bob's message was accepted by node 2: node 1 finds it once replicated.
      let reply: Frame | undefined;
      await waitFor(async () => {
        reply = await command(ann, "/search deploy", "search");
        return (reply.lines as string[]).some((line) => line.includes("build 42"));
      }, "node 1 to find the message bob sent on node 2");
      const lines = reply!.lines as string[];
      assert.match(lines[0]!, /^2 matches for "deploy" \(newest first, times UTC\):$/);
      assert.match(lines[1]!, /^ {2}#lobby \d{4}-\d\d-\d\d \d\d:\d\d <ann> my deploy went fine$/);
      assert.match(lines[2]!, /<bob> the Deploy of build 42 failed on node two$/);
      assert.ok(!lines.some((line) => line.includes("rolled back")), "ann is not in #ops");
      const data = reply!.data as { id: string; room: string; from: string }[];
      assert.deepEqual(data.map((hit) => [hit.room, hit.from]), [["lobby", "ann"], [
        "lobby",
        "bob",
      ]]);
      assert.match(data[1]!.id, /^n2/, "bob's message was accepted on node 2");

      const fromBob = await command(ann, "/search DEPLOY from:Bob", "search");
      assert.deepEqual((fromBob.lines as string[]).length, 2);
      assert.match((fromBob.lines as string[])[1]!, /<bob> the Deploy of build 42/);

      // A room ann is not in is refused, though its messages are on her node.
      const refused = await command(ann, "/search rolled #ops", "search");
      assert.equal(refused.t, "error");
      assert.equal(refused.code, "not_in_room");
      await join(ann, "ops");
      const inOps = await command(ann, "/search deploy #ops", "search");
      assert.deepEqual((inOps.lines as string[]).length, 2);
      assert.match((inOps.lines as string[])[1]!, /^ {2}#ops .* <bob> ops: deploy rolled back$/);

      // The same command over SSH (a guest, plain lines): the same reply.
      ssh = await SshTestClient.connect(cluster.nodes[0]!.process.sshPort!, { username: "sam" });
      const shell = await ssh.shell(false);
      shell.write("/search build 42\n");
      await shell.waitFor('1 match for "build 42" (newest first, times UTC):\n');
      await shell.waitFor(/#lobby \d{4}-\d\d-\d\d \d\d:\d\d <bob> the Deploy of build 42 failed/);
    } finally {
      ssh?.end();
      for (const client of clients) client.close();
      await cluster.close();
    }
  },
});

Deno.test({
  name:
    "/search: the node never searches a sealed room; the terminal client finds the sealed message itself",
  async fn() {
    // Plain text to the node, so that the recording proxy can read what the client sends.
    const cluster = await startCluster({ size: 2, args: ["--client-tls", "off"] });
    const keyDir = `./data/tmp/search-keys-${crypto.randomUUID().slice(0, 8)}`;
    const keyFile = `${keyDir}/room.key`;
    await Deno.mkdir(keyDir, { recursive: true });
    await Deno.writeTextFile(keyFile, "correct horse battery staple\n");
    const [n1, n2] = cluster.nodes.map((n) => n.process.port);
    const proxy = new RecordingProxy(n1!);
    const clients: ClientProcess[] = [];
    let observer: RawClient | undefined;
    try {
      const client = (user: string, port: number) => {
        const process = new ClientProcess(
          ["-server", `127.0.0.1:${port}`, "-user", user, "-key-file", keyFile],
          { permissions: ["-P=client", `--allow-read=${keyFile}`], killAfterMs: 90_000 },
        );
        clients.push(process);
        return process;
      };
      // Carol seals #vault on node 2 and says the secret there.
      const carol = client("carol", n2!);
      await carol.waitFor(/Connected to node/);
      await carol.line("/join vault");
      await carol.line("/seal");
      await carol.waitFor(/#vault is sealed\./);
      await carol.line("the vault code is 4711");
      await carol.waitFor(/<carol✓> the vault code is 4711/);

      // Alice joins through a proxy to node 1 that records what she sends: the history opens.
      const alice = client("alice", proxy.port);
      await alice.waitFor(/Connected to node/);
      await alice.line("/join vault");
      await alice.waitFor(/the vault code is 4711/);

      // A search that names the sealed room is answered by the client alone.
      await alice.line("/search 4711 #vault");
      await alice.waitFor(
        /Searched locally \(sealed #vault, the messages this client opened\): 1 match/,
      );
      assert.match(
        alice.stdout,
        / {2}#vault \d{4}-\d\d-\d\d \d\d:\d\d <carol> the vault code is 4711/,
      );
      assert.ok(!proxy.sent().includes("4711"), "the words of a sealed-room search reach no node");

      // One that names no room: the node searches the plain rooms and says it left #vault out.
      await alice.line("/search code");
      await alice.waitFor(/Not searched here: #vault \(sealed: the node cannot read it/);
      await alice.waitFor(
        /Not searched here: #vault[\s\S]*Searched locally[^\n]*1 match for "code"/,
      );
      const local = alice.stdout.slice(alice.stdout.lastIndexOf("Searched locally"));
      assert.match(local, /^[^\n]*\n {2}#vault [^\n]*<carol> the vault code is 4711\n/);

      // A raw observer in #vault asks node 1 directly: nothing found, and told why.
      observer = await RawClient.join(n1!, "observer", "vault");
      const cid = "q";
      await observer.send({ t: "cmd", line: "/search 4711", cid });
      const reply = await observer.next((f) => f.t === "info" && f.cmd === "search");
      assert.deepEqual(reply.lines, [
        '0 matches for "4711" (newest first, times UTC):',
        "Not searched here: #vault (sealed: the node cannot read it; the terminal client searches what it opened)",
      ]);
      for (const process of clients) assert.equal(await process.end(), 0, process.stderr);
    } finally {
      observer?.close();
      for (const process of clients) process.kill();
      await proxy.close();
      await cluster.close();
      await Deno.remove(keyDir, { recursive: true }).catch(() => {});
    }
  },
});
