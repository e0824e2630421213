import assert from "node:assert/strict";
import { framesOf, webSocketUrl } from "./web_socket_link.ts";

Deno.test("framesOf() reads one frame per message and batched NDJSON alike, skipping junk", () => {
  assert.deepEqual(framesOf('{"t":"pong"}'), [{ t: "pong" }]);
  assert.deepEqual(
    framesOf('{"t":"ack","cid":"a"}\n{"t":"pong"}\n\nnot json\n[1]\n').map((f) => f.t),
    ["ack", "pong"],
  );
});

Deno.test("webSocketUrl() is /ws on the page's host, wss for an https page", () => {
  assert.equal(webSocketUrl(new URL("http://localhost:8090/")), "ws://localhost:8090/ws");
  assert.equal(webSocketUrl(new URL("https://chat.example.com/?x")), "wss://chat.example.com/ws");
});
