/**
 * `/stats` on a real node: an operator (an SSH key in `--ops`) reads the
 * node's retained events, history bytes, rooms, version vector, sessions,
 * presence and snapshot backlog; anyone else is refused.
 */
import assert from "node:assert/strict";
import { startNodeProcess } from "./helpers/node_process.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { generateKey, SshTestClient } from "./helpers/ssh_client.ts";
import { sshFingerprint } from "../node/frontends/ssh/ssh_host_key.ts";

function fingerprintOf(publicKey: string): string {
  const blob = Uint8Array.from(atob(publicKey.split(" ")[1]!), (c) => c.charCodeAt(0));
  return sshFingerprint(blob);
}

Deno.test({
  name: "/stats shows an operator the node's retained events, rooms, sessions and snapshot backlog",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const opKey = generateKey();
    await Deno.mkdir("./data/tmp", { recursive: true });
    const opsFile = `./data/tmp/ops-${crypto.randomUUID().slice(0, 8)}.txt`;
    await Deno.writeTextFile(opsFile, `${fingerprintOf(opKey.public)}\n`);
    const node = await startNodeProcess({
      id: "stats1",
      ssh: true,
      args: ["--ops", opsFile, "--snapshot-interval", "0.2"],
    });
    let op: SshTestClient | undefined;
    let bob: RawClient | undefined;
    try {
      bob = await RawClient.join(node.port, "bob", "den");
      for (let i = 0; i < 5; i++) {
        await bob.send({ t: "say", room: "den", text: `line ${i}`, cid: `s${i}` });
        await bob.next((f) => f.t === "ack" && f.cid === `s${i}`);
      }
      await bob.send({ t: "cmd", line: "/stats", cid: "st" });
      const refused = await bob.next((f) => f.cid === "st");
      assert.equal(refused.t, "error");
      assert.equal(refused.code, "forbidden");

      op = await SshTestClient.connect(node.sshPort!, { username: "alice", key: opKey });
      const screen = await op.shell(false);
      await screen.waitFor("Your SSH key is");
      // Let a periodic snapshot write the lines.
      await new Promise((resolve) => setTimeout(resolve, 600));
      screen.write("/stats\n");
      const out = await screen.waitFor(/snapshots: [^\n]*\n/);
      assert.match(out, /Node stats1:/);
      assert.match(out, /retained events: ([5-9]|\d\d)\b/, out);
      assert.match(out, /\d+(\.\d)? (B|KB) of history/);
      assert.match(out, /rooms: [2-9]/, "lobby and den");
      assert.match(out, /version vector: 1 origin, 0 out-of-order seqs/);
      assert.match(out, /sessions: 2, presence entries: 2/);
      assert.match(out, /lost ranges: none \(standalone\)/);
      assert.match(out, /snapshots: last saved \d+s ago; 0 events unwritten/);
    } finally {
      bob?.close();
      op?.end();
      await node.stop();
      await Deno.remove(opsFile).catch(() => {});
    }
  },
});
