/**
 * Replies fit the reader: on a real node with the smallest output queue
 * (`--max-queue 65536`), a room full of long messages must not make
 * `/history 500`, the welcome or a `/join` reply one frame bigger than the
 * queue — which used to drop the person who asked as a slow reader. Over
 * SSH the same cap applies to the rendered lines.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startNodeProcess } from "./helpers/node_process.ts";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { SshTestClient } from "./helpers/ssh_client.ts";

const MAX_QUEUE = 65536;

/** Bytes the node wrote for a frame (it encodes with JSON.stringify, one per line). */
function frameBytes(frame: Frame): number {
  return new TextEncoder().encode(JSON.stringify(frame)).length + 1;
}

/** A message of about 12 KB (3-byte characters), numbered. */
function longText(i: number): string {
  return `m${i} ${"€".repeat(3990)}`;
}

const numbers = (frame: Frame) =>
  (frame.history as Frame[]).map((m) => Number(/^m(\d+) /.exec(String(m.text))?.[1]));

/** Says `count` long messages in `room` and waits until `reader` has them all. */
async function fill(writer: RawClient, reader: RawClient, room: string, count: number) {
  for (let i = 0; i < count; i++) {
    await writer.send({ t: "say", room, text: longText(i) });
  }
  const last = `m${count - 1} `;
  await reader.next((f) => f.t === "msg" && String(f.text).startsWith(last));
}

/** Proves the connection is still served. */
async function alive(client: RawClient): Promise<void> {
  await client.send({ t: "ping" });
  await client.next((f) => f.t === "pong");
  assert.equal(client.isEnded, false);
}

Deno.test("history replies are capped to what the reader's output queue accepts", async (t) => {
  const node = await startNodeProcess({
    id: "replies",
    ssh: true,
    args: ["--max-queue", String(MAX_QUEUE), "--burst", "0", "--mesh-port", "0"],
  });
  const clients: RawClient[] = [];
  try {
    const reader = await RawClient.join(node.port, "reader");
    const writer = await RawClient.join(node.port, "writer");
    clients.push(reader, writer);
    await fill(writer, reader, "lobby", 60);

    await t.step("/history 500 of 60 long messages: the newest that fit, and a note", async () => {
      await reader.send({ t: "cmd", line: "/history 500" });
      const history = await reader.next((f) => f.t === "history");
      assert.ok(frameBytes(history) <= MAX_QUEUE, `${frameBytes(history)} bytes`);
      const shown = numbers(history);
      assert.ok(shown.length > 0 && shown.length < 60, `${shown.length} shown`);
      // The newest ones, oldest first.
      assert.deepEqual(
        shown,
        Array.from({ length: shown.length }, (_, i) => 60 - shown.length + i),
      );
      const note = await reader.next((f) => f.t === "info" && f.cmd === "history");
      const older = 60 - shown.length;
      assert.match(
        String((note.lines as string[]).join("\n")),
        new RegExp(`newest ${shown.length} of 60 .*/history ${older} ${shown.length}`),
      );
      await alive(reader);

      // The note's command pages back to the ones just before.
      await reader.send({ t: "cmd", line: `/history ${older} ${shown.length}` });
      const page = numbers(await reader.next((f) => f.t === "history"));
      assert.ok(page.length > 0);
      assert.equal(page.at(-1), older - 1);
      await alive(reader);
    });

    await t.step("a short /history that fits is whole, with no note", async () => {
      await reader.send({ t: "cmd", line: "/history 2" });
      assert.deepEqual(numbers(await reader.next((f) => f.t === "history")), [58, 59]);
      await alive(reader);
      assert.equal(reader.frames.slice(-3).some((f) => f.t === "info"), false);
    });

    await t.step("someone joining the room later gets a welcome that fits", async () => {
      const late = await RawClient.join(node.port, "late");
      clients.push(late);
      const welcome = late.frames.find((f) => f.t === "welcome")!;
      assert.ok(frameBytes(welcome) <= MAX_QUEUE, `${frameBytes(welcome)} bytes`);
      assert.equal(numbers(welcome).at(-1), 59);
      await alive(late);
    });

    await t.step("/join of a room full of long messages gets a reply that fits", async () => {
      await writer.send({ t: "cmd", line: "/join big" });
      await writer.next((f) => f.t === "joined");
      await fill(writer, writer, "big", 10);
      await reader.send({ t: "cmd", line: "/join big" });
      const joined = await reader.next((f) => f.t === "joined");
      assert.ok(frameBytes(joined) <= MAX_QUEUE, `${frameBytes(joined)} bytes`);
      assert.equal(numbers(joined).at(-1), 9);
      await alive(reader);
    });

    await t.step(
      "over SSH, /history 500 is capped the same way and the session goes on",
      async () => {
        const ssh = await SshTestClient.connect(node.sshPort!, { username: "sshreader" });
        try {
          const session = await ssh.shell(false);
          await session.waitFor("You are a guest");
          session.write("/history 500\n");
          const seen = await session.waitFor(
            /Only the newest (\d+) of 60 messages fit in one reply; for older ones: \/history \d+ \d+\n/,
          );
          const shown = Number(/Only the newest (\d+)/.exec(seen)![1]);
          assert.ok(shown > 0 && shown < 60);
          assert.match(seen, /m59 /);
          session.write("still here\n");
          await reader.next((f) => f.t === "msg" && f.text === "still here");
        } finally {
          ssh.end();
        }
      },
    );
  } finally {
    for (const client of clients) client.close();
    await node.stop();
  }
});
