// Copyright the meshchat authors. MIT license.
/**
 * The slash-command table shared by every frontend: commands are registered
 * once, looked up by name or alias, and `/help` is generated from it.
 *
 * @module
 */

import { quoteText } from "./text_sanitizer.ts";

/** What a command name or alias may look like. */
const NAME_PATTERN = /^[a-z]+$/;
/** Spaces between the usage column and the help text in help lines. */
const HELP_GAP = "   ";

/**
 * A slash command.
 *
 * @typeParam C What the command runs against (e.g. the hub and the session
 * that typed it).
 */
export interface Command<C> {
  /** The command word, lowercase `a-z` (`"msg"` for `/msg`). */
  readonly name: string;
  /** Other words for the same command, same rule as `name` (`["m"]`). */
  readonly aliases?: readonly string[];
  /** One line saying what the command does, for `/help`. */
  readonly help: string;
  /** Usage of the arguments, for `/help` (`"NICK TEXT"`). */
  readonly args?: string;
  /** Whether only room operators may run it; enforced by the caller. */
  readonly opOnly?: boolean;
  /**
   * Whether to leave it out of `/help`: for a command that programs send
   * for a person (the terminal client's `/seal` sends `/seal PARAMS`), so a
   * person does not see it next to the client's own, friendlier one.
   */
  readonly hidden?: boolean;
  /**
   * Runs the command.
   *
   * @param ctx The context of the caller.
   * @param args The rest of the line after the command word, trimmed.
   */
  run(ctx: C, args: string): void | Promise<void>;
}

/** A line parsed by {@linkcode CommandTable.parse}. */
export interface ParsedCommand<C> {
  /** The command the line names. */
  command: Command<C>;
  /** The rest of the line after the command word, trimmed. */
  args: string;
}

/** Options for {@linkcode CommandTable.helpLines}. */
export interface HelpOptions {
  /**
   * Whether to list commands marked `opOnly` (they are marked
   * "(operators only)").
   *
   * @default {false}
   */
  includeOpOnly?: boolean;
}

/**
 * Thrown by {@linkcode CommandTable.parse} for a line that starts with `/`
 * but names no registered command. The message can be shown to the user.
 */
export class UnknownCommandError extends Error {
  /** Always `"UnknownCommandError"`. */
  override name = "UnknownCommandError";
  /** The command word as typed, without the `/` (may be empty). */
  readonly word: string;

  /**
   * Creates the error.
   *
   * @param word The command word as typed, without the `/`.
   * @param options The underlying cause, if any.
   */
  constructor(word: string, options?: ErrorOptions) {
    super(
      `Unknown command ${quoteText(`/${word}`)}: type /help for the list`,
      options,
    );
    this.word = word;
  }
}

/**
 * Turns a line whose first `/` is escaped by a second one into the text
 * meant: `"//shrug"` becomes `"/shrug"`. Other lines are returned unchanged.
 * Use it on lines that {@linkcode CommandTable.parse} says are not commands.
 *
 * @param line A line of input.
 * @returns The line without its escaping `/`.
 */
export function unescapeSlash(line: string): string {
  return line.startsWith("//") ? line.slice(1) : line;
}

/**
 * The table of slash commands.
 *
 * @typeParam C What commands run against.
 *
 * @example Registering and dispatching
 * ```ts
 * import { CommandTable, unescapeSlash } from "./command_table.ts";
 * import assert from "node:assert/strict";
 *
 * const said: string[] = [];
 * const table = new CommandTable<string[]>()
 *   .register({
 *     name: "msg",
 *     aliases: ["m"],
 *     args: "NICK TEXT",
 *     help: "send a private message",
 *     run: (out, args) => void out.push(`msg ${args}`),
 *   });
 *
 * for (const line of ["/m bob hi", "//not a command", "hello"]) {
 *   const parsed = table.parse(line);
 *   if (parsed) await parsed.command.run(said, parsed.args);
 *   else said.push(unescapeSlash(line));
 * }
 * assert.deepEqual(said, ["msg bob hi", "/not a command", "hello"]);
 * assert.deepEqual(table.helpLines(), [
 *   "/msg NICK TEXT   send a private message (alias: /m)",
 * ]);
 * ```
 */
export class CommandTable<C> {
  #commands: Command<C>[] = [];
  #byWord = new Map<string, Command<C>>();

  /**
   * Adds a command.
   *
   * @param command The command.
   * @returns This table, for chaining.
   * @throws {TypeError} If the name or an alias is not lowercase `a-z`, is
   * already taken, or `help` or `run` are missing.
   */
  register(command: Command<C>): this {
    const aliases = command.aliases ?? [];
    if (!Array.isArray(aliases)) {
      throw new TypeError(
        `Cannot register command: aliases of ${quoteText(String(command.name))} must be an array`,
      );
    }
    const words: unknown[] = [command.name, ...aliases];
    for (const [i, word] of words.entries()) {
      if (typeof word !== "string" || !NAME_PATTERN.test(word)) {
        throw new TypeError(
          `Cannot register command: name ${quoteText(String(word))} is not lowercase a-z`,
        );
      }
      if (this.#byWord.has(word) || words.indexOf(word) !== i) {
        throw new TypeError(
          `Cannot register command /${command.name}: /${word} is already taken`,
        );
      }
    }
    if (typeof command.help !== "string") {
      throw new TypeError(
        `Cannot register command /${command.name}: help must be a string`,
      );
    }
    if (typeof command.run !== "function") {
      throw new TypeError(
        `Cannot register command /${command.name}: run must be a function`,
      );
    }
    this.#commands.push(command);
    for (const word of words as string[]) this.#byWord.set(word, command);
    return this;
  }

  /**
   * Finds a command by name or alias, ignoring case.
   *
   * @param word The command word, without the `/`.
   * @returns The command, or `undefined` if there is none.
   */
  lookup(word: string): Command<C> | undefined {
    return this.#byWord.get(word.toLowerCase());
  }

  /**
   * Parses a line of input as a command.
   *
   * A command line starts with exactly one `/` then the command word:
   * `/who lobby` is `/who` with args `"lobby"`. A line starting with `//` is
   * text, not a command (see {@linkcode unescapeSlash}), and so is any line
   * not starting with `/`.
   *
   * @param line A line of input.
   * @returns The command and its arguments, or `undefined` if the line is not
   * a command.
   * @throws {UnknownCommandError} If the line starts with a single `/` but
   * the word is not a registered command (including a bare `/`).
   */
  parse(line: string): ParsedCommand<C> | undefined {
    if (!line.startsWith("/") || line.startsWith("//")) return undefined;
    const match = /^\/(\S*)([\s\S]*)$/.exec(line);
    const word = match?.[1] ?? "";
    const command = word === "" ? undefined : this.lookup(word);
    if (command === undefined) throw new UnknownCommandError(word);
    return { command, args: (match?.[2] ?? "").trim() };
  }

  /**
   * Lines for `/help`, one per command in registration order, aligned:
   * `/msg NICK TEXT   send a private message (alias: /m)`. Commands marked
   * `hidden` are left out.
   *
   * @param options Whether to list operator-only commands.
   * @returns The help lines.
   */
  helpLines(options: HelpOptions = {}): string[] {
    const { includeOpOnly = false } = options;
    const shown = this.#commands.filter((c) => !c.hidden && (includeOpOnly || !c.opOnly));
    const usages = shown.map((c) => `/${c.name}${c.args ? ` ${c.args}` : ""}`);
    const width = Math.max(0, ...usages.map((u) => u.length));
    return shown.map((command, i) => {
      const aliases = command.aliases ?? [];
      const notes = [
        aliases.length === 1 ? `alias: /${aliases[0]}` : "",
        aliases.length > 1 ? `aliases: ${aliases.map((a) => `/${a}`).join(", ")}` : "",
        command.opOnly ? "operators only" : "",
      ].filter((note) => note !== "");
      const suffix = notes.length > 0 ? ` (${notes.join("; ")})` : "";
      return `${usages[i]!.padEnd(width)}${HELP_GAP}${command.help}${suffix}`;
    });
  }

  /**
   * Iterates over the commands in registration order (each once, however
   * many aliases it has).
   *
   * @returns An iterator over the commands.
   */
  [Symbol.iterator](): IterableIterator<Command<C>> {
    return this.#commands[Symbol.iterator]();
  }
}
