/**
 * Real 3-node clusters on loopback: replication, crash and catch-up, a
 * stopped peer, authentication of the mesh; and partitions, on in-process
 * nodes whose mesh runs on the memory transport.
 */
import assert from "node:assert/strict";
import { converged, startCluster, type TestCluster } from "./helpers/cluster.ts";
import { startInProcessCluster } from "./helpers/in_process_cluster.ts";
import { nodeStates, waitForAlive } from "./helpers/node_views.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { waitFor } from "./helpers/wait_for.ts";
import { freePort, startNodeProcess } from "./helpers/node_process.ts";
import { generateKey, SshTestClient } from "./helpers/ssh_client.ts";

/** Sends numbered lines at a steady rate and records the acknowledged ids. */
class SteadySender {
  readonly acked = new Set<string>();
  #running = true;
  #done: Promise<void>;
  constructor(readonly client: RawClient, room: string, tag: string, perSecond: number) {
    this.#done = (async () => {
      for (let i = 0; this.#running; i++) {
        await client.send({ t: "say", room, text: `${tag} ${i}`, cid: `${tag}-${i}` }).catch(
          () => {},
        );
        await new Promise((r) => setTimeout(r, 1000 / perSecond));
      }
    })();
  }
  async stop(): Promise<Set<string>> {
    this.#running = false;
    await this.#done;
    await new Promise((r) => setTimeout(r, 500));
    for (const frame of this.client.frames) {
      if (frame.t === "ack" && typeof frame.id === "string") this.acked.add(frame.id);
    }
    return this.acked;
  }
}

const SECRET = "test-cluster-secret-0123456789";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withCluster(
  fn: (cluster: TestCluster) => Promise<void>,
  args: string[] = [],
  ssh = false,
) {
  const cluster = await startCluster({ args, secret: SECRET, ssh });
  try {
    await waitForAlive(cluster.nodes[0]!.process.port, 3);
    await fn(cluster);
  } finally {
    await cluster.close();
  }
}

const port = (cluster: TestCluster, i: number) => cluster.nodes[i]!.process.port;

Deno.test("a message from a client on n1 reaches a client on n3, and /who spans the cluster", async () => {
  await withCluster(async (cluster) => {
    const alice = await RawClient.join(port(cluster, 0), "alice");
    const carol = await RawClient.join(port(cluster, 2), "carol");
    await alice.send({ t: "say", text: "hello from n1", cid: "1" });
    const ack = await alice.next((f) => f.t === "ack");
    const seen = await carol.next((f) => f.t === "msg" && f.kind === "message");
    assert.equal(seen.text, "hello from n1");
    assert.equal(seen.id, ack.id);
    await waitFor(
      async () => {
        await carol.send({ t: "cmd", line: "/who" });
        const who = await carol.next((f) => f.t === "info" && f.cmd === "who");
        const nodes = (who.data as { nick: string; node: string }[]).map((m) =>
          `${m.nick}@${m.node}`
        );
        return nodes.includes("alice@n1") && nodes.includes("carol@n3");
      },
      "alice on n1 in /who on n3",
      { timeoutMs: 5000 },
    );
    const taken = await RawClient.connect(port(cluster, 1));
    await taken.send({ t: "hello", v: 1, user: "ALICE" });
    await taken.error("nick_taken");
    await carol.send({ t: "cmd", line: "/msg alice across nodes" });
    assert.equal(
      (await alice.next((f) => f.t === "msg" && f.kind === "private")).text,
      "across nodes",
    );
    for (const c of [alice, carol, taken]) c.close();
  });
});

Deno.test("kill -9 of n2 during traffic, then restart: identical logs everywhere, no acked message lost", async () => {
  await withCluster(async (cluster) => {
    const a = await RawClient.join(port(cluster, 0), "sa");
    const c = await RawClient.join(port(cluster, 2), "sc");
    const b = await RawClient.join(port(cluster, 1), "sb");
    const senders = [new SteadySender(a, "lobby", "a", 20), new SteadySender(c, "lobby", "c", 20)];
    const bSender = new SteadySender(b, "lobby", "b", 20);
    await sleep(1000);
    const bAcked = await bSender.stop();
    await cluster.nodes[1]!.process.stop("SIGKILL");
    await sleep(2000);
    await cluster.restart(1);
    await sleep(1500);
    const acked = new Set([...bAcked]);
    for (const s of senders) for (const id of await s.stop()) acked.add(id);
    assert.ok(acked.size > 50, `only ${acked.size} acks`);
    const log = await converged([0, 1, 2].map((i) => port(cluster, i)), "lobby", acked);
    assert.equal(new Set(log).size, log.length, "no duplicates");
    a.close();
    c.close();
  });
});

// In-process nodes: the test partitions them on the memory network (a process has no such seam).
Deno.test("a partition with traffic on both sides heals into identical logs", async () => {
  const cluster = await startInProcessCluster();
  try {
    const ports = cluster.nodes.map((n) => n.port);
    await waitForAlive(ports[0]!, 3);
    cluster.network.partition([["n1", "n2"], ["n3"]]);
    const a = await RawClient.join(ports[0]!, "pa");
    const c = await RawClient.join(ports[2]!, "pc");
    const senders = [
      new SteadySender(a, "lobby", "pa", 20),
      new SteadySender(c, "lobby", "pc", 20),
    ];
    await sleep(3000);
    const acked = new Set<string>();
    for (const s of senders) for (const id of await s.stop()) acked.add(id);
    for (const s of senders) assert.ok(s.acked.size > 0, "each side acknowledged its own traffic");
    // While cut off, n1 must not have n3's messages.
    const seenOnA = new Set(
      a.frames.filter((f) => f.t === "msg" && f.from === "pc").map((f) => f.id),
    );
    assert.equal(seenOnA.size, 0, `n1 saw ${seenOnA.size} of n3's messages during the partition`);
    cluster.network.healAll();
    const log = await converged(ports, "lobby", acked);
    assert.equal(new Set(log).size, log.length);
    a.close();
    c.close();
  } finally {
    await cluster.close();
  }
});

Deno.test("a peer stopped with SIGSTOP is suspected, does not stall the others, and recovers", async () => {
  await withCluster(async (cluster) => {
    const n2 = cluster.nodes[1]!.process.child;
    n2.kill("SIGSTOP");
    try {
      const a = await RawClient.join(port(cluster, 0), "qa");
      const c = await RawClient.join(port(cluster, 2), "qc");
      await waitFor(
        async () => {
          const state = (await nodeStates(port(cluster, 0))).n2;
          return state === "suspect" || state === "dead";
        },
        "n2 to be suspected",
        { timeoutMs: 8000 },
      );
      // Acks keep flowing between n1 and n3.
      for (let i = 0; i < 10; i++) {
        await a.send({ t: "say", text: `still here ${i}`, cid: `q${i}` });
        await a.next((f) => f.t === "ack" && f.cid === `q${i}`, 3000);
      }
      await c.next((f) => f.t === "msg" && f.text === "still here 9");
      a.close();
      c.close();
    } finally {
      n2.kill("SIGCONT");
    }
    await waitFor(
      async () => (await nodeStates(port(cluster, 0))).n2 === "alive",
      "n2 alive again",
      { timeoutMs: 15_000 },
    );
  });
});

Deno.test("the mesh refuses a wrong secret, garbage and a duplicate node id, and keeps serving", async () => {
  await withCluster(async (cluster) => {
    const meshPort = cluster.nodes[0]!.meshPort;
    const intruder = await startNodeProcess({
      id: "n9",
      args: [
        "--mesh-port",
        String(freePort()),
        "--peers",
        `127.0.0.1:${meshPort}`,
        "--cluster-secret",
        "wrong",
      ],
    });
    const garbage = await Deno.connect({ hostname: "127.0.0.1", port: meshPort });
    await garbage.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const random = await Deno.connect({ hostname: "127.0.0.1", port: meshPort });
    await random.write(crypto.getRandomValues(new Uint8Array(4096)));
    const twin = await startNodeProcess({
      id: "n2",
      args: [
        "--mesh-port",
        String(freePort()),
        "--peers",
        `127.0.0.1:${meshPort}`,
        "--cluster-secret",
        SECRET,
      ],
    });
    await waitFor(
      () => /handshake failed .*bad_secret/.test(intruder.log()),
      "the intruder refused",
    );
    await waitFor(() => /already in the cluster/.test(twin.log()), "the twin refused");
    const view = await nodeStates(port(cluster, 0));
    assert.deepEqual(Object.keys(view).sort(), ["n1", "n2", "n3"]);
    garbage.close();
    random.close();
    await intruder.stop();
    await twin.stop();
    // Still serving: a message crosses the cluster.
    const a = await RawClient.join(port(cluster, 0), "after");
    const c = await RawClient.join(port(cluster, 2), "after2");
    await a.send({ t: "say", text: "still fine", cid: "1" });
    await c.next((f) => f.t === "msg" && f.text === "still fine");
    a.close();
    c.close();
  });
});

Deno.test("the terminal client fails over to the next node: no loss, no duplicates", async () => {
  await withCluster(async (cluster) => {
    const watcher = await RawClient.join(port(cluster, 2), "watcher");
    const servers = [0, 1].map((i) => `127.0.0.1:${port(cluster, i)}`).join(",");
    const child = new Deno.Command("deno", {
      args: ["run", "-P=client", "--quiet", "client/main.ts", "-server", servers, "-user", "mover"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    const writer = child.stdin.getWriter();
    const lines = Array.from({ length: 30 }, (_, i) => `failover line ${i}`);
    for (const [i, line] of lines.entries()) {
      await writer.write(new TextEncoder().encode(line + "\n"));
      if (i === 14) await cluster.nodes[0]!.process.stop("SIGKILL");
      await sleep(60);
    }
    await writer.close();
    const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
    const result = await output;
    clearTimeout(timer);
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, stderr);
    assert.match(stderr, /Reconnecting to /);
    const received = new Map<string, number>();
    await waitFor(
      async () => {
        received.clear();
        await watcher.send({ t: "cmd", line: "/history 100" });
        const history = await watcher.next((f) => f.t === "history");
        for (const m of history.history as { text: string; from: string }[]) {
          if (m.from === "mover") received.set(m.text, (received.get(m.text) ?? 0) + 1);
        }
        return lines.every((line) => received.has(line));
      },
      "every line on n3",
      { timeoutMs: 15_000 },
    );
    for (const line of lines) {
      assert.equal(received.get(line), 1, `${line} arrived ${received.get(line)} times`);
    }
    watcher.close();
  });
});

Deno.test("a nick owned by an SSH key on one node is refused on the others", async () => {
  await withCluster(
    async (cluster) => {
      const key = generateKey();
      const ssh = await SshTestClient.connect(cluster.nodes[0]!.process.sshPort!, {
        username: "keeper",
        key,
      });
      const run = await ssh.exec("/nick keeper");
      run.end();
      await run.waitClosed();
      ssh.end();
      await waitFor(
        async () => {
          const tcp = await RawClient.connect(port(cluster, 2));
          await tcp.send({ t: "hello", v: 1, user: "Keeper" });
          const answer = await tcp.next((f) => f.t === "welcome" || f.t === "error");
          tcp.close();
          return answer.t === "error" && /registered to an SSH key/.test(String(answer.message));
        },
        "the claim to reach n3",
        { timeoutMs: 10_000 },
      );
    },
    [],
    true,
  );
});
