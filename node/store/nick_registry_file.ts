/**
 * Keeps a {@linkcode NickRegistry} in a JSON file in the data directory:
 * read at start, rewritten shortly after each claim (several claims in quick
 * succession make one write) and at shutdown. Each write goes to a temporary
 * file that is then renamed over the old one, so a crash leaves either the
 * old registry or the new one, never half of one.
 *
 * Until the Deno KV snapshot carries registries, this file is where nick
 * ownership survives a restart.
 *
 * @module
 */
import { NickRegistry, type NickRegistryOptions } from "../chat/nick_registry.ts";
import { DebouncedFileWriter } from "./_atomic_file.ts";

/** Options of {@linkcode NickRegistryFile.open}. */
export interface NickRegistryFileOptions extends NickRegistryOptions {
  /** Wait after a claim before writing, to batch claims (ms). @default 200 */
  delayMs?: number;
  /** Told when a write fails (the next claim retries). */
  onError?: (error: unknown) => void;
}

/** A registry bound to its file. */
export class NickRegistryFile {
  /** The registry; changes to it are saved. */
  readonly registry: NickRegistry;
  /** The file. */
  readonly path: string;
  readonly #writer: DebouncedFileWriter;
  readonly #unsubscribe: () => void;

  private constructor(registry: NickRegistry, path: string, options: NickRegistryFileOptions) {
    this.registry = registry;
    this.path = path;
    this.#writer = new DebouncedFileWriter(
      path,
      () => JSON.stringify(registry),
      options.delayMs ?? 200,
      options.onError ?? (() => {}),
    );
    this.#unsubscribe = registry.onClaim(() => this.#writer.schedule());
  }

  /**
   * Reads the registry from `path` (an empty one when the file does not
   * exist) and saves later changes there.
   *
   * @param path The JSON file, e.g. `./data/n1/nicks.json`.
   * @param options Registry limits, write delay, error callback.
   * @returns The bound registry.
   * @throws {SyntaxError} When the file is not JSON.
   * @throws {TypeError} When the file is not a registry.
   */
  static open(path: string, options: NickRegistryFileOptions = {}): NickRegistryFile {
    let registry: NickRegistry;
    try {
      registry = NickRegistry.fromJSON(JSON.parse(Deno.readTextFileSync(path)), options);
    } catch (error) {
      if (error instanceof SyntaxError || error instanceof TypeError) {
        // Starting empty would hand registered nicks to whoever asks first.
        throw new (error.constructor as typeof SyntaxError)(
          `Cannot read nick registry ${path}: ${error.message} (repair the file or move it aside)`,
          { cause: error },
        );
      }
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      registry = new NickRegistry(options);
    }
    return new NickRegistryFile(registry, path, options);
  }

  /**
   * Writes pending changes now.
   *
   * @returns Resolves when the file is up to date (or the write failed and was reported).
   */
  async flush(): Promise<void> {
    await this.#writer.flush();
  }

  /**
   * Writes pending changes and stops watching the registry.
   *
   * @returns Resolves when written.
   */
  async close(): Promise<void> {
    this.#unsubscribe();
    await this.flush();
  }
}
