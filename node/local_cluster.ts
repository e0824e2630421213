/**
 * `main.ts cluster`: three nodes on this machine, joined into one mesh, with
 * their logs prefixed by node id. Ctrl-C stops all three; if this process
 * dies, the nodes see their stdin close and stop too, so nothing is orphaned.
 *
 * A node that exits (kill -9, a crash) leaves the others running: the runner
 * says which node and how it ended (exit code or signal, its last log line)
 * and starts it again after a pause that grows while it keeps dying quickly
 * ({@linkcode RestartBackoff}); it then catches up from its snapshot and its
 * peers. A node that exits before listening three times in a row (a port in
 * use, say) would only repeat the error: the runner stops the cluster and
 * says why. With `--no-restart` a node that exits stays down, and the runner
 * prints the command that starts it again.
 *
 * The nodes share a secret kept in `<data-root>/cluster.secret` (mode 0600,
 * made on the first run): never on a command line, and still there for a
 * node started by hand.
 *
 * @module
 */
import { type FlagSpec, formatHelp, parseFlags, UsageError } from "../core/cli_flags.ts";
import { loadOrCreateClusterSecretFile } from "./mesh/cluster_secret.ts";
import { RestartBackoff } from "./restart_backoff.ts";

/** The flags of `main.ts cluster`: `--help` and the docs' table are made from them. */
export const CLUSTER_FLAGS = {
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
  restart: {
    type: "boolean",
    default: true,
    help: "start a node that exits again (--no-restart: leave it down, for experiments)",
  },
} as const satisfies FlagSpec;

/** The text of `main.ts cluster --help`. */
export const CLUSTER_HELP = formatHelp(
  "Usage: deno task cluster [flags]    (or: ./start_cluster.sh [flags])",
  CLUSTER_FLAGS,
  [
    "Node i (1, 2, 3) listens for clients on 8079+i, SSH on 2221+i, mesh on 7945+i,",
    "HTTP (health, metrics) on 8089+i, keeps data in <data-root>/n<i>, and shares the",
    "cluster secret in <data-root>/cluster.secret (mode 0600, made on the first run;",
    "MESHCHAT_CLUSTER_SECRET overrides it). A node that exits is started again after 1 s (up to 10 s while it keeps",
    "dying quickly); one that fails to start three times in a row stops the cluster.",
    "Ctrl-C stops all of them.",
  ],
);

const COLORS = [36, 35, 33, 32, 34, 31, 96, 95, 93];

/**
 * The permissions a node of the cluster runs with: the same as `deno task node`
 * (deno.json spells them out as flags, since `-P` makes Deno print a warning on every start).
 */
export const NODE_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read=./data",
  "--allow-write=./data",
  "--allow-env=MESHCHAT_CLUSTER_SECRET",
];

// Ctrl-C in a terminal reaches the nodes as well as the runner (one process group); a node that
// exits this soon after may be shutting down for the same Ctrl-C, so its exit waits for the
// runner's own signal before it is reported as a crash.
const SIGNAL_GRACE_MS = 250;

/**
 * Copies a node's output lines to ours with a prefix and hands each to `onLine`.
 *
 * @param stream The node's stdout or stderr.
 * @param prefix Printed before each line.
 * @param onLine Called with each line, without the prefix.
 */
async function prefixLines(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
  onLine: (line: string) => void,
): Promise<void> {
  let carry = "";
  const emit = (line: string) => {
    console.log(`${prefix} ${line}`);
    onLine(line);
  };
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (carry + chunk).split("\n");
    carry = lines.pop() ?? "";
    lines.forEach(emit);
  }
  if (carry) emit(carry);
}

/**
 * How a process ended, in words: `exit code 1`, `killed by SIGKILL`.
 *
 * @param status The exit status.
 * @returns The words.
 */
function describeExit(status: Deno.CommandStatus): string {
  return status.signal === null ? `exit code ${status.code}` : `killed by ${status.signal}`;
}

/** One node of the cluster: its command, its current process and how its runs went. */
interface ClusterNode {
  readonly id: string;
  readonly args: readonly string[];
  readonly backoff: RestartBackoff;
  child: Deno.ChildProcess | undefined;
  startedAt: number;
  listening: boolean;
  lastLine: string;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Runs the local cluster until Ctrl-C (or SIGTERM).
 *
 * @param args Flags after `cluster`.
 * @param env Reads an environment variable.
 * @returns The exit code: 0 after Ctrl-C, 1 when a node could not start.
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
  const restart = flags.restart;
  const root = flags["data-root"].replace(/\/+$/, "") || ".";
  // The secret reaches the nodes by file or environment, never by flag: ps shows flags to everyone.
  const fromEnv = env("MESHCHAT_CLUSTER_SECRET") ?? "";
  const secretFile = `${root}/cluster.secret`;
  const created = fromEnv === "" && loadOrCreateClusterSecretFile(secretFile).created;
  const secretFlags = fromEnv === "" ? ["--cluster-secret-file", secretFile] : [];
  const color = !Deno.noColor && Deno.stdout.isTerminal();
  const nodes: ClusterNode[] = [];
  for (let i = 1; i <= flags.nodes; i++) {
    const peers = Array.from({ length: flags.nodes }, (_, j) => `127.0.0.1:${7946 + offset + j}`)
      .filter((_, j) => j !== i - 1);
    nodes.push({
      id: `n${i}`,
      args: [
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
        "--http-port",
        String(8089 + offset + i),
        ...(peers.length > 0 ? ["--peers", peers.join(",")] : []),
        "--log-level",
        flags["log-level"],
        ...secretFlags,
      ],
      backoff: new RestartBackoff(),
      child: undefined,
      startedAt: 0,
      listening: false,
      lastLine: "",
      restartTimer: undefined,
    });
  }

  let stopping = false;
  const stop = Promise.withResolvers<number>();
  const finish = (code: number) => {
    stopping = true;
    stop.resolve(code);
  };
  const start = (node: ClusterNode, index: number) => {
    node.restartTimer = undefined;
    if (stopping) return;
    // stdin stays open and unused: when this process dies, however it dies, the node sees it close.
    const child = new Deno.Command("deno", {
      args: [
        "run",
        ...NODE_PERMISSIONS,
        "--quiet",
        "main.ts",
        "node",
        ...node.args,
        "--exit-on-stdin-eof",
      ],
      env: { MESHCHAT_CLUSTER_SECRET: fromEnv },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    Object.assign(node, { child, startedAt: Date.now(), listening: false, lastLine: "" });
    const tag = color ? `\x1b[${COLORS[index]}m[${node.id}]\x1b[39m` : `[${node.id}]`;
    const onLine = (line: string) => {
      if (line.trim() === "") return;
      node.lastLine = line.replace(/\x1b\[[0-9;]*m/g, "").trim();
      if (node.lastLine.includes("listening what=clients")) {
        node.listening = true;
        if (nodes.every((n) => n.listening)) showBanner();
      }
    };
    const output = Promise.all([
      prefixLines(child.stdout, tag, onLine),
      prefixLines(child.stderr, tag, onLine),
    ]);
    child.status.then(async (status) => {
      await output;
      await new Promise((r) => setTimeout(r, SIGNAL_GRACE_MS));
      if (stopping) return;
      node.child = undefined;
      onExit(node, index, status);
    });
  };
  const onExit = (node: ClusterNode, index: number, status: Deno.CommandStatus) => {
    const exited = `meshchat: ${node.id} exited (${describeExit(status)}); its last log line: ${
      node.lastLine === "" ? "(none)" : `[${node.id}] ${node.lastLine}`
    }`;
    if (!restart) {
      console.log(
        `${exited}\n` +
          `  it stays down (--no-restart); the others keep running. Start it again with:\n` +
          `  deno task node ${node.args.join(" ")}`,
      );
      if (nodes.every((n) => n.child === undefined)) finish(0);
      return;
    }
    const delay = node.backoff.next({
      ranMs: Date.now() - node.startedAt,
      started: node.listening,
    });
    if (delay === undefined) {
      console.error(
        `${exited}\n` +
          `meshchat: ${node.id} failed to start ${node.backoff.failedStarts} times in a row; ` +
          `stopping the cluster. Fix the cause above and run deno task cluster again.`,
      );
      finish(1);
      return;
    }
    console.log(
      `${exited}\n  restarting it in ${delay / 1000} s; the others keep running ` +
        `(--no-restart keeps a node down)`,
    );
    node.restartTimer = setTimeout(() => start(node, index), delay);
  };
  // The banner comes once every node listens, below their start-up lines where a person looks
  // (and clear of Deno's download progress on a first run, which can erase the first lines printed).
  let bannerShown = false;
  const showBanner = () => {
    if (bannerShown) return;
    bannerShown = true;
    console.log(banner);
  };
  const banner = [
    `meshchat: local cluster of ${flags.nodes} nodes is up`,
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
    `  web:             http://localhost:${8090 + offset}/`,
    restart
      ? `  a node that exits is started again after a short pause; Ctrl-C stops all nodes.`
      : `  a node that exits stays down (--no-restart); Ctrl-C stops all nodes.`,
  ].join("\n");
  nodes.forEach(start);
  const onSignal = () => finish(0);
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let code = await stop.promise;
  for (const node of nodes) clearTimeout(node.restartTimer);
  const running = nodes.flatMap((node) => node.child ? [node.child] : []);
  for (const child of running) {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
  }
  const statuses = await Promise.all(running.map((child) => child.status));
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  // A node that was still running must stop cleanly (one that had just been restarted may die of
  // the signal before it handles it); one already down had its say when it exited.
  if (!statuses.every((s) => s.success || s.signal === "SIGTERM" || s.signal === "SIGINT")) {
    code = 1;
  }
  return code;
}
