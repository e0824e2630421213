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
 * A server that refuses the node's TLS client certificate does the same
 * with a TLS alert: `received fatal alert: BadCertificate` reaches the
 * process from a socket the client has let go (seen once in CI, in the
 * start that must fail with "give this node's certificate").
 *
 * Only those errors are taken: a read reset, or a TLS alert, of a socket no
 * one listens to any more (one with a listener gets its own `error` event
 * instead), which no code can act on. Everything else stays uncaught.
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
    if (!isLateSocketError(event.error)) return;
    event.preventDefault();
    logger.debug("late error of a closed socket ignored", { error: String(event.error) });
  });
}

/**
 * Whether an uncaught error is one the guard takes: a read reset, or a TLS
 * alert from the peer (see the module doc).
 *
 * @param error What reached the process uncaught.
 * @returns Whether to ignore it.
 */
export function isLateSocketError(error: unknown): boolean {
  const { code, syscall, message } = (error ?? {}) as {
    code?: unknown;
    syscall?: unknown;
    message?: unknown;
  };
  if (code === "ECONNRESET" && syscall === "read") return true;
  return error instanceof Error && /^received fatal alert: \w+$/.test(String(message));
}
