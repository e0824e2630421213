/**
 * The interactive terminal client (client/main.ts `runClient` on a
 * scripted terminal) against a real node process.
 */
import assert from "node:assert/strict";
import { runClient } from "../client/main.ts";
import { FakeTerminal } from "./helpers/fake_terminal.ts";
import { startNodeProcess } from "./helpers/node_process.ts";
import { RawClient } from "./helpers/raw_client.ts";

/** SGR sequences: colours, bold, dim. */
const SGR = /\x1b\[[0-9;]*m/;

async function withSettingsDirectory(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = `${Deno.cwd()}/data/tmp/settings-${crypto.randomUUID().slice(0, 8)}/meshchat`;
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir.replace(/\/meshchat$/, ""), { recursive: true }).catch(() => {});
  }
}

Deno.test("the interactive client's /theme mono and /timestamp off change what it shows, and last", async () => {
  const node = await startNodeProcess({ id: "tty-theme" });
  const bob = await RawClient.join(node.port, "bob");
  try {
    await withSettingsDirectory(async (dir) => {
      const args = ["-server", `127.0.0.1:${node.port}`, "-user", "alice", "-history", "0"];
      const first = new FakeTerminal(80, 24);
      const running = runClient(args, { terminal: first, settingsDirectory: dir });
      await first.waitFor(/Now in #lobby/);
      await bob.send({ t: "say", text: "in colour", cid: "b1" });
      await first.waitFor(/in colour/);
      assert.match(
        first.output,
        /\x1b\[2m\d\d:\d\d\x1b\[22m <\x1b\[[0-9;]*mbob/,
        JSON.stringify(first.output),
      );

      first.type("/theme mono\r");
      await first.waitFor(/Theme: mono/);
      first.type("/timestamp off\r");
      let mark = first.output.length;
      await first.waitFor(/Timestamps: off/, mark);
      mark = first.output.length;
      await bob.send({ t: "say", text: "plain now", cid: "b2" });
      await first.waitFor(/plain now/, mark);
      const after = first.output.slice(mark);
      assert.doesNotMatch(after, SGR, `colour codes after /theme mono: ${JSON.stringify(after)}`);
      assert.match(first.screen.screen().join("\n"), /^<bob> plain now$/m);
      first.type("/quit\r");
      assert.equal(await running, 0);
      assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/settings.json`)), {
        theme: "mono",
        timestamps: false,
      });

      // A new run of the client: what was chosen holds from the first line.
      const second = new FakeTerminal(80, 24);
      const again = runClient(args, { terminal: second, settingsDirectory: dir });
      await second.waitFor(/Now in #lobby/);
      await bob.send({ t: "say", text: "after restart", cid: "b3" });
      await second.waitFor(/after restart/);
      assert.doesNotMatch(second.output, SGR);
      assert.match(second.screen.screen().join("\n"), /^<bob> after restart$/m);
      second.type("/theme color\r");
      await second.waitFor(/Theme: color/);
      const mark2 = second.output.length;
      await bob.send({ t: "say", text: "colour again", cid: "b4" });
      await second.waitFor(/colour again/, mark2);
      assert.match(second.output.slice(mark2), SGR);
      second.type("/quit\r");
      assert.equal(await again, 0);
    });
  } finally {
    bob.close();
    await node.stop();
  }
});

Deno.test("the interactive client redraws the screen after a resize: no stale input line", async () => {
  const node = await startNodeProcess({ id: "tty-resize" });
  const bob = await RawClient.join(node.port, "bob");
  try {
    await withSettingsDirectory(async (dir) => {
      const terminal = new FakeTerminal(60, 12, true);
      const running = runClient(
        ["-server", `127.0.0.1:${node.port}`, "-user", "narrow", "--no-color", "--no-timestamps"],
        { terminal, settingsDirectory: dir },
      );
      await terminal.waitFor(/Now in #lobby/);
      terminal.type("x".repeat(30));
      await terminal.waitFor(/x{30}/);
      // Most terminals reflow what they show when they narrow; the client
      // cannot tell, and must look right either way.
      terminal.resize(20);
      const mark = terminal.output.length;
      await bob.send({ t: "say", text: "after", cid: "b1" });
      await terminal.waitFor(/after[^]*x{7}/, mark);
      const screen = terminal.screen.visible();
      assert.equal(screen.join("").replace(/[^x]/g, "").length, 30, screen.join("\n"));
      assert.match(screen.at(-4) ?? "", /<bob> after$/);
      assert.deepEqual(screen.slice(-3), ["[#lobby] narrow> xxx", "x".repeat(20), "x".repeat(7)]);
      terminal.type("\x15/quit\r");
      assert.equal(await running, 0);
    });
  } finally {
    bob.close();
    await node.stop();
  }
});

Deno.test("the interactive client tells in order what happens when its node goes away", async () => {
  const node = await startNodeProcess({ id: "tty-lost" });
  const address = `127.0.0.1:${node.port}`;
  try {
    await withSettingsDirectory(async (dir) => {
      const terminal = new FakeTerminal(120, 30);
      const running = runClient(
        ["-server", address, "-user", "alice", "--no-color", "--no-timestamps", "-reconnect", "2"],
        { terminal, settingsDirectory: dir },
      );
      await terminal.waitFor(/Now in #lobby/);
      await node.stop();
      await terminal.waitFor(/Reconnecting/);
      terminal.type("typed while away\r");
      assert.equal(await running, 1);
      const screen = terminal.screen.screen();
      const from = screen.findIndex((line) => line.startsWith("Connection to"));
      assert.deepEqual(screen.slice(from), [
        `Connection to ${address} lost: node shutting down`,
        `Reconnecting to ${address} for up to 2 s…`,
        `Not connected: #lobby "typed while away" waits to be resent`,
        `Connection to ${address} lost (node shutting down): no node answered within 2 s; 1 line not sent`,
      ]);
      assert.ok(!screen.some((line) => line.startsWith("Disconnected")), screen.join("\n"));
    });
  } finally {
    await node.stop();
  }
});

Deno.test("the interactive client's /quit MESSAGE reaches the room", async () => {
  const node = await startNodeProcess({ id: "tty-quit" });
  const bob = await RawClient.join(node.port, "bob");
  try {
    await withSettingsDirectory(async (dir) => {
      const args = ["-server", `127.0.0.1:${node.port}`, "-user", "alice", "-history", "0"];
      const terminal = new FakeTerminal(80, 24);
      const running = runClient(args, { terminal, settingsDirectory: dir });
      await terminal.waitFor(/Now in #lobby/);
      terminal.type("/quit see you tomorrow\r");
      assert.equal(await running, 0);
      const leave = await bob.next((f) =>
        f.t === "msg" && f.kind === "leave" && f.from === "alice"
      );
      assert.match(String(leave.text), /see you tomorrow/);
    });
  } finally {
    bob.close();
    await node.stop();
  }
});

Deno.test("the interactive client's /help lists each command once, in one table", async () => {
  const node = await startNodeProcess({ id: "tty-help" });
  try {
    await withSettingsDirectory(async (dir) => {
      const args = ["-server", `127.0.0.1:${node.port}`, "-user", "alice", "--no-color"];
      const terminal = new FakeTerminal(140, 60);
      const running = runClient([...args, "-history", "0"], {
        terminal,
        settingsDirectory: dir,
      });
      await terminal.waitFor(/Now in #lobby/);
      terminal.type("/help\r");
      await terminal.waitFor(/\/unignore NICK/);
      await terminal.waitFor(/\/plain \[ROOM\]/);
      const screen = terminal.screen.screen();
      const table = screen.slice(screen.indexOf("Commands:") + 1).filter((l) => l.startsWith("/"));
      const words = table.map((l) => l.split(" ")[0]);
      for (const word of ["/seal", "/key", "/plain", "/theme", "/timestamp", "/tz", "/ignore"]) {
        assert.equal(words.filter((w) => w === word).length, 1, `${word}:\n${screen.join("\n")}`);
      }
      // The client's own entries, not the node's words for SSH sessions, and the same columns.
      assert.ok(!screen.some((l) => l.includes("(SSH sessions)")), screen.join("\n"));
      const column = (l: string) => /^\/\S+(?: \S+)*? {2,}/.exec(l)?.[0].length;
      assert.equal(new Set(table.map(column)).size, 1, table.join("\n"));
      assert.equal(words.at(-1), "/quit", table.join("\n"));
      terminal.type("/quit\r");
      assert.equal(await running, 0);
    });
  } finally {
    await node.stop();
  }
});

Deno.test("the interactive client's /quit MESSAGE ends with the person's own leave line", async () => {
  const node = await startNodeProcess({ id: "tty-quit-end" });
  try {
    await withSettingsDirectory(async (dir) => {
      const args = ["-server", `127.0.0.1:${node.port}`, "-user", "alice", "-history", "0"];
      const terminal = new FakeTerminal(80, 24);
      const running = runClient([...args, "--no-color", "--no-timestamps"], {
        terminal,
        settingsDirectory: dir,
      });
      await terminal.waitFor(/Now in #lobby/);
      terminal.type("/quit see you tomorrow\r");
      assert.equal(await running, 0);
      const screen = terminal.screen.screen().filter((line) => line.trim() !== "");
      // It said "Disconnected: quit" first, then the leave line: backwards, and jargon.
      assert.ok(!screen.some((line) => line.startsWith("Disconnected")), screen.join("\n"));
      assert.equal(screen.at(-1), "← alice left #lobby (see you tomorrow)", screen.join("\n"));
    });
  } finally {
    await node.stop();
  }
});

Deno.test("the interactive client draws SSH's screen: nick-coloured prompt, a bell on a mention, /nick told", async () => {
  const node = await startNodeProcess({ id: "tty-shared" });
  const bob = await RawClient.join(node.port, "bob");
  try {
    await withSettingsDirectory(async (dir) => {
      const args = ["-server", `127.0.0.1:${node.port}`, "-user", "alice", "-history", "0"];
      const terminal = new FakeTerminal(80, 24);
      const running = runClient(args, { terminal, settingsDirectory: dir });
      await terminal.waitFor(/\[#lobby\] \x1b\[38;5;\d+malice\x1b\[39m> /);
      let mark = terminal.output.length;
      await bob.send({ t: "say", text: "nobody in particular", cid: "b1" });
      await terminal.waitFor(/nobody in particular/, mark);
      assert.doesNotMatch(terminal.output.slice(mark), /\x07/);
      mark = terminal.output.length;
      await bob.send({ t: "say", text: "alice, look", cid: "b2" });
      await terminal.waitFor(/alice, look[^]*\x07/, mark);
      terminal.type("/nick alicia\r");
      await terminal.waitFor(/You are now alicia/);
      await terminal.waitFor(/\[#lobby\] \x1b\[38;5;\d+malicia\x1b\[39m> /);
      terminal.type("/quit\r");
      assert.equal(await running, 0);
    });
  } finally {
    bob.close();
    await node.stop();
  }
});
