/**
 * Fan-out over WebSockets beside TCP, on one node in one run: 1 sender and
 * 100 receivers in a room, all over the node's `/ws` (raw TCP clients
 * that speak the WebSocket framing), then the same over its TCP client port
 * (fanout.ts). Prints
 * deliveries/s of each and their ratio, and writes them to
 * `data/bench/ws_fanout.json`. Part of `deno task bench`; alone:
 *
 * ```sh
 * deno run -P=e2e-bench tests/bench/ws_fanout.ts
 * ```
 *
 * @module
 */
import { freePort, startNodeProcess } from "../helpers/node_process.ts";
import {
  connectAll,
  type FanoutReceiver,
  type FanoutResult,
  type FanoutSender,
  type FanoutTarget,
  measureThroughput,
  meshchatTarget,
  PAD,
} from "./fanout.ts";
import { clientFrame, handshake } from "../helpers/ws_client.ts";
import { concatBytes } from "../../core/bytes.ts";

const RECEIVERS = 100;
const MESSAGES = 20_000;

/**
 * A WebSocket receiver over raw TCP that counts frames in the byte stream:
 * Deno's WebSocket client spends more per message than the node does, and
 * would measure itself.
 */
class WsReceiver implements FanoutReceiver {
  lines = 0;
  readonly latencies: number[] = [];
  timing = false;
  readonly #conn: Deno.TcpConn;
  #wait: { target: number; resolve: () => void } | undefined;
  /** Bytes of the frame in progress still to come (header included, once known). */
  #header = new Uint8Array(0);
  #left = 0;
  #text = "";

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#read();
  }

  until(target: number): Promise<void> {
    if (this.lines >= target) return Promise.resolve();
    return new Promise((resolve) => (this.#wait = { target, resolve }));
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // closed
    }
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(256 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) return;
        this.#frames(buffer.subarray(0, n));
        if (this.#wait && this.lines >= this.#wait.target) {
          const { resolve } = this.#wait;
          this.#wait = undefined;
          resolve();
        }
      }
    } catch {
      // closed
    }
  }

  /** Counts the frames that end in `chunk` (server frames are unmasked, under 64 KiB here). */
  #frames(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#left === 0) {
        const header = concatBytes(this.#header, chunk.subarray(at, at + 4));
        if (header.length < 2) {
          this.#header = header;
          return;
        }
        const short = header[1]! & 0x7f;
        const size = short < 126 ? 2 : 4;
        if (header.length < size) {
          this.#header = header;
          return;
        }
        const payload = short < 126 ? short : (header[2]! << 8) | header[3]!;
        at += size - this.#header.length;
        this.#header = new Uint8Array(0);
        this.#left = payload;
        this.#text = "";
        if (payload === 0) this.lines++;
        continue;
      }
      const take = Math.min(this.#left, chunk.length - at);
      if (this.timing) this.#text += new TextDecoder().decode(chunk.subarray(at, at + take));
      at += take;
      this.#left -= take;
      if (this.#left === 0) {
        this.lines++;
        const sent = this.#text.indexOf("sent=");
        if (this.timing && sent !== -1) {
          this.latencies.push(performance.now() - parseFloat(this.#text.slice(sent + 5)));
        }
      }
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** A WebSocket sender over raw TCP: each line of a batch is one masked text frame. */
class WsSender implements FanoutSender {
  readonly #conn: Deno.TcpConn;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#drain();
  }

  async write(text: string): Promise<void> {
    const frames = text.split("\n").filter((line) => line !== "").map((line) => clientFrame(line));
    await writeAll(this.#conn, concatBytes(...frames));
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // closed
    }
  }

  async #drain(): Promise<void> {
    const buffer = new Uint8Array(65536);
    try {
      while ((await this.#conn.read(buffer)) !== null) {
        // discard acks and echoes
      }
    } catch {
      // closed
    }
  }
}

/** Opens a WebSocket over raw TCP, says hello, and reads up to the end of the welcome. */
async function join(port: number, user: string, room: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  await writeAll(conn, handshake(port));
  await writeAll(conn, clientFrame(JSON.stringify({ t: "hello", v: 1, user, room })));
  // The welcome of an empty room is the only thing sent: read until its frame is whole.
  const buffer = new Uint8Array(65536);
  let seen = "";
  while (!/"t":"welcome".*\}$/s.test(seen)) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`Connection closed before the welcome: ${seen}`);
    seen += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return conn;
}

/**
 * A meshchat room over WebSockets as a fan-out target.
 *
 * @param httpPort The node's HTTP port.
 * @param room Room name.
 * @returns The target.
 */
export function webSocketTarget(httpPort: number, room = "wsbench"): FanoutTarget {
  return {
    linesPerMessage: 1,
    async receiver(index) {
      return new WsReceiver(await join(httpPort, `w${index}`, room));
    },
    async sender() {
      return new WsSender(await join(httpPort, "wsender", room));
    },
    line: (seq, sentAt) => `{"t":"say","room":"${room}","text":"m${seq} sent=${sentAt} ${PAD}"}\n`,
  };
}

/** The figures of {@linkcode benchWsFanout}. */
export interface WsFanoutBench {
  /** Receivers per run. */
  readonly receivers: number;
  /** Over WebSockets. */
  readonly webSocket: FanoutResult;
  /** Over TCP, on the same node in the same run. */
  readonly tcp: FanoutResult;
  /** WebSocket deliveries/s over TCP's. */
  readonly ratio: number;
}

async function measure(target: FanoutTarget): Promise<FanoutResult> {
  const { receivers, sender } = await connectAll(target, RECEIVERS);
  try {
    await measureThroughput(target, receivers, sender, 2000); // warm-up
    return await measureThroughput(target, receivers, sender, MESSAGES);
  } finally {
    for (const receiver of receivers) receiver.close();
    sender.close();
  }
}

/**
 * Runs the WebSocket and TCP fan-out on one node.
 *
 * @returns The figures.
 */
export async function benchWsFanout(): Promise<WsFanoutBench> {
  const httpPort = freePort();
  const node = await startNodeProcess({
    id: "wsbench",
    // Rate limits off; 100 receivers from one address, a bulk sender.
    args: [
      ...["--http-port", String(httpPort), "--burst", "0", "--max-queue", String(64 << 20)],
      ...["--max-conns-per-addr", "1000", "--max-bytes-per-conn", "0"],
    ],
  });
  try {
    const webSocket = await measure(webSocketTarget(httpPort));
    const tcp = await measure(meshchatTarget([node.port], "tcpbench"));
    const ratio = Math.round(webSocket.deliveriesPerSecond / tcp.deliveriesPerSecond * 100) / 100;
    return { receivers: RECEIVERS, webSocket, tcp, ratio };
  } finally {
    await node.stop("SIGTERM");
  }
}

/**
 * Lines that report {@linkcode benchWsFanout}'s figures.
 *
 * @param bench The figures.
 * @returns Printable lines.
 */
export function formatWsFanout(bench: WsFanoutBench): string[] {
  const fmt = (n: number) => n.toLocaleString("en-US");
  return [
    `fan-out over WebSockets: 1 sender, ${bench.receivers} receivers, ${
      fmt(MESSAGES)
    } messages, one node`,
    `  WebSocket ${
      fmt(bench.webSocket.deliveriesPerSecond).padStart(12)
    } deliveries/s, lost ${bench.webSocket.lost}`,
    `  TCP       ${
      fmt(bench.tcp.deliveriesPerSecond).padStart(12)
    } deliveries/s, lost ${bench.tcp.lost}`,
    `  WebSocket / TCP: ${bench.ratio}`,
  ];
}

if (import.meta.main) {
  const bench = await benchWsFanout();
  for (const line of formatWsFanout(bench)) console.log(line);
  await Deno.mkdir("data/bench", { recursive: true });
  const result = { date: new Date().toISOString(), deno: Deno.version.deno, ...bench };
  await Deno.writeTextFile("data/bench/ws_fanout.json", JSON.stringify(result, null, 2) + "\n");
  console.log("written: data/bench/ws_fanout.json");
}
