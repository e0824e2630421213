/**
 * The tasks a person runs (`deno task node`, `client`, `cluster`) spell out
 * their permissions as `--allow-*` flags, since `-P=<set>` makes Deno print
 * "Permissions in the config file is an experimental feature" on every start.
 * Tests and docs still use the named sets in deno.json (`-P=node`): these
 * checks keep the two granting exactly the same, and the cluster runner's
 * nodes the same as `deno task node`.
 */
import assert from "node:assert/strict";
import { NODE_PERMISSIONS } from "../node/local_cluster.ts";

type PermissionSet = Record<string, boolean | string[]>;

const config = JSON.parse(Deno.readTextFileSync("deno.json")) as {
  tasks: Record<string, { command: string }>;
  permissions: Record<string, PermissionSet>;
  allowScripts?: { deny?: string[] };
};

/**
 * The settings directory the client task may read and write: a named set
 * cannot say `$HOME`, so it is the one grant the task has beyond its set.
 */
const CLIENT_SETTINGS_GRANTS = [
  "--allow-read=$HOME/.config/meshchat",
  "--allow-write=$HOME/.config/meshchat",
];

function taskFlags(task: string): string[] {
  return config.tasks[task]!.command.split(" ")
    .filter((w) => w.startsWith("--allow-") && !CLIENT_SETTINGS_GRANTS.includes(w)).sort();
}

Deno.test("deno task client may keep its settings in ~/.config/meshchat, and nothing else on disk", () => {
  const grants = config.tasks.client!.command.split(" ").filter((w) =>
    /^--allow-(read|write)/.test(w)
  );
  assert.deepEqual(grants.sort(), CLIENT_SETTINGS_GRANTS);
});

function setFlags(set: PermissionSet): string[] {
  return Object.entries(set).flatMap(([name, value]) =>
    value === true
      ? [`--allow-${name}`]
      : value === false
      ? []
      : [`--allow-${name}=${value.join(",")}`]
  ).sort();
}

for (const task of ["node", "client", "cluster"]) {
  Deno.test(`deno task ${task} grants exactly the "${task}" permission set of deno.json, without -P`, () => {
    assert.doesNotMatch(config.tasks[task]!.command, /(^| )-P\b/);
    assert.deepEqual(taskFlags(task), setFlags(config.permissions[task]!));
  });
}

Deno.test("the cluster runner starts its nodes with the permissions of deno task node", () => {
  assert.deepEqual([...NODE_PERMISSIONS].sort(), taskFlags("node"));
});

Deno.test("deno.json declines the build scripts of ssh2 and cpu-features, which ssh2 does without", () => {
  assert.deepEqual(config.allowScripts?.deny?.sort(), ["npm:cpu-features", "npm:ssh2"]);
});

for (const task of ["node", "client", "cluster"]) {
  Deno.test(`deno task ${task} --help prints its help and no Deno warning`, async () => {
    const { code, stdout, stderr } = await new Deno.Command("deno", {
      args: ["task", task, "--help"],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, err);
    assert.match(new TextDecoder().decode(stdout), /Usage:/);
    assert.doesNotMatch(err, /Warning|experimental feature|Ignored build scripts/, err);
  });
}

Deno.test("the help a person reads suggests no -P=<set> command, which makes Deno warn", async () => {
  const { NODE_HELP } = await import("../node/node_config.ts");
  const { CLUSTER_HELP } = await import("../node/local_cluster.ts");
  for (const help of [NODE_HELP, CLUSTER_HELP]) assert.doesNotMatch(help, /-P=/, help);
});
