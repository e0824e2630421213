/**
 * The cluster secret against another account on the same machine: no
 * built-in secret to join with, no mesh port unless asked for, and no secret
 * on a command line (where `ps` shows it to everyone).
 *
 * @module
 */
import assert from "node:assert/strict";
import { HandshakeError, initiateChannel } from "../node/mesh/mesh_channel.ts";
import { startCluster } from "./helpers/cluster.ts";
import { freePort, startNodeProcess } from "./helpers/node_process.ts";

/** The constant a node used to fall back to; any local account could read it in the source. */
const OLD_BUILT_IN_SECRET = "meshchat-loopback-development-secret";

/** A node process started by hand (no helper defaults), with its output collected. */
function launch(args: string[], env: Record<string, string> = {}) {
  const data = `./data/tmp/secret-${crypto.randomUUID().slice(0, 8)}`;
  const child = new Deno.Command("deno", {
    args: ["run", "-P=node", "--quiet", "main.ts", "node", "--host", "127.0.0.1", "--port", "0"]
      .concat(["--ssh-port", "0", "--http-port", "0", "--data", data], args),
    env: { MESHCHAT_CLUSTER_SECRET: "", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const reading = Promise.all([child.stdout, child.stderr].map(async (stream) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) output += chunk;
  }));
  let done = false;
  const status = child.status.then(async (s) => {
    await reading;
    done = true;
    return s;
  });
  return {
    output: () => output,
    /** Whether the process has exited. */
    exited: () => done,
    status,
    /** Waits until the node has exited or logged a line matching `pattern`. */
    async settle(pattern: RegExp): Promise<void> {
      for (let i = 0; i < 200 && !done && !pattern.test(output); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(): Promise<Deno.CommandStatus> {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      const result = await status;
      await Deno.remove(data, { recursive: true }).catch(() => {});
      return result;
    },
  };
}

/** Tries to join a mesh port as a peer that knows `secret`; true when it got in. */
async function joins(port: number, secret: string): Promise<boolean> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const channel = await initiateChannel(conn, {
      nodeId: "intruder",
      boot: crypto.randomUUID(),
      advertise: "127.0.0.1:1",
      secret,
    });
    channel.close();
    return true;
  } catch (error) {
    if (error instanceof HandshakeError) return false;
    throw error;
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the channel
    }
  }
}

Deno.test("a node given no secret and no --peers runs standalone: no mesh port, one log line", async () => {
  const node = launch([]);
  try {
    await node.settle(/listening what=clients/);
    assert.match(node.output(), /standalone/, node.output());
    assert.doesNotMatch(node.output(), /listening what=mesh/, "a mesh port was opened");
  } finally {
    await node.stop();
  }
});

for (
  const [what, flags] of [
    ["--mesh-port", ["--mesh-port", String(freePort())]],
    ["--peers", ["--mesh-port", String(freePort()), "--peers", "127.0.0.1:9"]],
  ] as const
) {
  Deno.test(`asking for the mesh (${what}) without a secret is refused, so no built-in secret links anyone`, async () => {
    const port = Number(flags[1]);
    const node = launch([...flags]);
    try {
      await node.settle(/listening what=mesh/);
      if (/listening what=mesh/.test(node.output())) {
        // The attack: another account joins with the constant from the source.
        assert.equal(
          await joins(port, OLD_BUILT_IN_SECRET),
          false,
          "joined with the built-in secret",
        );
      }
      assert.ok(node.exited(), `the node started:\n${node.output()}`);
      const status = await node.status;
      assert.equal(status.code, 2, node.output());
      assert.match(node.output(), /MESHCHAT_CLUSTER_SECRET/);
      assert.match(node.output(), /--cluster-secret-file/);
    } finally {
      await node.stop();
    }
  });
}

Deno.test("--cluster-secret is refused with a clear error that does not echo the secret", async () => {
  for (
    const flags of [["--cluster-secret", "visible-in-ps-0123456789"], [
      "--cluster-secret=visible-in-ps-0123456789",
    ]]
  ) {
    const node = launch([...flags, "--mesh-port", String(freePort())]);
    try {
      await node.settle(/listening what=clients/);
      assert.ok(node.exited(), `the node started:\n${node.output()}`);
      const status = await node.status;
      assert.equal(status.code, 2, node.output());
      assert.match(node.output(), /MESHCHAT_CLUSTER_SECRET/);
      assert.match(node.output(), /--cluster-secret-file/);
      assert.doesNotMatch(node.output(), /visible-in-ps/);
    } finally {
      await node.stop();
    }
  }
});

Deno.test("the secret of a running cluster is not on any node's command line", async () => {
  const secret = `ps-probe-${crypto.randomUUID()}`;
  const cluster = await startCluster({ size: 2, secret });
  try {
    for (const node of cluster.nodes) {
      const ps = await new Deno.Command("ps", {
        args: ["-ww", "-o", "args=", "-p", String(node.process.child.pid)],
        stdout: "piped",
      }).output();
      const line = new TextDecoder().decode(ps.stdout);
      assert.match(line, /main\.ts node/);
      assert.ok(!line.includes(secret), `secret visible in ps: ${line}`);
    }
  } finally {
    await cluster.close();
  }
});

Deno.test("a secret file readable by other accounts is refused; a 0600 one links with the same secret from the environment", async () => {
  const dir = `./data/tmp/secret-file-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir, { recursive: true });
  const file = `${dir}/cluster.secret`;
  const secret = `file-secret-${crypto.randomUUID()}`;
  await Deno.writeTextFile(file, `${secret}\n`);
  await Deno.chmod(file, 0o644);
  const portA = freePort();
  try {
    const open = launch(["--mesh-port", String(portA), "--cluster-secret-file", file]);
    await open.settle(/listening what=mesh/);
    const status = await open.stop();
    assert.notEqual(status.code, 0, open.output());
    assert.match(open.output(), /chmod 600/);
    assert.doesNotMatch(open.output(), /listening what=mesh/);

    await Deno.chmod(file, 0o600);
    const a = await startNodeProcess({
      id: "fa",
      secret: "",
      args: ["--mesh-port", String(portA), "--cluster-secret-file", file],
    });
    const b = await startNodeProcess({
      id: "fb",
      secret,
      args: ["--mesh-port", String(freePort()), "--peers", `127.0.0.1:${portA}`],
    });
    try {
      for (let i = 0; i < 200 && !/mesh link up peer=fa/.test(b.log()); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(b.log(), /mesh link up peer=fa/, `${a.log()}\n${b.log()}`);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
