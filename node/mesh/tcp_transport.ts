/**
 * The mesh over TCP: the transport every node uses in production.
 *
 * @module
 */
import type { MeshConnection, MeshListener, MeshTransport } from "./transport.ts";

/** {@linkcode MeshTransport} on `Deno.listen` and `Deno.connect`. */
export const tcpTransport: MeshTransport = {
  listen(hostname, port) {
    return new TcpMeshListener(Deno.listen({ hostname, port, transport: "tcp" }));
  },
  async dial(hostname, port) {
    return meshConnection(await Deno.connect({ hostname, port }));
  },
};

class TcpMeshListener implements MeshListener {
  readonly #listener: Deno.TcpListener;

  constructor(listener: Deno.TcpListener) {
    this.#listener = listener;
  }

  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<MeshConnection> {
    try {
      for await (const conn of this.#listener) yield meshConnection(conn);
    } catch (error) {
      // Closing the listener ends the loop this way; anything else is a real failure.
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }

  close(): void {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
  }
}

function meshConnection(conn: Deno.TcpConn): MeshConnection {
  try {
    conn.setNoDelay(true); // small frames must not wait for Nagle
  } catch {
    // not fatal: only latency
  }
  return {
    remoteHostname: conn.remoteAddr.hostname,
    read: (p) => conn.read(p),
    write: (p) => conn.write(p),
    close: () => conn.close(),
  };
}
