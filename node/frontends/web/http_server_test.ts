import assert from "node:assert/strict";
import { silentLogger } from "../../logger.ts";
import { healthBody, readyBody } from "./health.ts";
import { HttpServer } from "./http_server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function start(headMs = 10_000): Promise<HttpServer> {
  return HttpServer.start({
    health: () => healthBody("h1", 0),
    ready: () => readyBody({ node: "h1", stopping: false, restoreMs: 0, mesh: undefined }),
    metrics: () => "",
  }, {
    hostname: "127.0.0.1",
    port: 0,
    logger: silentLogger,
    timeouts: { headMs, requestMs: 3 * headMs },
  });
}

/** Reads one response (headers and a Content-Length body) off `conn`, or null at its end. */
async function response(conn: Deno.Conn): Promise<string | null> {
  const buffer = new Uint8Array(4096);
  let text = "";
  while (true) {
    const head = text.indexOf("\r\n\r\n");
    const length = /^content-length: (\d+)\r$/im.exec(text)?.[1];
    if (head !== -1 && length !== undefined && text.length >= head + 4 + Number(length)) {
      return text;
    }
    const n = await conn.read(buffer);
    if (n === null) return text === "" ? null : text;
    text += decoder.decode(buffer.subarray(0, n));
  }
}

Deno.test("the HTTP port keeps a connection alive for the next request, and close() ends it at once", async () => {
  const server = await start();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    for (let i = 0; i < 3; i++) {
      await conn.write(encoder.encode("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"));
      const answer = await response(conn);
      assert.match(
        answer ?? "",
        /^HTTP\/1\.1 200 OK\r\n[^]*"node":"h1"/,
        `request ${i}: ${answer}`,
      );
      assert.match(answer!, /^connection: keep-alive\r$/im);
    }
    const started = performance.now();
    await server.close();
    // Idle, so not held for the grace period.
    assert.ok(performance.now() - started < 900, "an idle connection held close() back");
    assert.equal(await response(conn), null);
  } finally {
    conn.close();
  }
});

Deno.test("attack: a request head sent a byte at a time is cut off at the head deadline (408)", async () => {
  const server = await start(300);
  const slow = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  const other = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    await slow.write(encoder.encode("GET /healthz HTTP/1.1\r\nHo"));
    const dripping = (async () => {
      for (const byte of encoder.encode("st: h\r\nX-Slow: 1")) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        await slow.write(Uint8Array.of(byte)).catch(() => 0);
      }
    })();
    // Someone else is served meanwhile.
    await other.write(encoder.encode("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert.match(await response(other) ?? "", /^HTTP\/1\.1 200 OK/);
    assert.match(await response(slow) ?? "", /^HTTP\/1\.1 408 /);
    assert.equal(await response(slow), null);
    await dripping;
  } finally {
    slow.close();
    other.close();
    await server.close();
  }
});
