/**
 * Identity end to end on real node processes: a key proven in the client
 * protocol's `hello` (core/login_proof.ts) owns its nick on every node and
 * frontend, as an SSH key does; forged, replayed and misdirected proofs are
 * refused; keys linked with `/keys` own the nick too; a key in `--ops` is an
 * operator whatever frontend proved it; and the terminal client's own key
 * file is the same identity over `ssh -i`.
 */
import assert from "node:assert/strict";
import { SshEd25519Key } from "../core/crypto/ssh_ed25519_key.ts";
import { signLogin } from "../core/login_proof.ts";
import { startCluster } from "./helpers/cluster.ts";
import { ClientProcess } from "./helpers/client_process.ts";
import { command, helloAnswer, keyHello, keyJoin } from "./helpers/key_client.ts";
import { settingsPermissions, withConfigHome } from "./helpers/config_home.ts";
import { freePort, startNodeProcess } from "./helpers/node_process.ts";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { KeygenDir } from "./helpers/ssh_keygen.ts";
import { waitFor } from "./helpers/wait_for.ts";
import { WsClient } from "./helpers/ws_client.ts";

/** The `/who` entries of a nick. */
function whoIs(who: Frame, nick: string): { nick: string; node: string }[] {
  return (who.data as { nick: string; node: string }[]).filter((m) => m.nick === nick);
}

Deno.test("a key proven in hello logs in; forged, replayed and misdirected proofs are refused (TCP and WebSocket)", async () => {
  const httpPort = freePort();
  const node = await startNodeProcess({ id: "idn", args: ["--http-port", String(httpPort)] });
  try {
    const alice = await SshEd25519Key.generate();
    const mallory = await SshEd25519Key.generate();
    const client = await RawClient.connect(node.port);
    try {
      // Answering before any challenge.
      await client.send({ t: "auth", signature: await signLogin(alice, "idn", "x") });
      assert.match(String((await client.error("bad_frame")).message), /No challenge to answer/);

      // A signature by another key than the hello named.
      await client.send({ t: "hello", v: 1, user: "alice", key: alice.publicKeyLine() });
      const first = await client.next((f) => f.t === "challenge");
      await client.send({
        t: "auth",
        signature: await signLogin(mallory, String(first.node), String(first.nonce)),
      });
      assert.match(
        String((await client.error("auth_failed")).message),
        /Cannot log in with your key: Signature is made with another key/,
      );

      // The right key, but for another node's challenge (a proof shown to a rogue node, replayed).
      await client.send({ t: "hello", v: 1, user: "alice", key: alice.publicKeyLine() });
      const second = await client.next((f) => f.t === "challenge");
      await client.send({
        t: "auth",
        signature: await signLogin(alice, "other-node", String(second.nonce)),
      });
      assert.match(String((await client.error("auth_failed")).message), /does not verify/);

      // A proof of the first challenge, replayed for a new one.
      await client.send({ t: "hello", v: 1, user: "alice", key: alice.publicKeyLine() });
      const third = await client.next((f) => f.t === "challenge");
      assert.notEqual(third.nonce, first.nonce);
      await client.send({
        t: "auth",
        signature: await signLogin(alice, String(first.node), String(first.nonce)),
      });
      await client.error("auth_failed");
      // The challenge is used up by a failed answer: the right one now is too late.
      await client.send({
        t: "auth",
        signature: await signLogin(alice, String(third.node), String(third.nonce)),
      });
      await client.error("bad_frame");

      // A key line that is not one.
      await client.send({ t: "hello", v: 1, user: "alice", key: "ssh-ed25519 AAAA" });
      await client.error("auth_failed");

      // And the proof done right: the connection is alice, as that key.
      const welcome = await keyHello(client, alice, "alice");
      assert.equal(welcome.t, "welcome", JSON.stringify(welcome));
      const whoami = await command(client, "/whoami");
      assert.equal((whoami.data as { fingerprint: string }).fingerprint, await alice.fingerprint());
      assert.equal((whoami.data as { owned: boolean }).owned, true);
    } finally {
      client.close();
    }

    // A plain hello is still a guest, who may not take alice.
    assert.match(await helloAnswer(node.port, "alice"), /^error Nick alice is/);
    assert.equal(await helloAnswer(node.port, "guest1"), "welcome guest1");

    // The WebSocket shares the protocol: the same challenge, the same identity.
    const ws = await WsClient.connect(`ws://127.0.0.1:${httpPort}/ws`);
    try {
      const answer = await keyHello(ws, alice, "alice");
      assert.equal(answer.t, "welcome", JSON.stringify(answer));
      ws.send({ t: "cmd", line: "/whoami" });
      const whoami = await ws.next((f) => f.t === "info" && f.cmd === "whoami");
      assert.equal((whoami.data as { fingerprint: string }).fingerprint, await alice.fingerprint());
    } finally {
      ws.close();
    }
    const wsMallory = await WsClient.connect(`ws://127.0.0.1:${httpPort}/ws`);
    try {
      const refused = await keyHello(wsMallory, mallory, "alice");
      assert.match(String(refused.message), /registered to another SSH key/);
    } finally {
      wsMallory.close();
    }
  } finally {
    await node.stop();
  }
});

Deno.test("the terminal client's key owns its nick on every node, and ssh -i its key file is the same identity", async () => {
  const cluster = await startCluster({ size: 2, ssh: true });
  try {
    const [n1, n2] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    await withConfigHome(async (home) => {
      const options = { permissions: settingsPermissions(home), env: { XDG_CONFIG_HOME: home } };
      const client = new ClientProcess(
        ["-server", `127.0.0.1:${n1.process.port}`, "-user", "alice"],
        options,
      );
      let fingerprint = "";
      try {
        await client.waitFor(/made your identity key .*id_ed25519 \((SHA256:\S+)\)/, "stderr");
        fingerprint = /\((SHA256:\S+)\)/.exec(client.stderr)![1]!;
        await client.line("/whoami");
        await client.waitFor(/alice is registered to your key: yours on every node/);
        assert.match(client.stdout, new RegExp(`key ${fingerprint.replace(/[+/]/g, "\\$&")}`));
        assert.equal(await client.end(), 0, client.stderr);
      } finally {
        client.kill();
      }
      const keyFile = `${home}/meshchat/id_ed25519`;
      assert.equal((await Deno.stat(keyFile)).mode! & 0o777, 0o600);

      // Node 2: a guest and another key are refused alice once the claim is there.
      await waitFor(
        async () => /registered to an SSH key/.test(await helloAnswer(n2.process.port, "alice")),
        "alice to be registered on node 2",
      );
      const other = await SshEd25519Key.generate();
      assert.match(
        await helloAnswer(n2.process.port, "alice", other),
        /^error Nick alice is registered to another SSH key/,
      );
      await withConfigHome(async (otherHome) => {
        const refused = new ClientProcess(
          ["-server", `127.0.0.1:${n2.process.port}`, "-user", "alice"],
          { permissions: settingsPermissions(otherHome), env: { XDG_CONFIG_HOME: otherHome } },
        );
        try {
          assert.equal(await refused.done, 1);
          assert.match(
            refused.stderr,
            /refused to let you in: Nick alice is registered to another/,
          );
        } finally {
          refused.kill();
        }
      });

      // The client's own key file, with OpenSSH's ssh -i, on node 2: alice, as that key.
      const ssh = await new Deno.Command("ssh", {
        args: [
          ...["-F", "/dev/null", "-T", "-p", String(n2.process.sshPort), "-i", keyFile],
          ...["-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no"],
          ...["-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10"],
          "alice@127.0.0.1",
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = ssh.stdin.getWriter();
      await writer.write(new TextEncoder().encode("/whoami\n"));
      await writer.close();
      const out = await ssh.output();
      const text = new TextDecoder().decode(out.stdout);
      assert.match(text, /alice on node \S+ via ssh/, new TextDecoder().decode(out.stderr));
      assert.ok(text.includes(`key ${fingerprint}`), text);
      assert.match(text, /alice is registered to your key/);
    });
  } finally {
    await cluster.close();
  }
});

Deno.test("linked keys own the nick on every node; only an owning session links, and the first key stays", async () => {
  const cluster = await startCluster({ size: 2, ssh: false });
  try {
    const [n1, n2] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const laptop = await SshEd25519Key.generate();
    const phone = await SshEd25519Key.generate();
    const stranger = await SshEd25519Key.generate();
    const owner = await keyJoin(n1.process.port, laptop, "bob");
    try {
      // Not linked yet: the phone's key may not be bob.
      await waitFor(
        async () => /another SSH key/.test(await helloAnswer(n2.process.port, "bob", phone)),
        "bob to be registered on node 2",
      );
      const added = await command(owner, `/keys add ${phone.publicKeyLine()}`);
      assert.match(String((added.lines as string[])[0]), /linked to bob, on every node/);
      const listed = await command(owner, "/keys");
      assert.deepEqual((listed.data as { keys: string[] }).keys, [
        await laptop.fingerprint(),
        await phone.fingerprint(),
      ]);
      // The phone is bob on node 2 (after the link event arrives), beside the laptop on node 1.
      await waitFor(
        async () => (await helloAnswer(n2.process.port, "bob", phone)) === "welcome bob",
        "the phone's key to own bob on node 2",
      );
      const removeFirst = await command(owner, `/keys remove ${await laptop.fingerprint()}`);
      assert.equal(removeFirst.code, "forbidden");
      assert.match(String(removeFirst.message), /registered bob and stays its key/);
    } finally {
      owner.close();
    }

    // Someone whose key does not own their nick cannot link keys to it.
    const guest = await RawClient.join(n1.process.port, "carol");
    try {
      const refused = await command(guest, `/keys add ${await stranger.fingerprint()}`);
      assert.equal(refused.code, "forbidden");
    } finally {
      guest.close();
    }

    // Linked keys survive a restart (snapshot) and unlinking takes the nick away from the key.
    await n2.process.stop();
    await cluster.restart(1);
    assert.equal(await helloAnswer(n2.process.port, "bob", phone), "welcome bob");
    const phoneSession = await keyJoin(n2.process.port, phone, "bob");
    try {
      // Unlinking its own key ends the session at once: its bye says so.
      await phoneSession.send({ t: "cmd", line: `/keys remove ${await phone.fingerprint()}` });
      const bye = await phoneSession.next((f) => f.t === "bye");
      assert.match(String(bye.reason), /unlinked from bob/);
    } finally {
      phoneSession.close();
    }
    await waitFor(
      async () => /another SSH key/.test(await helloAnswer(n1.process.port, "bob", phone)),
      "the phone's key to lose bob on node 1",
    );
  } finally {
    await cluster.close();
  }
});

Deno.test("a terminal client key listed in --ops is an operator; a key linked to its nick is not", async () => {
  await withConfigHome(async (home) => {
    const opKey = await SshEd25519Key.generate("op");
    const linked = await SshEd25519Key.generate("linked");
    await Deno.mkdir(`${home}/meshchat`, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(`${home}/meshchat/id_ed25519`, opKey.privateKeyFile(), {
      mode: 0o600,
    });
    const opsFile = `${home}/ops`;
    await Deno.writeTextFile(opsFile, `${await opKey.fingerprint()} # the operator\n`);
    const node = await startNodeProcess({ id: "idops", args: ["--ops", opsFile] });
    try {
      const target = await RawClient.join(node.port, "troll");
      const op = new ClientProcess(
        ["-server", `127.0.0.1:${node.port}`, "-user", "boss"],
        { permissions: settingsPermissions(home), env: { XDG_CONFIG_HOME: home } },
      );
      try {
        await op.waitFor(/^Now in #lobby$/m);
        await op.line("/keys add " + (await linked.fingerprint()));
        await op.waitFor(/linked to boss/);
        await op.line("/kick troll enough");
        await target.next((f) => f.t === "bye" && /kicked by boss/.test(String(f.reason)));
        assert.equal(await op.end(), 0, op.stderr);
      } finally {
        op.kill();
        target.close();
      }
      // The linked key is boss too, but not an operator: it is not in the ops file.
      const second = await keyJoin(node.port, linked, "boss");
      try {
        const refused = await command(second, "/kick nobody");
        assert.equal(refused.code, "forbidden");
      } finally {
        second.close();
      }
    } finally {
      await node.stop();
    }
  });
});

Deno.test("one identity on several devices and nodes is one person: one nick, shared rooms and messages, one presence", async () => {
  const cluster = await startCluster({ size: 2, ssh: false });
  try {
    const [n1, n2] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const key = await SshEd25519Key.generate();
    const observer = await RawClient.join(n1.process.port, "watcher");
    const laptop = await keyJoin(n1.process.port, key, "dana");
    const tablet = await keyJoin(n1.process.port, key, "DANA");
    try {
      // Same node: the same nick (as first spelled), not dana_2.
      assert.equal(tablet.frames.find((f) => f.t === "welcome")?.nick, "dana");
      // Node 2 sees dana in #lobby (presence) and knows the claim, before her phone comes.
      const lookout = await RawClient.join(n2.process.port, "lookout");
      try {
        await waitFor(
          async () => whoIs(await command(lookout, "/who"), "dana").length === 1,
          "node 2 to see dana",
        );
      } finally {
        lookout.close();
      }
      await waitFor(
        async () => (await helloAnswer(n2.process.port, "dana", key)) === "welcome dana",
        "node 2 to know dana's claim",
      );
      const phone = await keyJoin(n2.process.port, key, "dana");
      try {
        // /who lists dana once, on both nodes.
        await waitFor(async () => {
          const entries = whoIs(await command(observer, "/who"), "dana");
          return entries.length === 1 && entries[0]!.node.split(",").length === 2;
        }, "one /who entry for dana on two nodes");
        // One join event for the person in #lobby, however many devices came.
        const joins = (from: string) =>
          observer.frames.filter((f) => f.t === "msg" && f.kind === "join" && f.from === from);
        assert.equal(joins("dana").length, 1, JSON.stringify(joins("dana")));

        // Joining a room on one device joins the person: the others follow, here and there.
        await laptop.send({ t: "cmd", line: "/join plans" });
        await tablet.next((f) => f.t === "joined" && f.room === "plans");
        await phone.next((f) => f.t === "joined" && f.room === "plans");

        // A message sent from one appears on all of them.
        await phone.send({ t: "say", room: "plans", text: "from the phone" });
        for (const device of [laptop, tablet, phone]) {
          await device.next((f) => f.t === "msg" && f.text === "from the phone");
        }
        // A private message to dana reaches every device.
        await observer.send({ t: "cmd", line: "/msg dana psst" });
        for (const device of [laptop, tablet, phone]) {
          await device.next((f) => f.t === "msg" && f.kind === "private" && f.text === "psst");
        }
        // Another nick is refused while other devices are on: one nick for the person.
        const renamed = await command(laptop, "/nick dana2");
        assert.equal(renamed.code, "forbidden");

        // Devices going one by one: no leave until the last one goes.
        laptop.close();
        tablet.close();
        await waitFor(async () => {
          const entries = whoIs(await command(observer, "/who"), "dana");
          return entries.length === 1 && entries[0]!.node === n2.id;
        }, "dana to be on node 2 only");
        assert.equal(
          observer.frames.filter((f) => f.t === "msg" && f.kind === "leave" && f.from === "dana")
            .length,
          0,
          "no leave while the phone is on",
        );
      } finally {
        phone.close();
      }
      await observer.next((f) => f.t === "msg" && f.kind === "leave" && f.from === "dana");
    } finally {
      laptop.close();
      tablet.close();
      observer.close();
    }
  } finally {
    await cluster.close();
  }
});

Deno.test("client -identity uses an ssh-keygen key file, -guest none, and a bad key file is a clear error", async () => {
  const node = await startNodeProcess({ id: "idflags" });
  try {
    await withConfigHome(async (home) => {
      const options = { permissions: settingsPermissions(home), env: { XDG_CONFIG_HOME: home } };
      const keys = await KeygenDir.create();
      try {
        const made = await keys.key("ed25519");
        const keyFile = `${home}/ssh_key`;
        await Deno.copyFile(made.path, keyFile);
        const keyed = new ClientProcess(
          ["-server", `127.0.0.1:${node.port}`, "-user", "erin", "-identity", keyFile],
          options,
        );
        try {
          await keyed.line("/whoami");
          await keyed.waitFor(/erin is registered to your key/);
          assert.ok(keyed.stdout.includes(`key ${made.fingerprint}`), keyed.stdout);
          assert.equal(await keyed.end(), 0, keyed.stderr);
        } finally {
          keyed.kill();
        }
        // No key file was made in the settings directory for it.
        await assert.rejects(Deno.stat(`${home}/meshchat/id_ed25519`), Deno.errors.NotFound);
      } finally {
        await keys.remove();
      }

      const guest = new ClientProcess(
        ["-server", `127.0.0.1:${node.port}`, "-user", "frank", "-guest"],
        options,
      );
      try {
        await guest.line("/whoami");
        await guest.waitFor(/no key: a guest/);
        assert.equal(await guest.end(), 0, guest.stderr);
      } finally {
        guest.kill();
      }

      await Deno.writeTextFile(`${home}/not_a_key`, "hello\n");
      const bad = new ClientProcess(
        ["-server", `127.0.0.1:${node.port}`, "-user", "gwen", "-identity", `${home}/not_a_key`],
        options,
      );
      try {
        assert.equal(await bad.done, 2);
        assert.match(
          bad.stderr,
          /^meshchat: Cannot use identity key .*not an OpenSSH private key/m,
        );
      } finally {
        bad.kill();
      }
    });
  } finally {
    await node.stop();
  }
});
