/**
 * The node's configuration: the flag table (`main.ts node --help` is made
 * from it), and validation into a {@linkcode NodeConfig}.
 *
 * @module
 */
import { type FlagSpec, formatHelp, parseFlags, UsageError } from "../core/cli_flags.ts";
import { LOG_LEVELS, type LogLevel } from "./logger.ts";

/** Every node flag with its default; the help text says what each trades off. */
export const NODE_FLAGS = {
  id: {
    type: "string",
    default: "n1",
    arg: "ID",
    help: "node id: letters, digits, hyphen; unique in a cluster",
  },
  host: {
    type: "string",
    default: "0.0.0.0",
    arg: "ADDR",
    help: "address the client port listens on",
  },
  port: {
    type: "number",
    default: 8080,
    arg: "PORT",
    help: "client (terminal client, NDJSON) port; 0 picks a free one",
  },
  data: { type: "string", default: "", arg: "DIR", help: "data directory (default ./data/<id>)" },
  history: {
    type: "number",
    default: 10_000,
    arg: "N",
    help: "events kept per room (rounded up to a power of two)",
  },
  "max-line": {
    type: "number",
    default: 16_384,
    arg: "BYTES",
    help: "longest accepted client line",
  },
  "max-queue": {
    type: "number",
    default: 1_048_576,
    arg: "BYTES",
    help: "output a slow reader may have pending before it is dropped",
  },
  rate: { type: "number", default: 5, arg: "N", help: "messages per second per person, sustained" },
  burst: {
    type: "number",
    default: 10,
    arg: "N",
    help: "messages a person may send at once; 0 turns rate limits off",
  },
  "log-level": {
    type: "string",
    default: "info",
    arg: "LEVEL",
    help: "debug, info, warn or error",
  },
} as const satisfies FlagSpec;

/** A validated node configuration. */
export interface NodeConfig {
  /** Node id. */
  readonly id: string;
  /** Client listener address. */
  readonly host: string;
  /** Client listener port (0 = any free port). */
  readonly port: number;
  /** Data directory. */
  readonly dataDir: string;
  /** Events per room. */
  readonly historySize: number;
  /** Longest client line in bytes. */
  readonly maxLineBytes: number;
  /** Pending output bytes per session. */
  readonly maxQueueBytes: number;
  /** Sustained messages per second per person. */
  readonly ratePerSecond: number;
  /** Burst size; 0 = no rate limit. */
  readonly rateBurst: number;
  /** Log level. */
  readonly logLevel: LogLevel;
}

/** The text of `main.ts node --help`. */
export const NODE_HELP = formatHelp(
  "Usage: deno task node [flags]    (or: deno run -P=node main.ts node [flags])",
  NODE_FLAGS,
  [
    "Starts one meshchat node. Join it with:",
    "  deno task client -server localhost:8080 -user alice",
  ],
);

function port(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new UsageError(`Invalid --${name} ${value}: use a port from 0 to 65535`);
  }
  return value;
}

function positive(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`Invalid --${name} ${value}: use a whole number from ${min} to ${max}`);
  }
  return value;
}

/**
 * Parses and validates node flags.
 *
 * @param args Arguments after `node`.
 * @returns The config, or `"help"` when help was asked for.
 * @throws {UsageError} With a message naming the flag and the fix.
 */
export function parseNodeConfig(args: readonly string[]): NodeConfig | "help" {
  const flags = parseFlags(NODE_FLAGS, args);
  if (flags.help) return "help";
  if (flags.rest.length > 0) {
    throw new UsageError(`Unexpected argument "${flags.rest[0]}": flags start with - or --`);
  }
  if (!/^[A-Za-z0-9-]{1,32}$/.test(flags.id)) {
    throw new UsageError(`Invalid --id "${flags.id}": use 1-32 letters, digits or hyphens`);
  }
  const level = flags["log-level"];
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`Invalid --log-level "${level}": use ${LOG_LEVELS.join(", ")}`);
  }
  if (!(flags.rate > 0)) throw new UsageError(`Invalid --rate ${flags.rate}: must be above 0`);
  return {
    id: flags.id,
    host: flags.host,
    port: port("port", flags.port),
    dataDir: flags.data === "" ? `./data/${flags.id}` : flags.data,
    historySize: positive("history", flags.history, 16, 1 << 20),
    maxLineBytes: positive("max-line", flags["max-line"], 1024, 1 << 20),
    maxQueueBytes: positive("max-queue", flags["max-queue"], 65536, 1 << 30),
    ratePerSecond: flags.rate,
    rateBurst: positive("burst", flags.burst, 0, 10_000),
    logLevel: level as LogLevel,
  };
}
