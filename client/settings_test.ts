import assert from "node:assert/strict";
import { isTimeZone, parseSettings, settingsDirectory, SettingsFile } from "./settings.ts";

Deno.test("parseSettings() keeps valid fields and names the invalid ones", () => {
  assert.deepEqual(
    parseSettings('{"theme":"mono","timestamps":false,"timeZone":"UTC","ignored":["Carol"]}'),
    { settings: { theme: "mono", timestamps: false, timeZone: "UTC", ignored: ["carol"] } },
  );
  assert.deepEqual(parseSettings('{"theme":"pink","timestamps":false,"timeZone":"Mars/Base"}'), {
    settings: { timestamps: false },
    warning: "invalid theme, timeZone (defaults used instead)",
  });
  assert.deepEqual(parseSettings("{ not json"), { settings: {}, warning: "it is not valid JSON" });
  assert.deepEqual(parseSettings("[1]"), { settings: {}, warning: "it is not a JSON object" });
  assert.deepEqual(parseSettings('{"ignored":["ok","no spaces allowed"]}'), {
    settings: {},
    warning: "invalid ignored (defaults used instead)",
  });
});

Deno.test("settingsDirectory() prefers XDG_CONFIG_HOME, then HOME/.config", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(settingsDirectory(env({ XDG_CONFIG_HOME: "/x/", HOME: "/h" })), "/x/meshchat");
  assert.equal(settingsDirectory(env({ HOME: "/h" })), "/h/.config/meshchat");
  // A relative XDG_CONFIG_HOME is invalid by the XDG spec: ignored.
  assert.equal(
    settingsDirectory(env({ XDG_CONFIG_HOME: "rel", HOME: "/h" })),
    "/h/.config/meshchat",
  );
  assert.equal(settingsDirectory(env({})), undefined);
});

Deno.test("isTimeZone() accepts IANA names and refuses the rest", () => {
  assert.ok(isTimeZone("Europe/Paris"));
  assert.ok(isTimeZone("UTC"));
  assert.ok(!isTimeZone("Mars/Base"));
  assert.ok(!isTimeZone(""));
});

Deno.test("SettingsFile saves with mode 0600 in a 0700 directory and reads it back", async () => {
  const root = `${Deno.cwd()}/data/tmp/settings-unit-${crypto.randomUUID().slice(0, 8)}`;
  const directory = `${root}/meshchat`;
  try {
    const empty = SettingsFile.open({ directory });
    assert.deepEqual(empty.settings, {});
    assert.equal(empty.warning, undefined, "a missing file is no warning");
    assert.equal(empty.file.save({ theme: "mono", ignored: ["carol"] }), undefined);
    assert.equal((await Deno.stat(directory)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${directory}/settings.json`)).mode! & 0o777, 0o600);
    assert.deepEqual(SettingsFile.open({ directory }).settings, {
      theme: "mono",
      ignored: ["carol"],
    });
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});

Deno.test("SettingsFile.save() says once, with the flags to use, when it may not write", () => {
  // Not under ./data: the test permissions do not allow writing there.
  const { file } = SettingsFile.open({ directory: "/nonexistent-meshchat-test/meshchat" });
  const first = file.save({ theme: "mono" });
  assert.match(
    first ?? "",
    /^Settings are not saved \(no permission\): run with deno task client, or --allow-env=/,
  );
  assert.match(first ?? "", /--allow-write=\/nonexistent-meshchat-test\/meshchat/);
  assert.equal(file.save({ theme: "color" }), undefined);
});

Deno.test("SettingsFile.save() without a known directory gives flags a shell can paste", () => {
  // The test permissions do not include env: the directory is unknown, as for `deno run client/main.ts`.
  const { file } = SettingsFile.open();
  assert.equal(file.directory, undefined);
  const said = file.save({ theme: "mono" }) ?? "";
  // `--allow-read=~/.config/meshchat` reaches Deno with a literal `~`, which it does not expand.
  assert.doesNotMatch(said, /=~/, said);
  assert.match(
    said,
    /--allow-read=\$HOME\/\.config\/meshchat --allow-write=\$HOME\/\.config\/meshchat/,
  );
});
