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

Deno.test("parseNodeConfig() serves HTTP on 8090 at --host by default, and --http-port 0 turns it off", () => {
  const config = parseNodeConfig(["--host", "127.0.0.1"]) as NodeConfig;
  assert.deepEqual(config.http, {
    host: "127.0.0.1",
    port: 8090,
    tls: undefined,
    metrics: undefined,
  });
  assert.equal((parseNodeConfig(["--http-port", "0"]) as NodeConfig).http, undefined);
  assert.throws(
    () => parseNodeConfig(["--http-port", "0", "--http-host", "127.0.0.1"]),
    /Cannot use --http-host with --http-port 0: HTTP is off/,
  );
});

Deno.test("parseNodeConfig() reads --tls-cert and --tls-key, both or neither, and refuses what is not PEM", () => {
  const files: Record<string, string> = {
    "cert.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    "key.pem": "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n",
  };
  const readTextFile = (path: string) => {
    if (files[path] === undefined) throw new Deno.errors.NotFound(`No such file: ${path}`);
    return files[path];
  };
  const parse = (args: string[]) => parseNodeConfig(args, undefined, { readTextFile });
  const config = parse(["--tls-cert", "cert.pem", "--tls-key", "key.pem"]) as NodeConfig;
  assert.deepEqual(config.http?.tls, { cert: files["cert.pem"], key: files["key.pem"] });
  // The client port's TLS uses the same certificate, with or without HTTP.
  assert.deepEqual(config.clientTls, { mode: "auto", pem: config.http?.tls });
  const noHttp = parse(["--http-port", "0", "--tls-cert", "cert.pem", "--tls-key", "key.pem"]);
  assert.deepEqual((noHttp as NodeConfig).clientTls.pem, config.http?.tls);
  assert.throws(() => parse(["--tls-key", "key.pem"]), /--tls-key alone: give --tls-cert FILE/);
  assert.throws(
    () => parse(["--tls-cert", "cert.pem", "--tls-key", "gone.pem"]),
    /Cannot read --tls-key gone.pem: No such file/,
  );
  assert.throws(
    () => parse(["--tls-cert", "key.pem", "--tls-key", "key.pem"]),
    /Invalid --tls-cert key.pem: not a PEM certificate/,
  );
});

Deno.test("parseNodeConfig() takes --client-tls auto, required or off; auto by default", () => {
  const mode = (args: string[]) => (parseNodeConfig(args) as NodeConfig).clientTls.mode;
  assert.equal(mode([]), "auto");
  assert.equal(mode(["--client-tls", "required"]), "required");
  assert.equal(mode(["--client-tls", "off"]), "off");
  assert.throws(() => mode(["--client-tls", "yes"]), /Invalid --client-tls "yes": use auto/);
});

Deno.test("parseNodeConfig() puts /metrics on --metrics-host, refusing a port the HTTP listener holds there", () => {
  const own = parseNodeConfig([
    ...["--http-host", "127.0.0.1", "--metrics-host", "127.0.0.2"],
  ]) as NodeConfig;
  assert.deepEqual(own.http?.metrics, { host: "127.0.0.2", port: 8090 });
  const apart = parseNodeConfig(["--metrics-host", "127.0.0.1", "--metrics-port", "9464"]);
  assert.deepEqual((apart as NodeConfig).http?.metrics, { host: "127.0.0.1", port: 9464 });
  assert.throws(
    () => parseNodeConfig(["--metrics-host", "127.0.0.1"]),
    /the HTTP port listens there already \(--http-host 0\.0\.0\.0\); give --metrics-port PORT/,
  );
  assert.throws(() => parseNodeConfig(["--metrics-port", "9464"]), /without --metrics-host/);
});

Deno.test("parseNodeConfig() takes --web-origin as a list of http(s) origins, and refuses anything else", () => {
  assert.deepEqual(parse([]).webOrigins, []);
  assert.deepEqual(
    parse(["--web-origin", "https://Chat.Example.com/, http://10.0.0.1:8090"]).webOrigins,
    ["https://chat.example.com", "http://10.0.0.1:8090"],
  );
  for (const bad of ["chat.example.com", "https://chat.example.com/app", "ftp://x"]) {
    assert.throws(() => parse(["--web-origin", bad]), UsageError, bad);
  }
});
