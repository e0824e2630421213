/**
 * `main.ts cluster`: three nodes on this machine, joined into one mesh, with
 * their logs prefixed by node id. Ctrl-C stops all three; if this process
 * dies, the nodes see their stdin close and stop too, so nothing is orphaned.
 *
 * The nodes share a secret kept in `<data-root>/cluster.secret` (mode 0600,
 * made on the first run): never on a command line, and still there for a
 * node stopped by hand and started again, which the runner prints the
 * command for. A node that fails (exits with an error) stops the cluster.
 *
 * @module
 */
import { type FlagSpec, formatHelp, parseFlags, UsageError } from "../core/cli_flags.ts";
import { loadOrCreateClusterSecretFile } from "./cluster_secret.ts";

const CLUSTER_FLAGS = {
  nodes: { type: "number", default: 3, arg: "N", help: "how many nodes (1-9)" },
  host: {
    type: "string",
    default: "127.0.0.1",
    arg: "ADDR",
    help: "address the client and SSH ports listen on",
  },
  "log-level": {
    type: "string",
    default: "info",
    arg: "LEVEL",
    help: "debug, info, warn or error",
  },
  "data-root": {
    type: "string",
    default: "./data",
    arg: "DIR",
    help: "node i keeps its data in DIR/n<i>",
  },
  "port-offset": {
    type: "number",
    default: 0,
    arg: "N",
    help: "add N to every port (to run a second cluster beside the first)",
  },
} as const satisfies FlagSpec;

/** The text of `main.ts cluster --help`. */
export const CLUSTER_HELP = formatHelp(
  "Usage: deno task cluster [flags]    (or: ./start_cluster.sh [flags])",
  CLUSTER_FLAGS,
  [
    "Node i (1, 2, 3) listens for clients on 8079+i, SSH on 2221+i, mesh on 7945+i,",
    "keeps data in <data-root>/n<i>, and shares the cluster secret in",
    "<data-root>/cluster.secret (mode 0600, made on the first run; MESHCHAT_CLUSTER_SECRET",
    "overrides it). Ctrl-C stops all of them.",
  ],
);

const COLORS = [36, 35, 33, 32, 34, 31, 96, 95, 93];

async function prefixLines(stream: ReadableStream<Uint8Array>, prefix: string): Promise<void> {
  let carry = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (carry + chunk).split("\n");
    carry = lines.pop() ?? "";
    for (const line of lines) console.log(`${prefix} ${line}`);
  }
  if (carry) console.log(`${prefix} ${carry}`);
}

/**
 * Runs the local cluster until Ctrl-C (or SIGTERM).
 *
 * @param args Flags after `cluster`.
 * @param env Reads an environment variable.
 * @returns The exit code.
 * @throws {UsageError} On bad flags.
 */
export async function runLocalCluster(
  args: readonly string[],
  env: (name: string) => string | undefined,
): Promise<number> {
  const flags = parseFlags(CLUSTER_FLAGS, args);
  if (flags.help) {
    console.log(CLUSTER_HELP);
    return 0;
  }
  if (!Number.isInteger(flags.nodes) || flags.nodes < 1 || flags.nodes > 9) {
    throw new UsageError(`Invalid --nodes ${flags.nodes}: use 1 to 9`);
  }
  const offset = flags["port-offset"];
  if (!Number.isInteger(offset) || offset < -2000 || offset > 50000) {
    throw new UsageError(`Invalid --port-offset ${offset}: use a whole number from -2000 to 50000`);
  }
  const root = flags["data-root"].replace(/\/+$/, "") || ".";
  // The secret reaches the nodes by file or environment, never by flag: ps shows flags to everyone.
  const fromEnv = env("MESHCHAT_CLUSTER_SECRET") ?? "";
  const secretFile = `${root}/cluster.secret`;
  const created = fromEnv === "" && loadOrCreateClusterSecretFile(secretFile).created;
  const secretFlags = fromEnv === "" ? ["--cluster-secret-file", secretFile] : [];
  const color = !Deno.noColor && Deno.stdout.isTerminal();
  const children: Deno.ChildProcess[] = [];
  const commands: string[][] = [];
  for (let i = 1; i <= flags.nodes; i++) {
    const peers = Array.from({ length: flags.nodes }, (_, j) => `127.0.0.1:${7946 + offset + j}`)
      .filter((_, j) => j !== i - 1);
    const nodeArgs = [
      "--id",
      `n${i}`,
      "--data",
      `${flags["data-root"]}/n${i}`,
      "--host",
      flags.host,
      "--port",
      String(8079 + offset + i),
      "--ssh-port",
      String(2221 + offset + i),
      "--mesh-port",
      String(7945 + offset + i),
      ...(peers.length > 0 ? ["--peers", peers.join(",")] : []),
      "--log-level",
      flags["log-level"],
      ...secretFlags,
    ];
    commands.push(nodeArgs);
    const child = new Deno.Command("deno", {
      args: ["run", "-P=node", "--quiet", "main.ts", "node", ...nodeArgs, "--exit-on-stdin-eof"],
      env: { MESHCHAT_CLUSTER_SECRET: fromEnv },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const tag = color ? `\x1b[${COLORS[i - 1]}m[n${i}]\x1b[39m` : `[n${i}]`;
    prefixLines(child.stdout, tag);
    prefixLines(child.stderr, tag);
    children.push(child);
  }
  console.log(
    [
      `meshchat: local cluster of ${flags.nodes} nodes`,
      fromEnv === ""
        ? `  cluster secret:  ${secretFile} (${
          created ? "new, mode 0600" : "kept from the last run"
        })\n` +
          `                   a node started by hand joins with --cluster-secret-file ${secretFile}`
        : `  cluster secret:  from MESHCHAT_CLUSTER_SECRET`,
      `  terminal client: deno task client -server ${
        Array.from({ length: flags.nodes }, (_, j) => `localhost:${8080 + offset + j}`).join(",")
      } -user NAME`,
      `  ssh:             ssh -p ${2222 + offset} NAME@localhost`,
      `  Ctrl-C stops all nodes.`,
    ].join("\n"),
  );
  const stop = Promise.withResolvers<void>();
  let stopping = false;
  const onSignal = () => {
    stopping = true;
    stop.resolve();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  // A node stopped by hand (a signal, or a clean exit) leaves the others running and can be
  // started again; a node that fails (an error exit, e.g. a port in use) stops the cluster.
  const failed = Promise.withResolvers<void>();
  let running = children.length;
  const byHand = new Set<Deno.ChildProcess>();
  children.forEach((child, i) =>
    child.status.then((status) => {
      running--;
      if (stopping) return;
      if (status.code !== 0 && status.signal === null) failed.resolve();
      else if (running === 0) stop.resolve();
      else {
        byHand.add(child);
        console.log(
          `meshchat: n${i + 1} stopped (${
            status.signal ?? `exit ${status.code}`
          }); the others keep running. Start it again with:\n  deno task node ${
            commands[i]!.join(" ")
          }`,
        );
      }
    })
  );
  const first = await Promise.race([
    stop.promise.then(() => "signal"),
    failed.promise.then(() => "exit"),
  ]);
  stopping = true;
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
  }
  const statuses = await Promise.all(children.map((c) => c.status));
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  if (first === "exit") {
    console.error("meshchat: a node exited, so the cluster was stopped");
    return 1;
  }
  // Nodes stopped by hand earlier had their say when they stopped.
  return statuses.every((s, i) => s.success || s.signal === "SIGTERM" || byHand.has(children[i]!))
    ? 0
    : 1;
}
