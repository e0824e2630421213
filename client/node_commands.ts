/**
 * The command words a node understands (names and aliases of the table in
 * node/chat/commands.ts, which the client cannot import). In a sealed room the
 * client sends a `/`-line to the node only when it names one of these: any
 * other `/`-line is more likely a slip ("/ the code is 1234") than a
 * command, and the node would get it in plain text. A test keeps this list
 * equal to the node's table.
 *
 * @module
 */

/** Every command name and alias of the node's table, lowercase, without `/`. */
export const NODE_COMMANDS: ReadonlySet<string> = new Set([
  "help",
  "h",
  "who",
  "names",
  "nick",
  "me",
  "msg",
  "m",
  "query",
  "join",
  "j",
  "leave",
  "part",
  "rooms",
  "list",
  "topic",
  "history",
  "search",
  "unread",
  "mentions",
  "away",
  "back",
  "nodes",
  "stats",
  "whois",
  "whoami",
  "keys",
  "bot",
  "theme",
  "timestamp",
  "timestamps",
  "tz",
  "timezone",
  "seal",
  "ignore",
  "unignore",
  "motd",
  "web",
  "op",
  "deop",
  "kick",
  "ban",
  "unban",
  "banned",
  "mute",
  "unmute",
  "unseal",
  "quit",
  "exit",
  "bye",
]);

/**
 * Whether a typed word is a node command.
 *
 * @param word The first word of the line, with its `/` (`"/who"`).
 * @returns True when the node's table has it.
 */
export function isNodeCommand(word: string): boolean {
  return word.startsWith("/") && NODE_COMMANDS.has(word.slice(1).toLowerCase());
}
