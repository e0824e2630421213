/**
 * Nick ownership as claim events, end to end on real node processes: a
 * claim made over SSH on one node holds on the other, survives a restart of
 * both with no `nicks.json`, and an old `nicks.json` is imported once.
 */
import assert from "node:assert/strict";
import { startCluster } from "./helpers/cluster.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { generateKey, SshTestClient } from "./helpers/ssh_client.ts";
import { pathExists } from "./helpers/path_exists.ts";

const FIXTURE = "./tests/fixtures/nicks.json";

/**
 * Waits until a node refuses a keyless person a nick because an SSH key owns
 * it (asking as a terminal client, who never claims anything).
 */
async function waitRegistered(port: number, nick: string, waitMs = 20_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  let last = "";
  while (Date.now() < deadline) {
    const client = await RawClient.connect(port);
    try {
      await client.send({ t: "hello", v: 1, user: nick });
      const frame = await client.next((f) => f.t === "welcome" || f.t === "error");
      if (frame.t === "error" && /registered to an SSH key/.test(String(frame.message))) return;
      last = JSON.stringify(frame);
    } finally {
      client.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Nick ${nick} is not registered on port ${port}; last answer: ${last}`);
}

Deno.test("a nick claimed on one node holds on another and survives a restart of both, with no nicks.json", async () => {
  const cluster = await startCluster({ size: 2, ssh: true });
  try {
    const [n1, n2] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const ssh = await SshTestClient.connect(n1.process.sshPort!, {
      username: "dora",
      key: generateKey(),
    });
    const run = await ssh.exec("hello");
    run.end();
    await run.waitClosed();
    ssh.end();
    await waitRegistered(n2.process.port, "dora");

    // Both down, then each back alone: what it knows comes from its own snapshot.
    await Promise.all([n1.process.stop(), n2.process.stop()]);
    await cluster.restart(1);
    await waitRegistered(n2.process.port, "DORA", 5000);
    await cluster.restart(0);
    await waitRegistered(n1.process.port, "dora", 5000);
    for (const node of [n1, n2]) {
      assert.equal(await pathExists(`${node.dataDir}/nicks.json`), false, node.id);
    }
  } finally {
    await cluster.close();
  }
});

Deno.test("an old nicks.json is imported once as claim events, which replicate", async () => {
  const cluster = await startCluster({ size: 2, ssh: false });
  try {
    const [n1, n2] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    await n1.process.stop();
    const path = `${n1.dataDir}/nicks.json`;
    await Deno.copyFile(FIXTURE, path);
    await cluster.restart(0);
    assert.match(
      n1.process.log(),
      /nick registry imported as claim events .*moved_to=\S*nicks\.json\.imported claimed=3 owned=0 taken=0/,
    );
    await waitRegistered(n1.process.port, "dora", 5000);
    await waitRegistered(n2.process.port, "Eve");
    await waitRegistered(n2.process.port, "eve_alt");
    assert.equal(await pathExists(path), false);
    assert.equal(await pathExists(`${path}.imported`), true);

    await n1.process.stop();
    await cluster.restart(0);
    assert.doesNotMatch(n1.process.log(), /nick registry imported/);
    await waitRegistered(n1.process.port, "eve", 5000);
  } finally {
    await cluster.close();
  }
});
