/**
 * The display settings a person chose over SSH — `/theme`, `/timestamp`,
 * `/tz` and the `/ignore` list — kept per SSH key so they come back at the
 * next login. Kept on this node only (a JSON file in its data directory):
 * logging in with the same key on another node starts from the defaults
 * there. Guests (no key) keep theirs for the session only.
 *
 * The file is bounded and checked: at most `maxUsers` keys (the ones seen
 * longest ago are forgotten first), at most `maxIgnored` nicks each, values
 * validated on load. A file that cannot be read as settings is moved aside
 * (`.bad`) and the node starts from the defaults, with a warning: these are
 * preferences, not something worth refusing to start over.
 *
 * Writes are batched (one shortly after a burst of changes), go to a
 * temporary file (mode 0600) renamed over the old one, and are flushed at
 * shutdown.
 *
 * @module
 */
import { MAX_IGNORED, parseUserSettings, type UserSettings } from "../chat/user_preferences.ts";
import { DebouncedFileWriter } from "./_atomic_file.ts";

export {
  MAX_IGNORED,
  parseUserSettings,
  type UserSettings,
  validTimeZone,
} from "../chat/user_preferences.ts";

/** Options of {@linkcode UserSettingsStore.open}. */
export interface UserSettingsStoreOptions {
  /** Keys remembered at most; the ones seen longest ago go first. @default 5000 */
  maxUsers?: number;
  /** Nicks one person may ignore at most. @default 100 */
  maxIgnored?: number;
  /** Largest file read (bytes); a bigger one is moved aside. @default 4194304 */
  maxFileBytes?: number;
  /** Wait after a change before writing, to batch changes (ms). @default 200 */
  delayMs?: number;
  /** Current time (ms), for "seen longest ago". @default Date.now */
  now?: () => number;
  /** Told when the file was unusable and was moved aside, or a write failed. */
  onWarning?: (message: string, details: Record<string, string>) => void;
}

/** Whether two settings say the same. */
function sameSettings(a: UserSettings, b: UserSettings): boolean {
  return a.theme === b.theme && a.timestamps === b.timestamps && a.tz === b.tz &&
    (a.ignored ?? []).join(" ") === (b.ignored ?? []).join(" ");
}

function isEmpty(settings: UserSettings): boolean {
  return settings.theme === undefined && settings.timestamps === undefined &&
    settings.tz === undefined && (settings.ignored ?? []).length === 0;
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/=]{1,60}$/;

interface Stored {
  settings: UserSettings;
  seen: number;
}

/** Settings per SSH key fingerprint, kept in a file. */
export class UserSettingsStore {
  /** The file. */
  readonly path: string;
  readonly #byKey: Map<string, Stored>;
  readonly #maxUsers: number;
  readonly #maxIgnored: number;
  readonly #now: () => number;
  readonly #writer: DebouncedFileWriter;

  private constructor(path: string, byKey: Map<string, Stored>, options: UserSettingsStoreOptions) {
    this.path = path;
    this.#byKey = byKey;
    this.#maxUsers = options.maxUsers ?? 5000;
    this.#maxIgnored = options.maxIgnored ?? MAX_IGNORED;
    this.#now = options.now ?? Date.now;
    const onWarning = options.onWarning ?? (() => {});
    this.#writer = new DebouncedFileWriter(
      path,
      () => JSON.stringify(this),
      options.delayMs ?? 200,
      (error) => onWarning("cannot save user settings", { file: path, error: String(error) }),
    );
  }

  /**
   * Reads the settings from `path` (none when the file does not exist; a
   * file that is not settings is moved to `path.bad`, with a warning) and
   * saves later changes there.
   *
   * @param path The JSON file, e.g. `./data/n1/user_settings.json`.
   * @param options Bounds, write delay, clock, warnings.
   * @returns The store.
   * @throws {Deno.errors.PermissionDenied} When the file exists but cannot be read.
   */
  static open(path: string, options: UserSettingsStoreOptions = {}): UserSettingsStore {
    const { maxUsers = 5000, maxIgnored = MAX_IGNORED, maxFileBytes = 4 << 20 } = options;
    const warn = options.onWarning ?? (() => {});
    const byKey = new Map<string, Stored>();
    let text: string | undefined;
    try {
      if (Deno.statSync(path).size > maxFileBytes) {
        throw new RangeError(`file larger than ${maxFileBytes} bytes`);
      }
      text = Deno.readTextFileSync(path);
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new TypeError("not a JSON object");
      }
      const users = (parsed as { users?: unknown }).users;
      if (typeof users !== "object" || users === null || Array.isArray(users)) {
        throw new TypeError("no users object");
      }
      const entries = Object.entries(users as Record<string, unknown>)
        .filter(([key]) => FINGERPRINT.test(key))
        .map(([key, value]) => {
          const seen = (value as { seen?: unknown } | null)?.seen;
          return [key, {
            settings: parseUserSettings(
              (value as { settings?: unknown } | null)?.settings,
              maxIgnored,
            ),
            seen: typeof seen === "number" && Number.isFinite(seen) ? seen : 0,
          }] as const;
        })
        .filter(([, stored]) => !isEmpty(stored.settings))
        .sort((a, b) => b[1].seen - a[1].seen)
        .slice(0, maxUsers);
      // Oldest first: the map's order is the eviction order.
      for (const [key, stored] of entries.reverse()) byKey.set(key, stored);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return new UserSettingsStore(path, byKey, options);
      }
      if (
        !(error instanceof SyntaxError || error instanceof TypeError ||
          error instanceof RangeError)
      ) {
        throw error;
      }
      const aside = `${path}.bad`;
      try {
        Deno.renameSync(path, aside);
      } catch {
        // Left in place: the next save replaces it.
      }
      warn("user settings file unusable: moved aside, starting from the defaults", {
        file: path,
        movedTo: aside,
        error: error.message,
      });
      byKey.clear();
    }
    return new UserSettingsStore(path, byKey, options);
  }

  /** Keys with settings. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * The settings of a key, marking it as seen now (it is then the last to
   * be forgotten).
   *
   * @param fingerprint `SHA256:` fingerprint of the key.
   * @returns Its settings; empty when it has none.
   */
  get(fingerprint: string): UserSettings {
    const stored = this.#byKey.get(fingerprint);
    if (stored === undefined) return {};
    this.#byKey.delete(fingerprint);
    this.#byKey.set(fingerprint, { settings: stored.settings, seen: this.#now() });
    return stored.settings;
  }

  /**
   * Replaces the settings of a key (validated; nothing is written when
   * they did not change). Over `maxUsers`, the key seen longest ago is
   * forgotten.
   *
   * @param fingerprint `SHA256:` fingerprint of the key.
   * @param settings What the person chose now.
   * @throws {TypeError} When `fingerprint` is not one.
   */
  set(fingerprint: string, settings: UserSettings): void {
    if (!FINGERPRINT.test(fingerprint)) {
      throw new TypeError(
        `Cannot keep settings: ${fingerprint.slice(0, 80)} is no key fingerprint`,
      );
    }
    const clean = parseUserSettings(settings, this.#maxIgnored);
    const before = this.#byKey.get(fingerprint);
    if (before !== undefined && sameSettings(before.settings, clean)) return;
    if (before === undefined && isEmpty(clean)) return;
    this.#byKey.delete(fingerprint);
    if (!isEmpty(clean)) this.#byKey.set(fingerprint, { settings: clean, seen: this.#now() });
    while (this.#byKey.size > this.#maxUsers) {
      this.#byKey.delete(this.#byKey.keys().next().value!);
    }
    this.#writer.schedule();
  }

  /**
   * Writes pending changes now.
   *
   * @returns Resolves when the file is up to date (or the write failed and was reported).
   */
  async flush(): Promise<void> {
    await this.#writer.flush();
  }

  /** The file's content. */
  toJSON(): { users: Record<string, Stored> } {
    return { users: Object.fromEntries(this.#byKey) };
  }
}
