import assert from "node:assert/strict";

import { Hub } from "../chat/hub.ts";
import { silentLogger } from "../logger.ts";
import { errorFrame, handleLine } from "./handle_line.ts";
import { RecordingSink } from "../../tests/helpers/chat_fixtures.ts";

function setup(rateBurst = 0) {
  // A clock that stands still: the rate limiter refills nothing between lines.
  const hub = new Hub({ nodeId: "n1", rateBurst, now: () => 1_000_000 });
  const sink = new RecordingSink();
  const session = hub.connect(sink, { user: "alice" }, { via: "test", address: "10.0.0.1:5" });
  sink.frames.length = 0;
  return { hub, sink, session };
}

Deno.test("handleLine() posts a message and returns its event", async () => {
  const { hub, sink, session } = setup();
  const outcome = await handleLine(session, "hello", { hub, logger: silentLogger, cid: "c1" });
  assert.ok(outcome.ok);
  assert.equal(outcome.event?.text, "hello");
  assert.deepEqual(sink.frames.map((f) => f.t), ["msg"]);
});

Deno.test("handleLine() sends a command's output to the session's sink as info frames", async () => {
  const { hub, sink, session } = setup();
  const outcome = await handleLine(session, "/who", { hub, logger: silentLogger });
  assert.deepEqual(outcome, { ok: true, event: undefined });
  const reply = sink.frames.at(-1);
  assert.equal(reply?.t === "info" && reply.cmd, "who");
});

Deno.test("handleLine() answers a refused line with an error frame carrying its cid", async () => {
  const { hub, sink, session } = setup();
  const outcome = await handleLine(session, "/nosuch", { hub, logger: silentLogger, cid: "c7" });
  const expected = {
    t: "error",
    code: "unknown_command",
    message: "Unknown command /nosuch: try /help",
    cid: "c7",
  };
  assert.deepEqual(outcome, { ok: false, error: expected });
  assert.deepEqual(sink.frames, [expected]);
});

Deno.test("handleLine() refuses a sealed line for a plain room", async () => {
  const { hub, sink, session } = setup();
  const line = { sealed: "AAAA", kind: "message" as const };
  const outcome = await handleLine(session, line, { hub, logger: silentLogger });
  assert.equal(!outcome.ok && outcome.error.code, "not_sealed");
  assert.equal(sink.frames.length, 1);
});

Deno.test("handleLine() says how many held-back lines a rate-limited line drops", async () => {
  const { hub, sink, session } = setup(1);
  const context = { hub, logger: silentLogger, pendingLines: 3 };
  assert.ok((await handleLine(session, "one", context)).ok);
  const outcome = await handleLine(session, "two", context);
  assert.equal(!outcome.ok && outcome.error.code, "rate_limited");
  assert.match(
    !outcome.ok ? outcome.error.message : "",
    /^Slow down: .* \(3 more lines not sent\)$/,
  );
  assert.deepEqual(sink.frames.at(-1), !outcome.ok && outcome.error);
});

Deno.test("errorFrame() logs an unexpected error and tells the person no details", () => {
  const logged: unknown[] = [];
  const logger = {
    ...silentLogger,
    error: (message: string, fields?: unknown) => logged.push([message, fields]),
  };
  const frame = errorFrame(new TypeError("secret detail"), {
    logger,
    address: "10.0.0.1:5",
    cid: "c1",
  });
  assert.deepEqual(frame, {
    t: "error",
    code: "server_error",
    message: "Internal error: request not processed",
    cid: "c1",
  });
  assert.deepEqual(logged, [[
    "request failed",
    { addr: "10.0.0.1:5", error: "TypeError: secret detail" },
  ]]);
});
