/**
 * What the mesh needs from a network: listen on an address, dial one, and
 * byte streams between the two. {@linkcode Mesh} speaks only this interface;
 * `tcp_transport.ts` is the real one, and the tests' in-memory transport
 * (`tests/helpers/memory_transport.ts`) is where partitions are injected.
 *
 * @module
 */
import type { ByteStream } from "./frame_reader.ts";

/** A connection between two mesh nodes: bytes both ways, not yet authenticated. */
export interface MeshConnection extends ByteStream {
  /**
   * The other end's host as the network reports it. The accept side counts
   * handshakes per address by it (see `HandshakeSlots`), so it must be the
   * dialler's address, not one the dialler chose.
   */
  readonly remoteHostname: string;
}

/** A bound mesh port. */
export interface MeshListener extends AsyncIterable<MeshConnection> {
  /** Where it is bound (the port is the real one when 0 was asked for). */
  readonly addr: { readonly hostname: string; readonly port: number };
  /** Stops listening; iteration over accepted connections ends. Closing twice is harmless. */
  close(): void;
}

/** Listens and dials for the mesh. */
export interface MeshTransport {
  /**
   * Binds a mesh port.
   *
   * @param hostname Address to bind.
   * @param port Port; 0 picks a free one.
   * @returns The listener.
   * @throws {Deno.errors.AddrInUse} When the address is taken.
   */
  listen(hostname: string, port: number): MeshListener;
  /**
   * Opens a connection to a mesh port.
   *
   * @param hostname Host to dial.
   * @param port Port to dial.
   * @returns The connection.
   * @throws {Error} When nobody accepts (refused, unreachable, cut off).
   */
  dial(hostname: string, port: number): Promise<MeshConnection>;
}
