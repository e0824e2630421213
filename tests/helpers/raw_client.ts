/**
 * A protocol-level test client: raw TCP, frames recorded in order, waits
 * bounded in time so a failing test stops by itself.
 *
 * @module
 */
import { encodeFrame, FrameDecoder } from "../../core/ndjson.ts";

/** A frame as received (loosely typed for assertions). */
export type Frame = Record<string, unknown> & { t: string };

/** How long a test waits for an expected frame before it fails (ms). */
const WAIT_MS = 10_000;

/** A raw protocol v1 connection. */
export class RawClient {
  /** Every frame received so far, in order. */
  readonly frames: Frame[] = [];
  readonly #conn: Deno.TcpConn;
  #cursor = 0;
  #wake: (() => void) | undefined;
  #ended = false;
  /** Resolves when the node closes the connection. */
  readonly ended: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
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

  /** Whether the node closed the connection. */
  get isEnded(): boolean {
    return this.#ended;
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

  /**
   * Waits for the next frame (after those already taken) that matches.
   *
   * @param match Predicate; frames before the match are skipped.
   * @param waitMs Longest wait.
   * @returns The frame.
   * @throws {Error} When none arrives in time or the connection ends, listing what did arrive.
   */
  async next(match: (frame: Frame) => boolean = () => true, waitMs = WAIT_MS): Promise<Frame> {
    const deadline = Date.now() + waitMs;
    while (true) {
      while (this.#cursor < this.frames.length) {
        const frame = this.frames[this.#cursor++]!;
        if (match(frame)) return frame;
      }
      const left = deadline - Date.now();
      if (this.#ended || left <= 0) {
        const seen = this.frames.slice(-5).map((f) => JSON.stringify(f)).join("\n  ");
        throw new Error(
          `Expected frame did not arrive (${
            this.#ended ? "connection ended" : "timeout"
          }); last:\n  ${seen}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /**
   * Waits for an error frame.
   *
   * @param code Expected code.
   * @returns The frame.
   */
  error(code: string): Promise<Frame> {
    return this.next((f) => f.t === "error" && f.code === code);
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
        for (const line of decoder.push(buffer.subarray(0, n))) {
          if (line.ok) this.frames.push(line.value as Frame);
        }
        this.#wake?.();
      }
    } catch {
      // reset or closed locally
    } finally {
      this.#ended = true;
      this.#wake?.();
    }
  }
}
