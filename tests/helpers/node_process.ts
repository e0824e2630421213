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
  /** Port of the SSH listener, when started with `ssh`. */
  readonly sshPort: number | undefined;
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
  /**
   * Run the SSH listener: `true` on a free loopback port, or that port.
   * @default false (SSH off)
   */
  ssh?: boolean | number;
  /**
   * Cluster secret, handed to the node in `MESHCHAT_CLUSTER_SECRET` (never on
   * its command line, where every local account could read it); `""` gives
   * the node no secret. A `--cluster-secret VALUE` pair in `args` (which the
   * node refuses) is taken out and used here instead, so older callers keep
   * working.
   * @default a random secret (the mesh stays off unless `args` asks for it)
   */
  secret?: string;
  /** Extra environment variables of the node process. @default none */
  env?: Record<string, string>;
  /** Extra `deno run` flags, e.g. `--inspect=127.0.0.1:0` for a memory bench. @default none */
  denoFlags?: readonly string[];
}

/** Ports {@linkcode freePort} handed out already: never twice in one process. */
const handedOut = new Set<number>();

/**
 * A loopback port that was free a moment ago (`--ssh-port 0` means "off",
 * so the SSH port is picked here). It lies below the kernel's ephemeral
 * range (32768+): a port picked there can be taken by any outgoing
 * connection (a node dialing its peers) before the node that was meant to
 * have it listens.
 *
 * @returns The port.
 * @throws {Error} When 200 tries found none free.
 */
export function freePort(): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10000 + Math.floor(Math.random() * 22000);
    if (handedOut.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      continue; // taken: try another
    }
    handedOut.add(port);
    return port;
  }
  throw new Error("No free loopback port below the ephemeral range");
}

/** The default ports of a 3-node cluster (client, SSH, mesh, HTTP; node 1, 2, 3). */
export const CLUSTER_DEFAULT_PORTS = [
  ...[8080, 8081, 8082, 2222, 2223, 2224, 7946, 7947, 7948],
  ...[8090, 8091, 8092],
];

/**
 * A port offset whose default cluster ports are free now and lie below
 * the kernel's ephemeral range (32768+), where outgoing connections could
 * take them: clear of a cluster a developer may be running.
 *
 * @returns The offset to add to each default port.
 * @throws {Error} When 50 tries found no free offset.
 */
export function freeClusterPortOffset(): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const offset = 10000 + Math.floor(Math.random() * 14000);
    try {
      for (const port of CLUSTER_DEFAULT_PORTS) {
        Deno.listen({ hostname: "127.0.0.1", port: port + offset }).close();
      }
      return offset;
    } catch {
      // taken: try another
    }
  }
  throw new Error("No free port offset for a local cluster");
}

/**
 * Spawns `main.ts node` on a free loopback port and waits until it listens.
 *
 * @param options Id and extra flags.
 * @returns The running node.
 * @throws {Error} When the node exits or does not listen in time (with its log).
 */
export async function startNodeProcess(options: StartNodeOptions = {}): Promise<NodeProcess> {
  const { id = "t1", startTimeoutMs = 20_000, ssh = false, env = {}, denoFlags = [] } = options;
  const { args, secret = options.secret ?? crypto.randomUUID() } = takeSecretFlag(
    options.args ?? [],
  );
  const sshPort = ssh === false ? 0 : ssh === true ? freePort() : ssh;
  // Unless a test says otherwise: a fresh data directory (removed at exit) and no mesh.
  const scratch = args.includes("--data")
    ? undefined
    : `./data/tmp/${id}-${crypto.randomUUID().slice(0, 8)}`;
  const defaults = [
    ...(scratch ? ["--data", scratch] : []),
    ...(args.includes("--mesh-port") ? [] : ["--mesh-port", "0"]),
    // HTTP's default port is fixed (8090): off unless a test asks for it.
    ...(args.includes("--http-port") ? [] : ["--http-port", "0"]),
  ];
  const command = new Deno.Command("deno", {
    args: [
      "run",
      "-P=node",
      "--quiet",
      ...denoFlags,
      "main.ts",
      "node",
      "--id",
      id,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--ssh-port",
      String(sshPort),
      ...defaults,
      ...args,
    ],
    env: { MESHCHAT_CLUSTER_SECRET: secret, ...env },
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
      const sshUp = sshPort === 0 || /listening what=ssh addr=[^\s:]+:\d+/.test(log);
      if (match && sshUp) listening.resolve(Number(match[1]));
    }
  };
  const streams = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const exited = child.status.then(async (status) => {
    await streams;
    listening.reject(new Error(`Node ${id} exited with ${status.code} before listening:\n${log}`));
    if (scratch) await Deno.remove(scratch, { recursive: true }).catch(() => {});
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
    sshPort: sshPort === 0 ? undefined : sshPort,
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

/**
 * Runs `main.ts node` where it must refuse to start (a bad flag, a damaged
 * data file, a taken port): on loopback, client port 0, SSH and mesh off, a
 * scratch data directory unless `args` gives `--data`.
 *
 * @param args Node flags.
 * @param env Extra environment variables (e.g. `MESHCHAT_CLUSTER_SECRET`).
 * @returns Its exit code, and what it wrote to stdout and stderr.
 */
export async function failingNodeStart(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; text: string }> {
  const scratch = args.includes("--data")
    ? undefined
    : `./data/tmp/fail-${crypto.randomUUID().slice(0, 8)}`;
  const output = await new Deno.Command("deno", {
    args: [
      "run",
      "-P=node",
      "--quiet",
      "main.ts",
      "node",
      ...["--host", "127.0.0.1", "--port", "0", "--ssh-port", "0", "--mesh-port", "0"],
      ...(scratch ? ["--data", scratch] : []),
      ...args,
    ],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  if (scratch) await Deno.remove(scratch, { recursive: true }).catch(() => {});
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, text: decode(output.stdout) + decode(output.stderr) };
}

/**
 * Takes `--cluster-secret VALUE` (or `--cluster-secret=VALUE`) out of a
 * node's arguments: the node refuses the flag, so the helper passes the
 * value in the environment instead.
 *
 * @param args Node flags.
 * @returns The other flags, and the secret when one was there.
 */
function takeSecretFlag(args: readonly string[]): { args: string[]; secret?: string } {
  const rest: string[] = [];
  let secret: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const match = /^--?cluster-secret(?:=(.*))?$/s.exec(arg);
    if (match === null) rest.push(arg);
    else secret = match[1] ?? args[++i] ?? "";
  }
  return secret === undefined ? { args: rest } : { args: rest, secret };
}
