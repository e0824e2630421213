/**
 * A bounded per-session outbound queue with write coalescing: frames queued
 * while a write is in flight go out together in the next write, so a busy
 * room costs one syscall per reader per batch, not per message. When a reader
 * falls too far behind, {@linkcode OutboundQueue.enqueue} refuses and the
 * caller drops that session — nobody else waits for it.
 *
 * @module
 */

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
}

/** Bounded queue of encoded frames for one connection. */
export class OutboundQueue {
  readonly #writer: ByteWriter;
  readonly #maxBytes: number;
  readonly #maxBatchBytes: number;
  #chunks: Uint8Array[] = [];
  #queuedBytes = 0;
  #pumping = false;
  #closed = false;
  #failure: unknown = undefined;
  #idle: Array<() => void> = [];

  /**
   * @param writer Where bytes go.
   * @param options Limits.
   */
  constructor(writer: ByteWriter, options: OutboundQueueOptions = {}) {
    const { maxBytes = 1 << 20, maxBatchBytes = 1 << 18 } = options;
    if (maxBytes < 1 || maxBatchBytes < 1) {
      throw new RangeError(`Invalid queue limits ${maxBytes}/${maxBatchBytes}: must be positive`);
    }
    this.#writer = writer;
    this.#maxBytes = maxBytes;
    this.#maxBatchBytes = maxBatchBytes;
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
   * Queues bytes for writing.
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
    if (!this.#pumping) {
      this.#pumping = true;
      queueMicrotask(() => this.#pump());
    }
    return true;
  }

  /** Drops everything not yet in flight (to make room for a final frame). */
  discardPending(): void {
    for (const chunk of this.#chunks) this.#queuedBytes -= chunk.length;
    this.#chunks = [];
  }

  /**
   * Resolves once everything queued so far is written, or the queue failed.
   *
   * @returns A promise.
   */
  drained(): Promise<void> {
    if (!this.#pumping) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops writing; later frames are refused. */
  close(): void {
    this.#closed = true;
    this.discardPending();
  }

  async #pump(): Promise<void> {
    try {
      while (this.#chunks.length > 0) {
        const batch = this.#takeBatch();
        let offset = 0;
        while (offset < batch.length) {
          offset += await this.#writer.write(offset === 0 ? batch : batch.subarray(offset));
        }
        this.#queuedBytes -= batch.length;
      }
    } catch (error) {
      this.#failure = error;
      this.#closed = true;
      this.#chunks = [];
      this.#queuedBytes = 0;
    } finally {
      this.#pumping = false;
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  #takeBatch(): Uint8Array {
    const first = this.#chunks[0]!;
    if (this.#chunks.length === 1 || first.length >= this.#maxBatchBytes) {
      this.#chunks.shift();
      return first;
    }
    let count = 0;
    let size = 0;
    while (count < this.#chunks.length) {
      const next = this.#chunks[count]!.length;
      if (count > 0 && size + next > this.#maxBatchBytes) break;
      size += next;
      count++;
    }
    const batch = new Uint8Array(size);
    let at = 0;
    for (const chunk of this.#chunks.splice(0, count)) {
      batch.set(chunk, at);
      at += chunk.length;
    }
    return batch;
  }
}
