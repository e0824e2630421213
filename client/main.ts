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
 * The client's identity is an ed25519 key in the settings directory
 * (client/identity_key.ts), made on the first run and proven in every
 * `hello` (client/key_hello.ts); `-identity FILE` uses another key file,
 * `-guest` none. Without access to the settings directory it is a guest.
 *
 * @module
 */
import { formatHelp, parseFlags, UsageError } from "../core/cli_flags.ts";
import { SenderIdentity, SignerPins } from "../core/crypto/mod.ts";
import { MAX_HELLO_HISTORY } from "../core/protocol.ts";
import { ChatClient } from "./chat_client.ts";
import { CLIENT_FLAGS } from "./client_flags.ts";
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
import { pinnedConnect } from "./pinned_connect.ts";
import { ServerPins } from "./server_pins.ts";
import { IdentityKeyError, loadIdentity } from "./identity_key.ts";
import type { SshEd25519Key } from "../core/crypto/ssh_ed25519_key.ts";
import { SealedRooms } from "./sealed_rooms.ts";
import { SettingsFile } from "./settings.ts";
import { processTerminal, type TerminalIo, TerminalMode } from "./terminal_mode.ts";

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
    "Your identity is the key in $XDG_CONFIG_HOME/meshchat/id_ed25519 (made on the first run):",
    "the first nick it uses is yours on every node; ssh -i that file logs in as you too.",
    `Sealed rooms ask for their passphrase; line mode takes it from -key-file FILE`,
    `or ${ROOM_KEY_ENV} (reading FILE needs --allow-read=FILE).`,
    "The connection is encrypted (TLS). A node's own certificate is pinned on first use in",
    "$XDG_CONFIG_HOME/meshchat/known_nodes, one line per address; a changed one is refused",
    "(remove its line to accept it). A node without TLS is used with a NOT encrypted warning.",
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
 * @throws {IdentityKeyError} When the identity key cannot be read or made.
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
  // Node certificates pinned on first use, beside the settings (known_nodes).
  const pinFile = ServerPins.open(saved.file.directory);
  if (pinFile.warning !== undefined) console.error(`meshchat: ${pinFile.warning}`);
  const identity = await identityOf(flags.identity, flags.guest, saved.file.directory, interactive);
  const preferences = new Preferences(view, {
    settings: saved.settings,
    save: (chosen) => saved.file.save(chosen),
    colorAvailable: color,
  });
  // A flag given on the command line wins over what was saved, for this run.
  if (args.some((arg) => /^--?(no-)?timestamps(=|$)/.test(arg))) view.timestamps = flags.timestamps;
  // While the connection is plain text, the prompt says so (set by each connect).
  let plainText = false;
  const screen = terminal
    ? new TerminalMode(
      view,
      (room) => sealed.status(room),
      terminal,
      () => plainText ? " ⚠ not encrypted" : "",
    )
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
  // A script hears only warnings (on stderr); a person also hears of a first pin.
  const openNode = pinnedConnect(pinFile.pins, (lines, warning) => {
    if (screen) screen.print(lines.map((text) => ({ text, error: warning })));
    else if (warning) { for (const line of lines) console.error(line); }
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
    connect: async (server: string) => {
      const conn = await openNode(server);
      plainText = conn.security.kind === "plain";
      return conn;
    },
    ...(identity === undefined ? {} : { identity }),
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

/**
 * The identity key the flags ask for (none with `-guest`), saying on stderr
 * when it was made, or (to a person, not a script) why there is none.
 */
async function identityOf(
  file: string,
  guest: boolean,
  directory: string | undefined,
  interactive: boolean,
): Promise<SshEd25519Key | undefined> {
  if (guest) {
    if (file !== "") throw new UsageError("Give -identity FILE or -guest, not both");
    return undefined;
  }
  const loaded = await loadIdentity({ directory, ...(file === "" ? {} : { file }) });
  if (loaded.notice !== undefined && interactive) console.error(`meshchat: ${loaded.notice}`);
  if (loaded.created && loaded.key !== undefined) {
    console.error(
      `meshchat: made your identity key ${loaded.path} (${await loaded.key.fingerprint()}): ` +
        `the first nick it uses is yours on every node; ssh -i ${loaded.path} logs in as you too`,
    );
  }
  return loaded.key;
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
      error instanceof UsageError || error instanceof ConnectError ||
      error instanceof KeyFileError || error instanceof IdentityKeyError
    ) {
      console.error(`meshchat: ${error.message}`);
      Deno.exit(error instanceof ConnectError ? 1 : 2);
    }
    throw error;
  }
}
