/**
 * Moderation on a real 2-node cluster: an operator (an SSH key listed in
 * `--ops`) kicks, mutes and bans people connected to either node; the ban
 * holds on the other node and across its restart (from its snapshot alone,
 * cut off from the operator's node); a banned SSH key is refused at login;
 * a non-operator gets `forbidden`; a muted person cannot speak through
 * `/nick`, `/topic` or `/away` either.
 */
import assert from "node:assert/strict";
import { startCluster } from "./helpers/cluster.ts";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { generateKey, SshTestClient } from "./helpers/ssh_client.ts";
import { sshFingerprint } from "../node/frontends/ssh/ssh_host_key.ts";

function fingerprintOf(publicKey: string): string {
  const blob = Uint8Array.from(atob(publicKey.split(" ")[1]!), (c) => c.charCodeAt(0));
  return sshFingerprint(blob);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends a command line until the node stops answering `no_such_user` (presence still spreading). */
async function command(client: RawClient, line: string): Promise<Frame> {
  for (let i = 0;; i++) {
    const cid = `c${crypto.randomUUID().slice(0, 8)}`;
    await client.send({ t: "cmd", line, cid });
    const answer = await client.next((f) => f.cid === cid);
    if (answer.t === "error" && answer.code === "no_such_user" && i < 50) {
      await sleep(100);
      continue;
    }
    return answer;
  }
}

async function refusedAtHello(port: number, user: string): Promise<Frame> {
  const client = await RawClient.connect(port);
  try {
    await client.send({ t: "hello", v: 1, user });
    return await client.next((f) => f.t === "error" || f.t === "welcome");
  } finally {
    client.close();
  }
}

Deno.test({
  name: "An operator kicks, mutes and bans across a 2-node cluster; the ban survives a restart",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const opKey = generateKey();
    const opsFile = `./data/tmp/ops-${crypto.randomUUID().slice(0, 8)}.txt`;
    await Deno.mkdir("./data/tmp", { recursive: true });
    await Deno.writeTextFile(opsFile, `# test operators\n${fingerprintOf(opKey.public)}\n`);
    const cluster = await startCluster({
      size: 2,
      ssh: true,
      args: ["--ops", opsFile, "--snapshot-interval", "0.2"],
    });
    const clients: RawClient[] = [];
    const ssh: SshTestClient[] = [];
    try {
      const [n1, n2] = cluster.nodes.map((n) => n.process);
      const op = await SshTestClient.connect(n1!.sshPort!, { username: "alice", key: opKey });
      ssh.push(op);
      const console = await op.shell(false);
      await console.waitFor("Your SSH key is");

      const join = async (port: number, user: string) => {
        const client = await RawClient.join(port, user);
        clients.push(client);
        return client;
      };
      const bob = await join(n2!.port, "bob");
      const carol = await join(n2!.port, "carol");
      const dave = await join(n2!.port, "dave");

      // A non-operator is refused.
      const forbidden = await command(carol, "/kick bob");
      assert.equal(forbidden.t, "error");
      assert.equal(forbidden.code, "forbidden");

      // Kick someone on the other node: told why, then disconnected.
      for (let i = 0; i < 100 && !console.text.includes("Kicked bob"); i++) {
        console.write("/kick bob spamming\n");
        await sleep(150);
      }
      await console.waitFor("Kicked bob");
      const bye = await bob.next((f) => f.t === "bye");
      assert.match(String(bye.reason), /kicked by alice: spamming/);
      assert.equal(bye.expelled, true);

      // Mute: messages refused with a clear error.
      console.write("/mute carol 10m\n");
      await console.waitFor("Muted carol for 10m");
      let muted: Frame | undefined;
      for (let i = 0; i < 50; i++) {
        const cid = `m${i}`;
        await carol.send({ t: "say", text: "can you hear me", cid });
        const answer = await carol.next((f) => f.cid === cid);
        if (answer.t === "error") {
          muted = answer;
          break;
        }
        await sleep(100);
      }
      assert.equal(muted?.code, "muted");
      assert.match(String(muted?.message), /You are muted/);
      // No way around it: a new nick, a topic or an away message would be seen by everyone.
      for (const line of ["/nick carla", "/topic buy my stuff", "/away buy my stuff"]) {
        const answer = await command(carol, line);
        assert.equal(answer.code, "muted", line);
      }

      // Ban a nick connected to the other node: kicked, then refused on both nodes.
      console.write("/ban dave 1d\n");
      await console.waitFor("Banned dave");
      const banBye = await dave.next((f) => f.t === "bye");
      assert.match(String(banBye.reason), /banned/);
      for (const port of [n1!.port, n2!.port]) {
        const refusal = await refusedAtHello(port, "dave");
        assert.equal(refusal.t, "error");
        assert.equal(refusal.code, "banned");
        assert.match(String(refusal.message), /nick dave is banned for/);
      }
      // Ban an SSH key: its login is refused with the reason.
      const eveKey = generateKey();
      console.write(`/ban ${fingerprintOf(eveKey.public)}\n`);
      await console.waitFor("Banned key");
      const eve = await SshTestClient.connect(n1!.sshPort!, { username: "eve", key: eveKey });
      ssh.push(eve);
      const eveShell = await eve.shell(false);
      await eveShell.waitFor("Cannot join: your SSH key is banned permanently");
      await eveShell.waitClosed();

      console.write("/banned\n");
      await console.waitFor(/dave for 1d/);

      // Restart n2 cut off from n1 (down for good): the ban comes back from its own snapshot.
      await sleep(600); // a snapshot (every 0.2 s) has the ban
      await cluster.nodes[0]!.process.stop("SIGKILL");
      await cluster.nodes[1]!.process.stop("SIGKILL");
      await cluster.restart(1);
      const again = await refusedAtHello(cluster.nodes[1]!.process.port, "dave");
      assert.equal(again.code, "banned", JSON.stringify(again));
    } finally {
      for (const client of clients) client.close();
      for (const s of ssh) s.end();
      await cluster.close();
      await Deno.remove(opsFile).catch(() => {});
    }
  },
});
