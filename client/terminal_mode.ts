/**
 * Interactive mode: stdin in raw mode, a line editor at the bottom, incoming
 * messages printed above it without clobbering what is being typed.
 *
 * @module
 */
import { LineEditor } from "../core/line_editor.ts";
import { KeyDecoder } from "../core/terminal_input.ts";
import type { ChatClient } from "./chat_client.ts";
import type { ChatView, ViewLine } from "./chat_view.ts";

/** How long a lone ESC waits for the rest of a key sequence (ms). */
const ESCAPE_WAIT_MS = 50;

/** The interactive screen: owns the terminal while the client runs. */
export class TerminalScreen {
  readonly #editor: LineEditor;
  readonly #view: ChatView;
  readonly #color: boolean;
  readonly #encoder = new TextEncoder();
  readonly #nicks = new Set<string>();

  /**
   * @param view Supplies nick and room for the prompt.
   * @param color Colour the prompt.
   */
  constructor(view: ChatView, color: boolean) {
    this.#view = view;
    this.#color = color;
    this.#editor = new LineEditor({
      prompt: "> ",
      complete: (word) => {
        const lower = word.toLowerCase();
        return [...this.#nicks].filter((nick) => nick.toLowerCase().startsWith(lower));
      },
    });
    this.#editor.setWidth(terminalWidth());
  }

  /**
   * Prints lines above the input line.
   *
   * @param lines What to print.
   */
  print(lines: ViewLine[]): void {
    if (lines.length === 0) return;
    const text = lines.map((line) =>
      line.error && this.#color ? `\x1b[31m${line.text}\x1b[39m` : line.text
    );
    this.#write(this.#editor.printAbove(text.join("\n")));
  }

  /**
   * Remembers a nick for Tab completion.
   *
   * @param nick A nick seen in the chat.
   */
  noteNick(nick: string): void {
    this.#nicks.add(nick);
  }

  /** Redraws the prompt after nick or room changed. */
  refreshPrompt(): void {
    const room = this.#view.room ? `#${this.#view.room}` : "(no room)";
    const prompt = `[${room}] ${this.#view.nick}> `;
    this.#editor.setPrompt(this.#color ? `\x1b[1m${prompt}\x1b[22m` : prompt);
    this.#write(this.#editor.render());
  }

  /**
   * Reads keys until the person quits or the connection ends.
   *
   * @param client The connected client.
   * @returns The exit code.
   */
  async run(client: ChatClient): Promise<number> {
    Deno.stdin.setRaw(true, { cbreak: false });
    const onResize = () => {
      this.#editor.setWidth(terminalWidth());
      this.#write(this.#editor.render());
    };
    try {
      Deno.addSignalListener("SIGWINCH", onResize);
    } catch {
      // no SIGWINCH on this platform: keep the initial width
    }
    this.refreshPrompt();
    try {
      const outcome = await Promise.race([this.#readKeys(client), client.closed]);
      if (outcome === "quit" || outcome === "local-quit") return 0;
      this.print([{ text: outcome, error: true }]);
      return 1;
    } finally {
      try {
        Deno.removeSignalListener("SIGWINCH", onResize);
      } catch {
        // never added
      }
      this.#write(this.#editor.clear());
      Deno.stdin.setRaw(false);
    }
  }

  async #readKeys(client: ChatClient): Promise<string> {
    const decoder = new KeyDecoder();
    const text = new TextDecoder();
    const buffer = new Uint8Array(4096);
    let escapeTimer: ReturnType<typeof setTimeout> | undefined;
    const handleKeys = async (keys: ReturnType<KeyDecoder["feed"]>): Promise<boolean> => {
      for (const key of keys) {
        for (const action of this.#editor.handle(key)) {
          switch (action.type) {
            case "submit":
              if (/^\/(quit|exit|bye)\b/i.test(action.line)) {
                await client.quit();
                return true;
              }
              if (action.line.trim() !== "") client.send(action.line).catch(() => {});
              break;
            case "eof":
            case "interrupt":
              await client.quit();
              return true;
            case "bell":
              this.#write("\x07");
              break;
            case "candidates":
              this.print([{ text: action.items.join("  ") }]);
              break;
            case "redraw":
              this.#write(this.#editor.render());
              break;
          }
        }
      }
      return false;
    };
    while (true) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) {
        await client.quit();
        return "local-quit";
      }
      clearTimeout(escapeTimer);
      if (await handleKeys(decoder.feed(text.decode(buffer.subarray(0, n), { stream: true })))) {
        return "local-quit";
      }
      escapeTimer = setTimeout(() => handleKeys(decoder.flush()), ESCAPE_WAIT_MS);
    }
  }

  #write(text: string): void {
    if (text === "") return;
    const bytes = this.#encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
  }
}

function terminalWidth(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80;
  }
}
