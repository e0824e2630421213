/**
 * Interactive mode: stdin in raw mode and the chat screen the SSH frontend
 * draws too (core/terminal_screen.ts): incoming messages printed above the
 * line being typed, and a no-echo prompt for sealed rooms' passphrases. This
 * module only moves bytes between the process's terminal and that screen,
 * and turns what is typed into the client's sends and quits.
 *
 * @module
 */
import { chatPrompt } from "../core/frame_view.ts";
import { ESCAPE_WAIT_MS, TerminalScreen } from "../core/terminal_screen.ts";
import type { ChatClient } from "./chat_client.ts";
import type { ChatView, ViewLine } from "./chat_view.ts";
import type { RoomStatus } from "./sealed_rooms.ts";

/** How a room looks in the prompt (what `SealedRooms.status` says). */
export type { RoomStatus };

/** What the prompt says after a room, by its seal status. */
const ROOM_NOTES: Readonly<Record<RoomStatus, string>> = {
  plain: "",
  open: " 🔒",
  locked: " 🔒 no key",
  wrong: " 🔒 wrong passphrase",
};

/**
 * The terminal the screen runs on. The default is the process's own
 * (`Deno.stdin`, `Deno.stdout`, `SIGWINCH`); a test passes a virtual one.
 */
export interface TerminalIo {
  /** Reads typed bytes; null at end of input. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): void;
  /** Raw mode on or off. */
  setRaw(raw: boolean): void;
  /** The window size. */
  size(): { columns: number; rows: number };
  /**
   * Calls `listener` after every change of the window size.
   *
   * @returns Stops calling it.
   */
  onResize(listener: () => void): () => void;
}

/** The process's terminal. */
export const processTerminal: TerminalIo = {
  read: (buffer) => Deno.stdin.read(buffer),
  write(bytes) {
    let offset = 0;
    while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
  },
  setRaw: (raw) => Deno.stdin.setRaw(raw, { cbreak: false }),
  size() {
    try {
      // A terminal without a size (some pseudo-terminals) reports 0.
      const { columns, rows } = Deno.consoleSize();
      return { columns: columns || 80, rows: rows || 24 };
    } catch {
      return { columns: 80, rows: 24 };
    }
  },
  onResize(listener) {
    try {
      Deno.addSignalListener("SIGWINCH", listener);
    } catch {
      return () => {}; // no SIGWINCH on this platform: the size stays
    }
    return () => Deno.removeSignalListener("SIGWINCH", listener);
  },
};

/** The interactive mode: owns the terminal while the client runs. */
export class TerminalMode {
  readonly #screen: TerminalScreen;
  readonly #view: ChatView;
  readonly #io: TerminalIo;
  readonly #encoder = new TextEncoder();
  readonly #nicks = new Set<string>();
  readonly #roomStatus: (room: string) => RoomStatus;
  readonly #connectionNote: () => string;

  /**
   * @param view Supplies nick, room and theme (`view.color`) for the prompt.
   * @param roomStatus Whether a room is sealed (a lock in the prompt).
   * @param io The terminal. @default processTerminal
   * @param connectionNote Said in the prompt about the connection (` not encrypted`), or "".
   */
  constructor(
    view: ChatView,
    roomStatus: (room: string) => RoomStatus = () => "plain",
    io: TerminalIo = processTerminal,
    connectionNote: () => string = () => "",
  ) {
    this.#view = view;
    this.#io = io;
    this.#roomStatus = roomStatus;
    this.#connectionNote = connectionNote;
    const { columns, rows } = io.size();
    this.#screen = new TerminalScreen({
      columns,
      rows,
      color: () => view.color,
      complete: (word) => {
        const lower = word.toLowerCase();
        return [...this.#nicks].filter((nick) => nick.toLowerCase().startsWith(lower));
      },
      // The client writes at once: a frame is shown when it is ready.
      onOutput: () => this.#write(this.#screen.takeOutput()),
    });
  }

  /**
   * Prints lines above the input line.
   *
   * @param lines What to print.
   */
  print(lines: ViewLine[]): void {
    this.#screen.print(lines);
  }

  /**
   * Asks for a secret on the input line without echoing it. Requests wait
   * their turn; the chat line being typed comes back afterwards.
   *
   * @param label The prompt, e.g. `Passphrase for #ops (not shown): `.
   * @returns What was typed, or undefined when cancelled (Esc, Ctrl+C, Ctrl+D)
   *   or the screen is closing.
   */
  askSecret(label: string): Promise<string | undefined> {
    return this.#screen.askSecret(label);
  }

  /** Cancels every open and queued secret prompt (the connection ended). */
  cancelSecrets(): void {
    this.#screen.cancelSecrets();
  }

  /**
   * Remembers a nick for Tab completion.
   *
   * @param nick A nick seen in the chat.
   */
  noteNick(nick: string): void {
    this.#nicks.add(nick);
  }

  /** Redraws the prompt after nick, room, theme or seal changed. */
  refreshPrompt(): void {
    this.#screen.setPrompt(this.#prompt());
  }

  /**
   * Reads keys until the person quits or the connection ends.
   *
   * @param client The connected client.
   * @returns The exit code.
   */
  async run(client: ChatClient): Promise<number> {
    this.#io.setRaw(true);
    this.#screen.start(this.#prompt());
    const stopResize = this.#io.onResize(() => {
      const { columns, rows } = this.#io.size();
      this.#screen.resize(columns, rows);
    });
    try {
      const outcome = await Promise.race([this.#readKeys(client), client.closed]);
      if (outcome === "quit" || outcome === "local-quit") return 0;
      // A sentence on the screen, like the lines above it (stderr's form is `meshchat: connection …`).
      this.print([{ text: outcome.charAt(0).toUpperCase() + outcome.slice(1), error: true }]);
      return 1;
    } finally {
      stopResize();
      this.#write(this.#screen.end());
      this.#io.setRaw(false);
    }
  }

  #prompt(): string {
    const room = this.#view.room;
    return chatPrompt(room, this.#view.nick, {
      color: this.#view.color,
      roomNote: (room ? ROOM_NOTES[this.#roomStatus(room)] : "") + this.#connectionNote(),
    });
  }

  async #readKeys(client: ChatClient): Promise<string> {
    const buffer = new Uint8Array(4096);
    let escapeTimer: ReturnType<typeof setTimeout> | undefined;
    try {
      while (true) {
        const n = await this.#io.read(buffer);
        if (n === null) {
          await client.quit();
          return "local-quit";
        }
        clearTimeout(escapeTimer);
        for (const input of this.#screen.feed(buffer.subarray(0, n))) {
          if (input.type === "quit" || /^\/(quit|exit|bye)\b/i.test(input.line)) {
            this.cancelSecrets();
            await client.quit(input.type === "line" ? input.line : undefined);
            return "local-quit";
          }
          client.send(input.line).catch(() => {});
        }
        if (this.#screen.escapePending) {
          escapeTimer = setTimeout(() => this.#screen.flushEscape(), ESCAPE_WAIT_MS);
        }
      }
    } finally {
      clearTimeout(escapeTimer);
    }
  }

  #write(text: string): void {
    if (text === "") return;
    this.#io.write(this.#encoder.encode(text));
  }
}
