/**
 * The web client's connection to a node: protocol v1 over the WebSocket at
 * `/ws` (docs/protocol.md, "WebSocket"). It asks for the batched subprotocol
 * `meshchat.ndjson`, so one message may carry several `\n`-separated frames;
 * a node that does not offer it sends one frame per message, which reads the
 * same way. It is the {@linkcode NodeLink} the terminal client's
 * {@linkcode ChatClient} drives, so reconnecting, failover and resending
 * unacknowledged lines are the terminal client's own.
 *
 * @module
 */
import type { NodeLink } from "../chat_client.ts";
import { ConnectError } from "../node_connection.ts";
import type { ServerFrame } from "../../core/protocol.ts";

/** The subprotocol under which a node batches its frames as NDJSON. */
export const BATCHED_SUBPROTOCOL = "meshchat.ndjson";

/**
 * The frames one WebSocket message carries: each non-empty line that is a
 * JSON object with a `t` field (a node never sends anything else; anything
 * else is skipped, as the TCP client does).
 *
 * @param message The text of one message.
 * @returns Its frames, in order.
 *
 * @example
 * ```ts
 * import { framesOf } from "./web_socket_link.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(framesOf('{"t":"pong"}\n{"t":"pong"}\n').length, 2);
 * assert.deepEqual(framesOf('{"t":"pong"}'), [{ t: "pong" }]);
 * ```
 */
export function framesOf(message: string): ServerFrame[] {
  const frames: ServerFrame[] = [];
  for (const line of message.split("\n")) {
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof value === "object" && value !== null && "t" in value) {
      frames.push(value as ServerFrame);
    }
  }
  return frames;
}

/**
 * The WebSocket URL of the node that served a page: `ws://host/ws`, or
 * `wss://` for a page served over HTTPS.
 *
 * @param page The page's location.
 * @returns The URL.
 */
export function webSocketUrl(page: URL): string {
  const url = new URL("/ws", page);
  url.protocol = page.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/** One open WebSocket to a node. */
export class WebSocketLink implements NodeLink {
  /** The URL connected to. */
  readonly address: string;
  readonly #socket: WebSocket;
  /** Frames received and not yet taken by {@linkcode WebSocketLink.frames}. */
  readonly #queue: ServerFrame[] = [];
  #wake: (() => void) | undefined;
  #closed = false;

  private constructor(address: string, socket: WebSocket) {
    this.address = address;
    this.#socket = socket;
    // Listening from the start: frames that arrive before frames() is called wait here.
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      this.#queue.push(...framesOf(event.data));
      this.#wakeReader();
    });
    socket.addEventListener("close", () => {
      this.#closed = true;
      this.#wakeReader();
    });
  }

  /**
   * Opens a WebSocket to a node.
   *
   * @param url `ws://host:port/ws` or `wss://…`.
   * @returns The open connection.
   * @throws {ConnectError} When it does not open (a browser says no more than that).
   */
  static open(url: string): Promise<WebSocketLink> {
    return new Promise((resolve, reject) => {
      let socket: WebSocket;
      try {
        socket = new WebSocket(url, [BATCHED_SUBPROTOCOL]);
      } catch (error) {
        reject(new ConnectError(`Cannot connect to ${url}: ${(error as Error).message}`));
        return;
      }
      const failed = () =>
        reject(new ConnectError(`Cannot connect to ${url}: the node did not answer`));
      socket.addEventListener("error", failed, { once: true });
      socket.addEventListener("close", failed, { once: true });
      socket.addEventListener("open", () => {
        socket.removeEventListener("error", failed);
        socket.removeEventListener("close", failed);
        resolve(new WebSocketLink(url, socket));
      }, { once: true });
    });
  }

  /**
   * Sends one frame as one text message.
   *
   * @param frame A client frame.
   * @returns Resolves once handed to the socket.
   * @throws {Error} When the socket is not open.
   */
  send(frame: Record<string, unknown>): Promise<void> {
    if (this.#socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error("Cannot send: the connection is closed"));
    }
    this.#socket.send(JSON.stringify(frame));
    return Promise.resolve();
  }

  /**
   * Frames from the node until the socket closes.
   *
   * @returns The frames.
   */
  async *frames(): AsyncGenerator<ServerFrame> {
    while (true) {
      const frame = this.#queue.shift();
      if (frame !== undefined) {
        yield frame;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  /** Closes the socket. */
  close(): void {
    this.#socket.close(1000, "quit");
    this.#closed = true;
    this.#wakeReader();
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
