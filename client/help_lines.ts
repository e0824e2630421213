/**
 * The terminal client's `/help`: the node's command table with the commands
 * the client handles itself (`/seal`, `/theme`, …) put in, once each and in
 * the same columns. The node lists some of them too (for SSH sessions), with
 * words that do not hold here; the client's own entry replaces the node's.
 *
 * @module
 */

/** One command the client handles itself, as `/help` shows it. */
export interface ClientCommandHelp {
  /** The command and its arguments, e.g. `/theme [color|mono]`. */
  usage: string;
  /** What it does, e.g. `colours on or off (saved)`. */
  help: string;
}

/** Spaces between a usage and its description, as in the node's table. */
const GAP = 3;

/** A table line: a usage (words joined by single spaces), a gap of two or more, the description. */
const TABLE_LINE = /^(\/\S+(?: \S+)*?) {2,}(\S.*)$/;

/**
 * Merges the client's own commands into the node's `/help` lines.
 *
 * @param nodeLines The lines of the node's `help` reply (`Commands:` then one line per command).
 * @param own The commands the client handles itself.
 * @returns The node's lines without those the client handles, and the client's before `/quit`,
 *   all in one column layout.
 *
 * @example
 * ```ts
 * import { mergeHelp } from "./help_lines.ts";
 * import assert from "node:assert/strict";
 *
 * const merged = mergeHelp(
 *   ["Commands:", "/who [ROOM]    list the people", "/theme X       colours (SSH sessions)"],
 *   [{ usage: "/theme [color|mono]", help: "colours on or off (saved)" }],
 * );
 * assert.deepEqual(merged, [
 *   "Commands:",
 *   "/who [ROOM]           list the people",
 *   "/theme [color|mono]   colours on or off (saved)",
 * ]);
 * ```
 */
export function mergeHelp(
  nodeLines: readonly string[],
  own: readonly ClientCommandHelp[],
): string[] {
  const ownWords = new Set(own.map((entry) => commandWord(entry.usage)));
  const rows: ({ usage: string; help: string } | string)[] = [];
  for (const line of nodeLines) {
    const match = TABLE_LINE.exec(line);
    if (match === null) rows.push(line);
    else if (!ownWords.has(commandWord(match[1]!))) {
      rows.push({ usage: match[1]!, help: match[2]! });
    }
  }
  // Before `/quit`, which stays last.
  const quit = rows.findIndex((row) =>
    typeof row !== "string" && commandWord(row.usage) === "/quit"
  );
  rows.splice(quit < 0 ? rows.length : quit, 0, ...own);
  const width = Math.max(
    0,
    ...rows.map((row) => (typeof row === "string" ? 0 : row.usage.length)),
  );
  return rows.map((row) =>
    typeof row === "string" ? row : `${row.usage.padEnd(width + GAP)}${row.help}`
  );
}

/** `/theme [color|mono]` → `/theme`. */
function commandWord(usage: string): string {
  return usage.split(" ", 1)[0]!.toLowerCase();
}
