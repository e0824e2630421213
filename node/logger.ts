/**
 * Structured log lines: `time level node message key=value ...`, one per
 * line, to stderr by default. Libraries take a {@linkcode Logger}; only the
 * composition root makes one.
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

function formatValue(value: string | number | boolean): string {
  const text = String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
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
    let line = `${new Date(now()).toISOString()} ${at.toUpperCase()} ${name} ${message}`;
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${formatValue(value)}`;
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
