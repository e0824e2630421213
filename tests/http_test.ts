/**
 * The node's HTTP port on real processes: health and readiness for load
 * balancers, `/metrics` on a listener of its own (`--metrics-host`), HTTPS
 * with a certificate made here by openssl, and the errors of bad flags.
 */
import assert from "node:assert/strict";
import { failingNodeStart, freePort, startNodeProcess } from "./helpers/node_process.ts";
import { getJson, startHttpNode } from "./helpers/http_node.ts";
import { waitFor } from "./helpers/wait_for.ts";

Deno.test("a node answers /healthz and /readyz with JSON and security headers, / with the web client, other paths 404", async () => {
  const { node, url } = await startHttpNode({ id: "h1" });
  try {
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(health.headers.get("x-content-type-options"), "nosniff");
    assert.equal(health.headers.get("referrer-policy"), "no-referrer");
    assert.match(health.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const body = await health.json();
    assert.equal(body.status, "ok");
    assert.equal(body.node, "h1");
    assert.equal(typeof body.uptimeS, "number");
    const ready = await getJson(`${url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(
      [ready.body.status, ready.body.mesh, ready.body.restored],
      ["ready", "standalone", true],
    );
    assert.equal(typeof ready.body.restoreMs, "number");
    const root = await fetch(`${url}/`);
    assert.equal(root.status, 200);
    assert.match(root.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await root.text(), /<script type="module" src="\/assets\/app.js">/);
    const policy = root.headers.get("content-security-policy") ?? "";
    for (const rule of ["script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'"]) {
      assert.match(policy, new RegExp(rule));
    }
    assert.doesNotMatch(policy, /unsafe-inline/);
    const script = await fetch(`${url}/assets/app.js`);
    assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.equal(script.headers.get("cache-control"), "no-cache");
    await script.body?.cancel();
    const etag = script.headers.get("etag") ?? "";
    const again = await fetch(`${url}/assets/app.js`, { headers: { "If-None-Match": etag } });
    await again.body?.cancel();
    assert.equal(again.status, 304);
    const missing = await fetch(`${url}/nope`);
    await missing.body?.cancel();
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("x-content-type-options"), "nosniff");
    const post = await fetch(`${url}/healthz`, { method: "POST", body: "x" });
    await post.body?.cancel();
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
  } finally {
    await node.stop();
  }
});

Deno.test("a node with --peers is not ready (503, and why) until a link to a peer is up", async () => {
  const secret = crypto.randomUUID();
  const seedMeshPort = freePort();
  const joiner = await startHttpNode({
    id: "r2",
    secret,
    args: ["--mesh-port", String(freePort()), "--peers", `127.0.0.1:${seedMeshPort}`],
  });
  let seed;
  try {
    const down = await getJson(`${joiner.url}/readyz`);
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.equal(down.body.status, "not ready");
    assert.equal(down.body.mesh, "unlinked");
    assert.match(String(down.body.reason), /none of --peers is reachable/);
    // The first node of a cluster (no --peers) is alone by choice: ready at once.
    seed = await startHttpNode({ id: "r1", secret, args: ["--mesh-port", String(seedMeshPort)] });
    const alone = await getJson(`${seed.url}/readyz`);
    assert.equal(alone.status, 200, JSON.stringify(alone.body));
    // "linked" when the joiner, which keeps dialing this port, got there first.
    assert.match(String(alone.body.mesh), /^(alone|linked)$/);
    await waitFor(
      async () => (await getJson(`${joiner.url}/readyz`)).status === 200,
      "the joiner ready once linked",
      { timeoutMs: 20_000, detail: () => joiner.node.log() },
    );
    const linked = await getJson(`${joiner.url}/readyz`);
    assert.deepEqual([linked.body.mesh, linked.body.links], ["linked", 1]);
  } finally {
    await Promise.all([joiner.node.stop(), seed?.node.stop()]);
  }
});

Deno.test("with --metrics-host, /metrics is served on that address only", async () => {
  const port = freePort();
  const { node } = await startHttpNode({
    id: "m1",
    args: ["--http-host", "127.0.0.1", "--http-port", String(port), "--metrics-host", "127.0.0.2"],
  });
  try {
    await waitFor(() => /listening what=metrics addr=127\.0\.0\.2:/.test(node.log()), "metrics up");
    const internal = await fetch(`http://127.0.0.2:${port}/metrics`);
    assert.equal(internal.status, 200);
    assert.match(await internal.text(), /^meshchat_node_info\{node="m1"\} 1$/m);
    const publicMetrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    await publicMetrics.body?.cancel();
    assert.equal(publicMetrics.status, 404);
    const publicHealth = await fetch(`http://127.0.0.1:${port}/healthz`);
    await publicHealth.body?.cancel();
    assert.equal(publicHealth.status, 200);
    // The metrics listener is not the web port: no page, no WebSocket.
    const internalRoot = await fetch(`http://127.0.0.2:${port}/`);
    await internalRoot.body?.cancel();
    assert.equal(internalRoot.status, 404);
  } finally {
    await node.stop();
  }
});

Deno.test("with --tls-cert and --tls-key the HTTP port speaks HTTPS only", async () => {
  const dir = `./data/tmp/tls-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir, { recursive: true });
  const made = await new Deno.Command("openssl", {
    args: [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-days", "1"],
      ...["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
      // A server's own certificate, not a CA's (rustls refuses a CA certificate as a server's).
      ...["-addext", "basicConstraints=critical,CA:FALSE"],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(made.success, new TextDecoder().decode(made.stderr));
  const port = freePort();
  const node = await startNodeProcess({
    id: "tls1",
    args: [
      "--http-port",
      String(port),
      "--tls-cert",
      `${dir}/cert.pem`,
      "--tls-key",
      `${dir}/key.pem`,
    ],
  });
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${dir}/cert.pem`)] });
  try {
    assert.match(node.log(), new RegExp(`listening what=https addr=127\\.0\\.0\\.1:${port}`));
    const response = await fetch(`https://localhost:${port}/healthz`, { client });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).node, "tls1");
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
  } finally {
    client.close();
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad HTTP flags and a taken HTTP or mesh port stop the node with a message that names the port", async () => {
  const cases: [string[], RegExp][] = [
    [["--tls-cert", "data/none.pem"], /--tls-cert alone: give --tls-key FILE too/],
    [["--tls-cert", "data/none.pem", "--tls-key", "data/none.key"], /Cannot read --tls-cert/],
    [["--http-port", "0", "--metrics-host", "127.0.0.2"], /--metrics-host with --http-port 0/],
    [["--metrics-port", "9464"], /--metrics-port without --metrics-host/],
  ];
  for (const [args, message] of cases) {
    const { code, text } = await failingNodeStart(args);
    assert.equal(code, 2, text);
    assert.match(text, message);
  }
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const { code, text } = await failingNodeStart([
      ...["--http-host", "127.0.0.1", "--http-port", String(squatter.addr.port)],
    ]);
    assert.equal(code, 1, text);
    assert.match(
      text,
      new RegExp(`cannot listen: HTTP port 127\\.0\\.0\\.1:${squatter.addr.port} is in use`),
    );
    const mesh = await failingNodeStart(
      ["--mesh-host", "127.0.0.1", "--mesh-port", String(squatter.addr.port)],
      { MESHCHAT_CLUSTER_SECRET: crypto.randomUUID() },
    );
    assert.equal(mesh.code, 1, mesh.text);
    assert.match(
      mesh.text,
      new RegExp(`cannot listen: Mesh port 127\\.0\\.0\\.1:${squatter.addr.port} is in use`),
    );
  } finally {
    squatter.close();
  }
});
