/**
 * The real terminal client (client/main.ts) as a child process in line mode,
 * with the Deno permissions a test chooses, and a TCP proxy that records
 * every byte a client sends a node.
 *
 * @module
 */
import { concatBytes } from "../../core/bytes.ts";

/** Options of {@linkcode ClientProcess}. */
export interface ClientProcessOptions {
  /**
   * Deno permission flags placed before `client/main.ts`.
   *
   * @default {["-P=client"]}
   */
  permissions?: string[];
  /** Extra environment variables. @default {} */
  env?: Record<string, string>;
  /**
   * Pass `--no-timestamps`, so lines compare without the clock.
   *
   * @default true
   */
  noTimestamps?: boolean;
  /** Kill the client after this long (ms), so a hung one cannot hang the suite; never when undefined. */
  killAfterMs?: number;
}

/** A client/main.ts process in line mode whose stdin stays open until {@linkcode ClientProcess.end}. */
export class ClientProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #exited = false;
  /** Everything printed on stdout so far. */
  stdout = "";
  /** Everything printed on stderr so far. */
  stderr = "";
  /** Resolves with the exit code. */
  readonly done: Promise<number>;

  /**
   * Starts the client.
   *
   * @param args Client flags (`-server`, `-user`, …).
   * @param options Permission flags and environment.
   */
  constructor(args: string[], options: ClientProcessOptions = {}) {
    const { permissions = ["-P=client"], env = {}, noTimestamps = true, killAfterMs } = options;
    this.#child = new Deno.Command("deno", {
      args: [
        "run",
        ...permissions,
        "--quiet",
        "client/main.ts",
        ...(noTimestamps ? ["--no-timestamps"] : []),
        ...args,
      ],
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    const collect = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) this[into] += chunk;
    };
    const timer = killAfterMs === undefined
      ? undefined
      : setTimeout(() => this.kill(), killAfterMs);
    this.done = Promise.all([
      collect(this.#child.stdout, "stdout"),
      collect(this.#child.stderr, "stderr"),
    ]).then(async () => (await this.#child.status).code).finally(() => {
      clearTimeout(timer);
      this.#exited = true;
    });
  }

  /**
   * Types one line.
   *
   * @param text The line, without line break.
   */
  async line(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(`${text}\n`));
  }

  /**
   * Closes stdin and waits for the exit.
   *
   * @returns The exit code.
   */
  async end(): Promise<number> {
    await this.#writer.close().catch(() => {});
    return await this.done;
  }

  /**
   * Waits until stdout or stderr matches; fails when the process exits first
   * (or after `waitMs`, so a broken client cannot hang the suite).
   *
   * @param pattern What to wait for.
   * @param stream Which output. @default "stdout"
   * @param waitMs Longest wait. @default 30000
   */
  async waitFor(pattern: RegExp, stream: "stdout" | "stderr" = "stdout", waitMs = 30_000) {
    const deadline = Date.now() + waitMs;
    while (!pattern.test(this[stream])) {
      if (this.#exited || Date.now() > deadline) {
        throw new Error(
          `Client ${stream} never matched ${pattern}:\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Kills the process (cleanup after a failure). */
  kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** A TCP proxy in front of a node that keeps every byte in both directions. */
export class RecordingProxy {
  readonly #toNode: Uint8Array[] = [];
  readonly #fromNode: Uint8Array[] = [];
  readonly #listener: Deno.TcpListener;
  readonly #conns: Deno.Conn[] = [];
  readonly #serving: Promise<void>;

  /** @param target The node's client port on 127.0.0.1. */
  constructor(target: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#serving = this.#serve(target);
  }

  /** The port clients connect to. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** Everything sent to the node so far, as text. */
  sent(): string {
    return new TextDecoder().decode(this.sentBytes());
  }

  /** Everything sent to the node so far. */
  sentBytes(): Uint8Array {
    return concatBytes(...this.#toNode);
  }

  /** Everything the node sent back so far. */
  receivedBytes(): Uint8Array {
    return concatBytes(...this.#fromNode);
  }

  async #serve(target: number): Promise<void> {
    const pipes: Promise<void>[] = [];
    try {
      for await (const client of this.#listener) {
        const node = await Deno.connect({ hostname: "127.0.0.1", port: target });
        this.#conns.push(client, node);
        pipes.push(pipe(client, node, this.#toNode), pipe(node, client, this.#fromNode));
      }
    } catch {
      // listener closed
    }
    await Promise.all(pipes);
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await this.#serving;
  }
}

async function pipe(from: Deno.Conn, to: Deno.Conn, record: Uint8Array[] | undefined) {
  const buffer = new Uint8Array(65536);
  try {
    while (true) {
      const n = await from.read(buffer);
      if (n === null) break;
      const chunk = buffer.slice(0, n);
      record?.push(chunk);
      let offset = 0;
      while (offset < chunk.length) offset += await to.write(chunk.subarray(offset));
    }
  } catch {
    // closed
  }
  try {
    await to.closeWrite();
  } catch {
    // already closed
  }
}
