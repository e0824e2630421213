import assert from "node:assert/strict";
import { securePrivateDir } from "./private_dir.ts";

Deno.test("securePrivateDir() narrows the directory to 0700 and every file below it to 0600", async () => {
  const dir = `./data/tmp/private-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.mkdir(`${dir}/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/snapshot.kv-wal`, "a private message");
    await Deno.writeTextFile(`${dir}/sub/nicks.json`, "{}");
    await Deno.writeTextFile(`${dir}/ok`, "", { mode: 0o600 });
    await Deno.chmod(`${dir}/ok`, 0o600);
    for (const path of [dir, `${dir}/sub`]) await Deno.chmod(path, 0o755);
    for (const path of [`${dir}/snapshot.kv-wal`, `${dir}/sub/nicks.json`]) {
      await Deno.chmod(path, 0o644);
    }
    const fixes = await securePrivateDir(dir);
    assert.deepEqual(
      fixes.map((f) => [f.path.slice(dir.length), f.was, f.now]).sort(),
      [["", 0o755, 0o700], ["/snapshot.kv-wal", 0o644, 0o600], ["/sub", 0o755, 0o700], [
        "/sub/nicks.json",
        0o644,
        0o600,
      ]].sort(),
    );
    assert.deepEqual(await securePrivateDir(dir), [], "a second run finds nothing to fix");
    assert.equal((await Deno.stat(`${dir}/snapshot.kv-wal`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("securePrivateDir() creates a missing directory 0700", async () => {
  const dir = `./data/tmp/private-${crypto.randomUUID().slice(0, 8)}/n1`;
  try {
    assert.deepEqual(await securePrivateDir(dir), []);
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
  } finally {
    await Deno.remove(dir.slice(0, -3), { recursive: true }).catch(() => {});
  }
});
