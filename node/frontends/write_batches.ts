/**
 * Write coalescing of the frontends' output queues (`OutboundQueue` in
 * tcp/outbound_queue.ts, which TCP and WebSocket connections use): when
 * their writes start, and how a burst of frames becomes one write.
 *
 * - A queue that gets its first frame asks {@linkcode startWritesSoon} to
 *   start it: at the next microtask, one for every queue of a fan-out, in
 *   the order they were filled — or, inside a hold ({@linkcode holdWrites}),
 *   when the hold ends. Frames queued meanwhile leave together.
 * - {@linkcode batchLength} cuts a batch at a size; {@linkcode sharedJoin}
 *   joins it, and gives every reader of a fan-out with the same frames
 *   waiting the one batch it built for the first (frames fanned out are
 *   encoded once and shared, so the readers' pending frames are the same
 *   objects).
 *
 * @module
 */
import { setImmediate } from "node:timers";

/** Starts of the queues that got their first frame since the last start, in order. */
const pendingStarts: Array<() => void> = [];
let holding = false;
let releaseScheduled = false;

function startPending(): void {
  if (pendingStarts.length === 0) return;
  for (const start of pendingStarts.splice(0)) start();
}

function startUnlessHeld(): void {
  if (!holding) startPending();
}

function releaseAtTurnEnd(): void {
  releaseScheduled = false;
  releaseWrites();
}

/**
 * Holds back the first write of every queue that gets frames from now until
 * {@linkcode releaseWrites}, so that the output of a batch of input (every
 * line of one read) leaves in one write per reader. A hold never outlasts
 * the event-loop turn: when handling the batch waits for I/O, the writes
 * start then, and nobody else's output waits behind it.
 */
export function holdWrites(): void {
  holding = true;
  if (releaseScheduled) return;
  releaseScheduled = true;
  setImmediate(releaseAtTurnEnd);
}

/** Ends a hold (see {@linkcode holdWrites}) and starts the writes it held back. */
export function releaseWrites(): void {
  holding = false;
  startPending();
}

/**
 * Starts a queue's writes at the next microtask, or when the hold in
 * progress ends (see {@linkcode holdWrites}); queues start in the order
 * they asked.
 *
 * @param start Writes what the queue holds (bind it once: a fan-out to a
 *   hundred readers should allocate no closures).
 */
export function startWritesSoon(start: () => void): void {
  // One microtask for every queue of a fan-out, not one per queue.
  if (pendingStarts.push(start) === 1) queueMicrotask(startUnlessHeld);
}

/**
 * How many of the leading chunks make one batch of at most `maxBytes`: at
 * least one, so a chunk bigger than that travels alone.
 *
 * @param chunks Chunks waiting, oldest first (at least one).
 * @param sizeOf A chunk's size in bytes.
 * @param maxBytes Largest batch.
 * @returns The count.
 */
export function batchLength<C>(
  chunks: readonly C[],
  sizeOf: (chunk: C) => number,
  maxBytes: number,
): number {
  let count = 0;
  let size = 0;
  while (count < chunks.length) {
    const next = sizeOf(chunks[count]!);
    if (count > 0 && size + next > maxBytes) break;
    size += next;
    count++;
  }
  return count;
}

/**
 * Wraps a join of chunks so that the same chunks, in the same order, give
 * the batch built last rather than a new one: every reader of a fan-out
 * shares one copy (a batch is never written to after it is built).
 *
 * @param join Builds a batch from chunks.
 * @returns The join, remembering its last batch.
 */
export function sharedJoin<C, B>(join: (chunks: readonly C[]) => B): (chunks: readonly C[]) => B {
  let last: { chunks: readonly C[]; batch: B } | undefined;
  return (chunks) => {
    if (last !== undefined && sameChunks(chunks, last.chunks)) return last.batch;
    const batch = join(chunks);
    last = { chunks, batch };
    return batch;
  };
}

function sameChunks<C>(a: readonly C[], b: readonly C[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
