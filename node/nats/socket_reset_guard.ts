/**
 * Keeps a late `ECONNRESET` of a socket the NATS client already closed
 * from ending the node.
 *
 * When a NATS server refuses a connection (`-ERR 'Authorization
 * Violation'`) it resets it. The client (`@nats-io/transport-node`) closes
 * its socket at the `-ERR`, removing its listeners first; Deno's `node:net`
 * may still report the read that the reset failed, as an `error` event on
 * that socket. With no listener left, Node semantics make it an uncaught
 * exception, and the process dies with `Uncaught Error: read ECONNRESET`
 * instead of the clear refusal the node was about to print (seen in most
 * starts with refused credentials, tests/nats_auth_test.ts).
 *
 * Only that error is taken: a read reset of a socket no one listens to any
 * more, which no code can act on. Everything else stays uncaught.
 *
 * @module
 */
import type { Logger } from "../logger.ts";

let installed = false;

/**
 * Installs the guard once per process (later calls do nothing).
 *
 * @param logger Where each ignored reset is noted (debug).
 */
export function ignoreResetsOfClosedSockets(logger: Logger): void {
  if (installed) return;
  installed = true;
  globalThis.addEventListener("error", (event) => {
    const error = event.error as { code?: unknown; syscall?: unknown } | null;
    if (error?.code !== "ECONNRESET" || error.syscall !== "read") return;
    event.preventDefault();
    logger.debug("reset of a closed socket ignored", { error: String(event.error) });
  });
}
