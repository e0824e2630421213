import assert from "node:assert/strict";
import {
  ClusterSecretError,
  loadOrCreateClusterSecretFile,
  readClusterSecretFile,
} from "./cluster_secret.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = `./data/tmp/secret-unit-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir, { recursive: true });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("readClusterSecretFile() refuses a file other accounts can read, and reads a 0600 one", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/secret`;
    await Deno.writeTextFile(file, "  correct horse battery staple\n");
    await Deno.chmod(file, 0o640);
    assert.throws(
      () => readClusterSecretFile(file),
      ClusterSecretError,
      "mode 0640); run chmod 600",
    );
    await Deno.chmod(file, 0o600);
    assert.equal(readClusterSecretFile(file), "correct horse battery staple");
    await Deno.writeTextFile(file, "\n");
    assert.throws(() => readClusterSecretFile(file), ClusterSecretError, "the file is empty");
    assert.throws(() => readClusterSecretFile(`${dir}/none`), ClusterSecretError, "No such file");
  });
});

Deno.test("loadOrCreateClusterSecretFile() makes a 0600 secret once and keeps it", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/root/cluster.secret`;
    const first = loadOrCreateClusterSecretFile(file);
    assert.equal(first.created, true);
    assert.match(first.secret, /^[A-Za-z0-9_-]{43}$/, "256 random bits, base64url");
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/root`)).mode! & 0o777, 0o700);
    assert.deepEqual(loadOrCreateClusterSecretFile(file), { secret: first.secret, created: false });
  });
});

Deno.test("a new cluster secret is 43 base64url characters every time (the old one dropped + and /)", async () => {
  // The old encoding lost about 1 run in 30 below 40 characters: 200 files catch it.
  await withDir(async (dir) => {
    for (let i = 0; i < 200; i++) {
      const { secret } = loadOrCreateClusterSecretFile(`${dir}/s${i}`);
      assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(await Deno.readTextFile(`${dir}/s${i}`), `${secret}\n`);
    }
  });
});
