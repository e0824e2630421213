import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
// @deno-types="@types/ssh2"
import ssh2 from "ssh2";
import { generateEd25519Key, HostKeyError, loadHostKey, sshFingerprint } from "./ssh_host_key.ts";

async function withDir(run: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = `./data/test-hostkey-${crypto.randomUUID()}`;
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("sshFingerprint() is SHA256: and unpadded base64, as ssh-keygen -l prints", () => {
  // sha256("") = e3b0c442...; base64 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
  assert.equal(
    sshFingerprint(new Uint8Array()),
    "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
  );
});

Deno.test("loadHostKey() generates an ed25519 key (mode 0600) once and reuses it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ssh_host_ed25519_key`;
    const first = loadHostKey(path);
    assert.equal(first.created, true);
    assert.match(first.publicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5/);
    assert.match(first.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const second = loadHostKey(path);
    assert.equal(second.created, false);
    assert.equal(second.fingerprint, first.fingerprint);
    assert.equal(second.privateKey, first.privateKey);
    const parsed = ssh2.utils.parseKey(first.publicKey);
    assert.ok(!(parsed instanceof Error) && !Array.isArray(parsed));
    assert.equal(sshFingerprint(new Uint8Array(parsed.getPublicSSH())), first.fingerprint);
  });
});

Deno.test("loadHostKey() refuses a missing named key, garbage and non-ed25519 keys", async () => {
  await withDir(async (dir) => {
    assert.throws(() => loadHostKey(`${dir}/nope`, { create: false }), HostKeyError);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/garbage`, "not a key");
    assert.throws(() => loadHostKey(`${dir}/garbage`), HostKeyError);
    const ecdsa = ssh2.utils.generateKeyPairSync("ecdsa", { bits: 256 });
    await Deno.writeTextFile(`${dir}/ecdsa`, ecdsa.private);
    assert.throws(() => loadHostKey(`${dir}/ecdsa`), /not ssh-ed25519/);
    const pub = ssh2.utils.generateKeyPairSync("ed25519");
    await Deno.writeTextFile(`${dir}/public`, pub.public);
    assert.throws(() => loadHostKey(`${dir}/public`), /not a private key/);
  });
});

Deno.test("generateEd25519Key() writes keys ssh2 parses, whose halves match, every time", () => {
  // ssh2's own generator got one key in 256 wrong (a leading zero byte).
  const data = Buffer.from("probe");
  for (let i = 0; i < 1000; i++) {
    const pair = generateEd25519Key();
    const secret = ssh2.utils.parseKey(pair.privateKey);
    const open = ssh2.utils.parseKey(pair.publicKey);
    assert.ok(!(secret instanceof Error) && !Array.isArray(secret), pair.privateKey);
    assert.ok(!(open instanceof Error) && !Array.isArray(open), pair.publicKey);
    assert.equal(open.getPublicSSH().length, 51);
    assert.deepEqual(secret.getPublicSSH(), open.getPublicSSH());
    const signature = secret.sign(data);
    assert.ok(!(signature instanceof Error));
    assert.equal(open.verify(data, signature), true);
  }
});
