// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import { KeygenDir, runSshKeygen } from "../../tests/helpers/ssh_keygen.ts";
import { decodeBase64, encodeBase64 } from "./_base64.ts";
import { SshEd25519Key } from "./ssh_ed25519_key.ts";
import { SshSignatureError, verifySshSignature } from "./sshsig.ts";

const MESSAGE = new TextEncoder().encode("meshchat-login n1 nonce\n");

Deno.test("SshEd25519Key writes a key file OpenSSH reads, and signs what ssh-keygen -Y verify accepts", async () => {
  const keys = await KeygenDir.create();
  try {
    const key = await SshEd25519Key.generate("alice@laptop");
    const path = `./data/tmp/${crypto.randomUUID()}`;
    await Deno.writeTextFile(path, key.privateKeyFile(), { mode: 0o600 });
    try {
      // ssh-keygen -y derives the public key line from the private key file.
      const derived = (await runSshKeygen(["-y", "-f", path])).trim();
      assert.equal(derived, key.publicKeyLine());
      const listed = await runSshKeygen(["-l", "-E", "sha256", "-f", path]);
      assert.equal(listed.split(" ")[1], await key.fingerprint());
      const signature = await key.sign(MESSAGE, "meshchat-login");
      const signers = `${path}.signers`;
      await Deno.writeTextFile(signers, `alice ${key.publicKeyLine()}\n`);
      const sigFile = `${path}.sig`;
      await Deno.writeTextFile(sigFile, signature);
      const verified = await runSshKeygen(
        ["-Y", "verify", "-f", signers, "-I", "alice", "-n", "meshchat-login", "-s", sigFile],
        MESSAGE,
      );
      assert.match(verified, /Good "meshchat-login" signature for alice/);
      await Deno.remove(signers);
      await Deno.remove(sigFile);
    } finally {
      await Deno.remove(path);
    }
  } finally {
    await keys.remove();
  }
});

Deno.test("SshEd25519Key.parse() reads ssh-keygen's key file and signs as that key", async () => {
  const keys = await KeygenDir.create();
  try {
    const made = await keys.key("ed25519");
    const key = await SshEd25519Key.parse(await Deno.readTextFile(made.path));
    assert.equal(await key.fingerprint(), made.fingerprint);
    assert.equal(key.publicKeyLine(), made.publicLine);
    assert.equal(key.comment, "test-ed25519");
    const signature = await key.sign(MESSAGE, "meshchat-login");
    const signer = await verifySshSignature(signature, {
      message: MESSAGE,
      namespace: "meshchat-login",
    });
    assert.deepEqual(signer.blob, key.publicKey.blob);
    // The same signature made by ssh-keygen verifies the same way.
    await verifySshSignature(await keys.sign(made, MESSAGE, "meshchat-login"), {
      message: MESSAGE,
      namespace: "meshchat-login",
      publicKey: key.publicKey,
    });
  } finally {
    await keys.remove();
  }
});

Deno.test("SshEd25519Key.parse() refuses other key types, encrypted files and corrupt ones", async () => {
  const keys = await KeygenDir.create();
  try {
    const rsa = await keys.key("nistp256");
    await assert.rejects(
      SshEd25519Key.parse(await Deno.readTextFile(rsa.path)),
      (error) => error instanceof SshSignatureError && /only ssh-ed25519/.test(error.message),
    );
    const made = await keys.key("ed25519");
    await runSshKeygen(["-p", "-N", "secret words", "-f", made.path]);
    await assert.rejects(
      SshEd25519Key.parse(await Deno.readTextFile(made.path)),
      (error) => error instanceof SshSignatureError && /encrypted key file/.test(error.message),
    );
  } finally {
    await keys.remove();
  }
  await assert.rejects(SshEd25519Key.parse("ssh-ed25519 AAAA"), /not an OpenSSH private key/);
  // A file whose seed is not its public key's: refused, never a key whose signatures fail later.
  const file = (await SshEd25519Key.generate()).privateKeyFile().trim().split("\n");
  const blob = decodeBase64(file.slice(1, -1).join(""), "base64");
  // magic 15, "none" 8, "none" 8, "" 4, count 4, public blob 4 + 51, section length 4,
  // checks 8, type 15, public 36, pair length 4: the seed.
  const seedAt = 15 + 8 + 8 + 4 + 4 + 55 + 4 + 8 + 15 + 36 + 4;
  blob.set(crypto.getRandomValues(new Uint8Array(32)), seedAt);
  const corrupt = [file[0], encodeBase64(blob, "base64"), file.at(-1)].join("\n");
  await assert.rejects(SshEd25519Key.parse(corrupt), /public and private halves disagree/);
});

Deno.test("SshEd25519Key signatures are bound to their namespace and message", async () => {
  const key = await SshEd25519Key.generate();
  const signature = await key.sign(MESSAGE, "meshchat-login");
  await assert.rejects(
    verifySshSignature(signature, { message: MESSAGE, namespace: "meshchat" }),
    /namespace meshchat-login, not meshchat/,
  );
  await assert.rejects(
    verifySshSignature(signature, {
      message: new TextEncoder().encode("another nonce"),
      namespace: "meshchat-login",
    }),
    /does not verify/,
  );
});
