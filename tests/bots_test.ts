/**
 * Bots on real processes: a two-node cluster with SSH, a bot logged in with
 * its key, marked with `/bot on`, seen as a bot on the other node, and given
 * no history when it comes back.
 */
import assert from "node:assert/strict";
import { startCluster } from "./helpers/cluster.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { generateKey, SshTestClient } from "./helpers/ssh_client.ts";
import { waitFor } from "./helpers/wait_for.ts";

let nextCid = 1;

/** The lines of `/who` on a node, as a raw client there sees them. */
async function who(client: RawClient): Promise<string[]> {
  await client.send({ t: "cmd", line: "/who", cid: `w${nextCid++}` });
  const reply = await client.next((f) => f.t === "info" && f.cmd === "who");
  return reply.lines as string[];
}

Deno.test("/bot on: the mark reaches the other node's /who, and the bot gets no history there", async () => {
  const cluster = await startCluster({ size: 2, ssh: true });
  const [n1, n2] = cluster.nodes.map((n) => n.process);
  const key = generateKey();
  const ssh: SshTestClient[] = [];
  const raw: RawClient[] = [];
  try {
    const ann = await RawClient.join(n1!.port, "ann");
    raw.push(ann);
    await ann.send({ t: "say", text: "said before the bot", cid: "before" });
    await ann.next((f) => f.t === "ack" && f.cid === "before");

    // Not a bot yet: its key claims the nick, and it gets the room's history like anyone.
    const first = await SshTestClient.connect(n1!.sshPort!, { username: "deploybot", key });
    ssh.push(first);
    const line = await first.shell(false);
    await line.waitFor("<ann> said before the bot");
    line.write("/bot on\n");
    await line.waitFor("deploybot is a bot now");

    // Node 2 learns the mark from the mesh.
    const watcher = await RawClient.join(n2!.port, "watcher");
    raw.push(watcher);
    await waitFor(
      async () => (await who(watcher)).includes("  deploybot (n1) [bot]"),
      "node 2's /who to show deploybot as a bot",
    );
    first.end();
    await waitFor(
      async () => !(await who(watcher)).some((l) => l.includes("deploybot")),
      "deploybot to leave",
    );

    // Node 2 holds the message the bot must not be replayed.
    await waitFor(async () => {
      await watcher.send({ t: "cmd", line: "/search said before the bot", cid: `s${nextCid++}` });
      const reply = await watcher.next((f) => f.t === "info" && f.cmd === "search");
      return (reply.lines as string[])[0]!.startsWith("1 match");
    }, "node 2 to hold ann's message");

    // Back on node 2: no history on login nor on /join, and it is shown as a bot there.
    const again = await SshTestClient.connect(n2!.sshPort!, { username: "deploybot", key });
    ssh.push(again);
    const quiet = await again.shell(false);
    quiet.write("/join ops\n/join lobby\n/who\n");
    const shown = await quiet.waitFor(/deploybot \(n2\) \[bot\]/);
    assert.match(shown, /Now in #lobby[^]*Now in #ops[^]*Now in #lobby/);
    assert.doesNotMatch(shown, /said before the bot/);
    await waitFor(
      async () => (await who(ann)).includes("  deploybot (n2) [bot]"),
      "node 1's /who to show the bot on node 2",
    );
  } finally {
    for (const client of ssh) client.end();
    for (const client of raw) client.close();
    await cluster.close();
  }
});
