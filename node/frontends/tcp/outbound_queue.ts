/**
 * A bounded per-session outbound queue with write coalescing: frames queued
 * in one go (by default: in one synchronous run, up to the next microtask)
 * leave in one write, and frames queued while a write is in flight go out
 * together in the next one — so a busy room costs one syscall per reader per
 * batch, not per message. A frontend handling several lines of input at once
 * brackets them with {@linkcode holdWrites} and {@linkcode releaseWrites}, so
 * the output of all of them leaves together too. When a reader falls too far
 * behind, {@linkcode OutboundQueue.enqueue} refuses and the caller has the
 * hub drop that session once the fan-out in progress is over — nobody else
 * waits for it.
 *
 * @module
 */
import { concatBytes } from "../../../core/bytes.ts";
import { batchLength, sharedJoin, startWritesSoon } from "../write_batches.ts";

// The hold is shared with every frontend's queue; TCP's callers import it from here.
export { holdWrites, releaseWrites } from "../write_batches.ts";

/** The write half of a connection. */
export interface ByteWriter {
  /** Writes some of `bytes`, resolving with how many were written. */
  write(bytes: Uint8Array): Promise<number>;
}

/** Options of {@linkcode OutboundQueue}. */
export interface OutboundQueueOptions {
  /** Bytes that may wait for a slow reader before it is dropped. @default 1048576 */
  maxBytes?: number;
  /** Largest single write, so one huge batch cannot hog memory twice. @default 262144 */
  maxBatchBytes?: number;
  /**
   * What a batch of queued chunks is written as (a WebSocket frames it);
   * the queue counts the chunks' bytes, whatever the batch's size.
   * @default one chunk as it is, several joined (shared by a fan-out's readers)
   */
  join?: (chunks: readonly Uint8Array[]) => Uint8Array;
}

/** Bounded queue of encoded frames for one connection. */
export class OutboundQueue {
  readonly #writer: ByteWriter;
  readonly #maxBytes: number;
  readonly #maxBatchBytes: number;
  #chunks: Uint8Array[] = [];
  #queuedBytes = 0;
  readonly #join: ((chunks: readonly Uint8Array[]) => Uint8Array) | undefined;
  /** What is left to write of the batch in flight. */
  #inFlight: Uint8Array | undefined;
  /** Queued bytes the batch in flight carries, counted off once it is written. */
  #inFlightBytes = 0;
  /** A write is waiting to start, or in flight. */
  #busy = false;
  #closed = false;
  #failure: unknown = undefined;
  #idle: Array<() => void> = [];
  // Bound once: a fan-out to a hundred readers allocates no closures per write.
  readonly #start = () => this.#next();
  readonly #onWritten = (n: number) => this.#written(n);
  readonly #onFailed = (error: unknown) => this.#fail(error);

  /**
   * @param writer Where bytes go.
   * @param options Limits.
   */
  constructor(writer: ByteWriter, options: OutboundQueueOptions = {}) {
    const { maxBytes = 1 << 20, maxBatchBytes = 1 << 18, join } = options;
    if (maxBytes < 1 || maxBatchBytes < 1) {
      throw new RangeError(`Invalid queue limits ${maxBytes}/${maxBatchBytes}: must be positive`);
    }
    this.#writer = writer;
    this.#maxBytes = maxBytes;
    this.#maxBatchBytes = maxBatchBytes;
    this.#join = join;
  }

  /** Bytes queued or in flight. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** The write error that stopped the queue, if any. */
  get failure(): unknown {
    return this.#failure;
  }

  /**
   * Queues bytes for writing: at the next microtask (or when a hold ends),
   * or after the write in flight.
   *
   * @param bytes An encoded frame (not copied: do not reuse the buffer).
   * @param force Queue even past the limit (for the last words to a dropped session).
   * @returns `false` when the queue is full (or closed) and nothing was queued.
   */
  enqueue(bytes: Uint8Array, force = false): boolean {
    if (this.#closed) return false;
    if (!force && this.#queuedBytes + bytes.length > this.#maxBytes) return false;
    this.#chunks.push(bytes);
    this.#queuedBytes += bytes.length;
    if (!this.#busy) {
      this.#busy = true;
      startWritesSoon(this.#start);
    }
    return true;
  }

  /**
   * Drops everything not yet in flight (to make room for a final frame).
   *
   * @returns How many frames were dropped.
   */
  discardPending(): number {
    const dropped = this.#chunks.length;
    for (const chunk of this.#chunks) this.#queuedBytes -= chunk.length;
    this.#chunks = [];
    return dropped;
  }

  /**
   * Resolves once everything queued so far is written, or the queue failed.
   *
   * @returns A promise.
   */
  drained(): Promise<void> {
    if (!this.#busy) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops writing; later frames are refused. */
  close(): void {
    this.#closed = true;
    this.discardPending();
  }

  /** Writes the next batch, or goes idle when there is none. */
  #next(): void {
    if (this.#chunks.length > 0) {
      this.#write(this.#takeBatch());
      return;
    }
    this.#inFlight = undefined;
    this.#busy = false;
    if (this.#idle.length === 0) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }

  #write(bytes: Uint8Array): void {
    this.#inFlight = bytes;
    let written: Promise<number>;
    try {
      written = this.#writer.write(bytes);
    } catch (error) {
      written = Promise.reject(error);
    }
    written.then(this.#onWritten, this.#onFailed);
  }

  #written(n: number): void {
    const bytes = this.#inFlight!;
    if (n < bytes.length) {
      this.#write(bytes.subarray(n));
      return;
    }
    this.#queuedBytes -= this.#inFlightBytes;
    this.#next();
  }

  #fail(error: unknown): void {
    this.#failure = error;
    this.#closed = true;
    this.#chunks = [];
    this.#queuedBytes = 0;
    this.#next();
  }

  #takeBatch(): Uint8Array {
    const count = this.#chunks.length === 1
      ? 1
      : batchLength(this.#chunks, byteLength, this.#maxBatchBytes);
    if (this.#join !== undefined) {
      // A copy: the queue's own array keeps its capacity for the next batch
      // (a fresh one would grow again, reader by reader, write by write).
      const chunks = this.#chunks.splice(0, count);
      let size = 0;
      for (const chunk of chunks) size += chunk.length;
      this.#inFlightBytes = size;
      return this.#join(chunks);
    }
    // pop(), not shift(): V8 keeps the array's storage, so the usual single
    // frame costs no allocation.
    const batch = this.#chunks.length === 1
      ? this.#chunks.pop()!
      : count === 1
      ? this.#chunks.shift()!
      : joinShared(this.#chunks.splice(0, count));
    this.#inFlightBytes = batch.length;
    return batch;
  }
}

function byteLength(chunk: Uint8Array): number {
  return chunk.length;
}

/**
 * A room's frames are encoded once and shared, so every reader of a fan-out
 * usually has the same frames waiting: they share one copy of the batch too.
 */
const joinShared = sharedJoin((chunks: readonly Uint8Array[]) => concatBytes(...chunks));
