/**
 * TLS on the client port, on real processes: the terminal client (line
 * mode) against real nodes, certificates made by the node or by openssl,
 * and the attacks pinning is for — a node that comes back with another
 * certificate, a node that stops offering TLS — plus garbage and half
 * handshakes on the port.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { ClientProcess, RecordingProxy } from "./helpers/client_process.ts";
import { settingsPermissions, withConfigHome } from "./helpers/config_home.ts";
import {
  failingNodeStart,
  freePort,
  type NodeProcess,
  startNodeProcess,
} from "./helpers/node_process.ts";
import { generateCertificate } from "../node/frontends/tcp/tls_certificate.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { runClient } from "../client/main.ts";
import { FakeTerminal } from "./helpers/fake_terminal.ts";
import { waitFor } from "./helpers/wait_for.ts";

/** The certificate fingerprint a node logged at start. */
function loggedFingerprint(node: NodeProcess): string {
  const match = /client port tls mode=\w+ fingerprint=(SHA256:\S+)/.exec(node.log());
  assert.ok(match, node.log());
  return match[1]!;
}

/** A line-mode client with its own configuration directory (so pins are kept). */
function client(home: string, port: number, user: string, env: Record<string, string> = {}) {
  return new ClientProcess(
    ["-server", `127.0.0.1:${port}`, "-user", user, "-history", "0"],
    { permissions: settingsPermissions(home), env: { XDG_CONFIG_HOME: home, ...env } },
  );
}

/** Starts a node on a fixed port and data directory, so a restart is the same address. */
function startAt(port: number, data: string, id: string, args: string[] = []) {
  return startNodeProcess({ id, args: ["--port", String(port), "--data", data, ...args] });
}

async function scratchDir(name: string): Promise<string> {
  const dir = `./data/tmp/${name}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

Deno.test("the client chats over TLS with a node's own certificate, pins it on first use, and it lasts across restarts", async () => {
  const data = await scratchDir("tls-pin");
  const port = freePort();
  let node = await startAt(port, data, "tlsp");
  const proxy = new RecordingProxy(port);
  try {
    await withConfigHome(async (home) => {
      const fingerprint = loggedFingerprint(node);
      assert.match(node.log(), /generated=true/);
      // The key never leaves the node's data directory readable by others.
      assert.equal((await Deno.stat(`${data}/client_tls_key.pem`)).mode! & 0o777, 0o600);
      const watcher = await RawClient.join(port, "watcher");
      const alice = client(home, proxy.port, "alice");
      try {
        await alice.waitFor(/^Now in #lobby$/m);
        await alice.line("over tls: the quick brown fox");
        await watcher.next((f) => f.t === "msg" && f.text === "over tls: the quick brown fox");
        assert.equal(await alice.end(), 0, alice.stderr);
      } finally {
        alice.kill();
      }
      // What crossed the wire was TLS (a handshake record first), not the line.
      const sent = proxy.sentBytes();
      assert.equal(sent[0], 0x16, "the client's first byte opens a TLS handshake");
      assert.ok(!proxy.sent().includes("quick brown fox"), "the line crossed the wire encrypted");
      assert.ok(!proxy.sent().includes('"hello"'), "so did the hello");
      // Pinned on first use, per address, in a file only its owner reads.
      const pins = await Deno.readTextFile(`${home}/meshchat/known_nodes`);
      assert.match(pins, new RegExp(`^127\\.0\\.0\\.1:${proxy.port} ${escape(fingerprint)}$`, "m"));
      assert.equal((await Deno.stat(`${home}/meshchat/known_nodes`)).mode! & 0o777, 0o600);
      // A script is not told anything when all is well.
      assert.doesNotMatch(alice.stderr, /WARNING|NOT encrypted/);
      watcher.close();

      // Restarted on its data directory: the same certificate, accepted quietly.
      await node.stop();
      node = await startAt(port, data, "tlsp");
      assert.equal(loggedFingerprint(node), fingerprint);
      assert.doesNotMatch(node.log(), /generated=true/);
      const again = client(home, proxy.port, "alice");
      try {
        await again.waitFor(/^Now in #lobby$/m);
        assert.equal(await again.end(), 0, again.stderr);
      } finally {
        again.kill();
      }
      assert.equal(
        await Deno.readTextFile(`${home}/meshchat/known_nodes`),
        pins,
        "nothing re-pinned",
      );
    });
  } finally {
    await proxy.close();
    await node.stop();
    await Deno.remove(data, { recursive: true }).catch(() => {});
  }
});

Deno.test("a node back with another certificate is refused with the changed-certificate warning, and no line reaches it", async () => {
  const data = await scratchDir("tls-changed");
  const port = freePort();
  let node = await startAt(port, data, "tlsc");
  try {
    await withConfigHome(async (home) => {
      const first = client(home, port, "alice");
      try {
        await first.waitFor(/^Now in #lobby$/m);
        assert.equal(await first.end(), 0, first.stderr);
      } finally {
        first.kill();
      }
      const pinned = loggedFingerprint(node);
      // The attack, as a client sees it: the same address, another certificate.
      await node.stop();
      await Deno.remove(`${data}/client_tls_cert.pem`);
      await Deno.remove(`${data}/client_tls_key.pem`);
      node = await startAt(port, data, "tlsc");
      const changed = loggedFingerprint(node);
      assert.notEqual(changed, pinned);
      const watcher = await RawClient.join(port, "watcher");
      const victim = client(home, port, "alice");
      try {
        await victim.line("a secret for the impostor");
        assert.equal(await victim.done, 1);
      } finally {
        victim.kill();
      }
      assert.match(victim.stderr, /WARNING: NODE CERTIFICATE HAS CHANGED!/);
      assert.match(victim.stderr, /IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!/);
      assert.ok(victim.stderr.includes(changed), "the new fingerprint is shown");
      assert.ok(victim.stderr.includes(pinned), "and the pinned one");
      assert.match(victim.stderr, /remove line 2 of .*known_nodes/);
      assert.match(victim.stderr, /Refused 127\.0\.0\.1:\d+: its certificate changed/);
      // Nothing was said: no session, and the watcher, who hears the next line, never heard it.
      await sayOnce(port, "control line");
      await watcher.next((f) => f.t === "msg" && f.text === "control line");
      watcher.close();
      assert.doesNotMatch(node.log(), /session opened nick=alice/);
      assert.ok(
        !watcher.frames.some((f) => JSON.stringify(f).includes("impostor")),
        "no chat line leaked",
      );
      // The pin is unchanged: removing its line (as told) is how a new certificate is accepted.
      const pins = await Deno.readTextFile(`${home}/meshchat/known_nodes`);
      assert.ok(pins.includes(pinned) && !pins.includes(changed));
    });
  } finally {
    await node.stop();
    await Deno.remove(data, { recursive: true }).catch(() => {});
  }
});

Deno.test("a failover pins each node on its own, and refuses a node back with another certificate, loudly", async () => {
  const [portA, portB] = [freePort(), freePort()];
  const [dataA, dataB] = [await scratchDir("tls-fa"), await scratchDir("tls-fb")];
  let a = await startAt(portA, dataA, "tlsfa");
  let b: NodeProcess | undefined = await startAt(portB, dataB, "tlsfb");
  try {
    await withConfigHome(async (home) => {
      const run = new ClientProcess(
        ["-server", `127.0.0.1:${portA},127.0.0.1:${portB}`, "-user", "gina", "-reconnect", "3"],
        { permissions: settingsPermissions(home), env: { XDG_CONFIG_HOME: home } },
      );
      try {
        await run.waitFor(/^Now in #lobby$/m);
        await a.stop();
        await run.waitFor(/^Reconnected to 127\.0\.0\.1:\d+/m);
        await run.line("said on b");
        await run.waitFor(/^<gina> said on b$/m);
        const pins = await Deno.readTextFile(`${home}/meshchat/known_nodes`);
        assert.ok(pins.includes(`127.0.0.1:${portA} ${loggedFingerprint(a)}`), pins);
        assert.ok(pins.includes(`127.0.0.1:${portB} ${loggedFingerprint(b!)}`), pins);
        // Node a comes back with another certificate; b goes: the failover must not take a.
        await Deno.remove(`${dataA}/client_tls_cert.pem`);
        await Deno.remove(`${dataA}/client_tls_key.pem`);
        a = await startAt(portA, dataA, "tlsfa");
        await b!.stop();
        b = undefined;
        assert.equal(await run.done, 1);
      } finally {
        run.kill();
      }
      assert.match(run.stderr, /WARNING: NODE CERTIFICATE HAS CHANGED!/);
      assert.ok(run.stderr.includes(loggedFingerprint(a)), "the impostor's fingerprint is shown");
      const times = run.stderr.split("NODE CERTIFICATE HAS CHANGED").length - 1;
      assert.equal(times, 1, "said once, however often the failover tries that node");
      assert.match(run.stderr, /no node answered within 3 s/);
      assert.doesNotMatch(a.log(), /session opened nick=gina/);
    });
  } finally {
    await a.stop();
    await b?.stop();
    await Deno.remove(dataA, { recursive: true }).catch(() => {});
    await Deno.remove(dataB, { recursive: true }).catch(() => {});
  }
});

Deno.test("a CA-signed --tls-cert is verified by name and not pinned; by an unknown CA it is pinned instead", async () => {
  const dir = await scratchDir("tls-ca");
  const openssl = async (args: string[]) => {
    const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
      .output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.pem`,
    "-days",
    "2",
    "-subj",
    "/CN=Test CA",
  ]);
  await openssl([
    "req",
    ...ec,
    "-keyout",
    `${dir}/node.key`,
    "-out",
    `${dir}/node.csr`,
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n",
  );
  await openssl([
    ...[
      "x509",
      "-req",
      "-in",
      `${dir}/node.csr`,
      "-CA",
      `${dir}/ca.pem`,
      "-CAkey",
      `${dir}/ca.key`,
    ],
    ...["-CAcreateserial", "-out", `${dir}/node.pem`, "-days", "2", "-extfile", `${dir}/ext.cnf`],
  ]);
  const node = await startNodeProcess({
    id: "tlsca",
    args: ["--tls-cert", `${dir}/node.pem`, "--tls-key", `${dir}/node.key`],
  });
  try {
    assert.match(node.log(), /client port tls mode=auto fingerprint=SHA256:\S+ file=--tls-cert/);
    await withConfigHome(async (home) => {
      const trusting = new ClientProcess(
        ["-server", `localhost:${node.port}`, "-user", "carol", "-history", "0"],
        {
          permissions: settingsPermissions(home),
          // Deno's way to add a private CA to the roots it trusts.
          env: { XDG_CONFIG_HOME: home, DENO_CERT: `${dir}/ca.pem` },
        },
      );
      try {
        await trusting.waitFor(/^Now in #lobby$/m);
        assert.equal(await trusting.end(), 0, trusting.stderr);
      } finally {
        trusting.kill();
      }
      const pinFile = `${home}/meshchat/known_nodes`;
      const pins = await Deno.readTextFile(pinFile).catch(() => "");
      assert.doesNotMatch(pins, /localhost/, "a certificate a CA vouches for is not pinned");
      // Without the CA the same certificate is one more self-made one: pinned on first use.
      const other = client(home, node.port, "dave");
      try {
        await other.waitFor(/^Now in #lobby$/m);
        assert.equal(await other.end(), 0, other.stderr);
      } finally {
        other.kill();
      }
      assert.match(
        await Deno.readTextFile(pinFile),
        new RegExp(`^127\\.0\\.0\\.1:${node.port} SHA256:`, "m"),
      );
    });
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("with --client-tls off the client says the connection is NOT encrypted, and refuses an address it pinned", async () => {
  const node = await startNodeProcess({ id: "tlsoff", args: ["--client-tls", "off"] });
  try {
    assert.match(node.log(), /client port tls mode=off/);
    await withConfigHome(async (home) => {
      const watcher = await RawClient.join(node.port, "watcher");
      const plain = client(home, node.port, "erin");
      try {
        await plain.waitFor(/^Now in #lobby$/m);
        await plain.line("in the clear");
        await watcher.next((f) => f.t === "msg" && f.text === "in the clear");
        assert.equal(await plain.end(), 0, plain.stderr);
      } finally {
        plain.kill();
      }
      assert.match(plain.stderr, /WARNING: the connection to 127\.0\.0\.1:\d+ is NOT encrypted/);
      // A node that had TLS and now answers without it: what stripping TLS looks like.
      await Deno.mkdir(`${home}/meshchat`, { recursive: true });
      await Deno.writeTextFile(
        `${home}/meshchat/known_nodes`,
        `127.0.0.1:${node.port} SHA256:${"A".repeat(43)}\n`,
      );
      const stripped = client(home, node.port, "erin");
      try {
        await stripped.line("must not go in the clear");
        assert.equal(await stripped.done, 1);
      } finally {
        stripped.kill();
      }
      assert.match(
        stripped.stderr,
        /Refusing 127\.0\.0\.1:\d+: it answered without TLS, but its certificate is pinned/,
      );
      await sayOnce(node.port, "control line");
      await watcher.next((f) => f.t === "msg" && f.text === "control line");
      watcher.close();
      assert.ok(!watcher.frames.some((f) => JSON.stringify(f).includes("must not go")));
    });
  } finally {
    await node.stop();
  }
});

Deno.test("interactively the client tells of a first pin, and keeps a plain connection's warning in the prompt", async () => {
  const encrypted = await startNodeProcess({ id: "tlstty" });
  const plain = await startNodeProcess({ id: "tlstty-off", args: ["--client-tls", "off"] });
  try {
    await withConfigHome(async (home) => {
      const session = async (port: number, see: (screen: string) => void) => {
        const terminal = new FakeTerminal(200, 24);
        const running = runClient(
          ["-server", `127.0.0.1:${port}`, "-user", "ivy", "--no-color", "-history", "0"],
          { terminal, settingsDirectory: `${home}/meshchat` },
        );
        await terminal.waitFor(/Now in #lobby/);
        see(terminal.screen.screen().join("\n"));
        terminal.type("/quit\r");
        assert.equal(await running, 0);
      };
      await session(encrypted.port, (screen) => {
        assert.match(
          screen,
          /First connection to 127\.0\.0\.1:\d+: encrypted \(TLS\); its certificate SHA256:\S+ is now pinned in .*known_nodes/,
        );
        assert.match(screen, /^\[#lobby\] ivy>$/m);
      });
      await session(encrypted.port, (screen) => {
        assert.doesNotMatch(screen, /First connection|NOT encrypted/, "pinned: nothing to say");
      });
      await session(plain.port, (screen) => {
        assert.match(screen, /WARNING: the connection to 127\.0\.0\.1:\d+ is NOT encrypted/);
        assert.match(screen, /^\[#lobby ⚠ not encrypted\] ivy>$/m);
      });
    });
  } finally {
    await encrypted.stop();
    await plain.stop();
  }
});

Deno.test("a full node's plain-text refusal is shown as a refusal, not taken for a node without TLS", async () => {
  const node = await startNodeProcess({ id: "tlsfull", args: ["--max-conns-per-addr", "1"] });
  try {
    await withConfigHome(async (home) => {
      const first = client(home, node.port, "hank");
      try {
        await first.waitFor(/^Now in #lobby$/m);
        assert.equal(await first.end(), 0, first.stderr);
      } finally {
        first.kill();
      }
      // The address's one connection is taken: the node refuses before it reads a byte.
      const holder = await RawClient.join(node.port, "holder");
      const refused = client(home, node.port, "hank");
      try {
        assert.equal(await refused.done, 1);
      } finally {
        refused.kill();
        holder.close();
      }
      assert.match(refused.stderr, /refused to let you in: .*connections/);
      assert.doesNotMatch(refused.stderr, /NOT encrypted|answered without TLS/);
    });
  } finally {
    await node.stop();
  }
});

Deno.test("--client-tls required refuses plain text with tls_required and serves TLS", async () => {
  const node = await startNodeProcess({ id: "tlsreq", args: ["--client-tls", "required"] });
  try {
    const raw = await RawClient.connect(node.port);
    await raw.send({ t: "hello", v: 1, user: "plainpete" });
    const refusal = await raw.next((f) => f.t === "error");
    assert.equal(refusal.code, "tls_required");
    assert.match(String(refusal.message), /accepts only encrypted \(TLS\) connections/);
    raw.close();
    await withConfigHome(async (home) => {
      const encrypted = client(home, node.port, "frank");
      try {
        await encrypted.waitFor(/^Now in #lobby$/m);
        assert.equal(await encrypted.end(), 0, encrypted.stderr);
      } finally {
        encrypted.kill();
      }
    });
    assert.doesNotMatch(node.log(), /session opened nick=plainpete/);
  } finally {
    await node.stop();
  }
});

Deno.test("garbage after a TLS record byte and stalled half handshakes do not hurt other clients", async () => {
  // Offences off: the stalled handshakes' missed hello deadlines would otherwise get
  // 127.0.0.1, which every client here shares, refused (that is limits_test's subject).
  const node = await startNodeProcess({
    id: "tlsfuzz",
    args: ["--hello-timeout", "2", "--max-offences", "1000"],
  });
  const stalled: Deno.Conn[] = [];
  try {
    const alice = await RawClient.join(node.port, "alice");
    const bob = await RawClient.join(node.port, "bob");
    // Half handshakes: a record header, part of a ClientHello, then silence.
    for (let i = 0; i < 10; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: node.port });
      await conn.write(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]));
      stalled.push(conn);
    }
    // Garbage that starts like TLS: each connection ends, nothing else does.
    for (let i = 0; i < 20; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: node.port });
      const junk = crypto.getRandomValues(new Uint8Array(64 + i * 13));
      junk[0] = 0x16;
      await conn.write(junk);
      const buffer = new Uint8Array(1024);
      while ((await conn.read(buffer).catch(() => null)) !== null) {
        // the node answers with a TLS alert or nothing, then closes
      }
      conn.close();
    }
    // A real TLS handshake that the client abandons right after it.
    const socket = tls.connect({ host: "127.0.0.1", port: node.port, rejectUnauthorized: false });
    await new Promise((resolve, reject) => {
      socket.once("secureConnect", resolve);
      socket.once("error", reject);
    });
    socket.destroy();
    await alice.send({ t: "say", text: "still here", cid: "c1" });
    await bob.next((f) => f.t === "msg" && f.text === "still here");
    // The stalled ones are closed by the hello deadline, like any silent connection.
    const closed = stalled.map(() => false);
    stalled.forEach(async (conn, i) => {
      const buffer = new Uint8Array(1024);
      while ((await conn.read(buffer).catch(() => null)) !== null) {
        // whatever the node says before closing
      }
      closed[i] = true;
    });
    await waitFor(() => closed.every(Boolean), "the stalled handshakes to be closed", {
      detail: () => node.log(),
    });
    await alice.send({ t: "say", text: "and still", cid: "c2" });
    await bob.next((f) => f.t === "msg" && f.text === "and still");
    alice.close();
    bob.close();
  } finally {
    for (const conn of stalled) {
      try {
        conn.close();
      } catch {
        // closed by the node
      }
    }
    await node.stop();
  }
});

/** One line said by a passer-by, who then leaves. */
async function sayOnce(port: number, text: string): Promise<void> {
  const speaker = await RawClient.join(port, "control");
  await speaker.send({ t: "say", text, cid: "c1" });
  await speaker.next((f) => f.t === "ack");
  speaker.close();
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

Deno.test("a node whose client-port certificate cannot be used says why and exits 1, without a stack trace", async () => {
  const dir = await scratchDir("tls-bad");
  try {
    // Half of a generated pair: the certificate was lost.
    const made = await generateCertificate({ commonName: "meshchat test" });
    await Deno.mkdir(`${dir}/half`);
    await Deno.writeTextFile(`${dir}/half/client_tls_key.pem`, made.key);
    const half = await failingNodeStart(["--http-port", "0", "--data", `${dir}/half`]);
    assert.equal(half.code, 1, half.text);
    assert.match(
      half.text,
      /client_tls_key\.pem exists but .*client_tls_cert\.pem does not; remove/,
    );
    // A certificate with another certificate's key.
    const other = await generateCertificate({ commonName: "another" });
    await Deno.writeTextFile(`${dir}/cert.pem`, made.cert);
    await Deno.writeTextFile(`${dir}/key.pem`, other.key);
    const mismatched = await failingNodeStart([
      ...["--http-port", "0", "--tls-cert", `${dir}/cert.pem`, "--tls-key", `${dir}/key.pem`],
    ]);
    assert.equal(mismatched.code, 1, mismatched.text);
    assert.match(
      mismatched.text,
      /Cannot serve TLS on the client port: the key of --tls-cert is not/,
    );
    for (const run of [half, mismatched]) {
      assert.doesNotMatch(run.text, /\n\s+at /, "no stack trace");
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
