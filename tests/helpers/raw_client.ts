/**
 * A protocol-level test client: raw TCP, frames recorded in order, waits
 * bounded in time so a failing test stops by itself.
 *
 * @module
 */
import { encodeFrame, FrameDecoder } from "../../core/ndjson.ts";
import { type Frame, FrameInbox } from "./frame_inbox.ts";

export type { Frame } from "./frame_inbox.ts";

/** A raw protocol v1 connection; its frames and waits are {@linkcode FrameInbox}'s. */
export class RawClient extends FrameInbox {
  readonly #conn: Deno.TcpConn;
  /** Resolves when the node closes the connection. */
  readonly ended: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    super("connection ended");
    this.#conn = conn;
    this.ended = this.#read();
  }

  /**
   * Connects to a node on loopback.
   *
   * @param port Client port.
   * @returns The client.
   */
  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /**
   * Connects and says hello, waiting for the welcome.
   *
   * @param port Client port.
   * @param user Nick.
   * @param room Room.
   * @returns The client, welcomed.
   */
  static async join(port: number, user: string, room?: string): Promise<RawClient> {
    const client = await RawClient.connect(port);
    await client.send({ t: "hello", v: 1, user, ...(room ? { room } : {}) });
    await client.next((f) => f.t === "welcome");
    return client;
  }

  /**
   * Sends one frame.
   *
   * @param frame Any JSON value.
   */
  async send(frame: unknown): Promise<void> {
    await this.sendRaw(encodeFrame(frame));
  }

  /**
   * Sends raw bytes or text.
   *
   * @param data What to write.
   */
  async sendRaw(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  async #read(): Promise<void> {
    const decoder = new FrameDecoder({ maxLineBytes: 8 << 20 });
    const buffer = new Uint8Array(65536);
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        const lines = decoder.push(buffer.subarray(0, n));
        this.receive(...lines.flatMap((line) => line.ok ? [line.value as Frame] : []));
      }
    } catch {
      // reset or closed locally
    } finally {
      this.markEnded();
    }
  }
}
