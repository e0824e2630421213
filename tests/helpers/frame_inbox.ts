/**
 * What the protocol test clients share ({@linkcode RawClient} over TCP,
 * {@linkcode WsClient} over a WebSocket): the frames received, in order, and
 * a wait for the next one that matches, bounded in time so a failing test
 * stops by itself.
 *
 * @module
 */

/** A frame as received (loosely typed for assertions). */
export type Frame = Record<string, unknown> & { t: string };

/** How long a test waits for an expected frame before it fails (ms). */
const WAIT_MS = 10_000;

/** Frames received by a test client, which its transport feeds. */
export abstract class FrameInbox {
  /** Every frame received so far, in order. */
  readonly frames: Frame[] = [];
  readonly #endedAs: string;
  #cursor = 0;
  #wake: (() => void) | undefined;
  #ended = false;

  /** @param endedAs How a wait that failed because the transport ended says so. */
  protected constructor(endedAs: string) {
    this.#endedAs = endedAs;
  }

  /** Whether the transport has ended. */
  get isEnded(): boolean {
    return this.#ended;
  }

  /**
   * Waits for the next frame (after those already taken) that matches.
   *
   * @param match Predicate; frames before the match are skipped.
   * @param waitMs Longest wait.
   * @returns The frame.
   * @throws {Error} When none arrives in time or the transport ends, listing what did arrive.
   */
  async next(match: (frame: Frame) => boolean = () => true, waitMs = WAIT_MS): Promise<Frame> {
    const deadline = Date.now() + waitMs;
    while (true) {
      while (this.#cursor < this.frames.length) {
        const frame = this.frames[this.#cursor++]!;
        if (match(frame)) return frame;
      }
      const left = deadline - Date.now();
      if (this.#ended || left <= 0) {
        const seen = this.frames.slice(-5).map((f) => JSON.stringify(f)).join("\n  ");
        throw new Error(
          `Expected frame did not arrive (${
            this.#ended ? this.#endedAs : "timeout"
          }); last:\n  ${seen}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /**
   * Waits until a frame that matches has arrived, whether or not an earlier
   * {@linkcode next} skipped it.
   *
   * @param match Predicate.
   * @returns The first frame that matches.
   * @throws {Error} As {@linkcode next}, when none arrives.
   */
  async seen(match: (frame: Frame) => boolean): Promise<Frame> {
    while (!this.frames.some(match)) await this.next();
    return this.frames.find(match)!;
  }

  /**
   * Waits for an error frame.
   *
   * @param code Expected code.
   * @returns The frame.
   */
  error(code: string): Promise<Frame> {
    return this.next((f) => f.t === "error" && f.code === code);
  }

  /**
   * Records frames the transport received, and wakes a waiting {@linkcode next}.
   *
   * @param frames The frames, in order.
   */
  protected receive(...frames: Frame[]): void {
    this.frames.push(...frames);
    this.#wake?.();
  }

  /** Marks the transport ended: waits fail from now on once the frames are taken. */
  protected markEnded(): void {
    this.#ended = true;
    this.#wake?.();
  }
}
