/**
 * Old origins retire on real node processes: a node killed with SIGKILL
 * again and again adds one origin per run, and the others drop the old ones
 * from their version vectors (and from their snapshot files) once everyone
 * holds them complete, losing no acknowledged message.
 */
import assert from "node:assert/strict";
import { SNAPSHOT_FILE } from "../node/store/snapshot_store.ts";
import { converged, startCluster } from "./helpers/cluster.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { waitFor } from "./helpers/wait_for.ts";

/** The origins in a stopped node's snapshot file. */
async function originsInFile(dataDir: string): Promise<string[]> {
  const kv = await Deno.openKv(`${dataDir}/${SNAPSHOT_FILE}`);
  try {
    const origins: string[] = [];
    for await (const entry of kv.list({ prefix: ["vv"] })) origins.push(String(entry.key[1]));
    return origins.sort();
  } finally {
    kv.close();
  }
}

Deno.test("a node killed four times leaves one origin of it in every vector, nothing acked lost", async () => {
  const cluster = await startCluster({ size: 3, args: ["--snapshot-interval", "0.2"] });
  try {
    const acked: string[] = [];
    const say = async (i: number, text: string) => {
      const client = await RawClient.join(cluster.nodes[i]!.process.port, `u${acked.length}`);
      await client.send({ t: "say", text, cid: text });
      acked.push((await client.next((f) => f.t === "ack")).id as string);
      client.close();
    };
    await say(0, "before");
    for (let run = 1; run <= 4; run++) {
      await say(2, `n3 run ${run}`);
      await new Promise((r) => setTimeout(r, 500)); // a snapshot holds it
      await cluster.nodes[2]!.process.stop("SIGKILL");
      await cluster.restart(2);
    }
    await say(2, "n3 after the last restart");
    const ports = cluster.nodes.map((n) => n.process.port);
    await converged(ports, "lobby", acked);
    // Retirement takes a few anti-entropy rounds (1 s) once every member reported.
    const n1 = cluster.nodes[0]!.process;
    await waitFor(
      () => /old origins retired.*node=n3.*below=4/.test(n1.log()),
      "n1 to retire n3's origins",
      {
        timeoutMs: 20_000,
        detail: () => n1.log(),
      },
    );
    await converged(ports, "lobby", acked);
    await cluster.nodes[0]!.process.stop("SIGTERM");
    const origins = await originsInFile(cluster.nodes[0]!.dataDir);
    assert.deepEqual(origins.filter((o) => o.startsWith("n3")), ["n3.4"]);
  } finally {
    await cluster.close();
  }
});
