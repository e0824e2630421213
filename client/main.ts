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
 * permission prompt (which raw mode could not answer). The `client`
 * permission set in deno.json grants all but the key file.
 *
 * @module
 */
import { type FlagSpec, formatHelp, parseFlags, UsageError } from "../core/cli_flags.ts";
import { SenderIdentity, SignerPins } from "../core/crypto/mod.ts";
import { ChatClient } from "./chat_client.ts";
import { ChatView, type ViewLine } from "./chat_view.ts";
import { runLineMode } from "./line_mode.ts";
import { ConnectError } from "./node_connection.ts";
import {
  askNewPassphrase,
  KeyFileError,
  MIN_NEW_PASSPHRASE_LENGTH,
  passphraseFromEnv,
  type PassphraseSource,
  readKeyFile,
  ROOM_KEY_ENV,
} from "./passphrase.ts";
import { SealedRooms } from "./sealed_rooms.ts";
import { TerminalScreen } from "./terminal_mode.ts";

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
  "key-file": {
    type: "string",
    default: "",
    arg: "FILE",
    help: `passphrase of sealed rooms, read from FILE (or set ${ROOM_KEY_ENV})`,
  },
} as const satisfies FlagSpec;

const HELP = formatHelp(
  "Usage: deno run client/main.ts -server HOST:PORT -user NICK [flags]",
  CLIENT_FLAGS,
  [
    "Without a terminal on stdin it runs in line mode: each input line is sent,",
    "each event is printed as one plain line, and it exits after the last ack.",
    "In the chat, type /help for commands; /seal ROOM seals a room end to end.",
    `Sealed rooms ask for their passphrase; line mode takes it from -key-file FILE`,
    `or ${ROOM_KEY_ENV} (reading FILE needs --allow-read=FILE).`,
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
  const keyFile = flags["key-file"];
  const fixed = keyFile !== "" ? await readKeyFile(keyFile) : passphraseFromEnv();
  const view = new ChatView({ color, timestamps: flags.timestamps });
  const screen = interactive
    ? new TerminalScreen(view, color, (room) => sealed.status(room))
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

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
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
