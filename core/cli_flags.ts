/**
 * Command-line flags from a declarative table, with `--help` generated from
 * it. Go-style single-dash flags (`-server x`) and `--double-dash` both work,
 * as do `--name=value` and, for booleans, `--name` / `--no-name`.
 *
 * @example
 * ```ts
 * const spec = { port: { type: "number", default: 8080, help: "client port" } } as const;
 * const flags = parseFlags(spec, ["-port", "9000"]); // { port: 9000, help: false }
 * ```
 *
 * @module
 */
import { displayWidth } from "./display_width.ts";

/** What every flag has, whatever its type. */
interface FlagDoc {
  /** What the flag does and what it trades off; `--help` and the docs' flag tables show it. */
  readonly help: string;
  /**
   * How to describe the default when the value itself would mislead, e.g.
   * `./data/<id>` for a directory worked out from another flag.
   */
  readonly defaultLabel?: string;
}

/** One flag of a {@linkcode FlagSpec}. */
export type FlagDef =
  | FlagDoc & { readonly type: "string"; readonly default: string; readonly arg?: string }
  | FlagDoc & { readonly type: "number"; readonly default: number; readonly arg?: string }
  | FlagDoc & { readonly type: "boolean"; readonly default: boolean };

/** A table of flags by name (kebab-case). */
export type FlagSpec = Readonly<Record<string, FlagDef>>;

/** The value type of one flag. */
export type FlagValue<D extends FlagDef> = D["type"] extends "string" ? string
  : D["type"] extends "number" ? number
  : boolean;

/** Parsed values, typed from the spec; `help` is true when -h/--help was given. */
export type ParsedFlags<S extends FlagSpec> =
  & { -readonly [K in keyof S]: FlagValue<S[K]> }
  & { help: boolean; rest: string[] };

/** A mistake on the command line; the message says what and how to fix it. */
export class UsageError extends Error {
  /** @param message What is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses arguments against a flag table.
 *
 * @param spec The flags.
 * @param args The arguments (without the program name).
 * @returns Every flag's value (defaults filled in), `help`, and positional `rest`.
 * @throws {UsageError} For an unknown flag, a missing value, or a number that is not one.
 */
export function parseFlags<S extends FlagSpec>(spec: S, args: readonly string[]): ParsedFlags<S> {
  const values: Record<string, unknown> = { help: false, rest: [] as string[] };
  for (const [name, def] of Object.entries(spec)) values[name] = def.default;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("-") || arg === "-") {
      (values.rest as string[]).push(arg);
      continue;
    }
    if (arg === "--") {
      (values.rest as string[]).push(...args.slice(i + 1));
      break;
    }
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    let name = eq === -1 ? body : body.slice(0, eq);
    let inline = eq === -1 ? undefined : body.slice(eq + 1);
    if (name === "h" || name === "help") {
      values.help = true;
      continue;
    }
    let def = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (def === undefined && name.startsWith("no-")) {
      const positive = name.slice(3);
      const candidate = Object.hasOwn(spec, positive) ? spec[positive] : undefined;
      if (candidate?.type === "boolean" && inline === undefined) {
        name = positive;
        def = candidate;
        inline = "false";
      }
    }
    if (def === undefined) throw new UsageError(`Unknown flag ${arg.split("=")[0]}: see --help`);
    if (def.type === "boolean") {
      if (inline !== undefined && inline !== "true" && inline !== "false") {
        throw new UsageError(
          `Invalid value for --${name}: expected true or false, got "${inline}"`,
        );
      }
      values[name] = inline !== "false";
      continue;
    }
    const raw = inline ?? args[++i];
    if (raw === undefined) throw new UsageError(`Missing value for --${name}: see --help`);
    if (def.type === "number") {
      const number = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(number)) {
        throw new UsageError(`Invalid value for --${name}: "${raw}" is not a number`);
      }
      values[name] = number;
    } else {
      values[name] = raw;
    }
  }
  return values as ParsedFlags<S>;
}

/** The width `--help` wraps its flag descriptions to. */
const HELP_COLUMNS = 100;

/** How a flag is written on the command line: `--name ARG`, or `--name` for a boolean. */
function usageOf(name: string, def: FlagDef): string {
  return def.type === "boolean" ? `--${name}` : `--${name} ${def.arg ?? def.type.toUpperCase()}`;
}

/** The default as `--help` shows it; undefined for an empty string, which means "not set". */
function helpDefault(def: FlagDef): string | undefined {
  if (def.defaultLabel !== undefined) return def.defaultLabel;
  return def.type === "string" && def.default === "" ? undefined : JSON.stringify(def.default);
}

/** Splits `text` into lines of at most `columns` characters at spaces; a longer word stands alone. */
function wrap(text: string, columns: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > columns) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

/**
 * Renders the help text of a flag table; descriptions wrap at 100 columns.
 *
 * @param usage The first line, e.g. `Usage: deno task node [flags]`.
 * @param spec The flags.
 * @param footer Lines after the flags.
 * @returns The help text.
 */
export function formatHelp(usage: string, spec: FlagSpec, footer: readonly string[] = []): string {
  const rows: Array<readonly [string, string]> = Object.entries(spec).map(([name, def]) => {
    const shown = helpDefault(def);
    return [
      `  ${usageOf(name, def)}`,
      shown === undefined ? def.help : `${def.help} (default ${shown})`,
    ];
  });
  rows.push(["  -h, --help", "show this help"]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const descriptionColumns = Math.max(40, HELP_COLUMNS - width);
  return [
    usage,
    "",
    "Flags (one or two dashes):",
    ...rows.flatMap(([left, right]) =>
      wrap(right, descriptionColumns).map((line, i) => (i === 0 ? left : "").padEnd(width) + line)
    ),
    ...(footer.length > 0 ? ["", ...footer] : []),
  ].join("\n");
}

/** Options of {@linkcode formatFlagTable}. */
export interface FlagTableOptions {
  /**
   * The flags to list, in this order; a name the spec lacks is an error.
   *
   * @default {every flag of the spec, then `-h, --help`}
   */
  names?: readonly string[];
}

/** Text for a markdown table cell: `|` and `<` escaped, so neither ends a cell nor opens a tag. */
function cellText(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("<", "\\<");
}

/** Text as inline code in a markdown table cell (a `|` still has to be escaped there). */
function cellCode(text: string): string {
  return `\`${text.replaceAll("|", "\\|")}\``;
}

/**
 * Renders flags as a markdown table (flag, default, what it does) from the
 * same definitions as {@linkcode formatHelp}, so docs built from it say what
 * `--help` says. Columns are padded the way `deno fmt` pads them.
 *
 * @param spec The flags.
 * @param options Which flags to list.
 * @returns The table, one line per row, without a final line break.
 * @throws {RangeError} When `options.names` has a flag the spec lacks.
 */
export function formatFlagTable(spec: FlagSpec, options: FlagTableOptions = {}): string {
  const { names } = options;
  const rows: string[][] = (names ?? Object.keys(spec)).map((name) => {
    const def = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (def === undefined) throw new RangeError(`Cannot list flag --${name}: no such flag`);
    // A value is code; a label describes one in words.
    const value = def.type === "boolean" ? (def.default ? "on" : "off") : `${def.default}`;
    const code = value === "" ? "" : cellCode(value);
    const shown = def.defaultLabel === undefined ? code : cellText(def.defaultLabel);
    return [cellCode(usageOf(name, def)), shown, cellText(def.help)];
  });
  if (names === undefined) {
    rows.push([`${cellCode("-h")}, ${cellCode("--help")}`, "", "show this help"]);
  }
  const header = ["flag", "default", "what it does"];
  // Padded by display width, as deno fmt pads them: a wide character takes two columns.
  const widths = header.map((title, column) =>
    Math.max(3, title.length, ...rows.map((row) => displayWidth(row[column]!)))
  );
  const pad = (cell: string, column: number) =>
    cell + " ".repeat(widths[column]! - displayWidth(cell));
  const line = (cells: readonly string[]) => `| ${cells.map(pad).join(" | ")} |`;
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join(
    "\n",
  );
}
