/**
 * The client's connection to a node: protocol v1 frames over TCP.
 *
 * @module
 */
import { encodeFrame, FrameDecoder } from "../core/ndjson.ts";
import type { ServerFrame } from "../core/protocol.ts";

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

function reason(error: unknown): string {
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

/** One open connection to a node. */
export class NodeConnection {
  /** The address connected to, as given. */
  readonly address: string;
  readonly #conn: Deno.TcpConn;
  #writing: Promise<unknown> = Promise.resolve();

  private constructor(address: string, conn: Deno.TcpConn) {
    this.address = address;
    this.#conn = conn;
  }

  /**
   * Connects to a node.
   *
   * @param address `host:port`.
   * @returns The connection.
   * @throws {ConnectError} With a one-line reason.
   */
  static async open(address: string): Promise<NodeConnection> {
    const { hostname, port } = parseAddress(address);
    try {
      const conn = await Deno.connect({ hostname, port });
      conn.setNoDelay(true);
      return new NodeConnection(address, conn);
    } catch (error) {
      throw new ConnectError(`Cannot connect to ${address}: ${reason(error)}`, { cause: error });
    }
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
