/**
 * The real terminal client (client/main.ts) in line mode against a real node.
 */
import assert from "node:assert/strict";
import { ClientProcess } from "./helpers/client_process.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { freePort, type NodeProcess, startNodeProcess } from "./helpers/node_process.ts";
import { settingsPermissions, withConfigHome } from "./helpers/config_home.ts";

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
    `meshchat: Cannot connect to 127.0.0.1:${port}: connection refused`,
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

/** A settings directory under ./data (the tests may write there), removed afterwards. */
async function sayAs(port: number, user: string, texts: string[]): Promise<void> {
  const speaker = await RawClient.join(port, user);
  for (const [i, text] of texts.entries()) {
    await speaker.send({ t: "say", text, cid: `c${i}` });
    await speaker.next((f) => f.t === "ack" && f.cid === `c${i}`);
  }
  speaker.close();
}

Deno.test("client/main.ts -history 0 joins without replaying earlier messages", async () => {
  const node = await startNodeProcess({ id: "cli-hist" });
  try {
    await sayAs(node.port, "carol", ["old one", "old two"]);
    const server = ["-server", `127.0.0.1:${node.port}`, "--no-timestamps"];
    const replayed = await runClient([...server, "-user", "bot1"], "");
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.match(replayed.stdout, /^<carol> old two$/m, "without the flag history is shown");
    const quiet = await runClient([...server, "-user", "bot2", "-history", "0"], "");
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stdout, /old (one|two)/);
    assert.match(quiet.stdout, /^Now in #lobby$/m);
    const one = await runClient([...server, "-user", "bot3", "-history", "1"], "");
    assert.doesNotMatch(one.stdout, /old one/);
    assert.match(one.stdout, /^<carol> old two$/m);
    const bad = await runClient([...server, "-user", "bot4", "-history", "501"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Invalid value for --history: "501" is not a number from 0 to 500/);
  } finally {
    await node.stop();
  }
});

Deno.test("client/main.ts keeps /timestamp, /tz and /ignore across restarts in its settings file", async () => {
  const node = await startNodeProcess({ id: "cli-set" });
  try {
    await withConfigHome(async (home) => {
      const options = {
        permissions: settingsPermissions(home),
        env: { XDG_CONFIG_HOME: home },
        noTimestamps: false,
      };
      const server = ["-server", `127.0.0.1:${node.port}`, "-user", "bot", "-history", "0"];
      const first = new ClientProcess(server, options);
      try {
        await first.waitFor(/^Now in #lobby$/m);
        await first.line("stamped line");
        await first.waitFor(/^\d\d:\d\d <bot> stamped line$/m);
        await first.line("/timestamp off");
        await first.waitFor(/^Timestamps: off$/m);
        await first.line("bare line");
        await first.waitFor(/^<bot> bare line$/m);
        await first.line("/tz Asia/Kathmandu");
        await first.waitFor(/^Time zone: Asia\/Kathmandu$/m);
        await first.line("/ignore carol");
        await first.waitFor(/^Ignoring carol/m);
        assert.equal(await first.end(), 0, first.stderr);
      } finally {
        first.kill();
      }
      const dir = `${home}/meshchat`;
      assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
      assert.equal((await Deno.stat(`${dir}/settings.json`)).mode! & 0o777, 0o600);
      assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/settings.json`)), {
        timestamps: false,
        timeZone: "Asia/Kathmandu",
        ignored: ["carol"],
      });

      const second = new ClientProcess(server, options);
      try {
        await second.waitFor(/^Now in #lobby$/m);
        await sayAs(node.port, "carol", ["you should not see this"]);
        await sayAs(node.port, "dave", ["you should see this"]);
        await second.waitFor(/^<dave> you should see this$/m);
        await second.line("/timestamp on");
        await second.line("after restart");
        await second.waitFor(/<bot> after restart$/m);
        assert.equal(await second.end(), 0, second.stderr);
      } finally {
        second.kill();
      }
      assert.doesNotMatch(second.stdout, /you should not see this/);
      // Kathmandu is UTC+05:45: no other zone gives these minutes.
      const stamp = /^(\d\d):(\d\d) <bot> after restart$/m.exec(second.stdout);
      assert.ok(stamp, second.stdout);
      const utcMinutes = new Date().getUTCHours() * 60 + new Date().getUTCMinutes();
      const shown = Number(stamp[1]) * 60 + Number(stamp[2]);
      const offset = (shown - utcMinutes + 1440) % 1440;
      assert.ok(Math.abs(offset - 345) <= 1, `offset ${offset} minutes, expected 345`);
    });
  } finally {
    await node.stop();
  }
});

Deno.test("client/main.ts starts with defaults and one warning when its settings file is corrupt", async () => {
  const node = await startNodeProcess({ id: "cli-bad" });
  try {
    await withConfigHome(async (home) => {
      await Deno.mkdir(`${home}/meshchat`, { recursive: true });
      await Deno.writeTextFile(`${home}/meshchat/settings.json`, "{ not json");
      const run = new ClientProcess(
        ["-server", `127.0.0.1:${node.port}`, "-user", "bot", "-history", "0"],
        { permissions: settingsPermissions(home), env: { XDG_CONFIG_HOME: home } },
      );
      try {
        await run.waitFor(/^Now in #lobby$/m);
        assert.equal(await run.end(), 0, run.stderr);
      } finally {
        run.kill();
      }
      // One warning (the first run also says it made the identity key).
      const warnings = run.stderr.trim().split("\n").filter((line) =>
        !line.includes("made your identity key")
      );
      assert.deepEqual(warnings, [
        `meshchat: Settings ${home}/meshchat/settings.json not fully used: it is not valid JSON`,
      ]);
    });
  } finally {
    await node.stop();
  }
});

Deno.test("client/main.ts says once that settings are not saved when it may not write them", async () => {
  const node = await startNodeProcess({ id: "cli-noperm" });
  try {
    const run = new ClientProcess(["-server", `127.0.0.1:${node.port}`, "-user", "bot"]);
    try {
      await run.waitFor(/^Now in #lobby$/m);
      await run.line("/timestamp off");
      await run.line("/ignore carol");
      await run.waitFor(/^Ignoring carol/m);
      assert.equal(await run.end(), 0, run.stderr);
    } finally {
      run.kill();
    }
    const warnings = run.stderr.trim().split("\n");
    assert.equal(warnings.length, 1, run.stderr);
    assert.match(
      warnings[0]!,
      /^Settings are not saved \(no permission\): run with deno task client, or --allow-env=/,
    );
  } finally {
    await node.stop();
  }
});

Deno.test("client/main.ts in line mode tells in order what happens when its node goes away", async () => {
  const node = await startNodeProcess({ id: "cli-lost" });
  const address = `127.0.0.1:${node.port}`;
  const client = new ClientProcess(["-server", address, "-user", "bot", "-reconnect", "3"]);
  try {
    await client.waitFor(/^Now in #lobby$/m);
    await node.stop();
    await client.waitFor(/Reconnecting/, "stderr");
    await client.line("typed while away");
    assert.equal(await client.done, 1);
    assert.equal(
      client.stderr,
      [
        `Connection to ${address} lost: node shutting down`,
        `Reconnecting to ${address} for up to 3 s…`,
        `Not connected: #lobby "typed while away" waits to be resent`,
        `meshchat: Connection to ${address} lost (node shutting down): no node answered within 3 s; 1 line not sent`,
        "",
      ].join("\n"),
    );
    assert.doesNotMatch(client.stdout, /Disconnected/);
  } finally {
    client.kill();
    await node.stop();
  }
});

Deno.test("client/main.ts resends the lines typed while away once another node answers", async () => {
  const first = await startNodeProcess({ id: "cli-away-a" });
  const spare = freePort();
  const servers = `127.0.0.1:${first.port},127.0.0.1:${spare}`;
  const client = new ClientProcess(["-server", servers, "-user", "bot", "-history", "0"]);
  let second: NodeProcess | undefined;
  try {
    await client.waitFor(/^Now in #lobby$/m);
    await first.stop();
    await client.waitFor(/Reconnecting/, "stderr");
    await client.line("typed while away");
    await client.waitFor(/waits to be resent/, "stderr");
    second = await startNodeProcess({ id: "cli-away-b", args: ["--port", String(spare)] });
    await client.waitFor(/^Reconnected to 127\.0\.0\.1:\d+; resending 1 line$/m);
    await client.waitFor(/^<bot> typed while away$/m);
    assert.equal(await client.end(), 0, client.stderr);
    assert.equal(
      client.stderr,
      [
        `Connection to 127.0.0.1:${first.port} lost: node shutting down`,
        `Reconnecting to ${servers.replace(",", ", ")} for up to 30 s…`,
        `Not connected: #lobby "typed while away" waits to be resent`,
        "",
      ].join("\n"),
    );
  } finally {
    client.kill();
    await first.stop();
    await second?.stop();
  }
});

Deno.test("client/main.ts ends with one clear line when its node is killed and none answers", async () => {
  const node = await startNodeProcess({ id: "cli-killed" });
  const address = `127.0.0.1:${node.port}`;
  const client = new ClientProcess(["-server", address, "-user", "bot", "-reconnect", "1"]);
  try {
    await client.waitFor(/^Now in #lobby$/m);
    await node.stop("SIGKILL");
    assert.equal(await client.done, 1);
    assert.equal(
      client.stderr,
      [
        `Connection to ${address} lost`,
        `Reconnecting to ${address} for up to 1 s…`,
        `meshchat: Connection to ${address} lost: no node answered within 1 s`,
        "",
      ].join("\n"),
    );
  } finally {
    client.kill();
    await node.stop();
  }
});

Deno.test("client/main.ts --help says how settings are kept, as it happens", async () => {
  const help = await runClient(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task client -server HOST:PORT -user NICK/);
  // The client never prompts for env, read or write: saying it "asks for" them was untrue.
  assert.doesNotMatch(help.stdout, /asks for\.?$/m);
  assert.match(
    help.stdout,
    /a plain deno run asks for the network only, and keeps them for the session/,
  );
});

Deno.test("client/main.ts takes a -server that is not HOST:PORT as a flag mistake (exit 2)", async () => {
  for (const server of ["localhost", "foo:bar", ","]) {
    const run = await runClient(["-server", server, "-user", "alice"]);
    assert.equal(run.code, 2, `${server}: ${run.stderr}`);
    assert.match(run.stderr, /^meshchat: (Invalid server address|Missing -server)/, run.stderr);
  }
});

Deno.test("client/main.ts pointed at a port that is not a node's says so and exits 1, silent or not", async () => {
  // One holds the connection and says nothing; one answers like an SSH server and closes.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const ssh = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const serving = Promise.all([
    (async () => {
      for await (const conn of silent) held.push(conn);
    })(),
    (async () => {
      for await (const conn of ssh) {
        await conn.write(new TextEncoder().encode("SSH-2.0-test\r\n")).catch(() => {});
        conn.close();
      }
    })(),
  ]);
  try {
    const quiet = await runClient(["-server", `127.0.0.1:${silent.addr.port}`, "-user", "alice"]);
    assert.equal(quiet.code, 1, quiet.stderr);
    assert.match(
      quiet.stderr,
      /^meshchat: No answer from 127\.0\.0\.1:\d+ within 5 s: is it a meshchat node's client port\?/,
    );
    const wrong = await runClient(["-server", `127.0.0.1:${ssh.addr.port}`, "-user", "alice"]);
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stderr, /closed before welcome: is it a meshchat node's client port\?/);
  } finally {
    for (const conn of held) conn.close();
    silent.close();
    ssh.close();
    await serving.catch(() => {});
  }
});
