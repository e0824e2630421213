/**
 * `main.ts cluster` (what `deno task cluster` and ./start_cluster.sh run):
 * three nodes that talk together, and Ctrl-C stops them all.
 */
import assert from "node:assert/strict";
import { NODE_PERMISSIONS } from "../node/local_cluster.ts";
import { freeClusterPortOffset as freeOffset } from "./helpers/node_process.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { waitFor } from "./helpers/wait_for.ts";

async function refused(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch {
    return true;
  }
}

/** The permission flags of a deno.json task (`deno run FLAGS FILE ...`): what a person's run gets. */
function taskPermissions(task: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync("deno.json"));
  return (config.tasks[task].command as string).split(" ").filter((w) => w.startsWith("--allow-"));
}

const CLUSTER_PERMISSIONS = taskPermissions("cluster");

/** Starts `main.ts cluster` on random ports (clear of a cluster a developer may run) and scratch data. */
function spawnCluster(
  stderr: "piped" | "null",
  extra: string[] = [],
): { child: Deno.ChildProcess; offset: number } {
  const offset = freeOffset();
  const child = new Deno.Command("deno", {
    args: [
      "run",
      ...CLUSTER_PERMISSIONS,
      "--quiet",
      "main.ts",
      "cluster",
      "--port-offset",
      String(offset),
      "--data-root",
      `./data/tmp/local-cluster-${offset}`,
      ...extra,
    ],
    stdout: "piped",
    stderr,
  }).spawn();
  return { child, offset };
}

/** Everything the runner and its nodes print, and a way to wait for a line of it. */
function collectLog(child: Deno.ChildProcess): {
  log: () => string;
  done: Promise<unknown>;
  waitFor: (
    check: () => boolean | Promise<boolean>,
    what: string,
    timeoutMs?: number,
  ) => Promise<void>;
} {
  let log = "";
  const streams = [child.stdout, ...(child.stderr ? [child.stderr] : [])];
  const done = Promise.all(streams.map(async (stream) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) log += chunk;
  }));
  return {
    log: () => log,
    done,
    waitFor: (check, what, timeoutMs = 30_000) =>
      waitFor(check, what, { timeoutMs, detail: () => log }),
  };
}

/** Pids and command lines of the processes whose command line contains `text`. */
async function processesWith(text: string): Promise<string[]> {
  const ps = await new Deno.Command("ps", { args: ["-eo", "pid=,args="], stdout: "piped" })
    .output();
  return new TextDecoder().decode(ps.stdout).split("\n")
    .filter((l) => l.includes(text) && !l.includes(" ps -eo "))
    .map((l) => l.trim());
}

/** The pid of node `id` of the cluster on `offset`. */
async function nodePid(id: string, offset: number): Promise<string> {
  const line = (await processesWith(`local-cluster-${offset}/${id} `))
    .find((l) => l.includes(`--id ${id} `));
  assert.ok(line, `${id} not found in ps`);
  return line.split(" ")[0]!;
}

/**
 * Presses Ctrl-C on the runner (SIGINT) and checks that it exits with code 0.
 *
 * @param child The runner.
 * @param log Everything it printed so far (shown when the check fails).
 * @param done Resolves when its output has been read to the end.
 * @param timer The test's kill timer, cleared once the runner exited.
 */
async function interruptAndExpectCleanExit(
  child: Deno.ChildProcess,
  log: () => string,
  done: Promise<unknown>,
  timer?: ReturnType<typeof setTimeout>,
): Promise<void> {
  try {
    child.kill("SIGINT");
  } catch {
    // It exited early: the status check below fails with its log.
  }
  const status = await child.status;
  clearTimeout(timer);
  await done;
  assert.equal(status.code, 0, log());
}

/** Removes the scratch data of the cluster on `offset`. */
async function removeClusterData(offset: number): Promise<void> {
  await Deno.remove(`./data/tmp/local-cluster-${offset}`, { recursive: true }).catch(() => {});
}

Deno.test("the local cluster starts three joined nodes and Ctrl-C stops every one of them", async () => {
  const { child, offset } = spawnCluster("piped");
  let log = "";
  const reading = Promise.all([child.stdout, child.stderr].map(async (stream) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) log += chunk;
  }));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    const secretFile = `./data/tmp/local-cluster-${offset}/cluster.secret`;
    // The runner prints its banner once every node listens, which may come after the links.
    await waitFor(
      () => (log.match(/mesh link up/g) ?? []).length >= 6 && log.includes("cluster secret:"),
      "six mesh links up and the runner's banner",
      { timeoutMs: 30_000, detail: () => log },
    );
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
    await interruptAndExpectCleanExit(child, () => log, reading, timer);
  }
  for (const port of [8080, 8081, 8082, 7946, 7947, 7948]) {
    assert.ok(
      await refused(port + offset),
      `port ${port + offset} still open: a node was left running`,
    );
  }
  await removeClusterData(offset);
});

Deno.test("nodes of a local cluster whose runner was killed with -9 stop by themselves", async () => {
  const { child, offset } = spawnCluster("null");
  let log = "";
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) log += chunk;
  })();
  await waitFor(() => (log.match(/listening what=clients/g) ?? []).length >= 3, "three nodes up", {
    timeoutMs: 30_000,
    detail: () => log,
  });
  child.kill("SIGKILL");
  await child.status;
  await reading;
  const ports = [8080, 8081, 8082].map((p) => p + offset);
  await waitFor(
    async () => (await Promise.all(ports.map(refused))).every(Boolean),
    `ports ${ports.join(", ")} closed: no orphaned node`,
  );
  await removeClusterData(offset);
});

Deno.test("a node of the local cluster killed with -9 comes back by itself, catches up on what it missed, and Ctrl-C leaves no process", async () => {
  const { child, offset } = spawnCluster("piped");
  const { log, done, waitFor } = collectLog(child);
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  try {
    await waitFor(() => (log().match(/mesh link up/g) ?? []).length >= 6, "six mesh links up");
    const alice = await RawClient.join(8080 + offset, "alice").catch((e) => {
      throw new Error(`${e.message}\n${log()}`);
    });
    // As a person would: kill -9 from another terminal.
    await new Deno.Command("kill", { args: ["-KILL", await nodePid("n2", offset)] }).output();
    await waitFor(() => /n2 exited/.test(log()), "n2 exited", 10_000);
    await alice.send({ t: "say", text: "said while n2 was down", cid: crypto.randomUUID() });
    await alice.next((f) => f.t === "msg" && f.text === "said while n2 was down");
    assert.ok(await refused(8081 + offset), `n2 was not down when the message was sent:\n${log()}`);
    assert.match(
      log(),
      /n2 exited \(killed by SIGKILL\); its last log line: \[n2\] .+\n {2}restarting it in 1 s/,
    );
    await waitFor(
      () => (log().match(/\[n2\] .* listening what=clients/g) ?? []).length >= 2,
      "n2 listening again",
    );
    const bob = await RawClient.join(8081 + offset, "bob").catch((e) => {
      throw new Error(`n2 did not come back: ${e.message}\n${log()}`);
    });
    await waitFor(
      async () => {
        await bob.send({ t: "cmd", line: "/history 100" });
        const history = (await bob.next((f) => f.t === "history")).history as { text: string }[];
        return history.some((m) => m.text === "said while n2 was down");
      },
      "n2 to catch up on what was said while it was down",
    );
    alice.close();
    bob.close();
  } finally {
    await interruptAndExpectCleanExit(child, log, done, timer);
  }
  assert.deepEqual(await processesWith(`local-cluster-${offset}`), [], "a node was left running");
  await removeClusterData(offset);
});

Deno.test("with --no-restart a node killed by hand stays down, and the command the runner printed starts it again", async () => {
  const { child, offset } = spawnCluster("piped", ["--no-restart"]);
  const { log, done, waitFor } = collectLog(child);
  let again: Deno.ChildProcess | undefined;
  try {
    await waitFor(() => (log().match(/mesh link up/g) ?? []).length >= 6, "six mesh links up");
    await new Deno.Command("kill", { args: ["-KILL", await nodePid("n2", offset)] }).output();
    const restart = /n2 exited \(killed by SIGKILL\).*\n.*\n {2}deno task node (.*)\n/;
    await waitFor(() => restart.test(log()), "the command that starts n2 again");
    const args = restart.exec(log())?.[1]?.split(" ");
    assert.ok(args, `no restart command printed:\n${log()}`);
    assert.ok(args.includes("--cluster-secret-file"), args.join(" "));
    // Longer than the first back-off: a restart would have happened by now.
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok(await refused(8081 + offset), `n2 was restarted despite --no-restart:\n${log()}`);
    again = new Deno.Command("deno", {
      args: ["run", ...NODE_PERMISSIONS, "--quiet", "main.ts", "node", ...args],
      env: { MESHCHAT_CLUSTER_SECRET: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const againLog = collectLog(again);
    await againLog.waitFor(
      () => (againLog.log().match(/mesh link up/g) ?? []).length >= 2,
      "n2 linked to both peers",
    );
    assert.match(againLog.log(), /mesh link up peer=n1/, againLog.log());
    assert.match(againLog.log(), /mesh link up peer=n3/, againLog.log());
  } finally {
    try {
      again?.kill("SIGTERM");
      await again?.status;
    } catch {
      // never started
    }
    await interruptAndExpectCleanExit(child, log, done);
    await removeClusterData(offset);
  }
});

Deno.test("a node of the local cluster that cannot start gives up after three tries and stops the cluster, saying why", async () => {
  const { child, offset } = spawnCluster("piped");
  // Taken before n2 starts: it fails at once, every time.
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: 8081 + offset });
  const { log, done } = collectLog(child);
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  let status;
  try {
    status = await child.status;
    await done;
  } finally {
    clearTimeout(timer);
    squatter.close();
  }
  assert.equal(status.code, 1, log());
  const exits = /n2 exited \(exit code 1\); its last log line: \[n2\] .*address in use\n/g;
  assert.equal(log().match(exits)?.length, 3, log());
  assert.match(log(), /n2 failed to start 3 times in a row; stopping the cluster/);
  assert.deepEqual(await processesWith(`local-cluster-${offset}`), [], "a node was left running");
  await removeClusterData(offset);
});

Deno.test("the local cluster's banner with the join commands comes once, after every node listens", async () => {
  const { child, offset } = spawnCluster("piped");
  const { log, done, waitFor } = collectLog(child);
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    // The banner's last line: mesh links can all be up before the last node's client port is
    // (a first start makes its TLS certificate then), so links alone do not mean the banner is due.
    await waitFor(() => /Ctrl-C stops all nodes/.test(log()), "the banner");
    const lines = log().split("\n");
    const banner = lines.findIndex((l) => l.startsWith("meshchat: local cluster of 3 nodes is up"));
    assert.ok(banner >= 0, `no banner:\n${log()}`);
    // Printed at once, it scrolled away under the start-up logs (and a first run's download
    // progress could erase it): a newcomer lost the ssh line.
    for (const id of ["n1", "n2", "n3"]) {
      const listening = lines.findIndex((l) =>
        l.startsWith(`[${id}]`) && /listening what=clients/.test(l)
      );
      assert.ok(listening >= 0 && listening < banner, `banner before ${id} listened:\n${log()}`);
    }
    assert.match(
      lines[banner + 3] ?? "",
      /^ {2}terminal client: deno task client -server localhost:/,
    );
    assert.equal(lines[banner + 4], `  ssh:             ssh -p ${2222 + offset} NAME@localhost`);
    assert.equal(lines[banner + 5], `  web:             http://localhost:${8090 + offset}/`);
    assert.match(lines[banner + 6] ?? "", /Ctrl-C stops all nodes/);
    assert.equal(log().match(/local cluster of 3 nodes/g)?.length, 1, log());
  } finally {
    await interruptAndExpectCleanExit(child, log, done, timer);
  }
  await removeClusterData(offset);
});
