/**
 * The README's "three nodes by hand on one machine" block, run as written:
 * the same flags, with every port shifted clear of a cluster a developer may
 * run, and data and secret in a scratch folder.
 */
import assert from "node:assert/strict";
import { CLUSTER_DEFAULT_PORTS, freeClusterPortOffset } from "./helpers/node_process.ts";
import { RawClient } from "./helpers/raw_client.ts";

const config = JSON.parse(Deno.readTextFileSync("deno.json"));
/** What `deno task node` runs before its flags. */
const NODE_TASK = (config.tasks.node.command as string).split(" ");

/** The `deno task node` lines of the README's block for one machine. */
function readmeNodeCommands(): string[][] {
  const readme = Deno.readTextFileSync("README.md");
  const start = readme.indexOf("Three nodes by hand on one machine");
  assert.ok(start >= 0, "the README has the block");
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))![1]!;
  return block.split("\n").filter((line) => line.startsWith("deno task node"))
    .map((line) => line.replace(/#.*/, "").trim().split(/\s+/).slice(3));
}

/** The README's flags with ports shifted and files moved to `scratch`. */
function shifted(args: string[], offset: number, scratch: string): string[] {
  const out = args.map((arg) => {
    const port = /^(.*:)?(\d+)$/.exec(arg);
    if (port && CLUSTER_DEFAULT_PORTS.includes(Number(port[2]))) {
      return `${port[1] ?? ""}${Number(port[2]) + offset}`;
    }
    return arg === "data/cluster.secret" ? `${scratch}/cluster.secret` : arg;
  });
  const id = out[out.indexOf("--id") + 1]!;
  // Node 1 relies on the defaults: shift those too.
  const defaults = { "--port": 8080, "--ssh-port": 2222, "--mesh-port": 7946, "--http-port": 8090 };
  for (const [flag, port] of Object.entries(defaults)) {
    if (!out.includes(flag)) out.push(flag, String(port + offset));
  }
  return [...out, "--data", `${scratch}/${id}`, "--host", "127.0.0.1"];
}

Deno.test({
  name: "the README's three nodes by hand on one machine form one chat",
  sanitizeResources: false,
  async fn() {
    const commands = readmeNodeCommands();
    assert.equal(commands.length, 3);
    const offset = freeClusterPortOffset();
    const scratch = `./data/tmp/readme-${offset}`;
    await Deno.mkdir(scratch, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(`${scratch}/cluster.secret`, crypto.randomUUID(), { mode: 0o600 });
    const nodes = commands.map((args) =>
      new Deno.Command("deno", {
        args: ["run", "--quiet", ...NODE_TASK.slice(2), ...shifted(args, offset, scratch)],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn()
    );
    const clients: RawClient[] = [];
    try {
      const join = async (port: number, nick: string) => {
        for (let attempt = 0; attempt < 100; attempt++) {
          try {
            return await RawClient.join(port, nick);
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        }
        throw new Error(`Node on ${port} did not answer`);
      };
      const alice = await join(8080 + offset, "alice");
      const carol = await join(8082 + offset, "carol");
      clients.push(alice, carol);
      // Linked when carol's line on n3 reaches alice on n1 (sent until it does: links take a moment).
      for (let attempt = 0; attempt < 50; attempt++) {
        await carol.send({ t: "say", text: `hello ${attempt}` });
        try {
          await alice.next((f) => f.t === "msg" && f.from === "carol", 500);
          return;
        } catch {
          // not linked yet
        }
      }
      assert.fail("carol's lines on node 3 never reached alice on node 1");
    } finally {
      for (const client of clients) client.close();
      for (const node of nodes) {
        try {
          node.kill("SIGTERM");
        } catch {
          // already gone
        }
      }
      await Promise.all(nodes.map((node) => node.status));
      await Deno.remove(scratch, { recursive: true });
    }
  },
});
