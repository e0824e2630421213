/**
 * End-to-end fan-out measurement over real TCP: one sender, many receivers
 * in one room. Works against a meshchat node or the bare broadcast baseline
 * (both speak "one line in, the same line to every receiver").
 *
 * @module
 */
import type { MetronomeRequest } from "./metronome_worker.ts";
import { writeAll } from "../../core/bytes.ts";

/** What one fan-out run measured. */
export interface FanoutResult {
  /** Receivers in the room. */
  readonly receivers: number;
  /** Messages sent. */
  readonly messages: number;
  /** Message deliveries per second (messages × receivers / elapsed). */
  readonly deliveriesPerSecond: number;
  /** Deliveries that did not arrive (must be 0). */
  readonly lost: number;
  /** Seconds from first send to last delivery. */
  readonly seconds: number;
}

/** What one latency run measured. */
export interface LatencyResult {
  /** Sending rate, messages per second. */
  readonly rate: number;
  /** Deliveries measured. */
  readonly samples: number;
  /** Median send-to-receive time (ms). */
  readonly p50Ms: number;
  /** 99th percentile (ms). */
  readonly p99Ms: number;
  /** Worst (ms). */
  readonly maxMs: number;
  /** Deliveries that did not arrive. */
  readonly lost: number;
}

const encoder = new TextEncoder();

/** A receiving connection of any transport: counts lines (frames), can time them. */
export interface FanoutReceiver {
  /** Lines received so far. */
  readonly lines: number;
  /** Send-to-receive times (ms) of the lines received while `timing`. */
  readonly latencies: number[];
  /** Whether to time lines (parsing costs the measuring process). */
  timing: boolean;
  /** Resolves once `target` lines have arrived in total. */
  until(target: number): Promise<void>;
  /** Closes the connection. */
  close(): void;
}

/** A sending connection of any transport. */
export interface FanoutSender {
  /** Sends lines (each ending in a newline). */
  write(text: string): Promise<void>;
  /** Closes the connection. */
  close(): void;
}

/**
 * A receiving connection that counts what arrives: the read loop and the
 * waits; a subclass says how a chunk of bytes counts ({@linkcode count}).
 */
export abstract class CountingReceiver implements FanoutReceiver {
  lines = 0;
  readonly latencies: number[] = [];
  timing = false;
  readonly #conn: Deno.TcpConn;
  #wait: { target: number; resolve: () => void } | undefined;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    // The loop waits for bytes before its first count, so a subclass's own
    // fields are set by then.
    this.#read();
  }

  /** Resolves once `target` lines have arrived in total. */
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

  /**
   * Counts (and while `timing`, times) the lines that end in `chunk`, the
   * next bytes read.
   */
  protected abstract count(chunk: Uint8Array): void;

  async #read(): Promise<void> {
    const buffer = new Uint8Array(256 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) return;
        this.count(buffer.subarray(0, n));
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
}

/**
 * Counts the newlines in `bytes`.
 *
 * @param bytes The bytes.
 * @returns How many.
 */
export function countNewlines(bytes: Uint8Array): number {
  let count = 0;
  let at = bytes.indexOf(10);
  while (at !== -1) {
    count++;
    at = bytes.indexOf(10, at + 1);
  }
  return count;
}

/** A receiving connection that counts lines and can time them. */
export class Receiver extends CountingReceiver {
  readonly #decoder = new TextDecoder();
  #tail = "";

  protected override count(chunk: Uint8Array): void {
    if (!this.timing) {
      this.lines += countNewlines(chunk);
      return;
    }
    const now = performance.now();
    const text = this.#tail + this.#decoder.decode(chunk);
    let start = 0;
    let end = text.indexOf("\n");
    while (end !== -1) {
      const at = text.indexOf("sent=", start);
      if (at !== -1 && at < end) {
        this.latencies.push(now - parseFloat(text.slice(at + 5, at + 25)));
      }
      this.lines++;
      start = end + 1;
      end = text.indexOf("\n", start);
    }
    this.#tail = text.slice(start);
  }
}

/**
 * Sends lines, batched into few writes; reads and discards what comes back.
 * A subclass may frame the lines otherwise ({@linkcode encode}).
 */
export class Sender implements FanoutSender {
  readonly #conn: Deno.TcpConn;
  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#drain();
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
  async write(text: string): Promise<void> {
    await writeAll(this.#conn, this.encode(text));
  }
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // closed
    }
  }
  /** The bytes that carry `text`'s lines: as they are, here. */
  protected encode(text: string): Uint8Array {
    return encoder.encode(text);
  }
}

/** How a target is driven: how to connect, join, and frame one message. */
export interface FanoutTarget {
  /** Opens a receiver and waits until it is ready to receive room traffic. */
  receiver(index: number): Promise<FanoutReceiver>;
  /** Opens the sender. */
  sender(): Promise<FanoutSender>;
  /** One message line for sequence number `seq` with a timestamp. */
  line(seq: number, sentAt: number): string;
  /** Lines each receiver gets per message sent (after setup). */
  readonly linesPerMessage: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/**
 * Opens receivers and the sender for a target.
 *
 * @param target The target.
 * @param count Receivers.
 * @returns Receivers and sender.
 */
export async function connectAll(
  target: FanoutTarget,
  count: number,
): Promise<{ receivers: FanoutReceiver[]; sender: FanoutSender }> {
  const receivers: FanoutReceiver[] = [];
  for (let i = 0; i < count; i++) receivers.push(await target.receiver(i));
  const sender = await target.sender();
  await new Promise((r) => setTimeout(r, 300));
  return { receivers, sender };
}

/**
 * Measures throughput: `messages` sent as fast as the sender can write
 * them (in batches), until every receiver has every message.
 *
 * @param target The target.
 * @param receivers Connected receivers.
 * @param sender Connected sender.
 * @param messages How many messages.
 * @returns The figures.
 */
export async function measureThroughput(
  target: FanoutTarget,
  receivers: FanoutReceiver[],
  sender: FanoutSender,
  messages: number,
): Promise<FanoutResult> {
  const base = receivers.map((r) => r.lines);
  const expected = messages * target.linesPerMessage;
  const start = performance.now();
  const batch = 100;
  for (let i = 0; i < messages; i += batch) {
    let text = "";
    for (let j = i; j < Math.min(messages, i + batch); j++) text += target.line(j, 0);
    await sender.write(text);
  }
  const deadline = setTimeout(() => receivers.forEach((r) => r.close()), 120_000);
  await Promise.all(receivers.map((r, i) => r.until(base[i]! + expected)));
  clearTimeout(deadline);
  const seconds = (performance.now() - start) / 1000;
  const lost = receivers.reduce((sum, r, i) => sum + Math.max(0, base[i]! + expected - r.lines), 0);
  return {
    receivers: receivers.length,
    messages,
    deliveriesPerSecond: Math.round((messages * receivers.length - lost) / seconds),
    lost,
    seconds: Number(seconds.toFixed(3)),
  };
}

/** Paced messages sent before the timed window (seconds' worth at the rate). */
const WARM_UP_SECONDS = 1;

/**
 * Measures latency at a steady rate: one message per interval, each written
 * the moment it is due and stamped with the time of that write. A warm-up
 * second at the same rate comes first and is not counted in the figures (it
 * is in the loss check), so the timed window does not start on cold code.
 *
 * @param target The target.
 * @param receivers Connected receivers.
 * @param sender Connected sender.
 * @param rate Messages per second.
 * @param seconds How long to send.
 * @returns The figures.
 */
export async function measureLatency(
  target: FanoutTarget,
  receivers: FanoutReceiver[],
  sender: FanoutSender,
  rate: number,
  seconds: number,
): Promise<LatencyResult> {
  const warmUp = Math.round(rate * WARM_UP_SECONDS);
  const total = rate * seconds;
  const base = receivers.map((r) => r.lines);
  const arrived = (count: number) => {
    const deadline = setTimeout(() => receivers.forEach((r) => r.close()), 30_000);
    return Promise.all(receivers.map((r, i) => r.until(base[i]! + count * target.linesPerMessage)))
      .finally(() => clearTimeout(deadline));
  };
  // Every tenth receiver is timed: parsing all 100 would make the measuring
  // process, not the node, the bottleneck.
  for (const [i, r] of receivers.entries()) r.timing = i % 10 === 0;
  await sendPaced(target, sender, rate, 0, warmUp);
  await arrived(warmUp);
  for (const r of receivers) r.latencies.length = 0;
  await sendPaced(target, sender, rate, warmUp, total);
  await arrived(warmUp + total);
  const all = receivers.flatMap((r) => r.latencies).sort((a, b) => a - b);
  for (const r of receivers) r.timing = false;
  const expected = (warmUp + total) * target.linesPerMessage;
  const lost = receivers.reduce((sum, r, i) => sum + Math.max(0, base[i]! + expected - r.lines), 0);
  const round = (x: number) => Number(x.toFixed(3));
  return {
    rate,
    samples: all.length,
    p50Ms: round(percentile(all, 0.5)),
    p99Ms: round(percentile(all, 0.99)),
    maxMs: round(all.at(-1) ?? NaN),
    lost,
  };
}

/**
 * Sends `count` messages, numbered from `first`, one per tick of a worker
 * metronome (see metronome_worker.ts for why not `setTimeout`).
 */
async function sendPaced(
  target: FanoutTarget,
  sender: FanoutSender,
  rate: number,
  first: number,
  count: number,
): Promise<void> {
  if (count === 0) return;
  const worker = new Worker(new URL("./metronome_worker.ts", import.meta.url), { type: "module" });
  let writing = Promise.resolve();
  try {
    await new Promise<void>((resolve, reject) => {
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(`Cannot pace the sender: ${event.message}`));
      };
      worker.onmessage = (event: MessageEvent<number>) => {
        const seq = first + event.data;
        // Stamped when its write starts, not when the tick arrived.
        writing = writing.then(() => sender.write(target.line(seq, performance.now())));
        if (event.data === count - 1) resolve();
      };
      worker.postMessage({ intervalMs: 1000 / rate, ticks: count } satisfies MetronomeRequest);
    });
  } finally {
    worker.terminate();
  }
  await writing;
}

/** Padding that brings a benchmark message to about 100 bytes. */
export const PAD = "x".repeat(60);

/**
 * Connects to a loopback port with Nagle off.
 *
 * @param port The port.
 * @returns The connection.
 */
export async function connect(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  return conn;
}

/**
 * Writes one line.
 *
 * @param conn The connection.
 * @param text The text (with its newline).
 */
export async function writeLine(conn: Deno.TcpConn, text: string): Promise<void> {
  await conn.write(new TextEncoder().encode(text));
}

/**
 * A meshchat room as a fan-out target: receivers spread round-robin over the
 * given client ports, the sender on the first.
 *
 * @param ports Client ports of one or more nodes.
 * @param room Room name.
 * @returns The target.
 */
export function meshchatTarget(ports: readonly number[], room = "bench"): FanoutTarget {
  return {
    linesPerMessage: 1,
    async receiver(index) {
      const conn = await connect(ports[index % ports.length]!);
      await writeLine(conn, `{"t":"hello","v":1,"user":"r${index}","room":"${room}"}\n`);
      return new Receiver(conn);
    },
    async sender() {
      const conn = await connect(ports[0]!);
      await writeLine(conn, `{"t":"hello","v":1,"user":"sender","room":"${room}"}\n`);
      return new Sender(conn);
    },
    line: (seq, sentAt) => `{"t":"say","room":"${room}","text":"m${seq} sent=${sentAt} ${PAD}"}\n`,
  };
}
