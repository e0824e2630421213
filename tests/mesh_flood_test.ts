/**
 * Joining a cluster cannot be blocked by someone who lacks the secret:
 * idle connections to a node's mesh port, held open and reopened as soon as
 * they are closed, must not keep a peer that knows the secret from linking.
 *
 * @module
 */
import { assertPeerLinksDespiteFlood } from "./helpers/connection_flood.ts";

Deno.test("72 idle connections to the mesh port do not keep a peer with the secret from joining", async () => {
  // Idle connections; the pause after each close keeps the churn from eating both cores.
  await assertPeerLinksDespiteFlood(
    { count: 72, pauseAfterCloseMs: 20 },
    (flood) => flood.closed() >= 72,
  );
});
