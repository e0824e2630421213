/**
 * The real terminal client (client/main.ts) in line mode against a real node.
 */
import assert from "node:assert/strict";
import { RawClient } from "./helpers/raw_client.ts";
import { startNodeProcess } from "./helpers/node_process.ts";

interface ClientRun {
  code: number;
  stdout: string;
  stderr: string;
}

async function runClient(args: string[], input = ""): Promise<ClientRun> {
  const child = new Deno.Command("deno", {
    args: ["run", "-P=client", "--quiet", "client/main.ts", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const out = await child.output();
  clearTimeout(timer);
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("client/main.ts in line mode sends each stdin line and prints events as plain lines", async () => {
  const node = await startNodeProcess({ id: "cli" });
  try {
    const watcher = await RawClient.join(node.port, "watcher");
    const lines = Array.from({ length: 15 }, (_, i) => `scripted line ${i}`);
    const run = await runClient(
      ["-server", `127.0.0.1:${node.port}`, "-user", "bot", "--no-timestamps"],
      [...lines, "/me waves", ""].join("\n"),
    );
    assert.equal(run.code, 0, run.stderr);
    // 15 lines exceed the default burst of 10: the client waits and resends, nothing is lost.
    for (const line of lines) {
      await watcher.next((f) => f.t === "msg" && f.from === "bot" && f.text === line);
    }
    await watcher.next((f) => f.t === "msg" && f.kind === "action" && f.text === "waves");
    assert.match(run.stdout, /^<bot> scripted line 0$/m);
    assert.doesNotMatch(run.stdout, /\x1b/, "no escape codes in line mode");
    assert.equal(run.stderr.trim(), "");
    watcher.close();
  } finally {
    await node.stop();
  }
});

Deno.test("client/main.ts reports an unreachable server in one line and exits 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const run = await runClient(["-server", `127.0.0.1:${port}`, "-user", "alice"]);
  assert.equal(run.code, 1);
  assert.equal(
    run.stderr.trim(),
    `meshchat: cannot connect to 127.0.0.1:${port}: connection refused`,
  );
});

Deno.test("client/main.ts explains flag mistakes and a taken nick", async () => {
  const missing = await runClient(["-server", "127.0.0.1:9"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /Missing -user NICK/);
  const unknown = await runClient(["-bogus", "1"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown flag -bogus/);
  const help = await runClient(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--server HOST:PORT/);
  const node = await startNodeProcess({ id: "cli2" });
  try {
    const holder = await RawClient.join(node.port, "alice");
    const taken = await runClient(["-server", `127.0.0.1:${node.port}`, "-user", "ALICE"]);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /refused to let you in: Nick ALICE is taken/);
    holder.close();
  } finally {
    await node.stop();
  }
});
