/**
 * The interactive terminal client (client/main.ts `runClient` on a
 * scripted terminal) against a real node process.
 */
import assert from "node:assert/strict";
import { runClient } from "../client/main.ts";
import { FakeTerminal } from "./helpers/fake_terminal.ts";
import { type NodeProcess, startNodeProcess } from "./helpers/node_process.ts";
import { RawClient } from "./helpers/raw_client.ts";

/** SGR sequences: colours, bold, dim. */
const SGR = /\x1b\[[0-9;]*m/;

/** What {@linkcode withNode} gives a test. */
interface NodeFixture {
  readonly node: NodeProcess;
  /** A settings folder of the test's own. */
  readonly settings: string;
  /** Joins bob to #lobby over raw TCP (closed after the test). */
  joinBob(): Promise<RawClient>;
}

/** Runs `test` with a node and a settings folder of its own; stops, closes and removes them after. */
async function withNode(id: string, test: (fixture: NodeFixture) => Promise<void>): Promise<void> {
  const node = await startNodeProcess({ id });
  const clients: RawClient[] = [];
  const root = `${Deno.cwd()}/data/tmp/settings-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await test({
      node,
      settings: `${root}/meshchat`,
      async joinBob() {
        clients.push(await RawClient.join(node.port, "bob"));
        return clients.at(-1)!;
      },
    });
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
    for (const client of clients) client.close();
    await node.stop();
  }
}

/**
 * Runs the interactive client as alice on the fixture's node.
 *
 * @param fixture From {@linkcode withNode}.
 * @param flags More flags.
 * @param terminal The terminal. @default 80×24
 * @returns The terminal, and the run (its exit code).
 */
function startAlice(
  fixture: NodeFixture,
  flags: string[],
  terminal = new FakeTerminal(80, 24),
): { terminal: FakeTerminal; running: Promise<number> } {
  const args = ["-server", `127.0.0.1:${fixture.node.port}`, "-user", "alice", ...flags];
  return { terminal, running: runClient(args, { terminal, settingsDirectory: fixture.settings }) };
}

Deno.test("the interactive client's /theme mono and /timestamp off change what it shows, and last", async () => {
  await withNode("tty-theme", async (fixture) => {
    const bob = await fixture.joinBob();
    const { terminal: first, running } = startAlice(fixture, ["-history", "0"]);
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
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${fixture.settings}/settings.json`)), {
      theme: "mono",
      timestamps: false,
    });

    // A new run of the client: what was chosen holds from the first line.
    const { terminal: second, running: again } = startAlice(fixture, ["-history", "0"]);
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
});

Deno.test("the interactive client redraws the screen after a resize: no stale input line", async () => {
  await withNode("tty-resize", async ({ node, settings, joinBob }) => {
    const bob = await joinBob();
    const terminal = new FakeTerminal(60, 12, true);
    const running = runClient(
      ["-server", `127.0.0.1:${node.port}`, "-user", "narrow", "--no-color", "--no-timestamps"],
      { terminal, settingsDirectory: settings },
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
});

Deno.test("the interactive client tells in order what happens when its node goes away", async () => {
  await withNode("tty-lost", async (fixture) => {
    const address = `127.0.0.1:${fixture.node.port}`;
    const { terminal, running } = startAlice(
      fixture,
      ["--no-color", "--no-timestamps", "-reconnect", "2"],
      new FakeTerminal(120, 30),
    );
    await terminal.waitFor(/Now in #lobby/);
    await fixture.node.stop();
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
});

Deno.test("the interactive client's /quit MESSAGE reaches the room", async () => {
  await withNode("tty-quit", async (fixture) => {
    const bob = await fixture.joinBob();
    const { terminal, running } = startAlice(fixture, ["-history", "0"]);
    await terminal.waitFor(/Now in #lobby/);
    terminal.type("/quit see you tomorrow\r");
    assert.equal(await running, 0);
    const leave = await bob.next((f) => f.t === "msg" && f.kind === "leave" && f.from === "alice");
    assert.match(String(leave.text), /see you tomorrow/);
  });
});

Deno.test("the interactive client's /help lists each command once, in one table", async () => {
  await withNode("tty-help", async (fixture) => {
    const { terminal, running } = startAlice(
      fixture,
      ["--no-color", "-history", "0"],
      new FakeTerminal(140, 60),
    );
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
});

Deno.test("the interactive client's /quit MESSAGE ends with the person's own leave line", async () => {
  await withNode("tty-quit-end", async (fixture) => {
    const flags = ["-history", "0", "--no-color", "--no-timestamps"];
    const { terminal, running } = startAlice(fixture, flags);
    await terminal.waitFor(/Now in #lobby/);
    terminal.type("/quit see you tomorrow\r");
    assert.equal(await running, 0);
    const screen = terminal.screen.screen().filter((line) => line.trim() !== "");
    // It said "Disconnected: quit" first, then the leave line: backwards, and jargon.
    assert.ok(!screen.some((line) => line.startsWith("Disconnected")), screen.join("\n"));
    assert.equal(screen.at(-1), "← alice left #lobby (see you tomorrow)", screen.join("\n"));
  });
});

Deno.test("the interactive client draws SSH's screen: nick-coloured prompt, a bell on a mention, /nick told", async () => {
  await withNode("tty-shared", async (fixture) => {
    const bob = await fixture.joinBob();
    const { terminal, running } = startAlice(fixture, ["-history", "0"]);
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
});
