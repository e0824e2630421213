/**
 * The output of a WebSocket that asked for subprotocol `meshchat.ndjson`:
 * frames wait here for the end of the burst that queued them, then leave
 * in as few text messages as fit, each frame a line (docs/protocol.md). A
 * WebSocket message costs Deno a send and a write whatever its size, so a
 * busy room costs one message per reader per burst rather than one per
 * frame; readers of a fan-out with the same frames waiting share one
 * message text (write_batches.ts). While the socket is still writing the
 * previous message, a burst waits for it (as TCP's queue waits for its
 * write in flight), so a reader that is behind gets fewer, fuller messages
 * rather than one per burst.
 *
 * @module
 */
import type { FrameLine } from "../protocol_connection.ts";
import { setImmediate } from "node:timers";
import { batchLength, sharedJoin, startWritesSoon } from "../write_batches.ts";

/**
 * The most frame bytes in one message (a bigger frame travels alone). Deno
 * copies every message into a buffer of its own per reader; past a few
 * tens of KiB those copies fault in fresh pages and cost more than the
 * messages they save (measured with tests/bench/ws_fanout.ts).
 */
export const MAX_MESSAGE_BYTES = 1 << 14;

/** Flushes put off while their socket was writing, retried after the event loop has polled I/O. */
const putOff: Array<() => void> = [];
let retryScheduled = false;

function retryPutOff(): void {
  retryScheduled = false;
  for (const flush of putOff.splice(0)) flush();
}

/** Runs `flush` again once the event loop has had a turn at I/O (one timer for all sockets). */
function putOffFlush(flush: () => void): void {
  putOff.push(flush);
  if (retryScheduled) return;
  retryScheduled = true;
  setImmediate(retryPutOff);
}

/** Frames waiting to leave one WebSocket, sent as NDJSON messages when their burst is over. */
export class NdjsonMessages {
  readonly #send: (text: string) => void;
  readonly #writing: () => boolean;
  #pending: FrameLine[] = [];
  #pendingBytes = 0;
  // Bound once: a fan-out to a hundred readers allocates no closures.
  readonly #flushWhenIdle = () => {
    if (this.#pending.length === 0) return;
    if (this.#pendingBytes < MAX_MESSAGE_BYTES && this.#writing()) putOffFlush(this.#flushWhenIdle);
    else this.flush();
  };

  /**
   * @param send Sends one text message (the socket is open, or it ignores it).
   * @param writing Whether the socket is still writing earlier messages
   *   (`bufferedAmount > 0`): a burst then waits for more company, up to a
   *   full message.
   */
  constructor(send: (text: string) => void, writing: () => boolean = () => false) {
    this.#send = send;
    this.#writing = writing;
  }

  /** Bytes of the frames waiting. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Queues a frame: it leaves when the burst is over (see `startWritesSoon`).
   *
   * @param line The frame (not copied: shared between readers).
   */
  add(line: FrameLine): void {
    if (this.#pending.push(line) === 1) startWritesSoon(this.#flushWhenIdle);
    this.#pendingBytes += line.bytes;
  }

  /** Sends what is waiting now (writing or not), in messages of at most {@linkcode MAX_MESSAGE_BYTES}. */
  flush(): void {
    let pending = this.#pending;
    if (pending.length === 0) return;
    this.#pending = [];
    this.#pendingBytes = 0;
    while (pending.length > 0) {
      // Never cut what was handed to joinShared: it remembers the array.
      const count = batchLength(pending, bytesOf, MAX_MESSAGE_BYTES);
      const batch = count === pending.length ? pending : pending.slice(0, count);
      pending = count === pending.length ? [] : pending.slice(count);
      this.#send(batch.length === 1 ? batch[0]!.text : joinShared(batch));
    }
  }

  /**
   * Drops what is waiting (to make room for a last frame).
   *
   * @returns How many frames were dropped.
   */
  discard(): number {
    const dropped = this.#pending.length;
    this.#pending = [];
    this.#pendingBytes = 0;
    return dropped;
  }
}

function bytesOf(line: FrameLine): number {
  return line.bytes;
}

const joinShared = sharedJoin((lines: readonly FrameLine[]) => {
  let text = "";
  for (const line of lines) text += line.text;
  return text;
});
