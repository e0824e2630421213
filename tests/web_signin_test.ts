/**
 * Web sign-in with an SSH key and public-key upload, end to end: two real
 * node processes in one mesh, the `npm:ssh2` client for `/web`, real HTTP
 * for the sign-in and key pages, Deno's WebSocket for `/ws`, and OpenSSH's
 * `ssh-keygen -Y sign` for the signatures. Each attack is performed: token
 * reuse, a credential of one key for another key's nick, a guest taking a
 * registered nick, a cross-site post, a signature for another namespace or
 * by another key, a challenge replayed, and a burst of guessed tokens and
 * challenges from one address.
 */
import assert from "node:assert/strict";
import { encodeBase64 } from "../core/crypto/_base64.ts";
import { parsePublicKeyLine, sshKeyFingerprint } from "../core/crypto/sshsig.ts";
import { healthBody, readyBody } from "../node/frontends/web/health.ts";
import { HttpServer } from "../node/frontends/web/http_server.ts";
import { WebSignIn } from "../node/frontends/web/signin.ts";
import { SignInTokens } from "../node/frontends/web/signin_tokens.ts";
import { silentLogger } from "../node/logger.ts";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { freePort, type NodeProcess, startNodeProcess } from "./helpers/node_process.ts";
import { generateKey, SshTestClient, type TestKey } from "./helpers/ssh_client.ts";
import { KeygenDir } from "./helpers/ssh_keygen.ts";
import { waitFor } from "./helpers/wait_for.ts";
import { WsClient } from "./helpers/ws_client.ts";

const LINK = /(http:\/\/127\.0\.0\.1:\d+)\/signin#([A-Za-z0-9_-]{43})\n/;

function fingerprintOf(key: TestKey): Promise<string> {
  return sshKeyFingerprint(parsePublicKeyLine(key.public));
}

/** Runs `/web` in an SSH session of `nick` with `key`, and ends it: the link's token. */
async function webToken(sshPort: number, nick: string, key: TestKey): Promise<string> {
  const ssh = await SshTestClient.connect(sshPort, { username: nick, key });
  try {
    const run = await ssh.exec("/web");
    const output = await run.waitFor(LINK);
    run.end();
    await run.waitClosed();
    return LINK.exec(output)![2]!;
  } finally {
    ssh.end();
  }
}

/** What the node answered a {@linkcode post}. */
interface Posted {
  status: number;
  body: Record<string, string>;
  cookie: string | null;
  retryAfter: string | null;
}

/**
 * Posts JSON as the node's own page does (its Origin, application/json),
 * through `client` when given (one with another `localAddress` is another
 * visitor's address).
 */
async function post(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  client?: Deno.HttpClient,
): Promise<Posted> {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { origin: base, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    ...(client === undefined ? {} : { client }),
  });
  return {
    status: response.status,
    body: await response.json(),
    cookie: response.headers.get("set-cookie"),
    retryAfter: response.headers.get("retry-after"),
  };
}

/** Says hello over the WebSocket, with a cookie or without: the welcome or the refusal. */
async function wsHello(base: string, user: string, cookie?: string): Promise<Frame> {
  const ws = await WsClient.connect(
    `${base.replace("http", "ws")}/ws`,
    cookie === undefined ? {} : { cookie },
  );
  try {
    ws.send({ t: "hello", v: 1, user });
    return await ws.next((f) => f.t === "welcome" || f.t === "error");
  } finally {
    ws.close();
  }
}

/** Says hello on the TCP port as a guest: the welcome or the refusal. */
async function tcpHello(port: number, user: string): Promise<Frame> {
  const client = await RawClient.connect(port);
  try {
    client.send({ t: "hello", v: 1, user });
    return await client.next((f) => f.t === "welcome" || f.t === "error");
  } finally {
    client.close();
  }
}

/** The `name=value` part of a Set-Cookie header. */
function cookiePair(setCookie: string): string {
  return setCookie.split(";")[0]!;
}

Deno.test("web sign-in and key upload on a 2-node cluster", async (t) => {
  const keys = await KeygenDir.create();
  const opKey = generateKey();
  const opsFile = `./data/tmp/ops-web-${crypto.randomUUID().slice(0, 8)}.txt`;
  await Deno.writeTextFile(opsFile, `${await fingerprintOf(opKey)}\n`);
  const [meshA, meshB, httpA] = [freePort(), freePort(), freePort()];
  const secret = crypto.randomUUID();
  const nodes: NodeProcess[] = [];
  try {
    nodes.push(
      await startNodeProcess({
        id: "w1",
        ssh: true,
        secret,
        args: [
          ...["--mesh-port", String(meshA), "--peers", `127.0.0.1:${meshB}`],
          ...["--http-port", String(httpA), "--ops", opsFile, "--burst", "0"],
        ],
      }),
      await startNodeProcess({
        id: "w2",
        secret,
        args: ["--mesh-port", String(meshB), "--peers", `127.0.0.1:${meshA}`, "--burst", "0"],
      }),
    );
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    const sshPort = a.sshPort!;
    const base = `http://127.0.0.1:${httpA}`;
    const alice = generateKey();
    const aliceFp = await fingerprintOf(alice);
    const tokens: string[] = [];

    await t.step(
      "/web gives a one-time link; it signs a WebSocket session in as the key's nick",
      async () => {
        const token = await webToken(sshPort, "alice", alice);
        tokens.push(token);
        const page = await fetch(`${base}/signin`);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /<script type="module" src="\/signin\/signin.js">/);
        const csp = page.headers.get("content-security-policy")!;
        assert.match(csp, /script-src 'self'/);
        assert.doesNotMatch(csp, /unsafe-inline/);

        const signedIn = await post(base, "/signin/token", { token });
        assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
        assert.deepEqual(signedIn.body, { nick: "alice", fingerprint: aliceFp });
        const setCookie = signedIn.cookie!;
        assert.match(setCookie, /^meshchat_w1=[A-Za-z0-9_-]{43}; /);
        for (const flag of ["HttpOnly", "SameSite=Strict", "Path=/"]) {
          assert.ok(setCookie.includes(flag), setCookie);
        }
        assert.doesNotMatch(setCookie, /Secure/); // plain HTTP, and the page is not on https
        const cookie = cookiePair(setCookie);

        const session = await fetch(`${base}/signin/session`, { headers: { cookie } });
        assert.deepEqual(await session.json(), { nick: "alice", fingerprint: aliceFp });

        const welcome = await wsHello(base, "alice", cookie);
        assert.equal(welcome.t, "welcome", JSON.stringify(welcome));
        assert.equal(welcome.nick, "alice");
      },
    );

    await t.step("attack: the same link a second time is refused", async () => {
      const again = await post(base, "/signin/token", { token: tokens[0] });
      assert.equal(again.status, 401);
      assert.match(again.body.error!, /used, expired or unknown/);
      assert.equal(again.cookie, null);
    });

    await t.step("attack: a guest cannot take a registered nick over the web", async () => {
      const refused = await wsHello(base, "alice");
      assert.equal(refused.t, "error");
      assert.equal(refused.code, "nick_taken");
      assert.match(String(refused.message), /registered to an SSH key/);
      // Nor with a made-up cookie: it is a guest.
      const forged = await wsHello(base, "alice", `meshchat_w1=${"A".repeat(43)}`);
      assert.equal(forged.code, "nick_taken");
    });

    await t.step("attack: another key's sign-in does not give alice's nick", async () => {
      const bob = generateKey();
      const { cookie } = await post(base, "/signin/token", {
        token: await webToken(sshPort, "bob", bob),
      });
      const asAlice = await wsHello(base, "alice", cookiePair(cookie!));
      assert.equal(asAlice.code, "nick_taken");
      assert.match(String(asAlice.message), /registered to another SSH key/);
      const asBob = await wsHello(base, "bob", cookiePair(cookie!));
      assert.equal(asBob.t, "welcome");
    });

    await t.step("moderation by key reaches the key's web sessions", async () => {
      const mallory = generateKey();
      const { cookie } = await post(base, "/signin/token", {
        token: await webToken(sshPort, "mallory", mallory),
      });
      const op = await SshTestClient.connect(sshPort, { username: "op", key: opKey });
      const ban = await op.exec(`/ban ${await fingerprintOf(mallory)}`);
      await ban.waitFor("Banned key");
      ban.end();
      op.end();
      const refused = await wsHello(base, "mallory", cookiePair(cookie!));
      assert.equal(refused.code, "banned", JSON.stringify(refused));
    });

    await t.step("/web is refused to an SSH guest", async () => {
      const guest = await SshTestClient.connect(sshPort, { username: "visitor" });
      const run = await guest.exec("/web");
      await run.waitFor("/web works in an SSH session signed in with a key");
      assert.doesNotMatch(run.text, /signin#/);
      run.end();
      guest.end();
    });

    await t.step(
      "attack: a sign-in posted by another site's page, or not as JSON, is refused",
      async () => {
        const token = await webToken(sshPort, "alice", alice);
        const crossSite = await post(base, "/signin/token", { token }, {
          origin: "https://evil.example",
        });
        assert.equal(crossSite.status, 403);
        const form = await fetch(`${base}/signin/token`, {
          method: "POST",
          headers: { origin: base, "content-type": "application/x-www-form-urlencoded" },
          body: `token=${token}`,
        });
        assert.equal(form.status, 415);
        await form.body?.cancel();
      },
    );

    const dave = await keys.key("ed25519");
    let replay = { challenge: "", signature: "" };
    await t.step(
      "key upload: a real ssh-keygen signature registers the nick, replicated",
      async () => {
        const page = await fetch(`${base}/keys`);
        assert.equal(page.status, 200);
        await page.body?.cancel();
        const asked = await post(base, "/keys/challenge", { nick: "dave", key: dave.publicLine });
        assert.equal(asked.status, 200, JSON.stringify(asked.body));
        const { challenge, text, command } = asked.body as Record<string, string>;
        assert.equal(
          command,
          `echo '${text}' | ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n meshchat`,
        );
        assert.ok(text!.includes(`dave ${dave.fingerprint} ${challenge}`));
        const signature = await keys.sign(dave, `${text}\n`); // what `echo` writes
        const registered = await post(base, "/keys/register", { challenge, signature });
        assert.equal(registered.status, 200, JSON.stringify(registered.body));
        assert.deepEqual(registered.body, {
          nick: "dave",
          fingerprint: dave.fingerprint,
          outcome: "claimed",
        });
        // A guest on the other node is refused the nick once the claim has arrived there.
        await waitFor(
          async () => (await tcpHello(b.port, "dave")).code === "nick_taken",
          "dave's claim to reach node w2",
        );
        const refused = await tcpHello(b.port, "dave");
        assert.match(String(refused.message), /registered to an SSH key/);
        replay = { challenge: challenge!, signature };
      },
    );

    await t.step("attack: the challenge replayed with its signature is refused", async () => {
      const again = await post(base, "/keys/register", replay);
      assert.equal(again.status, 400);
      assert.match(again.body.error!, /used, expired or unknown/);
    });

    await t.step("attack: a signature for another namespace is refused", async () => {
      const erin = await keys.key("nistp256");
      const { body } = await post(base, "/keys/challenge", { nick: "erin", key: erin.publicLine });
      const signature = await keys.sign(erin, `${body.text}\n`, "git");
      const refused = await post(base, "/keys/register", { challenge: body.challenge, signature });
      assert.equal(refused.status, 400);
      assert.match(refused.body.error!, /namespace git, not meshchat/);
      assert.equal((await tcpHello(a.port, "erin")).t, "welcome"); // not registered
    });

    await t.step("attack: a signature by another key than the one given is refused", async () => {
      const frank = await keys.key("rsa");
      const { body } = await post(base, "/keys/challenge", {
        nick: "frank",
        key: frank.publicLine,
      });
      const signature = await keys.sign(dave, `${body.text}\n`);
      const refused = await post(base, "/keys/register", { challenge: body.challenge, signature });
      assert.equal(refused.status, 400);
      assert.match(refused.body.error!, /another key/);
    });

    await t.step("attack: a banned key cannot register a nick by key upload", async () => {
      const grace = await keys.key("ed25519");
      const op = await SshTestClient.connect(sshPort, { username: "op", key: opKey });
      const ban = await op.exec(`/ban ${grace.fingerprint}`);
      await ban.waitFor("Banned key");
      ban.end();
      op.end();
      const refused = await post(base, "/keys/challenge", { nick: "grace", key: grace.publicLine });
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.match(refused.body.error!, /banned/);
      assert.equal((await tcpHello(a.port, "grace")).t, "welcome"); // not registered
    });

    await t.step("a nick owned by another key is refused before any signing", async () => {
      const refused = await post(base, "/keys/challenge", { nick: "alice", key: dave.publicLine });
      assert.equal(refused.status, 409);
      assert.match(refused.body.error!, /Nick alice is registered to another SSH key/);
    });

    await t.step("tokens and credentials never reach the log", () => {
      const log = a.log();
      assert.match(log, /web sign-in/);
      for (const token of tokens) assert.ok(!log.includes(token), "a token is in the log");
      assert.doesNotMatch(log, /meshchat_w1=/);
    });
  } finally {
    await Promise.all(nodes.map((node) => node.stop("SIGKILL")));
    await keys.remove();
    await Deno.remove(opsFile).catch(() => {});
  }
});

Deno.test("web sign-in: an expired link is refused", async () => {
  let now = 1_000_000;
  const tokens = new SignInTokens({ now: () => now });
  const signIn = new WebSignIn({
    nodeId: "x1",
    tokens,
    webOrigins: new Set(),
    tls: false,
    logger: silentLogger,
  });
  const server = await HttpServer.start({
    health: () => healthBody("x1", 0),
    ready: () => readyBody({ node: "x1", stopping: false, restoreMs: 0, mesh: undefined }),
    metrics: () => "",
    pages: [signIn.route],
  }, { hostname: "127.0.0.1", port: 0, logger: silentLogger });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const identity = { fingerprint: `SHA256:${"a".repeat(43)}`, nick: "alice" };
    const fresh = tokens.issue(identity);
    const stale = tokens.issue(identity);
    now += signIn.linkTtlMs - 1;
    assert.equal((await post(base, "/signin/token", { token: fresh })).status, 200);
    now += 1;
    const expired = await post(base, "/signin/token", { token: stale });
    assert.equal(expired.status, 401);
    assert.match(expired.body.error!, /used, expired or unknown/);
  } finally {
    await server.close();
  }
});

Deno.test("attack: a burst of guessed tokens and challenges from one address gets 429s, and no one else does", async () => {
  const coolOffSeconds = 3;
  const httpPort = freePort();
  const node = await startNodeProcess({
    id: "g1",
    ssh: true,
    args: [
      ...["--http-port", String(httpPort), "--burst", "0"],
      ...["--max-offences", "5", "--cool-off", String(coolOffSeconds)],
    ],
  });
  // The attacker posts from 127.0.0.2 (all of 127/8 is loopback), everyone else from 127.0.0.1.
  const attacker = Deno.createHttpClient({ localAddress: "127.0.0.2" });
  try {
    const base = `http://127.0.0.1:${httpPort}`;
    const guess = () => encodeBase64(crypto.getRandomValues(new Uint8Array(32)), "base64url");
    /** 20 guesses at once to `path`: the statuses, in order, and the first 429. */
    const burst = async (path: string, body: () => unknown) => {
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => post(base, path, body(), {}, attacker)),
      );
      return {
        statuses: answers.map((a) => a.status),
        refused: answers.find((a) => a.status === 429),
      };
    };
    const count = (statuses: number[], status: number) =>
      statuses.filter((s) => s === status).length;

    const tokens = await burst("/signin/token", () => ({ token: guess() }));
    // Five wrong ones are checked (--max-offences), the other fifteen never are.
    assert.equal(count(tokens.statuses, 401), 5, tokens.statuses.join(" "));
    assert.equal(count(tokens.statuses, 429), 15, tokens.statuses.join(" "));
    assert.match(tokens.refused!.body.error!, /Too many wrong sign-in links or challenges/);
    // Refused before anything in the body is looked at (the probe below relies on it).
    assert.equal((await post(base, "/signin/token", {}, {}, attacker)).status, 429);
    const retryAfter = Number(tokens.refused!.retryAfter);
    assert.ok(retryAfter >= 1 && retryAfter <= coolOffSeconds, `Retry-After ${retryAfter}`);

    // The same address guessing challenges is refused too, even a real token is.
    const challenge = await post(
      base,
      "/keys/register",
      { challenge: guess(), signature: "x" },
      {},
      attacker,
    );
    assert.equal(challenge.status, 429);
    const alice = generateKey();
    const aliceToken = await webToken(node.sshPort!, "alice", alice);
    assert.equal(
      (await post(base, "/signin/token", { token: aliceToken }, {}, attacker)).status,
      429,
    );

    // Another address signs in meanwhile.
    const bob = generateKey();
    const signedIn = await post(base, "/signin/token", {
      token: await webToken(node.sshPort!, "bob", bob),
    });
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
    assert.equal(signedIn.body.nick, "bob");

    // After the cool-off the attacker's address is served again: a body with
    // no token is a 400 (not an offence), and the link it was refused works.
    await waitFor(
      async () => (await post(base, "/signin/token", {}, {}, attacker)).status === 400,
      "the attacking address to be served again after its cool-off",
    );
    const recovered = await post(base, "/signin/token", { token: aliceToken }, {}, attacker);
    assert.equal(recovered.status, 200, JSON.stringify(recovered.body));
    assert.equal(recovered.body.nick, "alice");

    const challenges = await burst(
      "/keys/register",
      () => ({ challenge: guess(), signature: "x" }),
    );
    assert.equal(count(challenges.statuses, 400), 5, challenges.statuses.join(" "));
    assert.equal(count(challenges.statuses, 429), 15, challenges.statuses.join(" "));
    assert.ok(Number(challenges.refused!.retryAfter) >= 1);
  } finally {
    attacker.close();
    await node.stop("SIGKILL");
  }
});
