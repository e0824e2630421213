/**
 * `main.ts cluster` (what `deno task cluster` and ./start_cluster.sh run):
 * three nodes that talk together, and Ctrl-C stops them all.
 */
import assert from "node:assert/strict";
import { RawClient } from "./helpers/raw_client.ts";

async function refused(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch {
    return true;
  }
}

/**
 * A port offset whose nine cluster ports are free now and lie below the
 * kernel's ephemeral range (32768+), where outgoing connections could take them.
 */
function freeOffset(): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const offset = 10000 + Math.floor(Math.random() * 14000);
    const ports = [8080, 8081, 8082, 2222, 2223, 2224, 7946, 7947, 7948].map((p) => p + offset);
    try {
      for (const port of ports) Deno.listen({ hostname: "127.0.0.1", port }).close();
      return offset;
    } catch {
      // taken: try another
    }
  }
  throw new Error("No free port offset for a local cluster");
}

/** Starts `main.ts cluster` on random ports (clear of a cluster a developer may run) and scratch data. */
function spawnCluster(stderr: "piped" | "null"): { child: Deno.ChildProcess; offset: number } {
  const offset = freeOffset();
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "-P=cluster",
      "--quiet",
      "main.ts",
      "cluster",
      "--port-offset",
      String(offset),
      "--data-root",
      `./data/tmp/local-cluster-${offset}`,
    ],
    stdout: "piped",
    stderr,
  }).spawn();
  return { child, offset };
}

Deno.test("the local cluster starts three joined nodes and Ctrl-C stops every one of them", async () => {
  const { child, offset } = spawnCluster("piped");
  let log = "";
  const reading = Promise.all([child.stdout, child.stderr].map(async (stream) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) log += chunk;
  }));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    const deadline = Date.now() + 30_000;
    while ((log.match(/mesh link up/g) ?? []).length < 6 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const secretFile = `./data/tmp/local-cluster-${offset}/cluster.secret`;
    assert.ok(log.includes(`cluster secret:  ${secretFile} (new, mode 0600)`), log);
    assert.equal((await Deno.stat(secretFile)).mode! & 0o777, 0o600);
    for (const id of ["n1", "n2", "n3"]) {
      assert.match(log, new RegExp(`\\[${id}\\] .* listening what=clients`));
    }
    const alice = await RawClient.join(8080 + offset, "alice").catch((e) => {
      throw new Error(`${e.message}\n${log}`);
    });
    const carol = await RawClient.join(8082 + offset, "carol");
    await alice.send({ t: "say", text: "across the local cluster", cid: crypto.randomUUID() });
    await carol.next((f) => f.t === "msg" && f.text === "across the local cluster");
    alice.close();
    carol.close();
  } finally {
    try {
      child.kill("SIGINT");
    } catch {
      // It exited early: the status check below fails with its log.
    }
    const status = await child.status;
    clearTimeout(timer);
    await reading;
    assert.equal(status.code, 0, log);
  }
  for (const port of [8080, 8081, 8082, 7946, 7947, 7948]) {
    assert.ok(
      await refused(port + offset),
      `port ${port + offset} still open: a node was left running`,
    );
  }
  await Deno.remove(`./data/tmp/local-cluster-${offset}`, { recursive: true }).catch(() => {});
});

Deno.test("nodes of a local cluster whose runner was killed with -9 stop by themselves", async () => {
  const { child, offset } = spawnCluster("null");
  let log = "";
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) log += chunk;
  })();
  const deadline = Date.now() + 30_000;
  while ((log.match(/listening what=clients/g) ?? []).length < 3 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGKILL");
  await child.status;
  await reading;
  const ports = [8080, 8081, 8082].map((p) => p + offset);
  const stopBy = Date.now() + 15_000;
  while (Date.now() < stopBy && !(await Promise.all(ports.map(refused))).every(Boolean)) {
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const port of ports) {
    assert.ok(await refused(port), `port ${port} still open: orphaned node`);
  }
  await Deno.remove(`./data/tmp/local-cluster-${offset}`, { recursive: true }).catch(() => {});
});

Deno.test("a node of the local cluster killed by hand rejoins with the command and secret file the runner printed", async () => {
  const { child, offset } = spawnCluster("piped");
  let log = "";
  const reading = Promise.all([child.stdout, child.stderr].map(async (stream) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) log += chunk;
  }));
  const waitFor = async (what: () => boolean) => {
    for (let i = 0; i < 300 && !what(); i++) await new Promise((r) => setTimeout(r, 100));
  };
  let again: Deno.ChildProcess | undefined;
  try {
    await waitFor(() => (log.match(/mesh link up/g) ?? []).length >= 6);
    const ps = await new Deno.Command("ps", { args: ["-eo", "pid=,args="], stdout: "piped" })
      .output();
    const line = new TextDecoder().decode(ps.stdout).split("\n")
      .find((l) => l.includes("--id n2 ") && l.includes(`local-cluster-${offset}/n2`));
    assert.ok(line, `n2 not found in ps:\n${log}`);
    // As a person would: kill -9 from another terminal.
    await new Deno.Command("kill", { args: ["-KILL", line.trim().split(" ")[0]!] }).output();
    const restart = /n2 stopped \(SIGKILL\).*\n {2}deno task node (.*)\n/;
    await waitFor(() => restart.test(log));
    const args = restart.exec(log)?.[1]?.split(" ");
    assert.ok(args, `no restart command printed:\n${log}`);
    assert.ok(args.includes("--cluster-secret-file"), args.join(" "));
    again = new Deno.Command("deno", {
      args: ["run", "-P=node", "--quiet", "main.ts", "node", ...args],
      env: { MESHCHAT_CLUSTER_SECRET: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let againLog = "";
    for (const stream of [again.stdout, again.stderr]) {
      (async () => {
        for await (const chunk of stream.pipeThrough(new TextDecoderStream())) againLog += chunk;
      })();
    }
    await waitFor(() => (againLog.match(/mesh link up/g) ?? []).length >= 2);
    assert.match(againLog, /mesh link up peer=n1/, againLog);
    assert.match(againLog, /mesh link up peer=n3/, againLog);
  } finally {
    try {
      again?.kill("SIGTERM");
      await again?.status;
    } catch {
      // never started
    }
    try {
      child.kill("SIGINT");
    } catch {
      // already gone
    }
    const status = await child.status;
    await reading;
    assert.equal(status.code, 0, log);
    await Deno.remove(`./data/tmp/local-cluster-${offset}`, { recursive: true }).catch(() => {});
  }
});
