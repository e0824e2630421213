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

/** One flag of a {@linkcode FlagSpec}. */
export type FlagDef =
  | {
    readonly type: "string";
    readonly default: string;
    readonly help: string;
    readonly arg?: string;
  }
  | {
    readonly type: "number";
    readonly default: number;
    readonly help: string;
    readonly arg?: string;
  }
  | { readonly type: "boolean"; readonly default: boolean; readonly help: string };

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

/**
 * Renders the help text of a flag table.
 *
 * @param usage The first line, e.g. `Usage: deno task node [flags]`.
 * @param spec The flags.
 * @param footer Lines after the flags.
 * @returns The help text.
 */
export function formatHelp(usage: string, spec: FlagSpec, footer: readonly string[] = []): string {
  const rows: Array<readonly [string, string]> = Object.entries(spec).map(([name, def]) => {
    const arg = def.type === "boolean" ? "" : ` ${def.arg ?? def.type.toUpperCase()}`;
    const shown = def.type === "string" && def.default === ""
      ? ""
      : ` (default ${JSON.stringify(def.default)})`;
    return [`  --${name}${arg}`, `${def.help}${shown}`] as const;
  });
  rows.push(["  -h, --help", "show this help"]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    usage,
    "",
    "Flags (one or two dashes):",
    ...rows.map(([left, right]) => left.padEnd(width) + right),
    ...(footer.length > 0 ? ["", ...footer] : []),
  ].join("\n");
}
