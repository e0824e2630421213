/**
 * `/metrics` of real node processes: the text passes `promtool check
 * metrics`, and its figures follow what people and peers do.
 */
import assert from "node:assert/strict";
import { freePort } from "./helpers/node_process.ts";
import { promtoolCheck, scrape, startHttpNode } from "./helpers/http_node.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { waitFor } from "./helpers/wait_for.ts";

/** A sample's value, or NaN when the text lacks it. */
async function value(url: string, sample: string): Promise<number> {
  return (await scrape(url)).samples.get(sample) ?? NaN;
}

Deno.test("/metrics passes promtool check metrics, and counts messages received, delivered and rate-limited", async () => {
  const { node, url } = await startHttpNode({ id: "p1", args: ["--burst", "2", "--rate", "0.1"] });
  const clients: RawClient[] = [];
  try {
    const first = await scrape(url);
    assert.deepEqual(await promtoolCheck(first.text), { code: 0, output: "" });
    assert.equal(first.samples.get('meshchat_sessions{frontend="tcp"}'), 0);
    assert.equal(first.samples.get('meshchat_messages_received_total{source="local"}'), 0);
    const alice = await RawClient.join(node.port, "alice");
    const bob = await RawClient.join(node.port, "bob");
    clients.push(alice, bob);
    await alice.send({ t: "say", text: "hello", cid: crypto.randomUUID() });
    await bob.next((f) => f.t === "msg" && f.text === "hello");
    for (let i = 0; i < 3; i++) await alice.send({ t: "say", text: `more ${i}` });
    await alice.next((f) => f.t === "error" && f.code === "rate_limited");
    const after = await scrape(url);
    assert.deepEqual(await promtoolCheck(after.text), { code: 0, output: "" });
    const samples = after.samples;
    assert.equal(samples.get('meshchat_sessions{frontend="tcp"}'), 2);
    // hello and "more 0" fit the burst of 2; the rest were refused.
    assert.equal(samples.get('meshchat_messages_received_total{source="local"}'), 2);
    assert.equal(samples.get("meshchat_messages_delivered_total"), 4, after.text);
    assert.ok(samples.get('meshchat_line_refusals_total{code="rate_limited"}')! >= 1, after.text);
    assert.ok(samples.get('meshchat_memory_bytes{kind="rss"}')! > 0);
    assert.ok(samples.get("process_cpu_seconds_total")! > 0, "the node has used some CPU");
    await waitFor(
      async () => await value(url, "meshchat_event_loop_delay_seconds_count") > 0,
      "event-loop delay samples",
    );
  } finally {
    for (const client of clients) client.close();
    await node.stop();
  }
});

Deno.test("/metrics of a two-node cluster shows members, links, catch-up batches, replication lag and snapshots", async () => {
  const secret = crypto.randomUUID();
  const meshPort = freePort();
  const common = ["--snapshot-interval", "0.1", "--burst", "0"];
  const a = await startHttpNode({
    id: "a",
    secret,
    args: [...common, "--mesh-port", String(meshPort)],
  });
  let b;
  const clients: RawClient[] = [];
  try {
    const alice = await RawClient.join(a.node.port, "alice");
    clients.push(alice);
    await alice.send({ t: "say", text: "before b", cid: crypto.randomUUID() });
    await alice.next((f) => f.t === "msg" && f.text === "before b");
    b = await startHttpNode({
      id: "b",
      secret,
      args: [...common, "--mesh-port", String(freePort()), "--peers", `127.0.0.1:${meshPort}`],
    });
    const bUrl = b.url;
    // b catches up on what was said before it came: an anti-entropy batch each way.
    await waitFor(
      async () => await value(bUrl, 'meshchat_messages_received_total{source="mesh"}') === 1,
      "b to receive the message said before it came",
      { timeoutMs: 20_000 },
    );
    const fromB = (await scrape(bUrl)).samples;
    assert.equal(fromB.get('meshchat_mesh_members{state="alive"}'), 2);
    assert.equal(fromB.get("meshchat_mesh_links"), 1);
    assert.ok(fromB.get('meshchat_anti_entropy_batches_total{direction="received"}')! >= 1);
    assert.equal(typeof fromB.get('meshchat_replication_lag_events{peer="a"}'), "number");
    await waitFor(
      async () => await value(a.url, 'meshchat_replication_lag_events{peer="b"}') === 0,
      "a to see b holding everything",
    );
    const fromA = await scrape(a.url);
    assert.deepEqual(await promtoolCheck(fromA.text), { code: 0, output: "" });
    assert.ok(fromA.samples.get('meshchat_anti_entropy_batches_total{direction="sent"}')! >= 1);
    assert.equal(fromA.samples.get('meshchat_replication_lag_seconds{peer="b"}'), 0);
    assert.ok(fromA.samples.get("meshchat_restore_duration_seconds")! >= 0);
    await waitFor(
      async () => await value(a.url, "meshchat_snapshot_duration_seconds_count") > 0,
      "a snapshot written and timed",
    );
    assert.ok(await value(a.url, "meshchat_snapshot_file_bytes") > 0);
  } finally {
    for (const client of clients) client.close();
    await Promise.all([a.node.stop(), b?.node.stop()]);
  }
});
