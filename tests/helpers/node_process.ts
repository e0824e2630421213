/**
 * Starts real meshchat node processes for integration tests and stops them.
 *
 * @module
 */

/** A node process started by a test. */
export interface NodeProcess {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** Port of the client listener. */
  readonly port: number;
  /** Everything the node logged so far. */
  readonly log: () => string;
  /** Resolves with the exit status once the process ends. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Options of {@linkcode startNodeProcess}. */
export interface StartNodeOptions {
  /** Node id. @default "t1" */
  id?: string;
  /** Extra flags. */
  args?: string[];
  /** Longest wait for the node to listen (ms). @default 20000 */
  startTimeoutMs?: number;
}

/**
 * Spawns `main.ts node` on a free loopback port and waits until it listens.
 *
 * @param options Id and extra flags.
 * @returns The running node.
 * @throws {Error} When the node exits or does not listen in time (with its log).
 */
export async function startNodeProcess(options: StartNodeOptions = {}): Promise<NodeProcess> {
  const { id = "t1", args = [], startTimeoutMs = 20_000 } = options;
  const command = new Deno.Command("deno", {
    args: [
      "run",
      "-P=node",
      "--quiet",
      "main.ts",
      "node",
      "--id",
      id,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  let log = "";
  const listening = Promise.withResolvers<number>();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      log += chunk;
      const match = /listening what=clients addr=[^\s:]+:(\d+)/.exec(log);
      if (match) listening.resolve(Number(match[1]));
    }
  };
  const streams = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const exited = child.status.then(async (status) => {
    await streams;
    listening.reject(new Error(`Node ${id} exited with ${status.code} before listening:\n${log}`));
    return status;
  });
  const timer = setTimeout(
    () =>
      listening.reject(new Error(`Node ${id} did not listen within ${startTimeoutMs} ms:\n${log}`)),
    startTimeoutMs,
  );
  let port: number;
  try {
    port = await listening.promise;
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await exited;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    child,
    port,
    log: () => log,
    exited,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
      return await exited;
    },
  };
}
