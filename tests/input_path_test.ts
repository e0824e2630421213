/**
 * One input path for every frontend, end to end: a real node, a raw TCP
 * client and an SSH client (plain mode) send the same refused lines and are
 * told the same thing — the TCP client as an `error` frame, the SSH user as
 * an `error: …` line.
 */
import assert from "node:assert/strict";
import { RawClient } from "./helpers/raw_client.ts";
import { startNodeProcess } from "./helpers/node_process.ts";
import { SshTestClient } from "./helpers/ssh_client.ts";

/** Lines anyone may type that the node refuses, and the code it refuses each with. */
const REFUSED: [line: string, code: string][] = [
  ["/nosuch", "unknown_command"],
  ["/msg", "bad_args"],
  ["/unignore somebody", "bad_args"],
  ["/msg nobody-here hello", "no_such_user"],
  ["/join bad!name", "room_invalid"],
  ["/leave elsewhere", "not_in_room"],
  ["/kick somebody", "forbidden"],
];

Deno.test("a refused line is answered with the same words over TCP and over SSH", async () => {
  const node = await startNodeProcess({ id: "input", ssh: true, args: ["--burst", "0"] });
  const tcp = await RawClient.join(node.port, "tess");
  const ssh = await SshTestClient.connect(node.sshPort!, { username: "sam" });
  try {
    const plain = await ssh.shell(false);
    await plain.waitFor("Now in #lobby");
    for (const [i, [line, code]] of REFUSED.entries()) {
      await tcp.send({ t: "cmd", line, cid: `c${i}` });
      const frame = await tcp.next((f) => f.t === "error" || f.t === "ack");
      assert.deepEqual([frame.t, frame.code, frame.cid], ["error", code, `c${i}`], line);
      plain.write(`${line}\n`);
      const shown = await plain.waitFor(/error: [^\n]*\n/);
      assert.equal(shown.slice(shown.indexOf("error: ")), `error: ${frame.message}\n`, line);
    }
  } finally {
    tcp.close();
    ssh.end();
    await node.stop();
  }
});
