/**
 * `--nats` with NATS's own protection, on real processes: a `nats-server`
 * with JetStream that requires TLS (certificates from a private CA made
 * with `openssl`), one that also verifies client certificates
 * (`--tlsverify`), and one in operator (JWT) mode whose users log in with a
 * `.creds` file. Meshchat nodes with the right material replicate through
 * them; a node without it is refused at start, told which flag it lacks.
 */
import assert from "node:assert/strict";
import { startCluster } from "./helpers/cluster.ts";
import { credsOf, makeNatsOperator } from "./helpers/nats_operator.ts";
import { hasNatsServer, type NatsServers, startNatsServers } from "./helpers/nats_servers.ts";
import { failingNodeStart } from "./helpers/node_process.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { type CertificateFiles, issueCertificate, makeCa } from "./helpers/test_pki.ts";

const ignore = !hasNatsServer();

/** A scratch directory under ./data (the node's permissions read only there). */
async function scratchDir(name: string): Promise<string> {
  const dir = `./data/tmp/${name}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Two meshchat nodes on `nats` with `args`: a line said on n1 is acked
 * (JetStream stored it) and shown on n2 under the same id.
 */
async function lineCrosses(nats: NatsServers, args: string[]): Promise<void> {
  const cluster = await startCluster({ size: 2, nats: { urls: nats.urls, replicas: 1 }, args });
  const [n1, n2] = cluster.nodes;
  const reader = await RawClient.join(n2!.process.port, "reader", "auth");
  const writer = await RawClient.join(n1!.process.port, "writer", "auth");
  try {
    await writer.send({ t: "say", room: "auth", text: "over nats", cid: "c1" });
    const ack = await writer.next((f) => (f.t === "ack" || f.t === "error") && f.cid === "c1");
    assert.equal(ack.t, "ack", JSON.stringify(ack));
    const seen = await reader.next((f) => f.t === "msg" && f.text === "over nats");
    assert.equal(seen.id, ack.id, "n2 shows n1's line under its id");
  } finally {
    reader.close();
    writer.close();
    await cluster.close();
  }
}

/**
 * A node start that must fail, its output matching `message`: exit code 1
 * (NATS refused it), or 2 for a usage error (a flag's value is wrong).
 */
async function refused(args: string[], message: RegExp, exitCode = 1): Promise<void> {
  const { code, text } = await failingNodeStart(args);
  // Not a crash: a refusing server resets the connection, and that late reset once ended the
  // node with `Uncaught Error: read ECONNRESET` (node/nats/socket_reset_guard.ts).
  assert.doesNotMatch(text, /Uncaught/);
  assert.equal(code, exitCode, text);
  assert.match(text, message);
}

/** The TLS flags of `nats-server`, with this CA verifying clients when `verify`. */
function serverTls(ca: CertificateFiles, server: CertificateFiles, verify: boolean): string[] {
  return [
    ...["--tls", "--tlscert", server.cert, "--tlskey", server.key, "--tlscacert", ca.cert],
    ...(verify ? ["--tlsverify"] : []),
  ];
}

Deno.test({
  name:
    "--nats-tls-ca: nodes replicate through a NATS server that requires TLS; without the CA a node is refused",
  ignore,
  fn: async () => {
    const dir = await scratchDir("nats-tls");
    const ca = await makeCa(dir, "ca");
    const nats = await startNatsServers(1, {
      args: serverTls(ca, await issueCertificate(ca, dir, "server", "server"), false),
    });
    try {
      assert.match(nats.servers[0]!.log(), /TLS required for client connections/);
      await lineCrosses(nats, ["--nats-tls-ca", ca.cert]);
      const plain = ["--nats", nats.urls, "--nats-replicas", "1"];
      await refused(plain, /Cannot connect to NATS .*certificate.*give it with --nats-tls-ca FILE/);
      // Trusting another CA is no better: the server's certificate is not from it.
      const stranger = await makeCa(dir, "stranger");
      await refused(
        [...plain, "--nats-tls-ca", stranger.cert],
        /Cannot connect to NATS .*certificate is not signed by --nats-tls-ca/,
      );
      assert.match(nats.servers[0]!.log(), /TLS handshake error/, "the server saw them fail");
    } finally {
      await nats.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "--nats-tls-cert/--nats-tls-key: a NATS server that verifies clients takes a node with its certificate, refuses one without",
  ignore,
  fn: async () => {
    const dir = await scratchDir("nats-mtls");
    const ca = await makeCa(dir, "ca");
    const node = await issueCertificate(ca, dir, "node", "client");
    const nats = await startNatsServers(1, {
      args: serverTls(ca, await issueCertificate(ca, dir, "server", "server"), true),
    });
    try {
      await lineCrosses(nats, [
        ...["--nats-tls-ca", ca.cert],
        ...["--nats-tls-cert", node.cert, "--nats-tls-key", node.key],
      ]);
      await refused(
        ["--nats", nats.urls, "--nats-replicas", "1", "--nats-tls-ca", ca.cert],
        /Cannot connect to NATS .*give this node's certificate with --nats-tls-cert/,
      );
      assert.match(nats.servers[0]!.log(), /client didn't provide a certificate/);
      // A certificate from another CA is refused by the server too.
      const other = await makeCa(dir, "other");
      const forged = await issueCertificate(other, dir, "forged", "client");
      await refused(
        [
          ...["--nats", nats.urls, "--nats-replicas", "1", "--nats-tls-ca", ca.cert],
          ...["--nats-tls-cert", forged.cert, "--nats-tls-key", forged.key],
        ],
        /Cannot connect to NATS .*--nats-tls-cert must be signed by a CA they trust/,
      );
    } finally {
      await nats.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "--nats-creds: nodes log in to a NATS server in operator mode; unknown, missing or malformed creds are refused",
  ignore,
  fn: async () => {
    const dir = await scratchDir("nats-creds");
    const operator = await makeNatsOperator();
    const nats = await startNatsServers(1, { config: operator.serverConfig });
    try {
      assert.match(nats.servers[0]!.log(), /Trusted Operators/, "the server is in operator mode");
      const creds = `${dir}/node.creds`;
      await Deno.writeTextFile(creds, await operator.userCreds());
      await lineCrosses(nats, ["--nats-creds", creds]);
      const plain = ["--nats", nats.urls, "--nats-replicas", "1"];
      await refused(plain, /Authorization Violation: the NATS servers want credentials/);
      // Well-formed creds of a user whose account this operator never signed.
      const stranger = `${dir}/stranger.creds`;
      await Deno.writeTextFile(stranger, await credsOf());
      await refused(
        [...plain, "--nats-creds", stranger],
        /Authorization Violation: the NATS servers refused --nats-creds/,
      );
      const junk = `${dir}/junk.creds`;
      await Deno.writeTextFile(junk, "user: meshchat\npassword: hunter2\n");
      await refused(
        [...plain, "--nats-creds", junk],
        /Invalid --nats-creds .*junk\.creds: not a NATS \.creds file/,
        2,
      );
    } finally {
      await nats.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
