// Copyright the meshchat authors. MIT license.
/**
 * An in-memory {@linkcode MeshTransport} for nodes running in one process,
 * and the place where tests partition them.
 *
 * The mesh handshake is encrypted, so nothing on the wire says which node
 * dials which: only the network knows, because each node gets its own
 * handle, `network.transportFor("n1")`. The handle's name is the node's
 * host: it is what the accepting side sees as the remote hostname (so
 * give nodes `--mesh-host n1`, and they advertise `n1:PORT`). A cut refuses
 * new dials between the two and resets the connections they have.
 *
 * Streams behave like TCP where the mesh can tell: bytes arrive in order
 * (in chunks of any size), the peer's close is an end of stream after what
 * it wrote, a reset fails pending and later reads and writes, a second
 * `close()` throws `BadResource`. Writes never block (no flow control).
 *
 * ```ts ignore
 * const network = new MemoryMeshNetwork();
 * const mesh = new Mesh(hub, { ...options, hostname: "n1", transport: network.transportFor("n1") });
 * network.partition([["n1", "n2"], ["n3"]]);
 * network.healAll();
 * ```
 *
 * @module
 */
import type { MeshConnection, MeshListener, MeshTransport } from "../../node/mesh/transport.ts";
import { LinkCuts } from "./link_cuts.ts";

/** The first port given to a listener that asks for port 0. */
const FIRST_FREE_PORT = 40_000;

/** Mesh nodes in one process, linked by in-memory byte streams that a test can cut. */
export class MemoryMeshNetwork {
  readonly #listeners = new Map<string, MemoryListener>();
  readonly #connections = new Set<MemoryConnection>();
  readonly #cuts = new LinkCuts();
  #nextPort = FIRST_FREE_PORT;

  /**
   * The transport of one node.
   *
   * @param name The node's host: what nodes it accepts from see as its address.
   * @returns The node's transport.
   */
  transportFor(name: string): MeshTransport {
    return {
      listen: (hostname, port) => this.#listen(name, hostname, port),
      dial: (hostname, port) => this.#dial(name, hostname, port),
    };
  }

  /**
   * Cuts `a` from `b`: their connections are reset, their dials refused.
   *
   * @param a One node.
   * @param b The other.
   */
  cut(a: string, b: string): void {
    this.#cuts.cut(a, b);
    this.#resetSeparated();
  }

  /**
   * Undoes {@linkcode MemoryMeshNetwork.cut}.
   *
   * @param a One node.
   * @param b The other.
   */
  heal(a: string, b: string): void {
    this.#cuts.heal(a, b);
  }

  /**
   * Cuts every pair of nodes in different groups.
   *
   * @param groups The sides of the partition.
   */
  partition(groups: readonly (readonly string[])[]): void {
    this.#cuts.partition(groups);
    this.#resetSeparated();
  }

  /** Heals every cut. */
  healAll(): void {
    this.#cuts.healAll();
  }

  /**
   * Open connections between two nodes (either side dialled).
   *
   * @param a One node.
   * @param b The other.
   * @returns How many.
   */
  connections(a: string, b: string): number {
    return [...this.#connections].filter((c) =>
      (c.dialer === a && c.acceptor === b) || (c.dialer === b && c.acceptor === a)
    ).length;
  }

  #listen(owner: string, hostname: string, port: number): MeshListener {
    const bound = port === 0 ? this.#nextPort++ : port;
    const key = `${hostname}:${bound}`;
    if (this.#listeners.has(key)) {
      throw new Deno.errors.AddrInUse(`Cannot listen on ${key}: address in use`);
    }
    const listener = new MemoryListener(owner, { hostname, port: bound }, () => {
      if (this.#listeners.get(key) === listener) this.#listeners.delete(key);
    });
    this.#listeners.set(key, listener);
    return listener;
  }

  async #dial(dialer: string, hostname: string, port: number): Promise<MeshConnection> {
    await Promise.resolve(); // a dial never completes in the caller's turn, as with TCP
    const listener = this.#listeners.get(`${hostname}:${port}`);
    if (listener === undefined || this.#cuts.separates(dialer, listener.owner)) {
      throw new Deno.errors.ConnectionRefused(`Cannot dial ${hostname}:${port}: refused`);
    }
    const connection = new MemoryConnection(dialer, listener.owner, () => {
      this.#connections.delete(connection);
    });
    this.#connections.add(connection);
    listener.push(connection.acceptorEnd(dialer));
    return connection.dialerEnd(hostname);
  }

  #resetSeparated(): void {
    for (const connection of this.#connections) {
      if (this.#cuts.separates(connection.dialer, connection.acceptor)) connection.reset();
    }
  }
}

/** A bound in-memory port. */
class MemoryListener implements MeshListener {
  readonly owner: string;
  readonly addr: { hostname: string; port: number };
  readonly #unbind: () => void;
  readonly #pending: MeshConnection[] = [];
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(owner: string, addr: { hostname: string; port: number }, unbind: () => void) {
    this.owner = owner;
    this.addr = addr;
    this.#unbind = unbind;
  }

  push(connection: MeshConnection): void {
    this.#pending.push(connection);
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<MeshConnection> {
    while (!this.#closed) {
      const next = this.#pending.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unbind();
    // Dialled but never accepted: the dialler sees its connection end.
    for (const connection of this.#pending.splice(0)) connection.close();
    this.#wake?.();
  }
}

/** One connection: two ends, each reading what the other writes. */
class MemoryConnection {
  readonly dialer: string;
  readonly acceptor: string;
  readonly #toAcceptor = new ByteQueue();
  readonly #toDialer = new ByteQueue();
  readonly #gone: () => void;
  #openEnds = 2;

  constructor(dialer: string, acceptor: string, gone: () => void) {
    this.dialer = dialer;
    this.acceptor = acceptor;
    this.#gone = gone;
  }

  dialerEnd(remoteHostname: string): MeshConnection {
    return this.#end(remoteHostname, this.#toDialer, this.#toAcceptor);
  }

  acceptorEnd(remoteHostname: string): MeshConnection {
    return this.#end(remoteHostname, this.#toAcceptor, this.#toDialer);
  }

  /** Both ends fail from now on, as after a TCP reset. */
  reset(): void {
    const error = () => new Deno.errors.ConnectionReset("Connection reset: link cut");
    this.#toAcceptor.fail(error());
    this.#toDialer.fail(error());
    this.#gone();
  }

  #end(remoteHostname: string, inbox: ByteQueue, outbox: ByteQueue): MeshConnection {
    let closed = false;
    const usable = () => {
      if (closed) throw new Deno.errors.BadResource("Bad resource ID");
    };
    return {
      remoteHostname,
      read: async (p) => {
        usable();
        return await inbox.read(p);
      },
      write: (p) => {
        try {
          usable();
          return Promise.resolve(outbox.write(p));
        } catch (error) {
          return Promise.reject(error);
        }
      },
      close: () => {
        usable();
        closed = true;
        inbox.closeReader();
        outbox.end();
        if (--this.#openEnds === 0) this.#gone();
      },
    };
  }
}

/** Bytes one way: written chunks, read in order, then an end or a failure. */
class ByteQueue {
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  #readerClosed = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;

  async read(p: Uint8Array): Promise<number | null> {
    while (true) {
      if (this.#failure) throw this.#failure;
      // A read pending when its own end closes fails, as with a Deno socket.
      if (this.#readerClosed) throw new Deno.errors.BadResource("Bad resource ID: closed");
      const chunk = this.#chunks[0];
      if (chunk !== undefined) {
        const n = Math.min(p.length, chunk.length);
        p.set(chunk.subarray(0, n));
        if (n === chunk.length) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(n);
        return n;
      }
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }

  write(p: Uint8Array): number {
    if (this.#failure) throw this.#failure;
    if (this.#readerClosed) throw new Deno.errors.BrokenPipe("Broken pipe: the peer closed");
    if (p.length > 0) this.#chunks.push(p.slice());
    this.#wake?.();
    return p.length;
  }

  /** The writer closed: the reader gets what is buffered, then the end. */
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  /** The reader closed its end: what is buffered is dropped, writes fail. */
  closeReader(): void {
    this.#readerClosed = true;
    this.#chunks.length = 0;
    this.#wake?.();
  }

  /** Reads and writes fail from now on; buffered bytes are lost. */
  fail(error: Error): void {
    this.#failure ??= error;
    this.#chunks.length = 0;
    this.#wake?.();
  }
}
