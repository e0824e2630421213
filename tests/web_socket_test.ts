/**
 * The WebSocket at `/ws` on a real node process, behind the node's HTTP
 * server: TCP and WebSocket clients in one room, the Origin rule with
 * `--web-origin`, an oversize message, and a WebSocket reader that stops
 * reading (with and without batched output), dropped after the fan-out like
 * a TCP one (tests/slow_reader_test.ts).
 * The details of each rule are in node/frontends/web/ws_frontend_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { RawClient } from "./helpers/raw_client.ts";
import { freePort, startNodeProcess } from "./helpers/node_process.ts";
import { joinAndStopReading, WsClient } from "./helpers/ws_client.ts";
import { floodUntilSlowReaderLeaves } from "./helpers/slow_reader_flood.ts";
import { NDJSON_PROTOCOL } from "../node/frontends/web/ws_frontend.ts";

Deno.test("a node serves protocol v1 over a WebSocket beside TCP, from its own pages only", async (t) => {
  const httpPort = freePort();
  const node = await startNodeProcess({
    id: "web",
    args: [
      "--http-port",
      String(httpPort),
      "--web-origin",
      "https://chat.example.com",
      "--max-line",
      "2048",
    ],
  });
  const url = `ws://127.0.0.1:${httpPort}/ws`;
  try {
    await t.step("a TCP client and a WebSocket client talk in one room", async () => {
      const web = await WsClient.join(url, "wanda", "both");
      const tcp = await RawClient.join(node.port, "tom", "both");
      web.send({ t: "say", room: "both", text: "hello from the web", cid: "w1" });
      const ack = await web.next((f) => f.t === "ack" && f.cid === "w1");
      assert.equal((await tcp.next((f) => f.text === "hello from the web")).id, ack.id);
      await tcp.send({ t: "say", room: "both", text: "hello from the terminal", cid: "t1" });
      const heard = await web.next((f) => f.t === "msg" && f.text === "hello from the terminal");
      assert.equal(heard.from, "tom");
      await tcp.send({ t: "cmd", line: "/whois wanda" });
      const whois = await tcp.next((f) => f.t === "info" && f.cmd === "whois");
      assert.equal((whois.data as { via: string }).via, "web");
      web.close();
      assert.equal((await tcp.next((f) => f.t === "msg" && f.kind === "leave")).from, "wanda");
      tcp.close();
    });

    await t.step("a page from another origin is refused (403); --web-origin adds one", async () => {
      await assert.rejects(
        () => WsClient.connect(url, { origin: "https://evil.example" }),
        /403/,
      );
      for (const origin of ["https://chat.example.com", `http://127.0.0.1:${httpPort}`]) {
        const client = await WsClient.connect(url, { origin });
        client.close();
        await client.closed;
      }
    });

    await t.step("a message over --max-line is told line_too_long and closed (1009)", async () => {
      const big = await WsClient.join(url, "bigmouth");
      big.send({ t: "say", text: "z".repeat(3000) });
      await big.error("line_too_long");
      assert.deepEqual(await big.closed, { code: 1009, reason: "line_too_long" });
    });
  } finally {
    const status = await node.stop();
    assert.equal(status.code, 0, node.log());
  }
});

for (const batched of [false, true]) {
  const how = batched ? " (meshchat.ndjson)" : "";
  Deno.test(`a WebSocket reader${how} that stops reading leaves after the message that overflowed it reached everyone`, async () => {
    const httpPort = freePort();
    const node = await startNodeProcess({
      id: "wslow",
      args: [
        ...["--http-port", String(httpPort), "--burst", "0", "--max-bytes-per-conn", "0"],
        ...["--max-queue", "65536"],
      ],
    });
    const room = "flood";
    const url = `ws://127.0.0.1:${httpPort}/ws`;
    // First in the room, so its sink comes first in every fan-out.
    const sleeper = await joinAndStopReading(
      httpPort,
      { t: "hello", v: 1, user: "sleeper", room },
      batched ? { "Sec-WebSocket-Protocol": NDJSON_PROTOCOL } : {},
    );
    const talker = await RawClient.join(node.port, "talker", room);
    const listeners = [
      await WsClient.join(url, "ann", room),
      await RawClient.join(node.port, "ben", room),
    ];
    try {
      await floodUntilSlowReaderLeaves({ room, talker, listeners, sleeper: "sleeper" });
      assert.match(node.log(), /slow reader dropped addr=127\.0\.0\.1:\d+ via=web nick=sleeper/);
    } finally {
      sleeper.close();
      talker.close();
      for (const listener of listeners) listener.close();
      await node.stop();
    }
  });
}
