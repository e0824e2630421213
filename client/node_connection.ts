/**
 * The client's connection to a node: protocol v1 frames over TCP.
 *
 * @module
 */
import { encodeFrame, FrameDecoder } from "../core/ndjson.ts";
import type { ServerFrame } from "../core/protocol.ts";
import type { ByteStream } from "../node/frontends/tcp/socket_stream.ts";

/** A node could not be reached; the message is one line for the user. */
export class ConnectError extends Error {
  /**
   * @param message For example `Cannot connect to localhost:8080: connection refused`.
   * @param options Standard error options.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectError";
  }
}

/** Said when something at the address does not answer as a node would. */
export const WRONG_PORT_HINT =
  "is it a meshchat node's client port? (8080 by default; SSH's 2222 and the mesh's 7946 are not)";

/**
 * Splits `host:port` (or `[v6]:port`).
 *
 * @param address The address.
 * @returns Host name and port.
 * @throws {ConnectError} When it is not `host:port` with a valid port.
 */
export function parseAddress(address: string): { hostname: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address.trim());
  const port = Number(match?.[2]);
  if (!match || match[1] === "" || port < 1 || port > 65535) {
    throw new ConnectError(
      `Invalid server address "${address}": use HOST:PORT, e.g. localhost:8080`,
    );
  }
  return { hostname: match[1]!, port };
}

/**
 * Why a connection failed, in a few words for a person.
 *
 * @param error What connecting threw.
 * @returns For example `connection refused`.
 */
export function connectFailureReason(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (error instanceof Deno.errors.TimedOut) return "timed out";
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return "network access not granted (run with --allow-net or deno task client)";
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/failed to lookup|Name or service not known|nodename nor servname/i.test(message)) {
    return "unknown host";
  }
  return message.replace(/\s*\(os error \d+\)/, "").toLowerCase();
}

/** How a connection to a node is protected (the terminal client's TLS: ./tls_connect.ts). */
export type ConnectionSecurity =
  | {
    /** TLS, the certificate verified by a CA for the name dialled. */
    readonly kind: "verified";
  }
  | {
    /** TLS, the certificate matched (or, on first use, became) the address's pin. */
    readonly kind: "pinned";
    /** `SHA256:` fingerprint of the certificate. */
    readonly fingerprint: string;
    /** Set on first use: whether the new pin was saved, and why not. */
    readonly firstUse: { readonly saved: boolean; readonly reason?: string } | undefined;
  }
  | {
    /** No TLS. */
    readonly kind: "plain";
  };

/**
 * Opens a TCP connection to a node.
 *
 * @param address `host:port`.
 * @returns The connection (no delay on small writes).
 * @throws {ConnectError} With a one-line reason.
 */
export async function dialNode(address: string): Promise<Deno.TcpConn> {
  const { hostname, port } = parseAddress(address);
  try {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    return conn;
  } catch (error) {
    throw new ConnectError(`Cannot connect to ${address}: ${connectFailureReason(error)}`, {
      cause: error,
    });
  }
}

/** One open connection to a node. */
export class NodeConnection {
  /** The address connected to, as given. */
  readonly address: string;
  /** Whether the connection is encrypted, and how its certificate was checked. */
  readonly security: ConnectionSecurity;
  readonly #conn: ByteStream;
  #writing: Promise<unknown> = Promise.resolve();

  private constructor(address: string, conn: ByteStream, security: ConnectionSecurity) {
    this.address = address;
    this.#conn = conn;
    this.security = security;
  }

  /**
   * Connects to a node in plain text. The terminal client encrypts: it
   * opens nodes with ./tls_connect.ts, which ends in
   * {@linkcode NodeConnection.over}.
   *
   * @param address `host:port`.
   * @returns The connection.
   * @throws {ConnectError} With a one-line reason.
   */
  static async open(address: string): Promise<NodeConnection> {
    return new NodeConnection(address, await dialNode(address), { kind: "plain" });
  }

  /**
   * A connection over a stream opened already (a TLS session).
   *
   * @param address `host:port`, as given.
   * @param stream The bytes to and from the node.
   * @param security How they are protected.
   * @returns The connection.
   */
  static over(address: string, stream: ByteStream, security: ConnectionSecurity): NodeConnection {
    return new NodeConnection(address, stream, security);
  }

  /**
   * Sends one frame (writes are serialised).
   *
   * @param frame A client frame.
   * @returns Resolves when written.
   */
  send(frame: Record<string, unknown>): Promise<void> {
    const bytes = encodeFrame(frame);
    const write = this.#writing.then(async () => {
      let offset = 0;
      while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
    });
    this.#writing = write.catch(() => {});
    return write;
  }

  /**
   * Frames from the node until it closes the connection. Lines that are not
   * valid frames are skipped (a node never sends them).
   *
   * @returns The frames.
   */
  async *frames(): AsyncGenerator<ServerFrame> {
    const decoder = new FrameDecoder({ maxLineBytes: 4 << 20 });
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      let n: number | null;
      try {
        n = await this.#conn.read(buffer);
      } catch {
        return;
      }
      if (n === null) return;
      for (const line of decoder.push(buffer.subarray(0, n))) {
        if (line.ok && typeof line.value === "object" && line.value !== null && "t" in line.value) {
          yield line.value as ServerFrame;
        }
      }
    }
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}
