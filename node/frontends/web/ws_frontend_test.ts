/**
 * The WebSocket frontend in process: a real hub, the route behind the
 * node's HTTP server on a free loopback port, the TCP listener beside it, and
 * real clients (Deno's WebSocket, raw TCP). tests/web_socket_test.ts runs
 * it in a node process behind the node's HTTP server.
 */
import assert from "node:assert/strict";
import { Hub, type HubOptions } from "../../chat/hub.ts";
import { silentLogger } from "../../logger.ts";
import { ConnectionLimits } from "../connection_limits.ts";
import { ClientListener } from "../tcp/client_listener.ts";
import { type Frame, RawClient } from "../../../tests/helpers/raw_client.ts";
import {
  clientFrame,
  handshakeAnswer,
  joinAndStopReading,
  WsClient,
} from "../../../tests/helpers/ws_client.ts";
import { writeAll } from "../../../core/bytes.ts";
import { waitFor } from "../../../tests/helpers/wait_for.ts";
import { healthBody, readyBody } from "./health.ts";
import { HttpServer } from "./http_server.ts";
import { webOrigin, WebSocketFrontend, type WebSocketFrontendOptions } from "./ws_frontend.ts";

interface Frontends {
  readonly hub: Hub;
  readonly web: WebSocketFrontend;
  /** `ws://127.0.0.1:PORT/ws` */
  readonly url: string;
  /** The HTTP port. */
  readonly httpPort: number;
  /** The TCP client port. */
  readonly tcpPort: number;
  stop(): Promise<void>;
}

/** A hub served over a WebSocket and TCP, with one account of connections. */
async function startFrontends(
  options: WebSocketFrontendOptions = {},
  hubOptions: Partial<HubOptions> = {},
): Promise<Frontends> {
  const hub = new Hub({ nodeId: "w1", rateBurst: 0, ...hubOptions });
  const limits = options.limits ?? new ConnectionLimits();
  const web = new WebSocketFrontend(hub, silentLogger, { ...options, limits });
  const server = await HttpServer.start({
    health: () => healthBody("w1", 0),
    ready: () => readyBody({ node: "w1", stopping: false, restoreMs: 0, mesh: undefined }),
    metrics: () => "",
    webSocket: web.handler,
  }, { hostname: "127.0.0.1", port: 0, logger: silentLogger });
  const { webOrigins: _, ...protocol } = options;
  const tcp = new ClientListener(
    hub,
    Deno.listen({ hostname: "127.0.0.1", port: 0 }),
    silentLogger,
    { ...protocol, limits },
  );
  const serving = tcp.serve();
  return {
    hub,
    web,
    url: `ws://127.0.0.1:${server.addr.port}/ws`,
    httpPort: server.addr.port,
    tcpPort: tcp.addr.port,
    async stop() {
      hub.shutdown("test over");
      await Promise.all([web.close(), tcp.close()]);
      await serving;
      await server.close();
    },
  };
}

/**
 * A frame without what differs between two runs of the same input: times,
 * and where a JSON error is (TCP counts bytes from the start of the
 * connection, a WebSocket from the start of the message).
 */
function comparable(frame: Frame): unknown {
  return JSON.parse(
    JSON.stringify(
      frame,
      (key, value) =>
        key === "time"
          ? 0
          : key === "message" && frame.code === "bad_json"
          ? String(value).replace(/at byte \d+/, "at byte N")
          : value,
    ),
  );
}

/** What one client sends in the comparison below, frame by frame (strings go as is). */
const SCRIPT: readonly unknown[] = [
  { t: "say", text: "before hello", cid: "0" },
  "not json",
  '{"t":"say","text":}',
  { t: "nope" },
  ["t", "hello"],
  { t: "hello", v: 2, user: "pat" },
  { t: "hello", v: 1, user: "bad nick!" },
  { t: "hello", v: 1, user: "pat", room: "same", history: 3 },
  { t: "hello", v: 1, user: "pat" },
  { t: "say", text: "hello", cid: "1" },
  { t: "say", text: "   ", cid: "2" },
  { t: "say", text: "x".repeat(4001), cid: "3" },
  { t: "cmd", line: "/nosuch" },
  { t: "cmd", line: "topic a topic", cid: "4" },
  { t: "cmd", line: "/msg nobody hi" },
  { t: "say", sealed: "AQEH", cid: "5" },
  { t: "ping" },
];

async function run(script: readonly unknown[], send: (text: string) => Promise<void>) {
  for (const frame of script) await send(typeof frame === "string" ? frame : JSON.stringify(frame));
}

Deno.test("the same input gives the same frames over a WebSocket as over TCP", async () => {
  const seen: Record<string, unknown[]> = {};
  for (const transport of ["tcp", "web"]) {
    // A hub each, so that both start from the same state.
    const frontends = await startFrontends();
    try {
      if (transport === "tcp") {
        const client = await RawClient.connect(frontends.tcpPort);
        await run(SCRIPT, (text) => client.sendRaw(text + "\n"));
        await client.next((f) => f.t === "pong");
        seen[transport] = client.frames.map(comparable);
        client.close();
      } else {
        const client = await WsClient.connect(frontends.url);
        await run(SCRIPT, (text) => Promise.resolve(client.sendRaw(text)));
        await client.next((f) => f.t === "pong");
        seen[transport] = client.frames.map(comparable);
        client.close();
      }
    } finally {
      await frontends.stop();
    }
  }
  assert.ok(seen.tcp!.length >= SCRIPT.length, JSON.stringify(seen.tcp));
  assert.deepEqual(seen.web, seen.tcp);
});

Deno.test("a WebSocket session is a web guest, in the same rooms as TCP sessions", async () => {
  const frontends = await startFrontends();
  try {
    const web = await WsClient.join(frontends.url, "wendy", "mixed");
    const tcp = await RawClient.join(frontends.tcpPort, "terry", "mixed");
    web.send({ t: "say", text: "from the browser", cid: "w1" });
    const heard = await tcp.next((f) => f.t === "msg" && f.text === "from the browser");
    const ack = await web.next((f) => f.t === "ack" && f.cid === "w1");
    assert.equal(heard.id, ack.id);
    await tcp.send({ t: "say", room: "mixed", text: "from the terminal" });
    await web.next((f) => f.t === "msg" && f.text === "from the terminal");
    web.send({ t: "cmd", line: "/whois wendy" });
    const whois = await web.next((f) => f.t === "info" && f.cmd === "whois");
    assert.equal((whois.data as { via: string }).via, "web");
    assert.match(JSON.stringify(whois.lines), /not registered/);
    tcp.close();
    web.send({ t: "cmd", line: "/quit" });
    assert.equal((await web.next((f) => f.t === "bye")).reason, "quit");
    assert.deepEqual(await web.closed, { code: 1000, reason: "quit" });
  } finally {
    await frontends.stop();
  }
});

Deno.test("a page from another origin is refused with 403 before the upgrade", async () => {
  const frontends = await startFrontends({ webOrigins: ["https://chat.example.com"] });
  const own = `127.0.0.1:${frontends.httpPort}`;
  try {
    const allowed = [undefined, `http://${own}`, `https://${own}`, "https://chat.example.com"];
    for (const origin of allowed) {
      const client = await WsClient.connect(frontends.url, { origin });
      client.close();
      await client.closed;
    }
    const refused = [
      "https://evil.example",
      `http://localhost:${frontends.httpPort}`,
      "http://127.0.0.1",
      "https://chat.example.com:8443",
      "null",
      "chrome-extension://abc",
    ];
    for (const origin of refused) {
      await assert.rejects(() => WsClient.connect(frontends.url, { origin }), /403/, origin);
    }
    const answer = await handshakeAnswer(frontends.httpPort, { Origin: "https://evil.example" });
    assert.match(answer, /^HTTP\/1\.1 403/);
    assert.match(answer, /opens only from the node's own pages/);
    assert.equal(frontends.web.connections, 0);
    const plain = await fetch(frontends.url.replace("ws:", "http:"));
    assert.equal(plain.status, 426);
    await plain.body?.cancel();
  } finally {
    await frontends.stop();
  }
});

Deno.test("webOrigin() keeps an http(s) origin as URL.origin writes it, and refuses anything else", () => {
  assert.equal(webOrigin("https://Chat.Example.com:443/"), "https://chat.example.com");
  assert.equal(webOrigin("http://10.0.0.1:8090"), "http://10.0.0.1:8090");
  for (const bad of ["chat.example.com", "ftp://x", "https://x/chat", "https://u@x", "null"]) {
    assert.throws(() => webOrigin(bad), RangeError, bad);
  }
});

Deno.test("a binary message or one over the size limit is told why and closed", async () => {
  const frontends = await startFrontends({ maxLineBytes: 1024 });
  try {
    const binary = await WsClient.join(frontends.url, "bin");
    binary.sendRaw(new Uint8Array([0x7b, 0x7d]));
    assert.match(String((await binary.error("bad_frame")).message), /binary messages/);
    assert.deepEqual(await binary.closed, { code: 1003, reason: "bad_frame" });

    const big = await WsClient.join(frontends.url, "big");
    big.send({ t: "say", text: "y".repeat(2000) });
    const error = await big.error("line_too_long");
    assert.match(String(error.message), /message of \d+ bytes exceeds maximum 1024/);
    assert.deepEqual(await big.closed, { code: 1009, reason: "line_too_long" });
  } finally {
    await frontends.stop();
  }
});

Deno.test("attack: pings from a peer that never reads cannot fill the node's memory with pongs", async () => {
  const frontends = await startFrontends({
    maxQueueBytes: 65536,
    maxBytesPerMinute: 0,
    closeGraceMs: 100,
  });
  const conn = await joinAndStopReading(frontends.httpPort, { t: "hello", v: 1, user: "pinger" });
  try {
    const ping = clientFrame(new Uint8Array(125), 0x9);
    const burst = new Uint8Array(ping.length * 1000);
    for (let i = 0; i < 1000; i++) burst.set(ping, i * ping.length);
    // 32 MB of pings, past what loopback's buffers hold: the node's own buffer must grow or refuse.
    for (let sent = 0; sent < 32 << 20 && frontends.web.connections > 0; sent += burst.length) {
      await writeAll(conn, burst).catch(() => {});
    }
    await waitFor(() => frontends.web.connections === 0, "the pinger is cut off", {
      timeoutMs: 5000,
    });
  } finally {
    conn.close();
    await frontends.stop();
  }
});

Deno.test("a WebSocket has the TCP port's limits: rate, hello deadline, bytes per minute", async () => {
  const frontends = await startFrontends(
    { helloTimeoutMs: 200, maxBytesPerMinute: 65536 },
    { rateBurst: 2, ratePerSecond: 0.01 },
  );
  try {
    const chatty = await WsClient.join(frontends.url, "chatty");
    for (let i = 0; i < 4; i++) chatty.send({ t: "say", text: `line ${i}`, cid: `c${i}` });
    const limited = await chatty.error("rate_limited");
    assert.equal(limited.cid, "c2");
    chatty.close();

    const silent = await WsClient.connect(frontends.url);
    await silent.error("no_hello");
    assert.deepEqual(await silent.closed, { code: 1008, reason: "no_hello" });

    const flooder = await WsClient.join(frontends.url, "flooder");
    const ping = JSON.stringify({ t: "ping", pad: "x".repeat(1000) });
    for (let i = 0; i < 100; i++) flooder.sendRaw(ping);
    assert.match(
      String((await flooder.error("flood")).message),
      /more than 65536 bytes sent per minute/,
    );
    assert.deepEqual(await flooder.closed, { code: 1008, reason: "flood" });
  } finally {
    await frontends.stop();
  }
});

Deno.test("a WebSocket that sends nothing for the idle timeout is dropped", async () => {
  const frontends = await startFrontends({ idleTimeoutMs: 300 });
  try {
    const quiet = await WsClient.join(frontends.url, "quiet");
    assert.match(String((await quiet.error("idle_timeout")).message), /nothing received/);
    assert.deepEqual(await quiet.closed, { code: 1008, reason: "idle_timeout" });
  } finally {
    await frontends.stop();
  }
});

Deno.test("WebSockets and TCP share the per-address limit; a refusal is 429 with the error frame", async () => {
  const frontends = await startFrontends({ limits: new ConnectionLimits({ maxPerAddress: 2 }) });
  try {
    const tcp = await RawClient.join(frontends.tcpPort, "t1");
    const web = await WsClient.join(frontends.url, "w1");
    await assert.rejects(() => WsClient.connect(frontends.url), /429/);
    const answer = await handshakeAnswer(frontends.httpPort);
    assert.match(answer, /^HTTP\/1\.1 429/);
    const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
    assert.equal(body.code, "too_many_connections");
    assert.match(body.message, /127\.0\.0\.1 already has 2 connections \(limit 2\)/);
    const third = await RawClient.connect(frontends.tcpPort);
    await third.error("too_many_connections");
    web.close();
    await web.closed;
    // The slot is free once the socket is closed.
    const again = await waitForAdmission(frontends.url);
    again.close();
    tcp.close();
    third.close();
  } finally {
    await frontends.stop();
  }
});

/** Connects once the frontend has seen the last socket close (it releases its slot then). */
async function waitForAdmission(url: string): Promise<WsClient> {
  for (let attempt = 0;; attempt++) {
    try {
      return await WsClient.connect(url);
    } catch (error) {
      if (attempt >= 50 || !/429/.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

Deno.test("WebSocketFrontend.close() tells every socket the node is going (1001) and refuses new ones", async () => {
  const frontends = await startFrontends();
  let stopped = false;
  try {
    const client = await WsClient.join(frontends.url, "leaver");
    await frontends.web.close();
    assert.deepEqual(await client.closed, { code: 1001, reason: "shutdown" });
    await assert.rejects(() => WsClient.connect(frontends.url), /503/);
    await frontends.stop();
    stopped = true;
  } finally {
    if (!stopped) await frontends.stop();
  }
});
