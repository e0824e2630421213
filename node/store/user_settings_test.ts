import assert from "node:assert/strict";
import { parseUserSettings, UserSettingsStore, validTimeZone } from "./user_settings.ts";
import { scratchDir } from "../../tests/helpers/scratch_dir.ts";

const KEY_A = "SHA256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const KEY_B = "SHA256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const KEY_C = "SHA256:ccccccccccccccccccccccccccccccccccccccccccc";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await scratchDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("validTimeZone() takes IANA names and refuses anything else", () => {
  assert.equal(validTimeZone("Europe/Paris"), "Europe/Paris");
  assert.equal(validTimeZone(":Asia/Tokyo"), "Asia/Tokyo");
  assert.equal(validTimeZone("UTC"), "UTC");
  assert.equal(validTimeZone("Mars/Olympus"), undefined);
  assert.equal(validTimeZone(""), undefined);
  assert.equal(validTimeZone("x".repeat(200)), undefined);
  assert.equal(validTimeZone("CET-1CEST,M3.5.0,M10.5.0/3"), undefined);
});

Deno.test("parseUserSettings() keeps valid fields and drops the rest", () => {
  assert.deepEqual(
    parseUserSettings({
      theme: "mono",
      timestamps: "loud",
      tz: "Nowhere/Land",
      ignored: ["Bob", "bob", "not a nick", 7],
      extra: 1,
    }),
    { theme: "mono", ignored: ["bob"] },
  );
  assert.deepEqual(parseUserSettings("nope"), {});
  assert.equal(
    parseUserSettings({ ignored: Array.from({ length: 500 }, (_, i) => `u${i}`) }, 100)
      .ignored?.length,
    100,
  );
});

Deno.test("UserSettingsStore keeps settings across a reopen in a 0600 file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/user_settings.json`;
    const store = UserSettingsStore.open(path, { delayMs: 0 });
    store.set(KEY_A, { theme: "mono", tz: "Europe/Paris", ignored: ["carol"] });
    await store.flush();
    if (Deno.build.os !== "windows") assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
    const again = UserSettingsStore.open(path);
    assert.deepEqual(again.get(KEY_A), { theme: "mono", tz: "Europe/Paris", ignored: ["carol"] });
    assert.deepEqual(again.get(KEY_B), {});
  });
});

Deno.test("UserSettingsStore forgets the key seen longest ago beyond maxUsers", async () => {
  await withDir(async (dir) => {
    let now = 0;
    const store = UserSettingsStore.open(`${dir}/s.json`, { maxUsers: 2, now: () => ++now });
    store.set(KEY_A, { theme: "mono" });
    store.set(KEY_B, { theme: "mono" });
    store.get(KEY_A); // seen again: B is now the oldest
    store.set(KEY_C, { theme: "mono" });
    assert.equal(store.size, 2);
    assert.deepEqual(store.get(KEY_B), {});
    assert.deepEqual(store.get(KEY_A), { theme: "mono" });
    await store.flush();
  });
});

Deno.test("UserSettingsStore moves a corrupt file aside, warns, and starts from the defaults", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/user_settings.json`;
    await Deno.writeTextFile(path, "{ not json");
    const warnings: string[] = [];
    const store = UserSettingsStore.open(path, { onWarning: (message) => warnings.push(message) });
    assert.equal(store.size, 0);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /moved aside/);
    assert.equal(await Deno.readTextFile(`${path}.bad`), "{ not json");
  });
});

Deno.test("UserSettingsStore refuses a file over its size bound like a corrupt one", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/user_settings.json`;
    await Deno.writeTextFile(path, JSON.stringify({ users: {}, pad: "x".repeat(2000) }));
    const warnings: string[] = [];
    UserSettingsStore.open(path, { maxFileBytes: 1000, onWarning: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
  });
});

Deno.test("UserSettingsStore.set() refuses what is not a key fingerprint", () => {
  const store = UserSettingsStore.open("./data/tmp/never-written.json");
  assert.throws(() => store.set("guest", { theme: "mono" }), TypeError);
});
