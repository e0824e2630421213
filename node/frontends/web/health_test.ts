import assert from "node:assert/strict";
import { healthBody, readyBody } from "./health.ts";

Deno.test("healthBody() says ok with whole seconds of uptime", () => {
  assert.deepEqual(healthBody("n1", 61_999), { status: "ok", node: "n1", uptimeS: 61 });
});

Deno.test("readyBody() is ready standalone, linked, or alone without --peers", () => {
  const base = { node: "n1", stopping: false, restoreMs: 12 };
  assert.deepEqual(readyBody({ ...base, mesh: undefined }), {
    status: "ready",
    node: "n1",
    restored: true,
    restoreMs: 12,
    mesh: "standalone",
    links: 0,
  });
  assert.equal(readyBody({ ...base, mesh: { seeded: true, links: 1 } }).mesh, "linked");
  assert.equal(readyBody({ ...base, mesh: { seeded: true, links: 1 } }).status, "ready");
  assert.equal(readyBody({ ...base, mesh: { seeded: false, links: 0 } }).mesh, "alone");
  assert.equal(readyBody({ ...base, mesh: { seeded: false, links: 0 } }).status, "ready");
});

Deno.test("readyBody() is not ready with --peers and no link, or while shutting down, and says why", () => {
  const unlinked = readyBody({
    node: "n2",
    stopping: false,
    restoreMs: undefined,
    mesh: { seeded: true, links: 0 },
  });
  assert.equal(unlinked.status, "not ready");
  assert.equal(unlinked.mesh, "unlinked");
  assert.match(unlinked.reason ?? "", /none of --peers is reachable/);
  assert.equal("restoreMs" in unlinked, false);
  const stopping = readyBody({ node: "n1", stopping: true, restoreMs: 1, mesh: undefined });
  assert.deepEqual([stopping.status, stopping.reason], ["not ready", "shutting down"]);
});
