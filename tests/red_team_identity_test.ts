/**
 * Red-team attacks on identity (issue 16) on real node processes: a stolen
 * device whose key its owner unlinks on another node is logged out there.
 * The other attacks (forged marks and joins, mail floods, search cost,
 * banned keys, link churn, uncheckable RSA keys) are in
 * node/chat/red_team_identity_test.ts.
 */
import assert from "node:assert/strict";
import { SshEd25519Key } from "../core/crypto/ssh_ed25519_key.ts";
import { startCluster } from "./helpers/cluster.ts";
import { command, helloAnswer, keyJoin } from "./helpers/key_client.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { waitFor } from "./helpers/wait_for.ts";

Deno.test("a key unlinked on one node logs its device out on another: a stolen phone reads no more of bob's mail", async () => {
  const cluster = await startCluster({ size: 2, ssh: false });
  const [n1, n2] = cluster.nodes.map((node) => node.process.port) as [number, number];
  const laptop = await SshEd25519Key.generate();
  const phone = await SshEd25519Key.generate();
  const owner = await keyJoin(n1, laptop, "bob");
  const friend = await RawClient.join(n1, "carol");
  let thief: RawClient | undefined;
  try {
    await command(owner, `/keys add ${await phone.fingerprint()}`);
    await waitFor(
      async () => (await helloAnswer(n2, "bob", phone)) === "welcome bob",
      "the phone's key to own bob on node 2",
    );
    thief = await keyJoin(n2, phone, "bob");
    await friend.send({ t: "cmd", line: "/msg bob before" });
    await thief.next((f) => f.t === "msg" && f.kind === "private" && f.text === "before");

    // The phone is stolen: bob unlinks its key from his laptop, on node 1.
    const removed = await command(owner, `/keys remove ${await phone.fingerprint()}`);
    assert.match(String((removed.lines as string[])[0]), /unlinked from bob/);
    const bye = await thief.next((f) => f.t === "bye");
    assert.match(String(bye.reason), /unlinked from bob/);
    await friend.send({ t: "cmd", line: "/msg bob after" });
    await owner.next((f) => f.t === "msg" && f.kind === "private" && f.text === "after");
    assert.equal(thief.frames.some((f) => f.t === "msg" && f.text === "after"), false);
    // And the key cannot come back as bob.
    assert.match(await helloAnswer(n2, "bob", phone), /^error /);
  } finally {
    thief?.close();
    owner.close();
    friend.close();
    await cluster.close();
  }
});
