/**
 * Whole-file writes that a crash cannot leave half done: the text goes to a
 * temporary file beside the target, which is then renamed over it.
 *
 * @module
 */

/**
 * Writes `text` to `path` atomically: its folder is created (0700) when
 * missing, the text goes to `${path}.tmp` (0600), which is renamed over `path`.
 *
 * @param path The file to write.
 * @param text Its new content.
 * @returns Resolves when the file has been replaced.
 * @throws {Deno.errors.PermissionDenied} Or any other file system error; the target is then unchanged.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(temporary, text, { mode: 0o600 });
  await Deno.rename(temporary, path);
}

/**
 * Saves a file a short while after it changed, so a burst of changes costs
 * one write; each write replaces the whole file with {@linkcode writeFileAtomic}.
 * A failed write is reported and retried on the next change or flush.
 */
export class DebouncedFileWriter {
  readonly #path: string;
  readonly #content: () => string;
  readonly #delayMs: number;
  readonly #onError: (error: unknown) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #dirty = false;

  /**
   * @param path The file.
   * @param content The file's text, asked for at each write.
   * @param delayMs Wait after a change before writing (ms).
   * @param onError Told when a write fails.
   */
  constructor(
    path: string,
    content: () => string,
    delayMs: number,
    onError: (error: unknown) => void,
  ) {
    this.#path = path;
    this.#content = content;
    this.#delayMs = delayMs;
    this.#onError = onError;
  }

  /** Marks the content changed and writes it after the delay (once per burst). */
  schedule(): void {
    this.#dirty = true;
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#writing = this.#writing.then(() => this.#write());
    }, this.#delayMs);
  }

  /**
   * Writes pending changes now.
   *
   * @returns Resolves when the file is up to date (or the write failed and was reported).
   */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#writing;
    if (this.#dirty) {
      this.#writing = this.#write();
      await this.#writing;
    }
  }

  async #write(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    try {
      await writeFileAtomic(this.#path, this.#content());
    } catch (error) {
      this.#dirty = true;
      this.#onError(error);
    }
  }
}
