import assert from "node:assert/strict";
import { EventLog } from "../chat/event_log.ts";
import { importNicksJson, parseNicksJson } from "./nicks_json_import.ts";
import { pathExists } from "../../tests/helpers/path_exists.ts";

const FIXTURE = "./tests/fixtures/nicks.json";
const DORA_KEY = "SHA256:nFf7GpkKLgfV3XXzM2Ee30mraT23O5duFxLzfKUyWD4";
const EVE_KEY = "SHA256:zeonYC+v2ndJlIADHW3JifoEejyMP9kA01tBnpeGJxQ";

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = `./data/test-nicks-import-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir, { recursive: true });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("importNicksJson() claims an old nicks.json as events once, persisting before the rename", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/nicks.json`;
    await Deno.copyFile(FIXTURE, path);
    const log = new EventLog({ origin: "n1" });
    log.nicks.claim("dora", DORA_KEY); // already in the log (a crash after a snapshot)
    const steps: string[] = [];
    const imported = await importNicksJson(path, log.nicks, async () => {
      steps.push(`persist: file there ${await pathExists(path)}, ${log.nicks.size} nicks`);
    });
    assert.deepEqual(steps, ["persist: file there true, 3 nicks"]);
    assert.deepEqual(imported, {
      file: path,
      movedTo: `${path}.imported`,
      outcomes: { claimed: 2, owned: 1, taken: 0, quota: 0, full: 0 },
    });
    assert.equal(log.nicks.ownerOf("eve"), EVE_KEY);
    assert.deepEqual(log.nicks.nicksOf(EVE_KEY), ["Eve", "eve_alt"], "oldest claim first");
    const claims = [...log.events()].filter((event) => event.kind === "claim");
    assert.deepEqual(claims.map((e) => `${e.origin}:${e.seq} ${e.from}`), [
      "n1:1 dora",
      "n1:2 Eve",
      "n1:3 eve_alt",
    ]);
    assert.equal(await pathExists(path), false);
    assert.equal(await Deno.readTextFile(`${path}.imported`), await Deno.readTextFile(FIXTURE));
    assert.equal(await importNicksJson(path, log.nicks, () => Promise.resolve()), undefined);
  });
});

Deno.test("importNicksJson() leaves a broken file in place and says how to fix it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/nicks.json`;
    const log = new EventLog({ origin: "n1" });
    const persist = () => Promise.reject(new Error("must not persist"));
    await Deno.writeTextFile(path, "{not json");
    await assert.rejects(importNicksJson(path, log.nicks, persist), SyntaxError);
    await Deno.writeTextFile(path, '{"v":2,"claims":[]}');
    await assert.rejects(
      importNicksJson(path, log.nicks, persist),
      /Cannot import nick registry .*nicks\.json: expected \{v: 1.*move it aside/,
    );
    assert.equal(await pathExists(path), true);
    assert.equal(log.nicks.size, 0);
  });
});

Deno.test("parseNicksJson() refuses a claim that is not a nick, a key and a time", () => {
  const good = { nick: "dora", fingerprint: DORA_KEY, since: 1 };
  assert.deepEqual(parseNicksJson({ v: 1, claims: [good] }), [good]);
  for (
    const bad of [
      { ...good, nick: "bad nick" },
      { ...good, fingerprint: "MD5:xx" },
      { ...good, since: "yesterday" },
      null,
    ]
  ) {
    assert.throws(() => parseNicksJson({ v: 1, claims: [good, bad] }), /claim 1 is not/);
  }
});
