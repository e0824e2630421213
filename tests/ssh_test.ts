/**
 * The SSH frontend end to end: real node processes, the `npm:ssh2` client
 * (PTY and plain sessions, forged keys, refused channels) and the OpenSSH
 * `ssh` binary with a throwaway key and known_hosts file.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
// @deno-types="@types/ssh2"
import ssh2 from "ssh2";
import type { ExecOptions, ParsedKey, PublicKeyAuthMethod } from "ssh2";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { freePort, startNodeProcess } from "./helpers/node_process.ts";
import { generateKey, type SshStream, SshTestClient, type TestKey } from "./helpers/ssh_client.ts";
import { VirtualTerminal } from "./helpers/virtual_terminal.ts";

const isMsg = (kind: string, text?: string, from?: string) => (f: Frame) =>
  f.t === "msg" && f.kind === kind && (text === undefined || f.text === text) &&
  (from === undefined || f.from === from);

function parsed(key: TestKey | string): ParsedKey {
  const result = ssh2.utils.parseKey(typeof key === "string" ? key : key.private);
  if (result instanceof Error || Array.isArray(result)) throw new Error("Cannot parse test key");
  return result;
}

function fingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

function keyFingerprint(key: TestKey): string {
  return fingerprint(new Uint8Array(parsed(key).getPublicSSH()));
}

/** A key that claims to be `victim` but signs with `signer`'s private key. */
function forgedKey(victim: TestKey, signer: TestKey): ParsedKey {
  const forged = parsed(signer);
  const blob = parsed(victim).getPublicSSH();
  forged.getPublicSSH = () => blob;
  return forged;
}

/** A key that claims to be `victim` and signs with random bytes. */
function randomSignatureKey(victim: TestKey): ParsedKey {
  const forged = parsed(generateKey());
  const blob = parsed(victim).getPublicSSH();
  forged.getPublicSSH = () => blob;
  forged.sign = () => crypto.getRandomValues(new Uint8Array(64)) as unknown as Buffer;
  return forged;
}

function publicKeyAuth(username: string, key: ParsedKey): PublicKeyAuthMethod {
  return { type: "publickey", username, key };
}

async function withDataDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = `./data/test-ssh-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error) => {
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("SSH users and terminal-client users share rooms; abuse is refused", async (t) => {
  await withDataDir(async (dir) => {
    const node = await startNodeProcess({
      id: "ssh1",
      ssh: true,
      args: ["--data", dir, "--burst", "0", "--mesh-port", "0"],
    });
    const port = node.sshPort!;
    const alice = generateKey();
    const cleanup: (() => void)[] = [];
    try {
      let pty: SshStream;
      let bob: RawClient;
      await t.step("a PTY user and a TCP user see each other's messages", async () => {
        const ssh = await SshTestClient.connect(port, { username: "alice", key: alice });
        cleanup.push(() => ssh.end());
        pty = await ssh.shell({ cols: 80, rows: 24, term: "xterm-256color" });
        await pty.waitFor(/\[#lobby\] \S*alice\S*> /);
        bob = await RawClient.join(node.port, "bob");
        cleanup.push(() => bob.close());
        pty.write("hello from ssh\r");
        await bob.next(isMsg("message", "hello from ssh", "alice"));
        await bob.send({ t: "say", text: "hi from tcp" });
        await pty.waitFor(/bob\x1b\[39m> hi from tcp\r\n/);
      });

      await t.step("another user's escape sequences arrive as harmless text", async () => {
        await bob.send({ t: "say", text: "A\x1b]0;pwn\x07B\x1b[2JC\u009b31mD\rE" });
        const seen = await pty.waitFor(/> ABCDE\r\n/);
        for (const bad of ["\x1b]0", "pwn", "\x1b[2J", "\u009b", "31m"]) {
          assert.ok(!seen.includes(bad), `${JSON.stringify(bad)} reached the terminal`);
        }
      });

      await t.step(
        "after the window narrows, a message leaves no stale copy of the input line",
        async () => {
          const ssh = await SshTestClient.connect(port, { username: "narrow", key: generateKey() });
          cleanup.push(() => ssh.end());
          const narrow = await ssh.shell({ cols: 60, rows: 12, term: "xterm" });
          await narrow.waitFor(/narrow\S*> /);
          narrow.write("x".repeat(30));
          await narrow.waitFor("x".repeat(30));
          // Most terminals reflow what they show when they narrow; the
          // session cannot tell, and must look right either way.
          const terminal = new VirtualTerminal(60, true, 12);
          terminal.write(narrow.text);
          const seen = narrow.text.length;
          terminal.resize(20);
          narrow.channel.setWindow(12, 20, 0, 0);
          await narrow.waitFor(/x{7}$/);
          await bob.send({ t: "say", text: "after" });
          await narrow.waitFor(/after[^]*x{7}$/);
          terminal.write(narrow.text.slice(seen));
          const screen = terminal.visible();
          assert.equal(screen.join("").replace(/[^x]/g, "").length, 30, screen.join("\n"));
          assert.match(screen.at(-4) ?? "", /<bob> after$/);
          assert.deepEqual(screen.slice(-3), [
            "[#lobby] narrow> xxx",
            "x".repeat(20),
            "x".repeat(7),
          ]);
          ssh.end();
        },
      );

      await t.step("Ctrl-C leaves cleanly with a leave event", async () => {
        pty.write("half-typed\x03");
        await bob.next(isMsg("leave", undefined, "alice"));
        await pty.waitClosed();
        assert.equal(pty.exitCode, 0);
      });

      await t.step("a plain session (no PTY) and exec speak plain lines", async () => {
        const bot = await SshTestClient.connect(port, { username: "bot" });
        cleanup.push(() => bot.end());
        const plain = await bot.shell(false);
        await plain.waitFor("You are a guest");
        const bob = await RawClient.join(node.port, "bob2");
        cleanup.push(() => bob.close());
        plain.write("beep boop\n");
        await bob.next(isMsg("message", "beep boop", "bot"));
        await bob.send({ t: "say", text: "x\x1b]0;pwn\x07y\x1b[2J\u009b31mz\rw" });
        await plain.waitFor("<bob2> xyzw\n");
        assert.doesNotMatch(plain.text, /[\x1b\x07\r\u0080-\u009f]/);
        const ssh = await SshTestClient.connect(port, { username: "alice", key: alice });
        cleanup.push(() => ssh.end());
        const whois = await ssh.exec("/whois alice");
        whois.end();
        await whois.waitFor(`nick registered to SSH key ${keyFingerprint(alice)}\n`);
        await whois.waitClosed();
        assert.equal(whois.exitCode, 0);
        const guest = await ssh.exec("/whois bot");
        guest.end();
        await guest.waitFor("nick not registered");
      });

      await t.step("a second key is refused a registered nick and offered a free one", async () => {
        const carol = generateKey();
        const first = await SshTestClient.connect(port, { username: "carol", key: carol });
        const run = await first.exec("/nick carol");
        run.end();
        await run.waitClosed();
        first.end();
        const other = await SshTestClient.connect(port, { username: "carol", key: generateKey() });
        cleanup.push(() => other.end());
        const session = await other.shell(false);
        await session.waitFor("Nick carol is registered to another SSH key: you are carol2");
        const tcp = await RawClient.connect(node.port);
        cleanup.push(() => tcp.close());
        await tcp.send({ t: "hello", v: 1, user: "Carol" });
        const error = await tcp.error("nick_taken");
        assert.match(String(error.message), /registered to an SSH key/);
      });

      await t.step("someone else's public key without its private key is refused", async () => {
        for (const key of [forgedKey(alice, generateKey()), randomSignatureKey(alice)]) {
          await rejects(
            SshTestClient.connect(port, {
              username: "alice",
              authHandler: [publicKeyAuth("alice", key)],
            }),
            /authentication methods failed/,
          );
        }
      });

      await t.step("at most 6 login attempts per connection", async () => {
        let attempts = 0;
        const forged = forgedKey(alice, generateKey());
        await rejects(
          SshTestClient.connect(port, {
            username: "alice",
            authHandler: (_methods, _partial, next) => {
              attempts++;
              next(publicKeyAuth("alice", forged));
            },
          }),
          /closed|authentication|reset/i,
        );
        assert.ok(attempts <= 7, `${attempts} attempts were allowed`);
      });

      await t.step("refused: subsystems, forwarding, X11, agent, extra channels", async () => {
        const ssh = await SshTestClient.connect(port, { username: "multi", key: generateKey() });
        cleanup.push(() => ssh.end());
        const client = ssh.client;
        await rejects(new Promise((ok, fail) => client.sftp((e, s) => e ? fail(e) : ok(s))), /.+/);
        await rejects(
          new Promise((ok, fail) => client.subsys("netconf", (e, s) => e ? fail(e) : ok(s))),
          /.+/,
        );
        await rejects(
          new Promise((ok, fail) =>
            client.forwardOut("127.0.0.1", 1, "127.0.0.1", node.port, (e, s) => e ? fail(e) : ok(s))
          ),
          /prohibited|failure|refused/i,
        );
        await rejects(
          new Promise((ok, fail) =>
            client.forwardIn("127.0.0.1", 0, (e, p) => e ? fail(e) : ok(p))
          ),
          /.+/,
        );
        await rejects(
          new Promise((ok, fail) =>
            client.exec("/who", { x11: true }, (e, s) => e ? fail(e) : ok(s))
          ),
          /X11/,
        );
        const agent = new ssh2.Client();
        const agentClient = await new Promise<ssh2.Client>((resolve, reject) => {
          agent.once("ready", () => resolve(agent)).once("error", reject).connect({
            host: "127.0.0.1",
            port,
            username: "agentuser",
            privateKey: generateKey().private,
            agent: "/nonexistent/agent.sock",
            agentForward: true,
          });
        });
        cleanup.push(() => agentClient.end());
        await rejects(
          new Promise((ok, fail) =>
            agentClient.exec(
              "/who",
              // ssh2 reads this option, though its types do not list it.
              { agentForward: true } as ExecOptions,
              (e, s) => e ? fail(e) : ok(s),
            )
          ),
          /agent/i,
        );
        // The refused channels are closed again: the connection can still chat.
        const after = await ssh.shell(false);
        await after.waitFor("Welcome");
        const many = await SshTestClient.connect(port, { username: "many", key: generateKey() });
        cleanup.push(() => many.end());
        const shells = [];
        for (let i = 0; i < 3; i++) shells.push(await many.shell(false));
        await rejects(many.shell(false), /.+/);
        // One key, one person: every shell is `many` (its devices), not many2, many3.
        await shells[2]!.waitFor(/Welcome to meshchat on node \S+, many\./);
      });

      await t.step("a 65535x65535 PTY request is clamped", async () => {
        const ssh = await SshTestClient.connect(port, { username: "wide", key: generateKey() });
        cleanup.push(() => ssh.end());
        const pty = await ssh.shell({ cols: 65535, rows: 65535, term: "xterm" });
        await pty.waitFor(/wide\S*> /);
        // 1200 characters only wrap if the width was clamped (to 1000):
        // Home then has to move the cursor up a row.
        pty.write("x".repeat(1200));
        await pty.waitFor("x".repeat(1200));
        pty.write("\x1b[H");
        await pty.waitFor(/\x1b\[1A/);
        pty.channel.setWindow(0, 0, 0, 0);
        pty.channel.setWindow(65535, 65535, 0, 0);
        pty.write("\r");
        await pty.waitFor(/<\S*wide\S*> x{1200}\r\n/);
      });

      await t.step("the node still serves after all of this", async () => {
        const a = await RawClient.join(node.port, "ctl-a");
        const b = await RawClient.join(node.port, "ctl-b");
        await a.send({ t: "say", text: "still here" });
        await b.next(isMsg("message", "still here"));
        a.close();
        b.close();
      });
    } finally {
      for (const close of cleanup) close();
      await node.stop();
    }
  });
});

Deno.test("100 failed SSH logins leave the node serving and hold the address back", async () => {
  await withDataDir(async (dir) => {
    const node = await startNodeProcess({
      id: "ssh2",
      ssh: true,
      args: ["--data", dir, "--mesh-port", "0"],
    });
    const port = node.sshPort!;
    try {
      const victim = generateKey();
      let failed = 0;
      while (failed < 100) {
        const batch = Array.from({ length: 10 }, () =>
          SshTestClient.connect(port, {
            username: "victim",
            authHandler: [publicKeyAuth("victim", forgedKey(victim, generateKey()))],
          }).then((client) => {
            client.end();
            throw new Error("A forged key got in");
          }, () => failed++));
        await Promise.all(batch);
      }
      assert.equal(
        node.child.pid > 0 && (await Promise.race([node.exited, Promise.resolve("up")])),
        "up",
      );
      const a = await RawClient.join(node.port, "after-a");
      const b = await RawClient.join(node.port, "after-b");
      await a.send({ t: "say", text: "fine" });
      await b.next(isMsg("message", "fine"));
      // 127.0.0.1 used up its failures; another address still gets in.
      await rejects(
        SshTestClient.connect(port, { username: "honest", key: generateKey(), waitMs: 3000 }),
        /.+/,
      );
      const other = await SshTestClient.connect(port, {
        username: "honest",
        key: generateKey(),
        localAddress: "127.0.0.2",
      });
      const session = await other.shell(false);
      session.write("made it\n");
      await b.next(isMsg("message", "made it", "honest"));
      other.end();
      a.close();
      b.close();
    } finally {
      await node.stop();
    }
  });
});

Deno.test("the host key and nick ownership survive a restart; --no-guests refuses guests", async () => {
  await withDataDir(async (dir) => {
    const dora = generateKey();
    const first = await startNodeProcess({
      id: "ssh3",
      ssh: true,
      args: ["--data", dir, "--mesh-port", "0"],
    });
    let hostKey: Uint8Array;
    try {
      const ssh = await SshTestClient.connect(first.sshPort!, { username: "dora", key: dora });
      hostKey = ssh.hostKey;
      const run = await ssh.exec("hello");
      run.end();
      await run.waitClosed();
      ssh.end();
      const logged = /ssh host key fingerprint=(\S+)/.exec(first.log())?.[1];
      assert.equal(logged, fingerprint(hostKey));
      const mode = (await Deno.stat(`${dir}/ssh_host_ed25519_key`)).mode! & 0o777;
      assert.equal(mode, 0o600);
    } finally {
      await first.stop();
    }
    const second = await startNodeProcess({
      id: "ssh3",
      ssh: true,
      args: ["--data", dir, "--mesh-port", "0", "--no-guests"],
    });
    try {
      const ssh = await SshTestClient.connect(second.sshPort!, {
        username: "dora",
        key: generateKey(),
      });
      assert.deepEqual(ssh.hostKey, hostKey);
      const session = await ssh.shell(false);
      await session.waitFor("Nick dora is registered to another SSH key: you are dora2");
      ssh.end();
      await rejects(
        SshTestClient.connect(second.sshPort!, { username: "guest" }),
        /authentication methods failed/,
      );
    } finally {
      await second.stop();
    }
  });
});

/** Whether OpenSSH's client is installed (.ci/run installs it; a laptop may lack it). */
function hasOpenSsh(): boolean {
  try {
    return new Deno.Command("ssh", { args: ["-V"], stderr: "null", stdout: "null" }).outputSync()
      .success;
  } catch {
    console.warn(
      "tests/ssh_test.ts: ssh not found, the OpenSSH test is skipped (apt-get install openssh-client)",
    );
    return false;
  }
}

Deno.test({
  name: "OpenSSH's ssh joins with a throwaway key and a known_hosts file",
  ignore: !hasOpenSsh(),
}, async (t) => {
  await withDataDir(async (dir) => {
    const node = await startNodeProcess({
      id: "ssh4",
      ssh: true,
      args: ["--data", dir, "--mesh-port", "0"],
    });
    const port = node.sshPort!;
    try {
      const key = generateKey();
      await Deno.writeTextFile(`${dir}/id_test`, key.private, { mode: 0o600 });
      await Deno.chmod(`${dir}/id_test`, 0o600);
      const host = parsed(await Deno.readTextFile(`${dir}/ssh_host_ed25519_key`));
      const hostLine = `ssh-ed25519 ${btoa(String.fromCharCode(...host.getPublicSSH()))}`;
      await Deno.writeTextFile(`${dir}/known_hosts`, `[127.0.0.1]:${port} ${hostLine}\n`);
      const ssh = (user: string, extra: string[]) =>
        openSsh(dir, port, `${dir}/id_test`, user, extra);
      const bob = await RawClient.join(node.port, "bob");

      await t.step("plain mode: echo hi | ssh -T", async () => {
        const child = ssh("openbot", ["-T", "-v"]);
        const writer = child.stdin.getWriter();
        await writer.write(new TextEncoder().encode("hi from openssh\n"));
        await bob.next(isMsg("message", "hi from openssh", "openbot"));
        await bob.send({ t: "say", text: "hello openbot" });
        await new Promise((resolve) => setTimeout(resolve, 300));
        await writer.close();
        const out = await child.output();
        const stdout = new TextDecoder().decode(out.stdout);
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, stderr);
        assert.match(stdout, /<bob> hello openbot\n/);
        assert.doesNotMatch(stdout, /\x1b/);
        assert.match(stderr, /kex: algorithm: curve25519-sha256/);
        assert.match(stderr, /host key algorithm: ssh-ed25519/);
        assert.match(stderr, /cipher: (aes256-gcm|aes128-gcm|chacha20-poly1305)@openssh.com/);
      });

      await t.step(
        "ssh -o SetEnv=MESHCHAT_HISTORY=0 -T gets no history, on login nor on /join",
        async () => {
          await bob.send({ t: "say", text: "said before the bots", cid: "before" });
          await bob.next((f) => f.t === "ack" && f.cid === "before");
          // Without the variable, or with a value that is no count: the default.
          const run = async (user: string, env: string[]) => {
            const child = ssh(user, ["-T", ...env]);
            const writer = child.stdin.getWriter();
            // A private message marks the end, and stays out of the room's history.
            await writer.write(new TextEncoder().encode("/join lobby\n/msg bob done\n"));
            await bob.next(isMsg("private", "done", user));
            await writer.close();
            const out = await child.output();
            assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
            return new TextDecoder().decode(out.stdout);
          };
          const quiet = await run("histbot", ["-o", "SetEnv=MESHCHAT_HISTORY=0"]);
          assert.match(quiet, /Now in #lobby\n[^]*Now in #lobby\n/);
          assert.doesNotMatch(quiet, /<bob>/);
          const some = await run("histtwo", ["-o", "SetEnv=MESHCHAT_HISTORY=1"]);
          assert.match(
            some,
            /Now in #lobby\n<bob> said before the bots\n[^]*Now in #lobby\n<bob> said before the bots\n/,
          );
          assert.doesNotMatch(some, /<bob> hello openbot/);
          for (const env of [[], ["-o", "SetEnv=MESHCHAT_HISTORY=lots"]]) {
            const full = await run("histfull", env);
            assert.match(full, /<bob> hello openbot\n<bob> said before the bots\n/);
          }
        },
      );

      await t.step("PTY mode: ssh -tt, type a line, Ctrl-D", async () => {
        const child = ssh("openpty", ["-tt"]);
        const writer = child.stdin.getWriter();
        await bob.next(isMsg("join", undefined, "openpty"));
        await writer.write(new TextEncoder().encode("typed in a pty\r"));
        await bob.next(isMsg("message", "typed in a pty", "openpty"));
        await writer.write(new TextEncoder().encode("\x04"));
        await bob.next(isMsg("leave", undefined, "openpty"));
        await writer.close();
        const out = await child.output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      });

      await t.step(
        "each cipher works; group-exchange and other host keys are refused",
        async () => {
          for (const cipher of ["aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"]) {
            const child = ssh(`c${cipher.slice(0, 4)}`, ["-T", "-c", cipher]);
            await child.stdin.close();
            const out = await child.output();
            assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
          }
          for (
            const option of [
              "KexAlgorithms=diffie-hellman-group-exchange-sha256",
              "HostKeyAlgorithms=rsa-sha2-512",
            ]
          ) {
            const child = ssh("refused", ["-T", "-o", option]);
            await child.stdin.close();
            const out = await child.output();
            assert.notEqual(out.code, 0, option);
            assert.match(new TextDecoder().decode(out.stderr), /no matching/);
          }
        },
      );
      bob.close();
    } finally {
      await node.stop();
    }
  });
});

/** Runs OpenSSH's `ssh` against a test node with a throwaway key and known_hosts file. */
function openSsh(dir: string, port: number, keyFile: string, user: string, extra: string[]) {
  return new Deno.Command("ssh", {
    args: [
      "-F",
      "/dev/null",
      "-p",
      String(port),
      "-i",
      keyFile,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${dir}/known_hosts`,
      "-o",
      "ConnectTimeout=10",
      ...extra,
      `${user}@127.0.0.1`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** `HH:MM` of a time in a zone, as an SSH screen should show it. */
function clockIn(time: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(time);
  return `${parts.find((p) => p.type === "hour")!.value}:${
    parts.find((p) => p.type === "minute")!.value
  }`;
}

Deno.test({
  name: "SSH settings last across logins with the same key, and TZ sets the zone of times",
  ignore: !hasOpenSsh(),
}, async (t) => {
  await withDataDir(async (dir) => {
    const sshPort = freePort();
    const start = () =>
      startNodeProcess({
        id: "ssh5",
        ssh: sshPort,
        args: ["--data", dir, "--burst", "0", "--mesh-port", "0"],
      });
    let node = await start();
    try {
      const host = parsed(await Deno.readTextFile(`${dir}/ssh_host_ed25519_key`));
      const hostLine = `ssh-ed25519 ${btoa(String.fromCharCode(...host.getPublicSSH()))}`;
      await Deno.writeTextFile(`${dir}/known_hosts`, `[127.0.0.1]:${sshPort} ${hostLine}\n`);
      const keys = [generateKey(), generateKey()];
      for (const [i, key] of keys.entries()) {
        await Deno.writeTextFile(`${dir}/id_${i}`, key.private, { mode: 0o600 });
        await Deno.chmod(`${dir}/id_${i}`, 0o600);
      }
      let bob = await RawClient.join(node.port, "bob");
      // Lines typed into `ssh -T`, then a private message to bob that marks the end.
      const session = async (key: number, user: string, lines: string, env: string[] = []) => {
        const child = openSsh(dir, sshPort, `${dir}/id_${key}`, user, ["-T", ...env]);
        const writer = child.stdin.getWriter();
        const end = `end-${crypto.randomUUID().slice(0, 6)}`;
        await writer.write(new TextEncoder().encode(`${lines}/msg bob ${end}\n`));
        await bob.next(isMsg("private", end, user));
        await writer.close();
        const out = await child.output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        return new TextDecoder().decode(out.stdout);
      };
      const said = async (text: string): Promise<number> => {
        await bob.send({ t: "say", text });
        return Number((await bob.next(isMsg("message", text, "bob"))).time);
      };

      await t.step(
        "a key's /theme, /timestamp, /tz and /ignore come back after a restart",
        async () => {
          const first = await session(
            0,
            "keeper",
            "/theme mono\n/timestamp on\n/tz Europe/Paris\n/ignore carol\n",
          );
          assert.match(first, /Time zone: Europe\/Paris/);
          assert.doesNotMatch(first, /Your saved settings/);
          bob.close();
          await node.stop();
          node = await start();
          bob = await RawClient.join(node.port, "bob");
          const time = await said("clock check");
          const second = await session(0, "keeper", "/history 3\n");
          assert.match(
            second,
            /Your saved settings: theme mono, timestamps on, time zone Europe\/Paris, ignoring 1 person\./,
          );
          assert.ok(
            second.includes(`${clockIn(time, "Europe/Paris")} <bob> clock check`),
            second,
          );
          const listed = await session(0, "keeper", "/ignore\n");
          assert.match(listed, /You ignore: carol/);
        },
      );

      await t.step("another key starts from the defaults", async () => {
        const other = await session(1, "fresh", "/tz\n");
        assert.doesNotMatch(other, /Your saved settings/);
        assert.match(other, /Time zone: default/);
      });

      await t.step(
        "ssh -o SetEnv=TZ=Asia/Tokyo shows times in Tokyo; /tz overrides it",
        async () => {
          const time = await said("tokyo check");
          const tokyo = await session(1, "fresh", "/timestamp on\n/history 1\n", [
            "-o",
            "SetEnv=TZ=Asia/Tokyo",
          ]);
          assert.ok(tokyo.includes(`${clockIn(time, "Asia/Tokyo")} <bob> tokyo check`), tokyo);
          const chosen = await session(1, "fresh", "/tz America/New_York\n/history 1\n", [
            "-o",
            "SetEnv=TZ=Asia/Tokyo",
          ]);
          assert.ok(
            chosen.includes(`${clockIn(time, "America/New_York")} <bob> tokyo check`),
            chosen,
          );
          // An unknown zone is refused with the way out, and the session goes on.
          const bad = await session(1, "fresh", "/tz Mars/Olympus\n");
          assert.match(
            bad,
            /error: Unknown time zone "Mars\/Olympus": use a name like Europe\/Paris/,
          );
        },
      );
      bob.close();
    } finally {
      await node.stop();
    }
  });
});
