/**
 * The meshchat terminal client.
 *
 * ```sh
 * deno run client/main.ts -server localhost:8080 -user alice
 * ```
 *
 * Interactive when stdin is a terminal; otherwise line mode for scripts.
 * It needs network access to the server and nothing else.
 *
 * @module
 */
import { type FlagSpec, formatHelp, parseFlags, UsageError } from "../core/cli_flags.ts";
import { ChatClient } from "./chat_client.ts";
import { ChatView, type ViewLine } from "./chat_view.ts";
import { runLineMode } from "./line_mode.ts";
import { ConnectError } from "./node_connection.ts";
import { TerminalScreen } from "./terminal_mode.ts";

const CLIENT_FLAGS = {
  server: {
    type: "string",
    default: "localhost:8080",
    arg: "HOST:PORT[,...]",
    help: "node to connect to; with several, the first that answers",
  },
  user: {
    type: "string",
    default: "",
    arg: "NICK",
    help: "your nick: 1-16 letters, digits, . _ - (required)",
  },
  room: { type: "string", default: "lobby", arg: "ROOM", help: "room to start in" },
  timestamps: {
    type: "boolean",
    default: true,
    help: "show HH:MM before each line (--no-timestamps)",
  },
  color: { type: "boolean", default: true, help: "colours (off with --no-color or NO_COLOR)" },
} as const satisfies FlagSpec;

const HELP = formatHelp(
  "Usage: deno run client/main.ts -server HOST:PORT -user NICK [flags]",
  CLIENT_FLAGS,
  [
    "Without a terminal on stdin it runs in line mode: each input line is sent,",
    "each event is printed as one plain line, and it exits after the last ack.",
    "In the chat, type /help for commands.",
  ],
);

async function main(args: readonly string[]): Promise<number> {
  const flags = parseFlags(CLIENT_FLAGS, args);
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  if (flags.rest.length > 0) {
    throw new UsageError(`Unexpected argument "${flags.rest[0]}": see --help`);
  }
  if (flags.user === "") {
    throw new UsageError("Missing -user NICK: choose a nick, e.g. -user alice");
  }
  const servers = flags.server.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  const color = flags.color && !Deno.noColor && interactive;
  const view = new ChatView({ color, timestamps: flags.timestamps });
  const screen = interactive ? new TerminalScreen(view, color) : undefined;
  const print = screen ? (lines: ViewLine[]) => screen.print(lines) : (lines: ViewLine[]) => {
    for (const line of lines) (line.error ? console.error : console.log)(line.text);
  };
  const client = await ChatClient.start({
    servers,
    user: flags.user,
    room: flags.room,
    view,
    print,
    ...(screen
      ? { onState: () => screen.refreshPrompt(), onNick: (nick: string) => screen.noteNick(nick) }
      : {}),
  });
  return screen ? await screen.run(client) : await runLineMode(client);
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConnectError) {
      console.error(`meshchat: ${error.message}`);
      Deno.exit(error instanceof UsageError ? 2 : 1);
    }
    throw error;
  }
}
