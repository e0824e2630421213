/**
 * Replication over NATS JetStream (`--nats`) on real processes: meshchat
 * nodes on a real 3-server `nats-server` cluster (JetStream, routes, a
 * 3-replica stream), loopback only. Lines cross between nodes; a node
 * killed with -9 catches up from the stream; a killed NATS server does not
 * lose an acknowledged line; a dead node's people leave `/who`.
 */
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { EventLog } from "../node/chat/event_log.ts";
import { converged, roomLog, startCluster, type TestCluster } from "./helpers/cluster.ts";
import { hasNatsServer, type NatsServers, startNatsServers } from "./helpers/nats_servers.ts";
import { failingNodeStart } from "./helpers/node_process.ts";
import { promtoolCheck, scrape, startHttpNode } from "./helpers/http_node.ts";
import { waitForAlive, whoHas } from "./helpers/node_views.ts";
import { pathExists } from "./helpers/path_exists.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { POSITION_FILE } from "../node/nats/stream_position.ts";
import { waitFor } from "./helpers/wait_for.ts";

const ignore = !hasNatsServer();

/** Sends `count` lines and waits for each one's ack; returns the acked event ids. */
async function sayAcked(client: RawClient, room: string, count: number, tag: string) {
  const acked: string[] = [];
  for (let i = 0; i < count; i++) {
    await client.send({ t: "say", room, text: `${tag} ${i}`, cid: `${tag}${i}` });
    const ack = await client.next((f) =>
      (f.t === "ack" || f.t === "error") && f.cid === `${tag}${i}`
    );
    assert.equal(ack.t, "ack", JSON.stringify(ack));
    acked.push(String(ack.id));
  }
  return acked;
}

/** Three meshchat nodes on three NATS servers; `run` gets both, and both are stopped after. */
async function withNatsCluster(
  run: (nats: NatsServers, cluster: TestCluster) => Promise<void>,
  args: string[] = [],
): Promise<void> {
  const nats = await startNatsServers(3);
  try {
    const cluster = await startCluster({ nats: { urls: nats.urls, replicas: 3 }, args });
    try {
      await run(nats, cluster);
    } finally {
      await cluster.close();
    }
  } finally {
    await nats.close();
  }
}

Deno.test({
  name: "--nats: lines cross three nodes, and a node killed with -9 catches up from the stream",
  ignore,
  fn: () =>
    withNatsCluster(async (_nats, cluster) => {
      const [n1, n2, n3] = cluster.nodes.map((n) => n);
      const reader = await RawClient.join(n3!.process.port, "reader", "dev");
      const writer = await RawClient.join(n1!.process.port, "writer", "dev");
      try {
        const acked = await sayAcked(writer, "dev", 1, "hello");
        const seen = await reader.next((f) => f.t === "msg" && f.text === "hello 0");
        assert.equal(seen.id, acked[0], "n3 shows n1's line under its id");

        // Lines until n2 has saved where its snapshot ends (a snapshot after another), so
        // the restart replays only what follows.
        await waitFor(async () => {
          acked.push(...await sayAcked(writer, "dev", 1, `warm${acked.length}`));
          return await pathExists(`${n2!.dataDir}/${POSITION_FILE}`);
        }, "n2's stream position");
        await n2!.process.stop("SIGKILL");
        acked.push(...await sayAcked(writer, "dev", 50, "while-down"));
        await cluster.restart(1);
        const replayed = /stream replayed stream=\S+ from=(\d+)/.exec(n2!.process.log());
        assert.ok(replayed !== null && Number(replayed[1]) > 1, "n2 replayed from its snapshot on");
        const log = await converged(cluster.nodes.map((n) => n.process.port), "dev", acked);
        assert.equal(log.length, acked.length, "every acked line once on every node, nothing else");
        assert.deepEqual(await roomLog(n2!.process.port, "dev"), log);
      } finally {
        reader.close();
        writer.close();
      }
    }, ["--snapshot-interval", "0.2"]),
});

Deno.test({
  name: "--nats: with one NATS server killed the chat goes on and no acked line is lost",
  ignore,
  fn: () =>
    withNatsCluster(async (nats, cluster) => {
      const ports = cluster.nodes.map((n) => n.process.port);
      const writer = await RawClient.join(ports[0]!, "writer", "ops");
      try {
        const acked = await sayAcked(writer, "ops", 20, "before");
        // The server a reading node (n2) is connected to: its replay must move to another.
        const server = /nats connected server=(\S+)/.exec(cluster.nodes[1]!.process.log())![1]!;
        await nats.servers.find((s) => s.url.endsWith(server))!.kill();
        acked.push(...await sayAcked(writer, "ops", 40, "after"));
        const log = await converged(ports, "ops", acked, 60_000).catch((error) => {
          throw new Error(`${error}\n--- n2\n${cluster.nodes[1]!.process.log()}`);
        });
        assert.equal(log.length, 60, "60 acked lines, each once, on all three nodes");
      } finally {
        writer.close();
      }
    }),
});

Deno.test({
  name: "--nats: a node killed with -9 takes its people out of /who on the others within seconds",
  ignore,
  fn: () =>
    withNatsCluster(async (_nats, cluster) => {
      const [n1, n2] = cluster.nodes;
      await waitForAlive(n1!.process.port, 3);
      const bob = await RawClient.join(n2!.process.port, "bob");
      try {
        await waitFor(() => whoHas(n1!.process.port, "bob"), "bob in n1's /who");
        await n2!.process.stop("SIGKILL");
        await waitFor(async () => !(await whoHas(n1!.process.port, "bob")), "bob gone from /who");
        assert.match(n1!.process.log(), /nats node silent: its people leave node=n2/);
      } finally {
        bob.close();
      }
    }),
});

Deno.test({
  name: "--nats: a 3-replica stream on a single NATS server is refused with the fix",
  ignore,
  fn: async () => {
    const nats = await startNatsServers(1);
    try {
      const { code, text } = await failingNodeStart(["--nats", nats.urls]);
      assert.equal(code, 1, text);
      assert.match(text, /use --nats-replicas 1/);
    } finally {
      await nats.close();
    }
  },
});

Deno.test({
  name:
    "--nats: with NATS down a line waits unacknowledged; once NATS is back it is acked and crosses",
  ignore,
  fn: async () => {
    const nats = await startNatsServers(1);
    try {
      const cluster = await startCluster({ size: 2, nats: { urls: nats.urls, replicas: 1 } });
      const [n1, n2] = cluster.nodes;
      const writer = await RawClient.join(n1!.process.port, "writer", "wait");
      const reader = await RawClient.join(n2!.process.port, "reader", "wait");
      try {
        await sayAcked(writer, "wait", 1, "before");
        await nats.servers[0]!.kill();
        await waitFor(() => /nats disconnected/.test(n1!.process.log()), "n1 to lose NATS");
        await writer.send({ t: "say", room: "wait", text: "queued", cid: "q1" });
        await waitFor(
          () => /stream publish failed, retrying/.test(n1!.process.log()),
          "n1 to fail to publish",
          { timeoutMs: 30_000 },
        );
        assert.ok(!writer.frames.some((f) => f.cid === "q1"), "no ack while JetStream lacks it");
        await nats.servers[0]!.restart();
        const ack = await writer.next((f) => f.cid === "q1", 30_000);
        assert.equal(ack.t, "ack", JSON.stringify(ack));
        const seen = await reader.next((f) => f.t === "msg" && f.text === "queued", 30_000);
        assert.equal(seen.id, ack.id);
        assert.match(n1!.process.log(), /stream publishing again/);
      } finally {
        writer.close();
        reader.close();
        await cluster.close();
      }
    } finally {
      await nats.close();
    }
  },
});

Deno.test({
  name:
    "--nats: events published straight to the stream pass a peer's checks; junk and a forged origin are refused",
  ignore,
  fn: async () => {
    const nats = await startNatsServers(1);
    const nc = await connect({ servers: nats.urls });
    try {
      const cluster = await startCluster({ size: 1, nats: { urls: nats.urls, replicas: 1 } });
      const [n1] = cluster.nodes;
      try {
        const stream = /nats connected .*stream=(\S+)/.exec(n1!.process.log())![1]!;
        // What a holder of NATS credentials could write: junk, an event under another
        // origin's subject (per-node publish rights make that the forgery to stop), a real one.
        const mallory = new EventLog({ origin: "n9" });
        const forged = new EventLog({ origin: "n8" })
          .append({ room: "lobby", kind: "message", from: "eve", text: "forged" });
        nc.publish(`${stream}.events.n9`, "not an event");
        nc.publish(`${stream}.events.n9`, JSON.stringify(forged));
        const real = mallory.append({ room: "lobby", kind: "message", from: "mal", text: "real" });
        nc.publish(`${stream}.events.n9`, JSON.stringify(real));
        await nc.flush();
        await waitFor(
          async () => (await roomLog(n1!.process.port, "lobby")).includes("n9:1"),
          "the real event on n1",
        );
        assert.deepEqual(await roomLog(n1!.process.port, "lobby"), ["n9:1"]);
        const refusals = n1!.process.log().match(/stream event rejected/g) ?? [];
        assert.equal(refusals.length, 2, n1!.process.log());
        assert.match(n1!.process.log(), /origin n8 does not match subject/);
      } finally {
        await cluster.close();
      }
    } finally {
      await nc.close();
      await nats.close();
    }
  },
});

Deno.test({
  name:
    "--nats: a line taken while NATS was down and the node then stopped is published when it starts again",
  ignore,
  fn: async () => {
    const nats = await startNatsServers(1);
    try {
      const cluster = await startCluster({ size: 2, nats: { urls: nats.urls, replicas: 1 } });
      const [n1, n2] = cluster.nodes;
      const reader = await RawClient.join(n2!.process.port, "reader", "tail");
      try {
        const writer = await RawClient.join(n1!.process.port, "writer", "tail");
        await sayAcked(writer, "tail", 1, "before");
        await nats.servers[0]!.kill();
        await waitFor(() => /nats disconnected/.test(n1!.process.log()), "n1 to lose NATS");
        await writer.send({ t: "say", room: "tail", text: "taken", cid: "t1" });
        await waitFor(
          () => /stream publish failed/.test(n1!.process.log()),
          "n1 to fail to publish",
          { timeoutMs: 30_000 },
        );
        writer.close();
        // A graceful stop: the line is in n1's last snapshot, never in the stream.
        await n1!.process.stop("SIGTERM");
        await nats.servers[0]!.restart();
        await cluster.restart(0);
        // The line and the writer's leave, both taken while NATS was away.
        assert.match(n1!.process.log(), /own events the stream lacked published again .*resent=2/);
        await reader.next((f) => f.t === "msg" && f.text === "taken", 30_000);
      } finally {
        reader.close();
        await cluster.close();
      }
    } finally {
      await nats.close();
    }
  },
});

Deno.test({
  name:
    "--nats: /metrics shows the link, the applied stream sequence, lines waiting for JetStream and retries; promtool passes",
  ignore,
  fn: async () => {
    const nats = await startNatsServers(1);
    const { node, url } = await startHttpNode({
      id: "m1",
      args: ["--nats", nats.urls, "--nats-replicas", "1"],
    });
    const nc = await connect({ servers: nats.urls });
    const writer = await RawClient.join(node.port, "writer", "metrics");
    const sample = async (name: string) => (await scrape(url)).samples.get(name);
    try {
      await sayAcked(writer, "metrics", 3, "m");
      const { state } = await (await jetstreamManager(nc)).streams.info("meshchat");
      await waitFor(
        async () => await sample("meshchat_nats_stream_applied_sequence") === state.last_seq,
        "the node to apply the stream's last message",
      );
      const up = await scrape(url);
      assert.deepEqual(await promtoolCheck(up.text), { code: 0, output: "" });
      assert.equal(up.samples.get("meshchat_nats_connected"), 1);
      assert.equal(up.samples.get("meshchat_nats_stream_lag_events"), 0);
      assert.equal(up.samples.get("meshchat_nats_unpublished_events"), 0);
      assert.equal(up.samples.get("meshchat_nats_publish_retries_total"), 0);
      assert.equal(up.samples.get("meshchat_nats_consumer_restarts_total"), 0);

      await nc.close();
      await nats.servers[0]!.kill();
      await waitFor(async () => await sample("meshchat_nats_connected") === 0, "connected 0");
      await writer.send({ t: "say", room: "metrics", text: "queued", cid: "q1" });
      await waitFor(
        async () =>
          await sample("meshchat_nats_unpublished_events") === 1 &&
          (await sample("meshchat_nats_publish_retries_total"))! >= 1,
        "the line waiting for JetStream, its publish retried",
        { timeoutMs: 30_000 },
      );
      const down = await scrape(url);
      assert.deepEqual(await promtoolCheck(down.text), { code: 0, output: "" });
      await nats.servers[0]!.restart();
      const ack = await writer.next((f) => f.cid === "q1", 30_000);
      assert.equal(ack.t, "ack", JSON.stringify(ack));
      await waitFor(
        async () =>
          await sample("meshchat_nats_connected") === 1 &&
          await sample("meshchat_nats_unpublished_events") === 0 &&
          await sample("meshchat_nats_stream_lag_events") === 0,
        "connected again, nothing waiting, nothing behind",
      );
      assert.ok(
        (await sample("meshchat_nats_stream_applied_sequence"))! > state.last_seq,
        "the queued line was applied from the stream",
      );
    } finally {
      writer.close();
      await nc.close().catch(() => {});
      await node.stop();
      await nats.close();
    }
  },
});
