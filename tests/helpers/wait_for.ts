/**
 * Waiting in tests for what can be observed (a frame, a log line, a count),
 * instead of sleeping a fixed time and hoping it happened.
 *
 * @module
 */

/** Options of {@linkcode waitFor}. */
export interface WaitForOptions {
  /** How long to keep checking before failing. @default 15_000 */
  timeoutMs?: number;
  /** Time between checks. @default 100 */
  intervalMs?: number;
  /** What to add to the error on a timeout, e.g. a process's log. */
  detail?: () => string;
}

/**
 * Checks `check` until it holds.
 *
 * @param check Whether the awaited state is reached (may ask a node).
 * @param what The state, for the error: `Timed out after 15000 ms waiting for WHAT`.
 * @param options How long and how often, and what to add to the error.
 * @throws {Error} When `check` still does not hold after `timeoutMs`.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  options: WaitForOptions = {},
): Promise<void> {
  const { timeoutMs = 15_000, intervalMs = 100, detail } = options;
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() >= deadline) {
      const context = detail === undefined ? "" : `\n${detail()}`;
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${context}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
