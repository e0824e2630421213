/**
 * Catch-up of a node that was down while the longest lines flowed, on real
 * node processes: every anti-entropy batch must fit a mesh frame, or the
 * send is refused, the link drops, the node reconnects and asks again,
 * forever.
 */
import assert from "node:assert/strict";
import { MAX_TEXT_LENGTH } from "../core/protocol.ts";
import { roomLog, startCluster } from "./helpers/cluster.ts";
import { RawClient } from "./helpers/raw_client.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Line `i` at the longest length a client may send, of 3-byte characters (12 KB as JSON). */
function longLine(i: number): string {
  const head = `${i} `;
  return head + "€".repeat(MAX_TEXT_LENGTH - head.length);
}

/** How often `log` says the link to `peer` went down. */
function linkDowns(log: string, peer: string): number {
  return log.match(new RegExp(`mesh link down peer=${peer}\\b`, "g"))?.length ?? 0;
}

Deno.test('a node down while 100 lines of 4,000 "€" flow catches up all of them, without link cycles', async () => {
  const cluster = await startCluster({
    size: 2,
    // The probes read the whole room at once (1.2 MB), and the writer sends 1.2 MB in a minute.
    args: ["--max-queue", String(16 << 20), "--max-bytes-per-conn", "0"],
  });
  try {
    const [n1, n2] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    for (let i = 0; i < 400 && !/mesh link up peer=n2\b/.test(n1.process.log()); i++) {
      await sleep(50);
    }
    assert.match(n1.process.log(), /mesh link up peer=n2\b/, "the cluster formed");
    await n2.process.stop("SIGKILL");
    for (let i = 0; i < 400 && linkDowns(n1.process.log(), "n2") === 0; i++) await sleep(50);
    assert.equal(linkDowns(n1.process.log(), "n2"), 1, "n1 saw n2 go");

    const writer = await RawClient.join(n1.process.port, "writer", "big");
    const acked: string[] = [];
    for (let i = 0; i < 100; i++) {
      await writer.send({ t: "say", room: "big", text: longLine(i), cid: `c${i}` });
      const ack = await writer.next((f) => (f.t === "ack" || f.t === "error") && f.cid === `c${i}`);
      assert.equal(ack.t, "ack", JSON.stringify(ack));
      acked.push(String(ack.id));
    }
    writer.close();

    const before = n1.process.log().length;
    await cluster.restart(1);
    // Done when n2 holds every line; failed when the link to it has cycled or
    // n1 could not send a batch.
    const since = () => n1.process.log().slice(before);
    let held: string[] = [];
    let cycles = 0;
    while (cycles < 3 && !/too large/.test(since())) {
      held = await roomLog(n2.process.port, "big");
      if (acked.every((id) => held.includes(id))) break;
      cycles = linkDowns(since(), "n2");
      await sleep(200);
    }
    const missing = acked.filter((id) => !held.includes(id));
    assert.equal(
      missing.length,
      0,
      `n2 lacks ${missing.length} of 100 lines after the link to it went down ${cycles} times`,
    );
    const linkLines = since().split("\n").filter((line) => /mesh link|suspect|dead/.test(line));
    assert.equal(linkDowns(since(), "n2"), 0, `the link never cycled:\n${linkLines.join("\n")}`);
    assert.doesNotMatch(n1.process.log(), /too large/);
  } finally {
    await cluster.close();
  }
});
