/**
 * An SSH test client on `npm:ssh2`: logs in with a key, as a guest, or with
 * a forged key; opens PTY or plain sessions and records their output. Every
 * wait is bounded so a failing test stops by itself.
 *
 * @module
 */
// @deno-types="@types/ssh2"
import ssh2 from "ssh2";
import type { AuthenticationType, ClientChannel, ConnectConfig, PseudoTtyOptions } from "ssh2";
import { generateEd25519Key } from "../../node/frontends/ssh/ssh_host_key.ts";

/** How long a test waits for expected output (ms). */
const WAIT_MS = 10_000;

/** A generated ed25519 key pair. */
export interface TestKey {
  /** OpenSSH private key. */
  readonly private: string;
  /** `ssh-ed25519 AAAA...` line. */
  readonly public: string;
}

/**
 * Makes a throwaway ed25519 key.
 *
 * @returns The key pair.
 */
export function generateKey(): TestKey {
  const pair = generateEd25519Key();
  return { private: pair.privateKey, public: pair.publicKey };
}

/** How to log in. */
export interface SshLogin {
  /** User name (the nick asked for). */
  readonly username: string;
  /** Private key; without one, keyboard-interactive (a guest). */
  readonly key?: TestKey;
  /** Custom auth steps (forged keys...), replacing the above. */
  readonly authHandler?: ConnectConfig["authHandler"];
  /** Longest wait for the login (ms). @default 10000 */
  readonly waitMs?: number;
  /** Local address to connect from (another loopback address). */
  readonly localAddress?: string;
}

/** One logged-in SSH connection. */
export class SshTestClient {
  /** The ssh2 client. */
  readonly client: ssh2.Client;
  /** The host key the server presented (SSH wire format). */
  readonly hostKey: Uint8Array;

  private constructor(client: ssh2.Client, hostKey: Uint8Array) {
    this.client = client;
    this.hostKey = hostKey;
  }

  /**
   * Connects to 127.0.0.1 and logs in.
   *
   * @param port SSH port.
   * @param login User and credentials.
   * @returns The client, authenticated.
   * @throws {Error} When the login fails, the connection drops or time runs out.
   */
  static connect(port: number, login: SshLogin): Promise<SshTestClient> {
    const client = new ssh2.Client();
    let hostKey = new Uint8Array();
    const methods: AuthenticationType[] = login.key ? ["publickey"] : ["keyboard-interactive"];
    // Errors after the outcome (a reset after a refusal) are expected.
    client.on("error", () => {});
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.end();
        reject(new Error("SSH login timed out"));
      }, login.waitMs ?? WAIT_MS);
      const fail = (error: Error) => {
        clearTimeout(timer);
        client.end();
        reject(error);
      };
      client.on("keyboard-interactive", (_name, _instructions, _lang, _prompts, finish) => {
        finish([]);
      });
      // Without this, Nagle's algorithm adds ~40 ms per round trip.
      client.once("connect", () => client.setNoDelay(true));
      client.once("ready", () => {
        clearTimeout(timer);
        resolve(new SshTestClient(client, hostKey));
      });
      client.once("error", fail);
      client.once("close", () => fail(new Error("SSH connection closed before login")));
      client.connect({
        host: "127.0.0.1",
        port,
        username: login.username,
        ...(login.key ? { privateKey: login.key.private } : {}),
        ...(login.localAddress ? { localAddress: login.localAddress } : {}),
        authHandler: login.authHandler ?? methods,
        tryKeyboard: !login.key,
        readyTimeout: login.waitMs ?? WAIT_MS,
        hostVerifier: (key: Uint8Array) => {
          hostKey = new Uint8Array(key);
          return true;
        },
      });
    });
  }

  /**
   * Opens a shell: with a PTY (a line editor session) or without (plain lines).
   *
   * @param pty Terminal size and type, or false for no PTY.
   * @returns The session's stream.
   */
  shell(pty: PseudoTtyOptions | false = false): Promise<SshStream> {
    return new Promise((resolve, reject) => {
      const done = (error: Error | undefined, channel: ClientChannel) =>
        error ? reject(error) : resolve(new SshStream(channel));
      if (pty === false) this.client.shell(false, done);
      else this.client.shell(pty, done);
    });
  }

  /**
   * Runs a command (plain line mode; its text is the first line).
   *
   * @param command The command.
   * @returns The session's stream.
   */
  exec(command: string): Promise<SshStream> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (error, channel) => {
        if (error) reject(error);
        else resolve(new SshStream(channel));
      });
    });
  }

  /** Ends the connection. */
  end(): void {
    this.client.end();
  }
}

/** Output of one session channel, recorded. */
export class SshStream {
  /** The channel. */
  readonly channel: ClientChannel;
  /** Everything received so far (stdout), decoded. */
  text = "";
  /** Resolves when the channel closes. */
  readonly closed: Promise<void>;
  /** Exit status, once sent. */
  exitCode: number | undefined;
  #cursor = 0;
  #wake: (() => void) | undefined;
  #ended = false;

  constructor(channel: ClientChannel) {
    this.channel = channel;
    const decoder = new TextDecoder();
    channel.on("data", (data: Uint8Array) => {
      this.text += decoder.decode(data, { stream: true });
      this.#wake?.();
    });
    channel.stderr.on("data", () => {});
    channel.on("exit", (code: number | null) => {
      this.exitCode = code ?? undefined;
    });
    this.closed = new Promise((resolve) => {
      channel.on("close", () => {
        this.#ended = true;
        this.#wake?.();
        resolve();
      });
    });
  }

  /**
   * Sends input.
   *
   * @param text What to type.
   */
  write(text: string): void {
    this.channel.write(text);
  }

  /**
   * Waits until output after what earlier waits consumed matches.
   *
   * @param pattern Text or regular expression.
   * @param waitMs Longest wait.
   * @returns The output up to the end of the match.
   * @throws {Error} On timeout or close, with the output seen.
   */
  async waitFor(pattern: string | RegExp, waitMs = WAIT_MS): Promise<string> {
    const deadline = Date.now() + waitMs;
    while (true) {
      const rest = this.text.slice(this.#cursor);
      const match = typeof pattern === "string"
        ? (rest.includes(pattern)
          ? { index: rest.indexOf(pattern), length: pattern.length }
          : undefined)
        : (() => {
          const m = pattern.exec(rest);
          return m ? { index: m.index, length: m[0].length } : undefined;
        })();
      if (match) {
        const end = this.#cursor + match.index + match.length;
        const seen = this.text.slice(this.#cursor, end);
        this.#cursor = end;
        return seen;
      }
      const left = deadline - Date.now();
      if (this.#ended || left <= 0) {
        throw new Error(
          `Expected ${pattern} did not arrive (${this.#ended ? "channel closed" : "timeout"}); ` +
            `output since last match:\n${JSON.stringify(rest.slice(-2000))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /**
   * Waits for the channel to close.
   *
   * @param waitMs Longest wait.
   * @throws {Error} On timeout.
   */
  async waitClosed(waitMs = WAIT_MS): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("Channel did not close")), waitMs);
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends EOF. */
  end(): void {
    this.channel.end();
  }
}
