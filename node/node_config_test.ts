import assert from "node:assert/strict";
import { UsageError } from "../core/cli_flags.ts";
import { type NodeConfig, parseNodeConfig } from "./node_config.ts";

function parse(
  args: string[],
  env: Record<string, string> = {},
  files: Record<string, string> = {},
) {
  const config = parseNodeConfig(args, (name) => env[name], {
    readSecretFile: (path) => files[path] ?? "",
  });
  assert.notEqual(config, "help");
  return config as NodeConfig;
}

Deno.test("parseNodeConfig() runs standalone, with no mesh port, when given no secret and no mesh flags", () => {
  assert.equal(parse([]).mesh, undefined);
});

Deno.test("parseNodeConfig() opens the mesh on 7946 once a secret is given", () => {
  const fromEnv = parse([], { MESHCHAT_CLUSTER_SECRET: "s".repeat(32) });
  assert.equal(fromEnv.mesh?.port, 7946);
  assert.equal(fromEnv.mesh?.secret, "s".repeat(32));
  const fromFile = parse(["--cluster-secret-file", "f"], {}, { f: "from-file" });
  assert.equal(fromFile.mesh?.secret, "from-file");
  assert.equal(parse(["--mesh-port", "0"], { MESHCHAT_CLUSTER_SECRET: "x" }).mesh, undefined);
});

Deno.test("parseNodeConfig() refuses to open the mesh without a secret, naming both ways to give one", () => {
  for (const args of [["--mesh-port", "7000"], ["--peers", "10.0.0.1:7946"], ["-mesh-port=7000"]]) {
    assert.throws(
      () => parse(args),
      (error: Error) =>
        error instanceof UsageError && /MESHCHAT_CLUSTER_SECRET/.test(error.message) &&
        /--cluster-secret-file/.test(error.message),
    );
  }
});

Deno.test("parseNodeConfig() refuses --cluster-secret without repeating the secret", () => {
  for (const args of [["--cluster-secret", "hunter2hunter2"], ["-cluster-secret=hunter2hunter2"]]) {
    assert.throws(
      () => parse(args),
      (error: Error) =>
        error instanceof UsageError && /process list/.test(error.message) &&
        !error.message.includes("hunter2"),
    );
  }
});

Deno.test("parseNodeConfig() refuses a secret from both the environment and a file", () => {
  assert.throws(
    () => parse(["--cluster-secret-file", "f"], { MESHCHAT_CLUSTER_SECRET: "a" }, { f: "b" }),
    /both MESHCHAT_CLUSTER_SECRET and --cluster-secret-file/,
  );
});
