/**
 * Structured log lines: `time level node message key=value ...`, one per
 * line, to stderr by default. Nothing is written raw: values that are not
 * plain ASCII words are JSON-quoted, and control, bidi and invisible
 * characters anywhere on the line are written as `\uXXXX` escapes.
 * Libraries take a {@linkcode Logger}; only the composition root makes one.
 *
 * @module
 */

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Extra key/value pairs of a log line. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** What libraries log through. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped. @default "info" */
  level?: LogLevel;
  /** Where finished lines go. @default console.error */
  write?: (line: string) => void;
  /** Clock for the timestamp. @default Date.now */
  now?: () => number;
}

/**
 * What a log line never shows raw: C0 and C1 controls, DEL, bidi controls,
 * line separators, invisible and zero-width characters, tag characters and
 * lone surrogates. A log is read in terminals and fed to tools; a value from
 * a stranger (an SSH user name, a nick) must not move the cursor, retitle
 * the window, fake a second line or reverse the text around it.
 */
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\ud800-\udfff\u{e0000}-\u{e007f}]/gu;

/**
 * Replaces each character of {@linkcode UNSAFE} with its JSON escape
 * (`\u001b`; a pair of escapes for a tag character), so a quoted value
 * still parses as JSON.
 */
function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    let escaped = "";
    for (let i = 0; i < c.length; i++) {
      escaped += `\\u${c.charCodeAt(i).toString(16).padStart(4, "0")}`;
    }
    return escaped;
  });
}

/**
 * Formats a field value: bare when it is plain printable ASCII without
 * quotes, `=` or backslashes, else JSON-quoted with every unsafe character
 * escaped, so one value is always one token on one line.
 */
function formatValue(value: string | number | boolean): string {
  const text = String(value);
  return /^[\x21-\x7e]+$/.test(text) && !/["=\\]/.test(text)
    ? text
    : escapeUnsafe(JSON.stringify(text));
}

/**
 * Makes a logger whose lines carry a name (the node id).
 *
 * @param name Shown on every line, e.g. `n1`.
 * @param options Level, output and clock.
 * @returns The logger.
 */
export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const { level = "info", write = console.error, now = Date.now } = options;
  const threshold = LOG_LEVELS.indexOf(level);
  const log = (at: LogLevel, message: string, fields: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(at) < threshold) return;
    let line = `${new Date(now()).toISOString()} ${at.toUpperCase()} ${escapeUnsafe(name)} ${
      escapeUnsafe(message)
    }`;
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${escapeUnsafe(key)}=${formatValue(value)}`;
    }
    write(line);
  };
  return {
    debug: (message, fields) => log("debug", message, fields),
    info: (message, fields) => log("info", message, fields),
    warn: (message, fields) => log("warn", message, fields),
    error: (message, fields) => log("error", message, fields),
  };
}

/** A logger that drops everything (the default for libraries and tests). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
