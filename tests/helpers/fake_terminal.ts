/**
 * A terminal for the interactive client running in the test process: keys
 * typed by the test, everything written kept as text and shown on a
 * {@linkcode VirtualTerminal}, and a window whose size the test changes.
 *
 * @module
 */
import type { TerminalIo } from "../../client/terminal_mode.ts";
import { VirtualTerminal } from "./virtual_terminal.ts";

/** A scripted terminal: {@linkcode FakeTerminal.type} keys, read {@linkcode FakeTerminal.output}. */
export class FakeTerminal implements TerminalIo {
  /** Everything written so far. */
  output = "";
  /** What a person would see. */
  readonly screen: VirtualTerminal;
  /** Whether raw mode is on. */
  raw = false;
  #columns: number;
  readonly #rows: number;
  readonly #typed: Uint8Array[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  readonly #listeners = new Set<() => void>();
  readonly #decoder = new TextDecoder();

  /**
   * @param columns Width.
   * @param rows Height.
   * @param reflow Whether a resize reflows soft-wrapped rows. @default true
   */
  constructor(columns: number, rows: number, reflow = true) {
    this.#columns = columns;
    this.#rows = rows;
    this.screen = new VirtualTerminal(columns, reflow, rows);
  }

  /** Types text (`\r` is Enter). */
  type(text: string): void {
    this.#typed.push(new TextEncoder().encode(text));
    this.#wake?.();
  }

  /** Ends input (as a closed terminal would). */
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  /** Narrows or widens the window: the screen changes, then the client hears of it. */
  resize(columns: number): void {
    this.#columns = columns;
    this.screen.resize(columns);
    for (const listener of this.#listeners) listener();
  }

  /**
   * Waits until the output matches.
   *
   * @param pattern What to wait for.
   * @param from Only output after this offset. @default 0
   * @param waitMs Longest wait. @default 20000
   */
  async waitFor(pattern: RegExp, from = 0, waitMs = 20_000): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (!pattern.test(this.output.slice(from))) {
      if (Date.now() > deadline) {
        throw new Error(`Terminal never showed ${pattern}:\n${JSON.stringify(this.output)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#typed.length === 0) {
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
    const chunk = this.#typed.shift()!;
    const n = Math.min(chunk.length, buffer.length);
    buffer.set(chunk.subarray(0, n));
    if (n < chunk.length) this.#typed.unshift(chunk.subarray(n));
    return n;
  }

  write(bytes: Uint8Array): void {
    const text = this.#decoder.decode(bytes);
    this.output += text;
    // The virtual screen models the editor's escapes; bracketed paste toggles are not drawn.
    this.screen.write(text.replace(/\x1b\[\?2004[hl]|\x07/g, ""));
  }

  setRaw(raw: boolean): void {
    this.raw = raw;
  }

  size(): { columns: number; rows: number } {
    return { columns: this.#columns, rows: this.#rows };
  }

  onResize(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
