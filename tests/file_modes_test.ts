/**
 * A node's data directory against another account on the same machine: the
 * directory is 0700 and every file in it 0600 (Deno KV's `snapshot.kv-wal`
 * holds private messages in the clear), and a node started on a directory
 * that others can read fixes it and says so.
 *
 * @module
 */
import assert from "node:assert/strict";
import { RawClient } from "./helpers/raw_client.ts";
import { type NodeProcess, startNodeProcess } from "./helpers/node_process.ts";

/** Every path under `dir` (and `dir` itself) whose mode lets group or others in. */
async function exposed(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (path: string) => {
    const info = await Deno.lstat(path);
    if (info.isSymlink) return;
    if ((info.mode! & 0o077) !== 0) found.push(`${path} ${(info.mode! & 0o777).toString(8)}`);
    if (info.isDirectory) {
      for await (const entry of Deno.readDir(path)) await visit(`${path}/${entry.name}`);
    }
  };
  await visit(dir);
  return found;
}

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

function start(dir: string): Promise<NodeProcess> {
  return startNodeProcess({
    id: "modes",
    ssh: true,
    args: ["--data", dir, "--snapshot-interval", "0.1", "--log-level", "debug"],
  });
}

/** Sends a private message and waits until the node has taken a snapshot after it. */
async function whisper(node: NodeProcess, text: string): Promise<void> {
  const alice = await RawClient.join(node.port, "alice");
  const bob = await RawClient.join(node.port, "bob");
  await alice.send({ t: "cmd", line: `/msg bob ${text}` });
  await bob.next((f) => JSON.stringify(f).includes(text));
  const written = () => (node.log().match(/snapshot written/g) ?? []).length;
  const before = written();
  for (let i = 0; i < 200 && written() <= before; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  alice.close();
  bob.close();
}

Deno.test("a node keeps its data directory 0700 and every file in it 0600, the Deno KV WAL too", async () => {
  const dir = `./data/tmp/modes-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const node = await start(dir);
    try {
      await whisper(node, "the door code is 4711");
      assert.ok((await names(dir)).some((n) => n.startsWith("snapshot.kv")), "no snapshot file");
      assert.deepEqual(await exposed(dir), [], `while running: ${await names(dir)}`);
    } finally {
      assert.equal((await node.stop("SIGTERM")).code, 0, node.log());
    }
    assert.deepEqual(await exposed(dir), [], "after a graceful stop");
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a node started on a data directory that other accounts can read fixes every mode and warns", async () => {
  const dir = `./data/tmp/modes-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const first = await start(dir);
    await whisper(first, "meet at noon");
    await first.stop("SIGKILL"); // leaves snapshot.kv-wal behind
    // As an older version (or a careless copy) left it: readable by everyone.
    await Deno.chmod(dir, 0o755);
    for (const name of await names(dir)) await Deno.chmod(`${dir}/${name}`, 0o644);
    assert.notDeepEqual(await exposed(dir), []);

    const second = await start(dir);
    try {
      assert.deepEqual(await exposed(dir), []);
      assert.match(second.log(), /WARN .*readable by other accounts/);
      assert.match(second.log(), /snapshot\.kv/);
    } finally {
      await second.stop("SIGTERM");
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
