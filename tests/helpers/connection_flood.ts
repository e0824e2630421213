/**
 * A flood of connections to a port, for tests that check a node keeps
 * serving real peers and users while someone holds its slots.
 *
 * @module
 */
import assert from "node:assert/strict";
import { freePort, startNodeProcess } from "./node_process.ts";

/** Options of {@linkcode holdConnections}. */
export interface HoldConnectionsOptions {
  /** Port to connect to. */
  port: number;
  /** Connections held at once. */
  count: number;
  /** Address to connect to. @default "127.0.0.1" */
  hostname?: string;
  /** Bytes sent once on each new connection; none when undefined (an idle connection). */
  firstBytes?: Uint8Array;
  /** Pause before retrying a refused connect (ms). @default 20 */
  retryMs?: number;
  /** Pause after the node closed a connection, before opening the next (ms). @default 0 */
  pauseAfterCloseMs?: number;
}

/** A running flood, from {@linkcode holdConnections}. */
export interface ConnectionFlood {
  /** Connections opened so far. */
  opened(): number;
  /** Connections the node (or a reset) ended so far. */
  closed(): number;
  /** Stops reopening, closes every open connection and waits for the loops to end. */
  stop(): Promise<void>;
}

/**
 * Keeps `count` connections open to a port, never answering what the node
 * sends, and reopens each one the node closes.
 *
 * @param options Where to connect and how.
 * @returns The flood, running until {@linkcode ConnectionFlood.stop}.
 */
export function holdConnections(options: HoldConnectionsOptions): ConnectionFlood {
  const { port, count, hostname = "127.0.0.1", firstBytes } = options;
  const retryMs = options.retryMs ?? 20;
  const pauseAfterCloseMs = options.pauseAfterCloseMs ?? 0;
  let running = true;
  const open = new Set<Deno.TcpConn>();
  let opened = 0;
  let closed = 0;
  const one = async () => {
    const buffer = new Uint8Array(256);
    while (running) {
      let conn: Deno.TcpConn;
      try {
        conn = await Deno.connect({ hostname, port });
      } catch {
        await new Promise((r) => setTimeout(r, retryMs));
        continue;
      }
      opened++;
      open.add(conn);
      try {
        if (firstBytes !== undefined) await conn.write(firstBytes);
        while ((await conn.read(buffer)) !== null) {
          // never answers: only the end matters
        }
      } catch {
        // reset
      }
      open.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
      closed++;
      // A short pause keeps the churn from eating both cores when asked for.
      if (pauseAfterCloseMs > 0) await new Promise((r) => setTimeout(r, pauseAfterCloseMs));
    }
  };
  const loops = Array.from({ length: count }, one);
  return {
    opened: () => opened,
    closed: () => closed,
    async stop() {
      running = false;
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await Promise.all(loops);
    },
  };
}

/**
 * Starts a node, floods its mesh port and, once `ready` says the flood has
 * its slots, starts a peer that knows the secret; asserts that the peer links
 * to the node within 15 s. Both nodes and the flood are stopped afterwards.
 *
 * @param flood Connection options, all but the node's port.
 * @param ready Whether the flood is under way (polled every 20 ms).
 * @returns Resolves when the peer linked.
 * @throws {assert.AssertionError} When it did not.
 */
export async function assertPeerLinksDespiteFlood(
  flood: Omit<HoldConnectionsOptions, "port">,
  ready: (flood: ConnectionFlood) => boolean,
): Promise<void> {
  const secret = `flood-${crypto.randomUUID()}`;
  const victimPort = freePort();
  const victim = await startNodeProcess({
    id: "victim",
    secret,
    args: ["--mesh-port", String(victimPort)],
  });
  const running = holdConnections({ ...flood, port: victimPort });
  let joiner;
  try {
    // Let the flood take the handshake slots before the real peer arrives.
    while (!ready(running)) await new Promise((r) => setTimeout(r, 20));
    joiner = await startNodeProcess({
      id: "joiner",
      secret,
      args: ["--mesh-port", String(freePort()), "--peers", `127.0.0.1:${victimPort}`],
    });
    for (let i = 0; i < 150 && !/mesh link up peer=victim/.test(joiner.log()); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(
      joiner.log(),
      /mesh link up peer=victim/,
      `${joiner.log().slice(-3000)}\n${victim.log().slice(-3000)}`,
    );
  } finally {
    await running.stop();
    await Promise.all([victim.stop("SIGKILL"), joiner?.stop("SIGKILL")]);
  }
}
