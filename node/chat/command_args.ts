/**
 * How a command reads its arguments, shared by the modules that register
 * commands in the one table (commands.ts, operator_commands.ts): the first
 * word and the rest ({@linkcode firstWord}), and an argument that must be
 * there ({@linkcode requireArgs}).
 *
 * @module
 */
import { ProtocolError } from "../../core/protocol.ts";

/**
 * Splits a command's arguments at the first run of white space.
 *
 * @param args The arguments as typed.
 * @returns The first word and the rest (both empty for no arguments).
 */
export function firstWord(args: string): [string, string] {
  const match = /^(\S+)\s*(.*)$/s.exec(args);
  return match ? [match[1] ?? "", match[2] ?? ""] : ["", ""];
}

/**
 * An argument a command cannot do without.
 *
 * @param args The argument (empty when missing).
 * @param usage How the command is used, shown when it is missing.
 * @returns The argument.
 * @throws {ProtocolError} `bad_args` when it is empty.
 */
export function requireArgs(args: string, usage: string): string {
  if (args === "") throw new ProtocolError("bad_args", `Missing argument: usage ${usage}`);
  return args;
}
