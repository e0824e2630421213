/**
 * Fan-out over WebSockets beside TCP, on one node in one run: 1 sender and
 * 100 receivers in a room, all over the node's `/ws` (raw TCP clients
 * that speak the WebSocket framing) with one frame per message; again
 * with subprotocol `meshchat.ndjson` (several frames per message, which the
 * receivers split into lines); and the same over its TCP client port
 * (fanout.ts). Batched WebSocket and TCP are timed five times each, in
 * turns, then one frame per message five times; each is reported by its
 * median: one run swings by a third on a shared machine (how many messages
 * a batch holds feeds back into how fast the node drains it). Prints
 * deliveries/s of each and their ratio to TCP's, and writes them to
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
  connect,
  connectAll,
  CountingReceiver,
  countNewlines,
  type FanoutReceiver,
  type FanoutResult,
  type FanoutSender,
  type FanoutTarget,
  measureThroughput,
  meshchatTarget,
  PAD,
  Sender,
} from "./fanout.ts";
import { clientFrame, handshake } from "../helpers/ws_client.ts";
import { concatBytes, writeAll } from "../../core/bytes.ts";
import { NDJSON_PROTOCOL } from "../../node/frontends/web/ws_frontend.ts";

const RECEIVERS = 100;
const MESSAGES = 20_000;
/** Timed runs of each transport; the figures are their medians. */
const ROUNDS = 5;

/**
 * A WebSocket receiver over raw TCP that counts protocol frames in the byte
 * stream: one per message, or with {@linkcode NDJSON_PROTOCOL} one per line
 * of each message. Deno's WebSocket client spends more per message than the
 * node does, and would measure itself.
 */
class WsReceiver extends CountingReceiver {
  readonly #ndjson: boolean;
  /** Bytes of the message in progress still to come (header included, once known). */
  #header = new Uint8Array(0);
  #left = 0;
  #text = "";

  constructor(conn: Deno.TcpConn, ndjson: boolean) {
    super(conn);
    this.#ndjson = ndjson;
  }

  /**
   * Counts the frames that end in `chunk`: server messages are unmasked,
   * unfragmented, and under 4 GiB.
   */
  protected override count(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#left === 0) {
        const header = concatBytes(this.#header, chunk.subarray(at, at + 10));
        if (header.length < 2) {
          this.#header = header;
          return;
        }
        const short = header[1]! & 0x7f;
        const size = short < 126 ? 2 : short === 126 ? 4 : 10;
        if (header.length < size) {
          this.#header = header;
          return;
        }
        const view = new DataView(header.buffer, header.byteOffset);
        const payload = short < 126 ? short : size === 4 ? view.getUint16(2) : view.getUint32(6);
        at += size - this.#header.length;
        this.#header = new Uint8Array(0);
        this.#left = payload;
        this.#text = "";
        if (payload === 0 && !this.#ndjson) this.lines++;
        continue;
      }
      const take = Math.min(this.#left, chunk.length - at);
      const payload = chunk.subarray(at, at + take);
      if (this.timing) this.#text += new TextDecoder().decode(payload);
      else if (this.#ndjson) this.lines += countNewlines(payload);
      at += take;
      this.#left -= take;
      if (this.#left === 0 && this.timing) this.#timeMessage();
      else if (this.#left === 0 && !this.#ndjson) this.lines++;
    }
  }

  /** Counts and times the frames of the message just read whole. */
  #timeMessage(): void {
    const now = performance.now();
    const frames = this.#ndjson
      ? this.#text.split("\n").filter((line) => line !== "")
      : [this.#text];
    for (const frame of frames) {
      this.lines++;
      const sent = frame.indexOf("sent=");
      if (sent !== -1) this.latencies.push(now - parseFloat(frame.slice(sent + 5)));
    }
  }
}

/**
 * A WebSocket sender over raw TCP: each line of a batch is one text frame,
 * masked with the all-zero key so that masking in JavaScript does not take
 * the node's cores (a browser masks in native code); the node unmasks it as
 * any other.
 */
class WsSender extends Sender {
  protected override encode(text: string): Uint8Array {
    const lines = text.split("\n").filter((line) => line !== "");
    return concatBytes(...lines.map((line) => clientFrame(line, 1, true, false)));
  }
}

/**
 * Opens a WebSocket over raw TCP (offering {@linkcode NDJSON_PROTOCOL} when
 * `ndjson`), says hello, and reads up to the end of the welcome.
 */
async function join(
  port: number,
  user: string,
  room: string,
  ndjson: boolean,
): Promise<Deno.TcpConn> {
  const conn = await connect(port);
  await writeAll(
    conn,
    handshake(port, ndjson ? { "Sec-WebSocket-Protocol": NDJSON_PROTOCOL } : {}),
  );
  await writeAll(conn, clientFrame(JSON.stringify({ t: "hello", v: 1, user, room })));
  // The welcome of an empty room is the only thing sent: read until its frame is whole.
  const buffer = new Uint8Array(65536);
  let seen = "";
  while (!/"t":"welcome".*\}\n?$/s.test(seen)) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`Connection closed before the welcome: ${seen}`);
    seen += new TextDecoder().decode(buffer.subarray(0, n));
  }
  if (ndjson !== /^sec-websocket-protocol: meshchat\.ndjson\r$/im.test(seen)) {
    throw new Error(`The node did not answer the subprotocol as expected: ${seen}`);
  }
  return conn;
}

/**
 * A meshchat room over WebSockets as a fan-out target.
 *
 * @param httpPort The node's HTTP port.
 * @param room Room name.
 * @param ndjson Whether the receivers ask for batched output ({@linkcode NDJSON_PROTOCOL}).
 * @returns The target.
 */
export function webSocketTarget(httpPort: number, room = "wsbench", ndjson = false): FanoutTarget {
  const tag = ndjson ? "b" : "w"; // nicks of their own: both targets are open at once
  return {
    linesPerMessage: 1,
    async receiver(index) {
      return new WsReceiver(await join(httpPort, `${tag}${index}`, room, ndjson), ndjson);
    },
    async sender() {
      return new WsSender(await join(httpPort, `${tag}sender`, room, false));
    },
    line: (seq, sentAt) => `{"t":"say","room":"${room}","text":"m${seq} sent=${sentAt} ${PAD}"}\n`,
  };
}

/** One transport's run, with what it cost the node. */
export interface WsFanoutRun extends FanoutResult {
  /**
   * The node's CPU time per delivery (ns) during the timed run: steadier
   * than deliveries/s on a busy machine, where the clients share its cores.
   */
  readonly nodeCpuNsPerDelivery: number;
}

/** The figures of {@linkcode benchWsFanout}: medians of its rounds. */
export interface WsFanoutBench {
  /** Receivers per run. */
  readonly receivers: number;
  /** Timed runs of each transport. */
  readonly rounds: number;
  /** Over WebSockets, one frame per message. */
  readonly webSocket: WsFanoutRun;
  /** Over WebSockets with {@linkcode NDJSON_PROTOCOL}: the frames of a burst in one message. */
  readonly webSocketBatched: WsFanoutRun;
  /** Over TCP, on the same node in the same run. */
  readonly tcp: WsFanoutRun;
  /** WebSocket deliveries/s over TCP's. */
  readonly ratio: number;
  /** Batched WebSocket deliveries/s over TCP's. */
  readonly batchedRatio: number;
  /** TCP's node CPU per delivery over batched WebSocket's (1 = as cheap as TCP). */
  readonly batchedCpuRatio: number;
  /**
   * Batched WebSocket deliveries/s over TCP's in each round: the two runs
   * of a round are back to back, so a slow spell of the machine weighs on
   * both.
   */
  readonly batchedRoundRatios: readonly number[];
  /** The median of {@linkcode WsFanoutBench.batchedRoundRatios}. */
  readonly batchedPairedRatio: number;
}

/** The node's CPU time so far (ms), from its `/metrics`. */
async function nodeCpuMs(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const seconds = /^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1];
  if (seconds === undefined) throw new Error("No process_cpu_seconds_total in /metrics");
  return Number(seconds) * 1000;
}

/** A target with its connections open. */
interface OpenTarget {
  readonly target: FanoutTarget;
  readonly receivers: FanoutReceiver[];
  readonly sender: FanoutSender;
}

async function open(target: FanoutTarget): Promise<OpenTarget> {
  const { receivers, sender } = await connectAll(target, RECEIVERS);
  await measureThroughput(target, receivers, sender, 2000); // warm-up
  return { target, receivers, sender };
}

function close({ receivers, sender }: OpenTarget): void {
  for (const receiver of receivers) receiver.close();
  sender.close();
}

/** One timed run, with the node's CPU time it took. */
async function timed({ target, receivers, sender }: OpenTarget, httpPort: number) {
  const cpuBefore = await nodeCpuMs(httpPort);
  const result = await measureThroughput(target, receivers, sender, MESSAGES);
  const deliveries = MESSAGES * RECEIVERS - result.lost;
  const cpuNs = (await nodeCpuMs(httpPort) - cpuBefore) * 1e6;
  return { ...result, nodeCpuNsPerDelivery: Math.round(cpuNs / deliveries) };
}

/**
 * The median run by deliveries/s, with the median CPU per delivery, and
 * the losses of every run.
 */
function medianRun(runs: readonly WsFanoutRun[]): WsFanoutRun {
  const middle = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!;
  const byRate = [...runs].sort((a, b) => a.deliveriesPerSecond - b.deliveriesPerSecond);
  return {
    ...byRate[byRate.length >> 1]!,
    lost: runs.reduce((sum, run) => sum + run.lost, 0),
    nodeCpuNsPerDelivery: middle(runs.map((run) => run.nodeCpuNsPerDelivery)),
  };
}

/**
 * Times each target {@linkcode ROUNDS} times: in rounds that time every
 * target once, in an order that turns each round (a target that always ran
 * first, or after the slowest, would carry that).
 *
 * @returns Each target's runs.
 */
async function inTurns(targets: readonly OpenTarget[], httpPort: number): Promise<WsFanoutRun[][]> {
  const runs: WsFanoutRun[][] = targets.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < targets.length; i++) {
      const which = (i + round) % targets.length;
      runs[which]!.push(await timed(targets[which]!, httpPort));
    }
  }
  return runs;
}

/**
 * Runs the WebSocket and TCP fan-out on one node: batched WebSocket and TCP
 * in turns (see {@linkcode inTurns}), then one frame per message; the
 * median of each.
 *
 * @returns The figures.
 */
export async function benchWsFanout(): Promise<WsFanoutBench> {
  const httpPort = freePort();
  const node = await startNodeProcess({
    id: "wsbench",
    // Rate limits off; 300 receivers from one address, a bulk sender. Snapshots
    // off: one that fell into a run (writing the backlog to KV) would charge
    // that transport a tenth more per delivery.
    args: [
      ...["--http-port", String(httpPort), "--burst", "0", "--max-queue", String(64 << 20)],
      ...["--max-conns-per-addr", "1000", "--max-bytes-per-conn", "0"],
      ...["--snapshot-interval", "0"],
    ],
  });
  const targets: OpenTarget[] = [];
  try {
    for (
      const target of [
        webSocketTarget(httpPort),
        webSocketTarget(httpPort, "wsbatched", true),
        meshchatTarget([node.port], "tcpbench"),
      ]
    ) targets.push(await open(target));
    const [plain, ...compared] = targets as [OpenTarget, OpenTarget, OpenTarget];
    // Batched WebSocket against TCP, in turns. One frame per message runs after
    // them: its receivers fall behind (they are the bottleneck), and the node's
    // backlog of queued frames would be garbage charged to whichever run followed.
    const [batchedRuns, tcpRuns] = await inTurns(compared, httpPort) as [
      WsFanoutRun[],
      WsFanoutRun[],
    ];
    const [webSocketBatched, tcp] = [medianRun(batchedRuns), medianRun(tcpRuns)];
    const [webSocket] = (await inTurns([plain], httpPort)).map(medianRun) as [WsFanoutRun];
    const round2 = (x: number) => Math.round(x * 100) / 100;
    const toTcp = (result: FanoutResult) =>
      round2(result.deliveriesPerSecond / tcp.deliveriesPerSecond);
    const batchedRoundRatios = batchedRuns.map((run, round) =>
      round2(run.deliveriesPerSecond / tcpRuns[round]!.deliveriesPerSecond)
    );
    return {
      receivers: RECEIVERS,
      rounds: ROUNDS,
      webSocket,
      webSocketBatched,
      tcp,
      ratio: toTcp(webSocket),
      batchedRatio: toTcp(webSocketBatched),
      batchedCpuRatio: round2(tcp.nodeCpuNsPerDelivery / webSocketBatched.nodeCpuNsPerDelivery),
      batchedRoundRatios,
      batchedPairedRatio: [...batchedRoundRatios].sort((a, b) => a - b)[ROUNDS >> 1]!,
    };
  } finally {
    targets.forEach(close);
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
  const row = (name: string, result: WsFanoutRun, ratio?: number) =>
    `  ${name.padEnd(25)} ${fmt(result.deliveriesPerSecond).padStart(12)} deliveries/s, lost ${
      String(result.lost).padEnd(3)
    } node CPU ${String(result.nodeCpuNsPerDelivery).padStart(6)} ns/delivery${
      ratio === undefined ? "" : `  ${ratio}× TCP`
    }`;
  return [
    `fan-out over WebSockets: 1 sender, ${bench.receivers} receivers, ${
      fmt(MESSAGES)
    } messages, one node; medians of ${bench.rounds} rounds`,
    row("WebSocket", bench.webSocket, bench.ratio),
    row(`WebSocket ${NDJSON_PROTOCOL}`, bench.webSocketBatched, bench.batchedRatio),
    row("TCP", bench.tcp),
    `  TCP's node CPU per delivery ÷ batched WebSocket's: ${bench.batchedCpuRatio} (1 = as cheap as TCP)`,
    `  batched WebSocket ÷ TCP, round by round: ${
      bench.batchedRoundRatios.join(", ")
    } (median ${bench.batchedPairedRatio})`,
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
