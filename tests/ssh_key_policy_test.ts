/**
 * SSH login hardening on a real node process, driven by the OpenSSH client:
 * weak user keys (DSA, RSA signed with SHA-1, short RSA) are refused with a
 * banner that says why, strong ones (ed25519, ECDSA, RSA with SHA-2) get in;
 * an SSH user name full of escape sequences reaches the node's log escaped.
 *
 * @module
 */
import assert from "node:assert/strict";
// @deno-types="@types/ssh2"
import ssh2 from "ssh2";
import { startNodeProcess } from "./helpers/node_process.ts";
import { generateKey, SshTestClient } from "./helpers/ssh_client.ts";

/** Whether OpenSSH's client is installed (.ci/run installs it; a laptop may lack it). */
function hasOpenSsh(): boolean {
  try {
    return new Deno.Command("ssh", { args: ["-V"], stderr: "null", stdout: "null" }).outputSync()
      .success;
  } catch {
    console.warn("tests/ssh_key_policy_test.ts: ssh not found, the OpenSSH tests are skipped");
    return false;
  }
}

/** What an OpenSSH run printed and how it ended. */
interface SshRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A throwaway key in OpenSSH format, made with ssh2 (ssh-keygen is not allowed to run). */
function opensshKey(type: "rsa" | "ecdsa", bits: number): string {
  return ssh2.utils.generateKeyPairSync(type, { bits }).private;
}

Deno.test({
  name: "OpenSSH: weak user keys are refused with the reason, strong ones get in",
  ignore: !hasOpenSsh(),
}, async (t) => {
  const dir = `./data/test-sshkeys-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir, { recursive: true });
  const node = await startNodeProcess({
    id: "sshkeys",
    ssh: true,
    args: ["--data", dir, "--mesh-port", "0"],
  });
  const port = node.sshPort!;
  try {
    const host = ssh2.utils.parseKey(await Deno.readTextFile(`${dir}/ssh_host_ed25519_key`));
    if (host instanceof Error || Array.isArray(host)) throw new Error("Cannot read the host key");
    const hostLine = `ssh-ed25519 ${btoa(String.fromCharCode(...host.getPublicSSH()))}`;
    await Deno.writeTextFile(`${dir}/known_hosts`, `[127.0.0.1]:${port} ${hostLine}\n`);
    const keyFile = async (name: string, privateKey: string) => {
      const path = `${dir}/${name}`;
      await Deno.writeTextFile(path, privateKey, { mode: 0o600 });
      await Deno.chmod(path, 0o600);
      return path;
    };
    /** Runs `ssh -T` with one key and the options given; stdin is empty. */
    const ssh = async (user: string, key: string, options: string[]): Promise<SshRun> => {
      const out = await new Deno.Command("ssh", {
        args: [
          "-F",
          "/dev/null",
          "-T",
          "-p",
          String(port),
          "-i",
          key,
          "-o",
          "IdentitiesOnly=yes",
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          `UserKnownHostsFile=${dir}/known_hosts`,
          "-o",
          "ConnectTimeout=10",
          ...options.flatMap((option) => ["-o", option]),
          `${user}@127.0.0.1`,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decoder = new TextDecoder();
      return {
        code: out.code,
        stdout: decoder.decode(out.stdout),
        stderr: decoder.decode(out.stderr),
      };
    };
    const keyOnly = ["BatchMode=yes", "PreferredAuthentications=publickey"];

    await t.step("a DSA key is refused, and ssh shows why", async () => {
      const dsa = await keyFile(
        "id_dsa",
        await Deno.readTextFile(new URL("./fixtures/ssh_dss_test_key", import.meta.url)),
      );
      const run = await ssh("dsauser", dsa, [...keyOnly, "PubkeyAcceptedAlgorithms=+ssh-dss"]);
      assert.equal(run.code, 255, run.stderr);
      assert.match(run.stderr, /Refused ssh-dss \(DSA\) key: DSA keys are weak/);
      assert.match(run.stderr, /ssh-keygen -t ed25519/);
      assert.match(run.stderr, /Permission denied \(publickey/);
      assert.doesNotMatch(run.stdout, /Welcome/);
    });

    const rsa = await keyFile("id_rsa", opensshKey("rsa", 2048));

    await t.step(
      "an RSA signature with SHA-1 (ssh-rsa) is refused, and ssh shows why",
      async () => {
        const run = await ssh("sha1user", rsa, [...keyOnly, "PubkeyAcceptedAlgorithms=ssh-rsa"]);
        assert.equal(run.code, 255, run.stderr);
        assert.match(run.stderr, /Refused RSA signature with SHA-1 \(ssh-rsa\): SHA-1 is broken/);
        assert.match(run.stderr, /Permission denied \(publickey/);
      },
    );

    await t.step("the same RSA key signing with SHA-2 gets in", async () => {
      // Not rsa-sha2-512: ssh2 1.17 lists it in server-sig-algs glued to the name before it
      // (a missing comma), so OpenSSH never offers it; its default, rsa-sha2-256, works.
      const run = await ssh("sha2user", rsa, [...keyOnly, "PubkeyAcceptedAlgorithms=rsa-sha2-256"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /Your SSH key is SHA256:/);
      assert.doesNotMatch(run.stderr, /Refused/);
    });

    await t.step("a 1024-bit RSA key is refused even with SHA-2", async () => {
      const short = await keyFile("id_rsa1024", opensshKey("rsa", 1024));
      const run = await ssh("shortrsa", short, [
        ...keyOnly,
        "PubkeyAcceptedAlgorithms=rsa-sha2-256",
      ]);
      assert.equal(run.code, 255, run.stderr);
      assert.match(run.stderr, /Refused 1024-bit RSA key: at least 2048 bits are needed/);
    });

    await t.step("ECDSA and ed25519 keys get in", async () => {
      const ecdsa = await keyFile("id_ecdsa", opensshKey("ecdsa", 256));
      const ed25519 = await keyFile("id_ed25519", generateKey().private);
      for (const key of [ecdsa, ed25519]) {
        const run = await ssh("strong", key, keyOnly);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /Your SSH key is SHA256:/);
      }
    });

    await t.step("a weak key first does not cost the strong key after it", async () => {
      const strong = await keyFile("id_second", generateKey().private);
      const run = await ssh("twokeys", `${dir}/id_dsa`, [
        ...keyOnly,
        "PubkeyAcceptedAlgorithms=+ssh-dss",
        `IdentityFile=${strong}`,
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /Refused ssh-dss \(DSA\) key/);
      assert.match(run.stdout, /Your SSH key is SHA256:/);
    });

    await t.step(
      "with guests on, a refused key still hears why, then joins as a guest",
      async () => {
        const run = await ssh("fallback", rsa, [
          "PubkeyAcceptedAlgorithms=ssh-rsa",
          "PreferredAuthentications=publickey,keyboard-interactive",
        ]);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /Refused RSA signature with SHA-1 \(ssh-rsa\)/);
        assert.match(run.stdout, /You are a guest/);
        assert.doesNotMatch(run.stdout, /Your SSH key is/);
      },
    );

    await t.step("each refusal is logged with its reason", () => {
      const log = node.log();
      assert.match(log, /ssh key refused addr=127\.0\.0\.1 why="Refused ssh-dss \(DSA\) key:/);
      assert.match(log, /ssh key refused addr=127\.0\.0\.1 why="Refused RSA signature with SHA-1/);
    });
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("an SSH user name with escape sequences reaches the log escaped", async () => {
  const node = await startNodeProcess({ id: "sshlog", ssh: true, args: ["--mesh-port", "0"] });
  try {
    // No space in the first: nothing asked for quotes, so it used to go out raw.
    const names = ["evil\x1b]0;pwned\x07\x1b[2J", "x\n2099-01-01 \u009b2J\u202eINFO"];
    for (const username of names) {
      const client = await SshTestClient.connect(node.sshPort!, { username });
      const session = await client.shell(false);
      await session.waitFor("You are a guest");
      client.end();
    }
    const log = node.log();
    assert.match(log, /ssh login user="evil\\u001b\]0;pwned\\u0007\\u001b\[2J" key=guest/);
    assert.match(
      log,
      /ssh login user="x\\n2099-01-01 \\u009b2J\\u202eINFO" key=guest/,
    );
    assert.doesNotMatch(log, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/, "a raw control character");
    assert.doesNotMatch(log, /^2099/m, "a forged log line");
  } finally {
    await node.stop();
  }
});
