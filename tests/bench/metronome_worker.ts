/**
 * Module Worker script that ticks at a fixed interval, to pace benchmark
 * senders. Deno's timers fire no sooner than about 2 ms in an idle process,
 * so a sender paced by `setTimeout(…, 1)` sends a pair of lines every 2 ms
 * when the measuring process is idle and one line about every 1.1 ms when it
 * is busy: the load would depend on the system being measured. This thread
 * sleeps in `Atomics.wait` instead, which keeps to the schedule within tens
 * of microseconds.
 *
 * Spawned by `measureLatency` of fanout.ts; not meant to be imported.
 * Protocol: it receives one {@linkcode MetronomeRequest}, then posts the tick
 * numbers 0, 1, … `ticks - 1`, one per interval, the first one interval after
 * the request arrived.
 *
 * @module
 */

/** What the metronome is asked to do. */
export interface MetronomeRequest {
  /** Time between ticks (ms). */
  intervalMs: number;
  /** How many ticks. */
  ticks: number;
}

interface WorkerScope {
  onmessage: ((event: MessageEvent<MetronomeRequest>) => void) | null;
  postMessage(tick: number): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (event) => {
  const { intervalMs, ticks } = event.data;
  // Never notified: waiting on it is only a precise sleep.
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let due = performance.now();
  for (let tick = 0; tick < ticks; tick++) {
    due += intervalMs;
    const wait = due - performance.now();
    if (wait > 0) Atomics.wait(sleeper, 0, 0, wait);
    scope.postMessage(tick);
  }
};
