/**
 * meshchat's composition root: reads flags, builds the logger, starts the
 * node, and stops it on SIGINT/SIGTERM.
 *
 * ```sh
 * deno run -P=node main.ts node --port 8080
 * deno run -P=node main.ts node --help
 * ```
 *
 * @module
 */
import { UsageError } from "./core/cli_flags.ts";
import { createLogger } from "./node/logger.ts";
import { OpsFileError, startNode } from "./node/node.ts";
import { NODE_HELP, parseNodeConfig } from "./node/node_config.ts";
import { HostKeyError } from "./node/frontends/ssh/ssh_host_key.ts";
import { ClientCertificateError } from "./node/frontends/tcp/client_tls.ts";
import { NatsStartError } from "./node/nats/nats_replication.ts";
import { SnapshotStore, SnapshotStoreError } from "./node/store/snapshot_store.ts";
import { runLocalCluster } from "./node/local_cluster.ts";
import { securePrivateDir } from "./node/store/private_dir.ts";

/** Reads the one environment variable the node may use (permission is scoped to it). */
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

async function stdinClosed(): Promise<void> {
  const buffer = new Uint8Array(1024);
  while ((await Deno.stdin.read(buffer)) !== null) {
    // the cluster runner never writes; only the end matters
  }
}

const USAGE = `meshchat — self-hosted terminal chat

Usage:
  deno task node [flags]      run one node (see: deno task node --help)
  deno task cluster           run a local 3-node cluster
  deno task client -server localhost:8080 -user NAME

Subcommands of main.ts: node, cluster, help`;

async function runNode(args: readonly string[]): Promise<number> {
  const config = parseNodeConfig(args, readEnv);
  if (config === "help") {
    console.log(NODE_HELP);
    return 0;
  }
  const logger = createLogger(config.id, { level: config.logLevel });
  // Private before anything is written: the snapshot holds private messages in the clear.
  try {
    for (const fix of await securePrivateDir(config.dataDir)) {
      logger.warn("fixed a data file readable by other accounts", {
        path: fix.path,
        was: `0${fix.was.toString(8)}`,
        now: `0${fix.now.toString(8)}`,
      });
    }
  } catch (error) {
    // The store's own open below names the directory and the fix.
    logger.warn("cannot make the data directory private", {
      dir: config.dataDir,
      error: String(error),
    });
  }
  // Restore first, then accept: the store is open before any port is.
  let store;
  try {
    store = await SnapshotStore.open(config.dataDir, {
      nodeId: config.id,
      resetData: config.resetData,
      intervalMs: config.snapshotIntervalMs,
      logger,
    });
  } catch (error) {
    if (error instanceof SnapshotStoreError) {
      console.error(`meshchat: ${error.message}\n${error.hint}`);
      return 1;
    }
    throw error;
  }
  let node;
  try {
    node = await startNode(config, logger, store);
  } catch (error) {
    await store.close();
    if (error instanceof Deno.errors.AddrInUse) {
      logger.error(
        /^(SSH|Mesh|HTTP|Metrics) port /.test(error.message)
          ? `cannot listen: ${error.message}`
          : `cannot listen on ${config.host}:${config.port}: address in use`,
      );
      return 1;
    }
    if (
      error instanceof HostKeyError || error instanceof OpsFileError ||
      error instanceof NatsStartError || error instanceof ClientCertificateError
    ) {
      logger.error(error.message);
      return 1;
    }
    throw error;
  }
  const stopped = Promise.withResolvers<string>();
  const onSignal = (signal: Deno.Signal) => () => stopped.resolve(signal);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, onSignal(signal));
  }
  if (config.exitOnStdinEof) stdinClosed().then(() => stopped.resolve("stdin closed"));
  const signal = await stopped.promise;
  logger.info("shutting down", { signal });
  await node.stop("node shutting down");
  logger.info("stopped");
  return 0;
}

async function main(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "node":
        return await runNode(rest);
      case "cluster":
        return await runLocalCluster(rest, readEnv);
      case undefined:
      case "help":
      case "-h":
      case "--help":
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        console.error(`meshchat: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`meshchat: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
