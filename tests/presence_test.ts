/**
 * Presence on real nodes: one person cannot poison a node's presence table
 * for its peers (and with it nick uniqueness across the cluster).
 */
import assert from "node:assert/strict";
import { startCluster, type TestCluster } from "./helpers/cluster.ts";
import { startInProcessCluster } from "./helpers/in_process_cluster.ts";
import { waitForAlive, whoHas } from "./helpers/node_views.ts";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { waitFor } from "./helpers/wait_for.ts";

/** Sends `/join` for each room in one go and returns each answer (joined or error), in order. */
async function joinAll(client: RawClient, rooms: readonly string[]): Promise<Frame[]> {
  await client.sendRaw(
    rooms.map((room) => JSON.stringify({ t: "cmd", line: `/join ${room}` }) + "\n").join(""),
  );
  const answers: Frame[] = [];
  for (const _ of rooms) {
    answers.push(await client.next((f) => f.t === "joined" || f.t === "error"));
  }
  return answers;
}

async function withCluster(size: number, fn: (cluster: TestCluster) => Promise<void>) {
  const cluster = await startCluster({ size });
  try {
    await waitForAlive(cluster.nodes[0]!.process.port, size);
    await fn(cluster);
  } finally {
    await cluster.close();
  }
}

Deno.test("a client joining 257 rooms on n1 cannot make n2 welcome a second bob", async () => {
  await withCluster(2, async (cluster) => {
    const [n1, n2] = cluster.nodes.map((n) => n.process.port) as [number, number];
    const mallory = await RawClient.join(n1, "mallory");
    const rooms = Array.from({ length: 256 }, (_, i) => `spam-${i}`);
    const answers = await joinAll(mallory, rooms); // lobby + 256 = 257 rooms asked for
    const bob = await RawClient.join(n1, "bob");
    // A second bob on n2 is refused at hello, or renamed once n1's table arrives.
    const second = await RawClient.connect(n2);
    await second.send({ t: "hello", v: 1, user: "bob" });
    const verdict = await second.error("nick_taken");
    assert.match(String(verdict.message), /bob/i);
    assert.ok(!bob.frames.some((f) => f.t === "nick"), "the first bob keeps his nick");
    // The attack itself is refused past the per-session cap, with a way out.
    const refused = answers.filter((f) => f.t === "error");
    assert.equal(answers.filter((f) => f.t === "joined").length, 63, "lobby + 63 = 64 rooms");
    assert.equal(refused.length, 256 - 63);
    assert.ok(refused.every((f) => f.code === "too_many_rooms"));
    assert.match(String(refused[0]!.message), /64 rooms/);
    assert.match(String(refused[0]!.message), /\/leave/);
    for (const client of [mallory, bob, second]) client.close();
  });
});

/** The text of the info frames a client got so far, one line each. */
function infoLines(client: RawClient): string[] {
  return client.frames.filter((f) => f.t === "info").flatMap((f) => f.lines as string[]);
}

Deno.test("people on a node killed with -9 are shown leaving, and joining when they reconnect", async () => {
  await withCluster(2, async (cluster) => {
    const [n1, n2] = cluster.nodes.map((n) => n.process.port) as [number, number];
    const alice = await RawClient.join(n1, "alice");
    const bob = await RawClient.join(n2, "bob");
    const carol = await RawClient.join(n2, "carol", "elsewhere");
    // Both are listed on n1 before n2 dies.
    await waitFor(() => whoHas(n1, "bob"), "bob in /who on n1");
    await cluster.nodes[1]!.process.stop("SIGKILL");
    const left = await alice.next(
      (f) => f.t === "info" && (f.lines as string[]).some((l) => /bob left/.test(l)),
      20_000,
    );
    assert.deepEqual(left.lines, ["bob left (node n2 unreachable)"]);
    // carol shares no room with alice: no line about her.
    assert.ok(!infoLines(alice).some((line) => line.includes("carol")));
    assert.ok(!(await whoHas(n1, "bob")), "bob is gone from /who");
    await cluster.restart(1);
    const again = await RawClient.join(cluster.nodes[1]!.process.port, "bob");
    await alice.next((f) => f.t === "msg" && f.kind === "join" && f.from === "bob", 20_000);
    // Once n1 lists bob again it has taken in n2's return: any notice about it is out by then.
    await waitFor(() => whoHas(n1, "bob"), "bob back in /who on n1");
    // A restarted node's people are new sessions: their join says it, not "is back".
    assert.ok(
      !infoLines(alice).some((line) => line.includes("is back")),
      infoLines(alice).join("\n"),
    );
    for (const client of [alice, bob, carol, again]) client.close();
  });
});

// In-process nodes: the test partitions them on the memory network (a process has no such seam).
Deno.test("people on a node cut off are shown leaving, and back when it is reachable again", async () => {
  const cluster = await startInProcessCluster({ size: 2 });
  try {
    const [n1, n2] = cluster.nodes.map((n) => n.port) as [number, number];
    await waitForAlive(n1, 2);
    const alice = await RawClient.join(n1, "alice");
    const bob = await RawClient.join(n2, "bob");
    await waitFor(() => whoHas(n1, "bob"), "bob in /who on n1");
    cluster.network.partition([["n1"], ["n2"]]);
    const left = await alice.next(
      (f) => f.t === "info" && (f.lines as string[]).some((l) => /bob left/.test(l)),
      20_000,
    );
    assert.deepEqual(left.lines, ["bob left (node n2 unreachable)"]);
    // bob, on the other side, sees the same of alice.
    await bob.next(
      (f) => f.t === "info" && (f.lines as string[]).includes("alice left (node n1 unreachable)"),
      20_000,
    );
    cluster.network.healAll();
    const back = await alice.next(
      (f) => f.t === "info" && (f.lines as string[]).some((l) => /bob is back/.test(l)),
      20_000,
    );
    assert.deepEqual(back.lines, ["bob is back (node n2 reachable again)"]);
    assert.ok(await whoHas(n1, "bob"), "bob is listed again");
    for (const client of [alice, bob]) client.close();
  } finally {
    await cluster.close();
  }
});
