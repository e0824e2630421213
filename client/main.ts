/**
 * The meshchat terminal client.
 *
 * ```sh
 * deno run client/main.ts -server localhost:8080 -user alice
 * ```
 *
 * Interactive when stdin is a terminal; otherwise line mode for scripts.
 * It needs network access to the server; for sealed rooms also read access
 * to the `-key-file` if one is given, and env access to `MESHCHAT_ROOM_KEY`
 * if that is used (never asked for: without it the variable is ignored).
 * The key derivation Worker loads from no file, so `/seal` never needs a
 * permission prompt (which raw mode could not answer). Saved settings
 * (`/theme`, `/timestamp`, `/tz`, `/ignore`) need env access to `HOME` and
 * `XDG_CONFIG_HOME` and read and write access to the settings directory: an
 * interactive client asks before the terminal goes raw; without them the
 * settings last for the session only. The `client` permission set in
 * deno.json grants all but the key file and the settings directory.
 *
 * @module
 */
import { type FlagSpec, formatHelp, parseFlags, UsageError } from "../core/cli_flags.ts";
import { SenderIdentity, SignerPins } from "../core/crypto/mod.ts";
import { MAX_HELLO_HISTORY } from "../core/protocol.ts";
import { ChatClient } from "./chat_client.ts";
import { ChatView, type ViewLine } from "./chat_view.ts";
import { runLineMode } from "./line_mode.ts";
import { ConnectError, parseAddress } from "./node_connection.ts";
import {
  askNewPassphrase,
  KeyFileError,
  MIN_NEW_PASSPHRASE_LENGTH,
  passphraseFromEnv,
  type PassphraseSource,
  readKeyFile,
  ROOM_KEY_ENV,
} from "./passphrase.ts";
import { Preferences } from "./preferences.ts";
import { SealedRooms } from "./sealed_rooms.ts";
import { SettingsFile } from "./settings.ts";
import { processTerminal, type TerminalIo, TerminalMode } from "./terminal_mode.ts";

const CLIENT_FLAGS = {
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
    help: "your nick: 1-16 letters, digits, . _ - (required)",
  },
  room: { type: "string", default: "lobby", arg: "ROOM", help: "room to start in" },
  timestamps: {
    type: "boolean",
    default: true,
    help: "show HH:MM before each line (--no-timestamps)",
  },
  color: { type: "boolean", default: true, help: "colours (off with --no-color or NO_COLOR)" },
  reconnect: {
    type: "number",
    default: 30,
    arg: "SECONDS",
    help: "how long to look for another node after losing one before giving up",
  },
  history: {
    type: "string",
    default: "",
    arg: "N",
    help: "messages of history shown on joining a room, 0 to 500 (0: none, for bots); " +
      "the node's default when not given",
  },
  "key-file": {
    type: "string",
    default: "",
    arg: "FILE",
    help: `passphrase of sealed rooms, read from FILE (or set ${ROOM_KEY_ENV})`,
  },
} as const satisfies FlagSpec;

const HELP = formatHelp(
  "Usage: deno task client -server HOST:PORT -user NICK [flags]    (or: deno run client/main.ts ...)",
  CLIENT_FLAGS,
  [
    "Without a terminal on stdin it runs in line mode: each input line is sent,",
    "each event is printed as one plain line, and it exits after the last ack.",
    "In the chat, type /help for commands; /seal ROOM seals a room end to end.",
    "/theme, /timestamp, /tz and /ignore are saved in $XDG_CONFIG_HOME/meshchat/settings.json",
    "(~/.config/meshchat/settings.json) when the client may use that directory: deno task client",
    "grants it; a plain deno run asks for the network only, and keeps them for the session.",
    `Sealed rooms ask for their passphrase; line mode takes it from -key-file FILE`,
    `or ${ROOM_KEY_ENV} (reading FILE needs --allow-read=FILE).`,
  ],
);

/** Options of {@linkcode runClient}. */
export interface RunClientOptions {
  /**
   * Run interactively on this terminal.
   *
   * @default {the process's terminal when stdin and stdout are one; else line mode}
   */
  terminal?: TerminalIo;
  /**
   * Where the settings file is.
   *
   * @default {`$XDG_CONFIG_HOME/meshchat`, else `~/.config/meshchat`}
   */
  settingsDirectory?: string;
}

/**
 * Runs the client as its command line says, until the person quits or the
 * node is gone.
 *
 * @param args The command line (without the program name).
 * @param options The terminal and settings directory (tests give their own).
 * @returns The exit code.
 * @throws {UsageError} For a mistake on the command line.
 * @throws {ConnectError} When no node lets the client in.
 * @throws {KeyFileError} When the key file cannot be read.
 */
export async function runClient(
  args: readonly string[],
  options: RunClientOptions = {},
): Promise<number> {
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
  const history = parseHistory(flags.history);
  if (!(flags.reconnect >= 0 && flags.reconnect <= 3600)) {
    throw new UsageError(
      `Invalid value for --reconnect: ${flags.reconnect} is not a number of seconds from 0 to 3600`,
    );
  }
  const servers = flags.server.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (servers.length === 0) {
    throw new UsageError("Missing -server HOST:PORT: e.g. -server localhost:8080");
  }
  for (const server of servers) {
    // A typo in a flag is a usage mistake (exit 2), not an unreachable node.
    try {
      parseAddress(server);
    } catch (error) {
      if (error instanceof ConnectError) throw new UsageError(error.message);
      throw error;
    }
  }
  const terminal = options.terminal ??
    (Deno.stdin.isTerminal() && Deno.stdout.isTerminal() ? processTerminal : undefined);
  const interactive = terminal !== undefined;
  const color = flags.color && !Deno.noColor && interactive;
  const keyFile = flags["key-file"];
  const fixed = keyFile !== "" ? await readKeyFile(keyFile) : passphraseFromEnv();
  const view = new ChatView({ color, timestamps: flags.timestamps });
  const saved = SettingsFile.open({
    ...(options.settingsDirectory === undefined ? {} : { directory: options.settingsDirectory }),
  });
  if (saved.warning !== undefined) console.error(`meshchat: ${saved.warning}`);
  const preferences = new Preferences(view, {
    settings: saved.settings,
    save: (chosen) => saved.file.save(chosen),
    colorAvailable: color,
  });
  // A flag given on the command line wins over what was saved, for this run.
  if (args.some((arg) => /^--?(no-)?timestamps(=|$)/.test(arg))) view.timestamps = flags.timestamps;
  const screen = terminal
    ? new TerminalMode(view, (room) => sealed.status(room), terminal)
    : undefined;
  const print = screen ? (lines: ViewLine[]) => screen.print(lines) : (lines: ViewLine[]) => {
    for (const line of lines) (line.error ? console.error : console.log)(line.text);
  };
  const passphrase: PassphraseSource = async ({ room, purpose }) => {
    if (fixed !== undefined && purpose !== "retry") {
      if (purpose === "seal" && [...fixed].length < MIN_NEW_PASSPHRASE_LENGTH) {
        print([{
          text:
            `error: The passphrase is too short to seal a room: use at least ${MIN_NEW_PASSPHRASE_LENGTH} characters`,
          error: true,
        }]);
        return undefined;
      }
      return fixed;
    }
    if (screen === undefined) {
      print([{
        text:
          `error: No passphrase for sealed #${room}: give -key-file FILE or set ${ROOM_KEY_ENV}`,
        error: true,
      }]);
      return undefined;
    }
    if (purpose !== "seal") return await screen.askSecret(`Passphrase for #${room} (not shown): `);
    const asked = await askNewPassphrase((label) => screen.askSecret(label), room);
    if ("refusal" in asked) {
      print([{ text: asked.refusal, error: true }]);
      return undefined;
    }
    return asked.passphrase;
  };
  // Sealed messages are signed with a key made for this session only.
  const sealed = new SealedRooms({
    passphrase,
    identity: await SenderIdentity.generate(),
    pins: new SignerPins(),
  });
  const client = await ChatClient.start({
    servers,
    user: flags.user,
    room: flags.room,
    view,
    print,
    sealed,
    preferences,
    reconnectWindowMs: flags.reconnect * 1000,
    ...(history === undefined ? {} : { history }),
    ...(screen
      ? {
        onState: () => screen.refreshPrompt(),
        onNick: (nick: string) => screen.noteNick(nick),
        onEnd: () => screen.cancelSecrets(),
      }
      : {}),
  });
  return screen ? await screen.run(client) : await runLineMode(client);
}

/** `-history N`: undefined when not given. */
function parseHistory(value: string): number | undefined {
  if (value === "") return undefined;
  const count = Number(value);
  if (!/^\d+$/.test(value.trim()) || count > MAX_HELLO_HISTORY) {
    throw new UsageError(
      `Invalid value for --history: "${value}" is not a number from 0 to ${MAX_HELLO_HISTORY}`,
    );
  }
  return count;
}

if (import.meta.main) {
  try {
    Deno.exit(await runClient(Deno.args));
  } catch (error) {
    if (
      error instanceof UsageError || error instanceof ConnectError || error instanceof KeyFileError
    ) {
      console.error(`meshchat: ${error.message}`);
      Deno.exit(error instanceof ConnectError ? 1 : 2);
    }
    throw error;
  }
}
