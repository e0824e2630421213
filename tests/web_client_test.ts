/**
 * The web client at `/` in real headless Chromium (tests/helpers/chromium.ts)
 * against real node processes: two pages and the terminal client in one
 * room, typed with the keyboard; a sealed room opened both ways between a
 * page and the terminal client; a page that loses its node and fails over
 * to the other node of a 2-node cluster behind one address, resending what
 * was not acknowledged. The first test writes a screenshot of the chat page
 * to data/web/chat.png. The last checks the committed bundle is what the
 * sources give.
 *
 * Every wait is bounded; Chromium and the nodes are stopped in `finally`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Chromium, hasChromium, type Page } from "./helpers/chromium.ts";
import { ClientProcess } from "./helpers/client_process.ts";
import { startHttpNode } from "./helpers/http_node.ts";
import { freePort, type NodeProcess, startNodeProcess } from "./helpers/node_process.ts";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { waitFor } from "./helpers/wait_for.ts";

const ignore = !hasChromium();
if (ignore) {
  console.warn("web_client_test: chromium is missing (apt-get install chromium)");
}

/** Signs a page in with a nick, by the keyboard, and waits for the chat. */
async function signIn(page: Page, url: string, nick: string, room = "lobby"): Promise<void> {
  await page.goto(url);
  await page.evaluate(`document.querySelector("#room").value = ${JSON.stringify(room)}`);
  await page.type("#nick", nick);
  await page.press("Enter");
  await page.waitUntil(`!document.querySelector("#chat").hidden`, `${nick} to be in the chat`);
  await page.waitUntil(
    `document.querySelector("#status").textContent.startsWith(${JSON.stringify(nick)})`,
    `${nick}'s welcome`,
  );
}

/** Types a line into the input and sends it with Enter. */
async function say(page: Page, text: string): Promise<void> {
  await page.type("#line", text);
  await page.press("Enter");
}

/** Waits until the shown conversation's log has a line containing `text`; on failure, says what it has. */
async function sees(page: Page, text: string, timeoutMs = 15_000): Promise<void> {
  try {
    await page.waitUntil(
      `[...document.querySelectorAll("#log .entry")].some((e) => e.textContent.includes(${
        JSON.stringify(text)
      }))`,
      `a line with "${text}"`,
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\nthe log:\n${(await page.log()).join("\n")}`);
  }
}

/** Answers the passphrase dialog when it asks the question that starts with `label`. */
async function enterPassphrase(page: Page, label: string, passphrase: string): Promise<void> {
  await page.waitUntil(
    `document.querySelector("#secret").open && document.querySelector("#secret-label").textContent.startsWith(${
      JSON.stringify(label)
    })`,
    `the dialog to ask "${label}"`,
  );
  await page.type("#secret-input", passphrase);
  await page.press("Enter");
  // Answered: the field is emptied (the dialog may open again at once for the next question).
  await page.waitUntil(`document.querySelector("#secret-input").value === ""`, "the answer taken");
}

Deno.test({
  name: "two browser pages and the terminal client talk in one room, typed with the keyboard",
  ignore,
}, async () => {
  const { node, url } = await startHttpNode({ id: "w1" });
  const browser = await Chromium.launch();
  const tina = new ClientProcess(
    ["-server", `127.0.0.1:${node.port}`, "-user", "tina", "-room", "lobby"],
    { killAfterMs: 60_000 },
  );
  try {
    const ann = await browser.newPage();
    const bob = await browser.newPage({ width: 390, height: 760 });
    await signIn(ann, url, "ann");
    await signIn(bob, url, "bob");
    await tina.waitFor(/bob joined #lobby/);

    await say(ann, "hello from the web");
    await sees(bob, "hello from the web");
    await tina.waitFor(/<ann> hello from the web/);
    await tina.line("hi from the terminal");
    await sees(ann, "hi from the terminal");
    await sees(bob, "hi from the terminal");

    // The member list, from /who, kept current by joins.
    await ann.waitUntil(
      `["ann", "bob", "tina"].every((n) => [...document.querySelectorAll("#members .nick")].some((e) => e.textContent === n))`,
      "ann's member list",
    );
    // /help is the command table, with the client's own /seal, /key, /plain.
    await say(ann, "/help");
    await sees(ann, "/seal [ROOM]");
    await sees(ann, "/who [ROOM]");

    // bob moves to another room; a mention in #lobby counts as unread there.
    await say(bob, "/join other");
    await bob.waitUntil(`document.querySelector("#title").textContent === "#other"`, "#other");
    await say(ann, "bob: are you there?");
    await bob.waitUntil(
      `document.querySelector('[data-key="lobby"] .unread.mentioned')?.textContent === "1"`,
      "an unread mention in bob's #lobby",
    );
    await bob.waitUntil(
      `document.querySelector("#announcer").textContent.includes("ann")`,
      "the live region to announce it",
    );
    // Alt+↑ shows #lobby again, which clears its count.
    await bob.press("ArrowUp", 1);
    await bob.waitUntil(`document.querySelector("#title").textContent === "#lobby"`, "#lobby");
    await bob.waitUntil(`!document.querySelector('[data-key="lobby"] .unread')`, "no unread");

    // A private message opens its own conversation on the other side.
    await say(bob, "/msg ann psst");
    await ann.waitUntil(`document.querySelector('[data-key="@bob"] .unread')`, "a private unread");

    await Deno.mkdir("./data/web", { recursive: true });
    await ann.screenshot("./data/web/chat.png");
    await bob.screenshot("./data/web/chat-phone.png");
    assert.ok((await Deno.stat("./data/web/chat.png")).size > 10_000);
    // Nothing the page did was refused by its Content-Security-Policy, and nothing threw.
    assert.deepEqual([...ann.problems, ...bob.problems], []);
  } finally {
    tina.kill();
    await tina.done.catch(() => {});
    await browser.close();
    await node.stop();
  }
});

Deno.test({
  name: "a room sealed in the browser opens in the terminal client, and the other way round",
  ignore,
}, async () => {
  const passphrase = "correct horse battery staple";
  const { node, url } = await startHttpNode({ id: "w2" });
  const browser = await Chromium.launch();
  let tina: ClientProcess | undefined;
  let spy: RawClient | undefined;
  try {
    const ann = await browser.newPage();
    await signIn(ann, url, "ann", "vault");
    await say(ann, "/seal");
    await enterPassphrase(ann, "New passphrase for #vault", passphrase);
    await enterPassphrase(ann, "Repeat the passphrase", passphrase);
    await sees(ann, "sealed #vault", 30_000);
    await ann.waitUntil(
      `document.querySelector('[data-key="vault"] .room-lock')?.textContent === "🔒"`,
      "the lock on #vault",
      30_000,
    );
    // Someone without the passphrase (only one alone in a room may seal it).
    spy = await RawClient.join(node.port, "spy", "vault");

    tina = new ClientProcess([
      "-server",
      `127.0.0.1:${node.port}`,
      "-user",
      "tina",
      "-room",
      "vault",
    ], {
      env: { MESHCHAT_ROOM_KEY: passphrase },
      killAfterMs: 90_000,
    });
    await tina.waitFor(/Now in #vault \(sealed/);
    await say(ann, "sealed in the browser");
    await tina.waitFor(/<ann✓?> sealed in the browser/, "stdout", 30_000);
    await tina.line("sealed in the terminal");
    await sees(ann, "sealed in the terminal", 30_000);

    // The node, and anyone in the room without the key, saw only envelopes.
    const said = () => spy!.frames.filter((f: Frame) => f.t === "msg" && f.kind === "message");
    await waitFor(() => said().length === 2, "both sealed messages at the spy");
    for (const frame of said()) {
      assert.equal(frame.text, "");
      assert.equal(typeof frame.sealed, "string");
    }
    assert.deepEqual(ann.problems, []);
  } finally {
    tina?.kill();
    await tina?.done.catch(() => {});
    spy?.close();
    await browser.close();
    await node.stop();
  }
});

/**
 * One address in front of several nodes, as a load balancer would be: each
 * connection goes to the first node that accepts it.
 */
function forwardToFirstLive(ports: readonly number[]): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const client of listener) {
      (async () => {
        for (const port of ports) {
          let upstream: Deno.Conn;
          try {
            upstream = await Deno.connect({ hostname: "127.0.0.1", port });
          } catch {
            continue;
          }
          conns.add(client).add(upstream);
          const end = () => {
            for (const conn of [client, upstream]) {
              conns.delete(conn);
              try {
                conn.close();
              } catch { /* closed */ }
            }
          };
          await Promise.all([
            client.readable.pipeTo(upstream.writable, { preventClose: true }).catch(() => {}),
            upstream.readable.pipeTo(client.writable, { preventClose: true }).catch(() => {}),
          ].map((piped) => piped.finally(end)));
          return;
        }
        client.close();
      })();
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
    },
  };
}

Deno.test({
  name: "a page whose node is killed fails over to the other node and resends what was not acked",
  ignore,
}, async () => {
  const secret = crypto.randomUUID();
  const [mesh1, mesh2, http1, http2] = [freePort(), freePort(), freePort(), freePort()];
  const nodes: NodeProcess[] = [];
  const start = (id: string, mesh: number, peer: number, http: number) =>
    startNodeProcess({
      id,
      secret,
      args: [
        "--mesh-port",
        String(mesh),
        "--peers",
        `127.0.0.1:${peer}`,
        "--http-port",
        String(http),
      ],
    });
  nodes.push(await start("f1", mesh1, mesh2, http1));
  nodes.push(await start("f2", mesh2, mesh1, http2));
  const front = forwardToFirstLive([http1, http2]);
  const browser = await Chromium.launch();
  const tina = new ClientProcess(
    ["-server", `127.0.0.1:${nodes[1]!.port}`, "-user", "tina", "-room", "lobby"],
    { killAfterMs: 120_000 },
  );
  try {
    // In the room before ann comes, or ann's join could pass before tina is there to see it.
    await tina.waitFor(/tina joined #lobby/, "stdout", 30_000);
    const ann = await browser.newPage();
    await signIn(ann, `http://127.0.0.1:${front.port}`, "ann");
    await ann.waitUntil(`document.querySelector("#status").textContent.endsWith("f1")`, "node f1");
    await tina.waitFor(/ann joined #lobby/, "stdout", 30_000);
    await say(ann, "before the crash");
    await tina.waitFor(/<ann> before the crash/);

    await nodes[0]!.stop("SIGKILL");
    await sees(ann, "Reconnecting to");
    // Typed while no node is there: it waits, and goes when one answers.
    await say(ann, "during the outage");
    await sees(ann, "waits to be resent");
    await ann.waitUntil(
      `document.querySelector("#status").textContent.endsWith("f2")`,
      "the page on node f2",
      90_000,
    );
    await tina.waitFor(/<ann> during the outage/, "stdout", 30_000);
    await say(ann, "after the failover");
    await tina.waitFor(/<ann> after the failover/);
    await tina.line("hi back");
    await sees(ann, "hi back");
    assert.equal(tina.stdout.split("during the outage").length - 1, 1, "sent once");
  } finally {
    tina.kill();
    await tina.done.catch(() => {});
    await browser.close();
    front.close();
    await Promise.all(nodes.map((node) => node.stop("SIGKILL").catch(() => {})));
  }
});

Deno.test("the committed web client bundle is what client/web/ gives (deno task web:build --check)", async () => {
  const output = await new Deno.Command("deno", {
    args: [
      "run",
      "--allow-run=deno",
      "--allow-read=client/web",
      "client/web/build.ts",
      "--check",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, text);
  assert.match(text, /up to date/);
});
