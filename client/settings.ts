/**
 * The terminal client's saved settings: what a person chose with `/theme`,
 * `/timestamp`, `/tz` and `/ignore`, kept across sessions in
 * `$XDG_CONFIG_HOME/meshchat/settings.json` (or `~/.config/meshchat/…`),
 * the file mode 0600 in a directory of mode 0700.
 *
 * A missing file gives the defaults; a corrupt one gives the defaults and a
 * one-line warning, never a crash. Reading and writing need Deno's env, read
 * and write permissions, which `deno task client` grants. The client never
 * prompts for them (a newcomer's plain `deno run client/main.ts` should ask
 * for the network only): without them settings last the session, and the
 * first change says once how to keep them.
 *
 * @module
 */
import { NICK_PATTERN, nickKey } from "../core/names.ts";

/** What a person chose; an absent field means the default. */
export interface ClientSettings {
  /** Colours on or off. */
  theme?: "color" | "mono";
  /** `HH:MM` before each line. */
  timestamps?: boolean;
  /** IANA time zone of the timestamps, e.g. `Europe/Paris`; the system's when absent. */
  timeZone?: string;
  /** Nicks whose messages are not shown (lowercase). */
  ignored?: string[];
}

/** What {@linkcode parseSettings} made of a file. */
export interface ParsedSettings {
  /** The valid settings found. */
  settings: ClientSettings;
  /** Why some or all of the file was not used, in one line. */
  warning?: string;
}

/**
 * Whether a time zone name is one this runtime knows.
 *
 * @param zone For example `Europe/Paris` or `UTC`.
 * @returns `true` when `Intl.DateTimeFormat` accepts it.
 */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: zone });
    return zone !== "";
  } catch {
    return false;
  }
}

/**
 * Reads settings from the text of a settings file, keeping every valid field.
 *
 * @param text The file's contents.
 * @returns The settings, and a warning when something was not used.
 */
export function parseSettings(text: string): ParsedSettings {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { settings: {}, warning: "it is not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { settings: {}, warning: "it is not a JSON object" };
  }
  const raw = value as Record<string, unknown>;
  const settings: ClientSettings = {};
  const bad: string[] = [];
  if (Object.hasOwn(raw, "theme")) {
    if (raw.theme === "color" || raw.theme === "mono") settings.theme = raw.theme;
    else bad.push("theme");
  }
  if (Object.hasOwn(raw, "timestamps")) {
    if (typeof raw.timestamps === "boolean") settings.timestamps = raw.timestamps;
    else bad.push("timestamps");
  }
  if (Object.hasOwn(raw, "timeZone")) {
    if (typeof raw.timeZone === "string" && isTimeZone(raw.timeZone)) {
      settings.timeZone = raw.timeZone;
    } else bad.push("timeZone");
  }
  if (Object.hasOwn(raw, "ignored")) {
    if (
      Array.isArray(raw.ignored) &&
      raw.ignored.every((nick) => typeof nick === "string" && NICK_PATTERN.test(nick))
    ) {
      settings.ignored = [...new Set(raw.ignored.map((nick: string) => nickKey(nick)))];
    } else bad.push("ignored");
  }
  return bad.length === 0
    ? { settings }
    : { settings, warning: `invalid ${bad.join(", ")} (defaults used instead)` };
}

/**
 * The settings directory: `$XDG_CONFIG_HOME/meshchat`, else
 * `$HOME/.config/meshchat`.
 *
 * @param env Reads an environment variable (undefined when unset or not allowed).
 * @returns The directory, or undefined when neither variable is available.
 */
export function settingsDirectory(env: (name: string) => string | undefined): string | undefined {
  const xdg = env("XDG_CONFIG_HOME");
  if (xdg !== undefined && xdg.startsWith("/")) return `${xdg.replace(/\/+$/, "")}/meshchat`;
  const home = env("HOME");
  if (home !== undefined && home !== "") return `${home.replace(/\/+$/, "")}/.config/meshchat`;
  return undefined;
}

/** Options of {@linkcode SettingsFile.open}. */
export interface SettingsFileOptions {
  /**
   * The settings directory.
   *
   * @default {`$XDG_CONFIG_HOME/meshchat`, else `$HOME/.config/meshchat`}
   */
  directory?: string;
}

/** Flags that give the client its settings file (for messages). */
function allowFlags(dir: string | undefined): string {
  // Deno does not expand `~` in a flag, and a shell expands it only at the start of a word.
  const where = dir ?? "$HOME/.config/meshchat";
  return `deno task client, or --allow-env=HOME,XDG_CONFIG_HOME --allow-read=${where} --allow-write=${where}`;
}

/** The settings file: load once at start, save after each change. */
export class SettingsFile {
  /** The directory, when known. */
  readonly directory: string | undefined;
  #warned = false;

  private constructor(directory: string | undefined) {
    this.directory = directory;
  }

  /** The file's path, when known. */
  get path(): string | undefined {
    return this.directory === undefined ? undefined : `${this.directory}/settings.json`;
  }

  /**
   * Finds the settings file and reads it.
   *
   * @param options Where the settings are.
   * @returns The file, what it holds (defaults when missing or unreadable),
   *   and a one-line warning when it could not be used.
   */
  static open(
    options: SettingsFileOptions = {},
  ): { file: SettingsFile; settings: ClientSettings; warning?: string } {
    const env = (name: string) => {
      if (!permissionGranted({ name: "env", variable: name })) return undefined;
      return Deno.env.get(name);
    };
    const file = new SettingsFile(options.directory ?? settingsDirectory(env));
    const path = file.path;
    if (path === undefined) return { file, settings: {} };
    if (!permissionGranted({ name: "read", path: file.directory! })) return { file, settings: {} };
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { file, settings: {} };
      return {
        file,
        settings: {},
        warning: `Cannot read settings ${path}: ${(error as Error).message}; using defaults`,
      };
    }
    const parsed = parseSettings(text);
    return parsed.warning === undefined ? { file, settings: parsed.settings } : {
      file,
      settings: parsed.settings,
      warning: `Settings ${path} not fully used: ${parsed.warning}`,
    };
  }

  /**
   * Writes the settings (mode 0600, directory 0700), replacing the file
   * atomically. Never prompts.
   *
   * @param settings What to keep.
   * @returns A line to show when they could not be saved (only the first
   *   time for a missing permission), or undefined.
   */
  save(settings: ClientSettings): string | undefined {
    const dir = this.directory;
    const path = this.path;
    const permitted = dir !== undefined && path !== undefined &&
      permissionGranted({ name: "read", path: dir }) &&
      permissionGranted({ name: "write", path: dir });
    if (!permitted) {
      if (this.#warned) return undefined;
      this.#warned = true;
      return `Settings are not saved (no permission): run with ${allowFlags(dir)} to keep them`;
    }
    try {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const temp = `${path}.tmp`;
      Deno.writeTextFileSync(temp, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
      Deno.chmodSync(temp, 0o600);
      Deno.renameSync(temp, path);
      return undefined;
    } catch (error) {
      return `Cannot save settings ${path}: ${(error as Error).message}`;
    }
  }
}

/**
 * Whether a permission is granted; never prompts.
 *
 * @param descriptor The permission.
 * @returns True when granted.
 */
export function permissionGranted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    // a runtime without the permissions API
  }
  return false;
}
