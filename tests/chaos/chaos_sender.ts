/**
 * A chaos scenario's client: sends numbered lines at a steady rate over the
 * real protocol, one at a time, and fails over to another node when its
 * connection ends, resending the unacknowledged line with the same `cid`.
 *
 * @module
 */
import { type Frame, RawClient } from "../helpers/raw_client.ts";

/** Options of {@linkcode ChaosSender}. */
export interface ChaosSenderOptions {
  /** Lines per second (the pace; a line waits for the previous ack). @default 5 */
  perSecond?: number;
  /** Longest wait for one ack before the sender gives up on its connection (ms). @default 20000 */
  ackWaitMs?: number;
  /** Lines after which the sender falls silent (keeps a room under the `/history` cap). @default Infinity */
  maxLines?: number;
  /** Pad every line to this many UTF-16 code units (see {@linkcode chaosLine}). @default 0 */
  lineChars?: number;
}

/**
 * The text of a sender's line `n`: `"<nick> <n>"`, padded with a space and
 * "€" (3 bytes in UTF-8, unescaped in JSON) to `chars` code units when
 * longer, so the largest lines a node accepts can be sent.
 *
 * @param nick Sender's nick.
 * @param n Line number.
 * @param chars Length to pad to; 0 for no padding.
 * @returns The text.
 */
export function chaosLine(nick: string, n: number, chars = 0): string {
  const head = `${nick} ${n}`;
  return chars > head.length + 1 ? `${head} ${"€".repeat(chars - head.length - 1)}` : head;
}

/**
 * One sender. Line `n` has text {@linkcode chaosLine} and cid `"<nick>-<n>"`; line
 * `n + 1` is sent only after line `n` is acknowledged (stop-and-wait), so the
 * guarantee under test is: the acknowledged lines of a sender appear in every
 * node's room log in sending order. When the connection ends (its node was
 * killed), the sender says hello to the next node in turn, with backoff, until
 * one welcomes it under its nick (the old session lingers until its node is
 * declared dead), then resends the pending line under the same cid.
 */
export class ChaosSender {
  /** Lines handed to a node at least once. */
  sent = 0;
  /** Acknowledged lines: cid → event id. */
  readonly acked = new Map<string, string>();
  /** Lines the node refused with an error frame: cid → code. */
  readonly refused = new Map<string, string>();
  /** Connections lost and replaced. */
  failovers = 0;
  readonly #nick: string;
  readonly #room: string;
  readonly #ports: () => number[];
  readonly #intervalMs: number;
  readonly #ackWaitMs: number;
  readonly #maxLines: number;
  readonly #lineChars: number;
  #node: number;
  #giveUpAt = Number.POSITIVE_INFINITY;
  #client: RawClient | undefined;
  #running = true;
  #done: Promise<void> | undefined;

  /**
   * @param nick Sender's nick (unique in the cluster).
   * @param room Room it speaks in.
   * @param ports Current client ports of the nodes (they change on restart).
   * @param home Index of the node it connects to first.
   * @param options Pace and ack wait.
   */
  constructor(
    nick: string,
    room: string,
    ports: () => number[],
    home: number,
    options: ChaosSenderOptions = {},
  ) {
    const {
      perSecond = 5,
      ackWaitMs = 20_000,
      maxLines = Number.POSITIVE_INFINITY,
      lineChars = 0,
    } = options;
    this.#nick = nick;
    this.#room = room;
    this.#ports = ports;
    this.#node = home;
    this.#intervalMs = 1000 / perSecond;
    this.#ackWaitMs = ackWaitMs;
    this.#maxLines = maxLines;
    this.#lineChars = lineChars;
  }

  /** Sender's nick. */
  get nick(): string {
    return this.#nick;
  }

  /** Room it speaks in. */
  get room(): string {
    return this.#room;
  }

  /** Connects and starts sending. */
  async start(): Promise<void> {
    await this.#connect(10_000);
    this.#done = this.#loop();
  }

  /**
   * Stops sending: the line in flight gets until `graceMs` to be acknowledged.
   *
   * @param graceMs Longest wait for the pending line.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.#running = false;
    this.#giveUpAt = Math.min(this.#giveUpAt, Date.now() + graceMs);
    const timer = setTimeout(() => this.#client?.close(), graceMs);
    await this.#done;
    clearTimeout(timer);
    this.#client?.close();
  }

  async #loop(): Promise<void> {
    let next = Date.now();
    for (let seq = 0; this.#running && seq < this.#maxLines; seq++) {
      const cid = `${this.#nick}-${seq}`;
      this.sent++;
      await this.#deliver(cid, chaosLine(this.#nick, seq, this.#lineChars));
      next = Math.max(Date.now(), next + this.#intervalMs);
      await new Promise((r) => setTimeout(r, next - Date.now()));
    }
  }

  /** Sends one line until it is acknowledged or refused, failing over as needed. */
  async #deliver(cid: string, text: string): Promise<void> {
    // After stop(), attempts go on until the grace period is over.
    while (Date.now() < this.#giveUpAt) {
      const client = this.#client ?? await this.#connect(30_000);
      if (client === undefined) return;
      let answer: Frame;
      try {
        await client.send({ t: "say", room: this.#room, text, cid });
        answer = await client.next(
          (f) => (f.t === "ack" || f.t === "error") && f.cid === cid,
          this.#ackWaitMs,
        );
      } catch {
        // Connection ended (or no answer in time): next node, same cid.
        client.close();
        this.#client = undefined;
        this.#node++;
        this.failovers++;
        continue;
      }
      if (answer.t === "ack") this.acked.set(cid, String(answer.id));
      else this.refused.set(cid, String(answer.code));
      return;
    }
  }

  /** Says hello to the nodes in turn, from the current one, until one welcomes this nick. */
  async #connect(waitMs: number): Promise<RawClient | undefined> {
    const deadline = Date.now() + waitMs;
    for (let round = 0; Date.now() < Math.min(deadline, this.#giveUpAt); round++) {
      const ports = this.#ports();
      for (let k = 0; k < ports.length; k++) {
        const index = (this.#node + k) % ports.length;
        const client = await this.#hello(ports[index]!);
        if (client) {
          this.#node = index;
          this.#client = client;
          return client;
        }
      }
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** round)));
    }
    return undefined;
  }

  async #hello(port: number): Promise<RawClient | undefined> {
    let client: RawClient;
    try {
      client = await RawClient.connect(port);
    } catch {
      return undefined;
    }
    try {
      await client.send({ t: "hello", v: 1, user: this.#nick, room: this.#room });
      const first = await client.next((f) => f.t === "welcome" || f.t === "error", 3000);
      if (first.t === "welcome" && first.nick === this.#nick) return client;
    } catch {
      // refused, reset or silent (a stopped node)
    }
    client.close();
    return undefined;
  }
}
