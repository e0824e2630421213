import assert from "node:assert/strict";
import { UsageError } from "../../core/cli_flags.ts";
import { type NodeConfig, parseNodeConfig } from "../node_config.ts";

const env = (name: string) => name === "MESHCHAT_CLUSTER_SECRET" ? "s".repeat(32) : undefined;
/** The shape of a `.creds` file as nsc writes it (a JWT and a seed that sign nothing real). */
const CREDS = [
  "-----BEGIN NATS USER JWT-----",
  "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2lnbmF0dXJl",
  "------END NATS USER JWT------",
  "",
  "-----BEGIN USER NKEY SEED-----",
  "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4",
  "------END USER NKEY SEED------",
  "",
].join("\n");
const files: Record<string, string> = {
  "user.creds": CREDS,
  "ca.pem": "CA",
  "c.pem": "CERT",
};
const readTextFile = (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Deno.errors.NotFound(`no such file: ${path}`);
  return text;
};

function parse(args: string[]): NodeConfig {
  return parseNodeConfig(args, env, { readTextFile }) as NodeConfig;
}

Deno.test("--nats replaces the mesh: no mesh config even with a cluster secret at hand", () => {
  const config = parse([
    ...["--nats", "nats://10.0.0.1:4222, nats://10.0.0.2:4222", "--nats-creds", "user.creds"],
    ...["--nats-tls-ca", "ca.pem", "--nats-max-age", "7", "--nats-max-bytes", "64"],
  ]);
  assert.equal(config.mesh, undefined);
  assert.deepEqual(config.nats, {
    servers: ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"],
    creds: CREDS,
    tls: { ca: "CA" },
    stream: "meshchat",
    replicas: 3,
    maxAgeMs: 7 * 86_400_000,
    maxBytes: 64 * 1024 * 1024,
  });
});

Deno.test("without --nats nothing changes: the mesh, and no NATS config", () => {
  const config = parse([]);
  assert.equal(config.nats, undefined);
  assert.ok(config.mesh !== undefined);
});

Deno.test("--nats refuses mesh flags, NATS flags without --nats, and bad values, naming the fix", () => {
  const refusals: [string[], RegExp][] = [
    [["--nats", "nats://h:4222", "--peers", "h:7946"], /--peers with --nats: NATS replaces/],
    [["--nats", "nats://h:4222", "--ack", "local"], /--ack with --nats/],
    [["--nats", "nats://h:4222", "--mesh-port", "7000"], /--mesh-port with --nats/],
    [["--nats-creds", "user.creds"], /--nats-creds without --nats URL/],
    [["--nats", "http://h:4222"], /Invalid --nats "http:\/\/h:4222"/],
    [["--nats", "h:4222", "--nats-stream", "a.b"], /Invalid --nats-stream/],
    [["--nats", "h:4222", "--nats-replicas", "7"], /--nats-replicas 7: use 1 to 5/],
    [["--nats", "h:4222", "--nats-creds", "gone.creds"], /Cannot read --nats-creds gone.creds/],
    [["--nats", "h:4222", "--nats-tls-cert", "c.pem"], /--nats-tls-cert alone/],
    [["--nats", "h:4222", "--nats-creds", "ca.pem"], /--nats-creds ca.pem: not a NATS .creds/],
  ];
  for (const [args, message] of refusals) {
    assert.throws(() => parse(args), (e) => e instanceof UsageError && message.test(e.message));
  }
  // The test helpers pass `--mesh-port 0` (the mesh off): that is no conflict.
  assert.ok(parse(["--nats", "h:4222", "--mesh-port", "0"]).nats !== undefined);
});
