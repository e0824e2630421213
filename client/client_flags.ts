/**
 * The terminal client's command-line flags, as one table: client/main.ts
 * parses the command line and prints `--help` from it, and
 * tests/docs/flag_tables.ts writes the flag table of docs/clients.md from
 * it, so the two cannot say different things.
 *
 * @module
 */
import type { FlagSpec } from "../core/cli_flags.ts";
import { ROOM_KEY_ENV } from "./passphrase.ts";

/** The terminal client's flags, by name: `--help` and the table in docs/clients.md are made from them. */
export const CLIENT_FLAGS = {
  server: {
    type: "string",
    default: "localhost:8080",
    arg: "HOST:PORT[,...]",
    help: "nodes to use: the first that answers; when it goes away, the next",
  },
  user: {
    type: "string",
    default: "",
    arg: "NICK",
    help: "your nick: 1-16 letters, digits, . _ -; unique ignoring case (required)",
  },
  room: { type: "string", default: "lobby", arg: "ROOM", help: "room to start in" },
  timestamps: {
    type: "boolean",
    default: true,
    help: "show HH:MM before each line (--no-timestamps)",
  },
  color: {
    type: "boolean",
    default: true,
    help: "colours (off with --no-color, when NO_COLOR is set, or when output is not a terminal)",
  },
  reconnect: {
    type: "number",
    default: 30,
    arg: "SECONDS",
    help: "how long to look for another node after losing one before giving up, 0 to 3600",
  },
  history: {
    type: "string",
    default: "",
    arg: "N",
    help: "messages of history shown on joining a room, 0 to 500 (0: none, for bots); " +
      "the node's default when not given",
  },
  identity: {
    type: "string",
    default: "",
    arg: "FILE",
    help: "your identity key: an unencrypted OpenSSH ed25519 key file, e.g. ~/.ssh/id_ed25519 " +
      "(default: id_ed25519 in the settings directory, made on the first run)",
  },
  guest: {
    type: "boolean",
    default: false,
    help: "join without a key, as a guest: you can use only nicks no key owns",
  },
  "key-file": {
    type: "string",
    default: "",
    arg: "FILE",
    help: `passphrase of sealed rooms, read from FILE (or set ${ROOM_KEY_ENV})`,
  },
} as const satisfies FlagSpec;
