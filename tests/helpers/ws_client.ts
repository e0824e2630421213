/**
 * WebSocket test clients for the `/ws` route: {@linkcode WsClient} (Deno's
 * own WebSocket, frames recorded in order like {@linkcode RawClient}), and
 * raw handshakes over TCP for what a well-behaved client never does —
 * reading the refusal's HTTP answer, or never reading at all.
 *
 * @module
 */
import { type Frame, FrameInbox } from "./frame_inbox.ts";
import { writeAll } from "../../core/bytes.ts";

/** How a WebSocket ended. */
export interface WsClosed {
  /** The close code (1006: the connection dropped without a close frame). */
  readonly code: number;
  /** The close reason. */
  readonly reason: string;
}

/** Options of {@linkcode WsClient.connect}. */
export interface WsClientOptions {
  /** The `Origin` header to send, as a browser page would. @default none */
  origin?: string;
  /** The `Cookie` header to send (a web sign-in credential), as a browser would. @default none */
  cookie?: string;
}

/** A protocol v1 client over Deno's WebSocket; its frames and waits are {@linkcode FrameInbox}'s. */
export class WsClient extends FrameInbox {
  /** Resolves when the socket closes, with the code and reason. */
  readonly closed: Promise<WsClosed>;
  readonly #socket: WebSocket;

  private constructor(socket: WebSocket) {
    super("closed");
    this.#socket = socket;
    const { promise, resolve } = Promise.withResolvers<WsClosed>();
    this.closed = promise;
    socket.onmessage = (event) => this.receive(JSON.parse(String(event.data)) as Frame);
    socket.onclose = (event) => {
      this.markEnded();
      resolve({ code: event.code, reason: event.reason });
    };
  }

  /**
   * Opens a WebSocket and waits until it is open.
   *
   * @param url `ws://host:port/ws`.
   * @param options The Origin to send.
   * @returns The client.
   * @throws {Error} When the handshake fails (its message has the HTTP status).
   */
  static async connect(url: string, options: WsClientOptions = {}): Promise<WsClient> {
    const headers = options.origin === undefined && options.cookie === undefined ? undefined : {
      ...(options.origin === undefined ? {} : { origin: options.origin }),
      ...(options.cookie === undefined ? {} : { cookie: options.cookie }),
    };
    // Deno's WebSocket takes headers, which a browser's does not.
    const socket = new WebSocket(url, headers && ({ headers } as unknown as string[]));
    const client = new WsClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = (event) => reject(new Error((event as ErrorEvent).message));
    });
    return client;
  }

  /**
   * Connects and says hello, waiting for the welcome.
   *
   * @param url `ws://host:port/ws`.
   * @param user Nick.
   * @param room Room.
   * @returns The client, welcomed.
   */
  static async join(url: string, user: string, room?: string): Promise<WsClient> {
    const client = await WsClient.connect(url);
    client.send({ t: "hello", v: 1, user, ...(room ? { room } : {}) });
    await client.next((f) => f.t === "welcome");
    return client;
  }

  /**
   * Sends one frame as one text message.
   *
   * @param frame Any JSON value.
   */
  send(frame: unknown): void {
    this.#socket.send(JSON.stringify(frame));
  }

  /**
   * Sends one message as is: text, or bytes as a binary message.
   *
   * @param data The message.
   */
  sendRaw(data: string | Uint8Array<ArrayBuffer>): void {
    this.#socket.send(data);
  }

  /** Closes the socket (normal closure). */
  close(): void {
    this.#socket.close();
  }
}

const encoder = new TextEncoder();

/**
 * One client-to-server WebSocket frame, masked as the protocol requires.
 *
 * @param payload The message.
 * @param opcode 1 text, 2 binary, 8 close, 9 ping. @default text
 * @param final Whether it ends its message. @default true
 * @param randomMask A fresh random key, as a browser masks; false: the
 *   all-zero key, which a server must take as any other and which leaves
 *   the payload as is (a benchmark's sender, whose own cost is not the
 *   node's). @default true
 * @returns The frame's bytes.
 */
export function clientFrame(
  payload: string | Uint8Array,
  opcode = 1,
  final = true,
  randomMask = true,
): Uint8Array {
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const size = body.length;
  const header = size < 126 ? 2 : size < 65536 ? 4 : 10;
  const out = new Uint8Array(header + 4 + size);
  out[0] = (final ? 0x80 : 0) | opcode;
  if (size < 126) out[1] = 0x80 | size;
  else if (size < 65536) {
    out[1] = 0x80 | 126;
    new DataView(out.buffer).setUint16(2, size);
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(size));
  }
  if (!randomMask) {
    out.set(body, header + 4);
    return out;
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, header);
  for (let i = 0; i < size; i++) out[header + 4 + i] = body[i]! ^ mask[i % 4]!;
  return out;
}

/**
 * The bytes of a WebSocket handshake request for `/ws`.
 *
 * @param port The HTTP port (for `Host`).
 * @param headers Extra headers, such as `Origin`.
 * @returns The request.
 */
export function handshake(port: number, headers: Record<string, string> = {}): Uint8Array {
  const lines = [
    "GET /ws HTTP/1.1",
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return encoder.encode(lines.join("\r\n") + "\r\n\r\n");
}

/**
 * Sends a handshake over raw TCP and reads the whole answer until the node
 * closes the connection or `waitMs` passes: for refusals, whose body a
 * WebSocket client never shows.
 *
 * @param port The HTTP port.
 * @param headers Extra headers.
 * @param waitMs Longest wait.
 * @returns The HTTP answer as text.
 */
export async function handshakeAnswer(
  port: number,
  headers: Record<string, string> = {},
  waitMs = 5000,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, handshake(port, { ...headers, Connection: "Upgrade, close" }));
  const timer = setTimeout(() => conn.close(), waitMs);
  const buffer = new Uint8Array(16_384);
  let text = "";
  const decoder = new TextDecoder();
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
      // A refusal's body is short: once it is in, there is nothing to wait for.
      const [head, body] = text.split("\r\n\r\n", 2);
      const length = /content-length: (\d+)/i.exec(head ?? "")?.[1];
      if (body !== undefined && length !== undefined && encoder.encode(body).length >= +length) {
        break;
      }
    }
  } catch {
    // closed by the timer or the node
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  return text;
}

/**
 * Opens a WebSocket over raw TCP, says hello, reads until the welcome is in,
 * and never reads again: a reader that has stopped reading.
 *
 * @param port The HTTP port.
 * @param hello The hello frame.
 * @param headers Extra handshake headers, such as `Sec-WebSocket-Protocol`.
 * @returns The connection (close it at the end).
 */
export async function joinAndStopReading(
  port: number,
  hello: unknown,
  headers: Record<string, string> = {},
): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, handshake(port, headers));
  await writeAll(conn, clientFrame(JSON.stringify(hello)));
  const buffer = new Uint8Array(65_536);
  let seen = "";
  const decoder = new TextDecoder();
  while (!seen.includes('"t":"welcome"')) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`Connection closed before the welcome: ${seen}`);
    seen += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return conn;
}
