/**
 * The terminal client's way to open a node: {@linkcode NodeConnection.open}
 * with the pin file, saying what a person must know about the connection —
 * loudly when it is not encrypted or a certificate changed, once when a
 * certificate is pinned for the first time, nothing when all is as before.
 * The same for the first node and for every node failed over to: each
 * address has its own pin.
 *
 * @module
 */
import { ConnectError, type ConnectionSecurity, type NodeConnection } from "./node_connection.ts";
import type { ServerPins } from "./server_pins.ts";
import { CertificateChangedError, openSecureNode, TlsDowngradeError } from "./tls_connect.ts";

/**
 * Shows one message.
 *
 * @param lines Its lines.
 * @param warning Whether it is a warning (scripts see warnings only, on stderr).
 */
export type Say = (lines: string[], warning: boolean) => void;

/**
 * A `connect` for {@linkcode ChatClient}: opens a node with these pins and says how it is protected.
 *
 * @param pins The pinned certificates.
 * @param say Where messages go.
 * @returns The connect function.
 */
export function pinnedConnect(
  pins: ServerPins,
  say: Say,
): (server: string) => Promise<NodeConnection> {
  /** Warnings said already: a failover that tries the same node every round says each once. */
  const said = new Set<string>();
  return async (server) => {
    let conn: NodeConnection;
    try {
      conn = await openSecureNode(server, pins);
    } catch (error) {
      if (error instanceof CertificateChangedError || error instanceof TlsDowngradeError) {
        // Said here, in full: a failover tries quietly, and this must never pass unseen.
        if (!said.has(error.message)) say(error.message.split("\n"), true);
        said.add(error.message);
        const why = error instanceof CertificateChangedError
          ? "its certificate changed"
          : "it answered without TLS";
        throw new ConnectError(`Refused ${server}: ${why} (see the warning above)`, {
          cause: error,
        });
      }
      throw error;
    }
    const notice = securityNotice(server, conn.security, pins);
    if (notice) say(notice.lines, notice.warning);
    return conn;
  };
}

/**
 * What to tell a person about a new connection's protection.
 *
 * @param address The node's address.
 * @param security How the connection is protected.
 * @param pins The pins (for the file's name).
 * @returns The message, or undefined when there is nothing new to say.
 */
export function securityNotice(
  address: string,
  security: ConnectionSecurity,
  pins: ServerPins,
): { lines: string[]; warning: boolean } | undefined {
  switch (security.kind) {
    case "plain":
      return {
        lines: [
          `WARNING: the connection to ${address} is NOT encrypted: the node does not offer TLS ` +
          `(--client-tls off, or an older node). Anyone on the network path can read and change ` +
          `what you send and receive.`,
        ],
        warning: true,
      };
    case "verified":
      return undefined;
    case "pinned": {
      const first = security.firstUse;
      if (first === undefined) return undefined;
      const kept = first.saved
        ? `pinned in ${pins.path}`
        : `pinned for this session only (${first.reason}; deno task client keeps pins)`;
      return {
        lines: [
          `First connection to ${address}: encrypted (TLS); its certificate ` +
          `${security.fingerprint} is now ${kept}. Compare it with the fingerprint in the ` +
          `node's start-up log ("client port tls"); a different certificate later is refused.`,
        ],
        warning: false,
      };
    }
  }
}
