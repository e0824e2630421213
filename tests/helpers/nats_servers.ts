/**
 * Real `nats-server` processes for the tests of `--nats` replication: one
 * server, or a cluster of them (routes between all, JetStream on, each with
 * its own store directory under ./data/tmp), on free loopback ports, with
 * more flags or a configuration file when a test needs TLS or operator mode
 * ({@linkcode NatsServerOptions}). A test kills one with
 * {@linkcode NatsServer.kill} and stops them all with
 * {@linkcode NatsServers.close} in its `finally`.
 *
 * @module
 */
import { freePort } from "./node_process.ts";
import { waitFor } from "./wait_for.ts";

/** The Debian package's binary (`apt-get install nats-server`). */
export const NATS_SERVER = "nats-server";

/** One running `nats-server`. */
export interface NatsServer {
  /** Its server name (`s1`, `s2`…). */
  readonly name: string;
  /** Its client URL, `nats://127.0.0.1:PORT`. */
  readonly url: string;
  /** What it logged so far. */
  log(): string;
  /** Kills it with SIGKILL and waits for the exit. */
  kill(): Promise<void>;
  /** Starts it again (killed first if running), same port and store; waits until it is ready. */
  restart(): Promise<void>;
}

/** Servers started by {@linkcode startNatsServers}. */
export interface NatsServers {
  /** Every server, in start order. */
  readonly servers: readonly NatsServer[];
  /** Their client URLs joined with commas: the `--nats` value. */
  readonly urls: string;
  /** Kills every server still running and removes their stores. */
  close(): Promise<void>;
}

/**
 * Whether `nats-server` can be run here.
 *
 * @returns True when the binary answers `--version`.
 */
export function hasNatsServer(): boolean {
  try {
    return new Deno.Command(NATS_SERVER, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Options of {@linkcode startNatsServers}: what a test of NATS auth adds to each server. */
export interface NatsServerOptions {
  /** More `nats-server` flags, e.g. `--tls --tlscert FILE …`. @default none */
  readonly args?: readonly string[];
  /**
   * A configuration file's text (`-c`), for what has no flag: operator mode
   * (`operator`, `resolver: MEMORY`, `resolver_preload`). The flags above
   * (port, JetStream, cluster) still apply. @default none
   */
  readonly config?: string;
}

/**
 * Starts `count` JetStream servers (a cluster when more than one) and waits
 * until JetStream can take requests: the server is ready, and in a cluster
 * every server knows the elected metadata leader.
 *
 * @param count How many servers. @default 1
 * @param options Extra flags and configuration of every server.
 * @returns The running servers.
 * @throws {Error} When one exits or JetStream does not come up (with the logs).
 */
export async function startNatsServers(
  count = 1,
  options: NatsServerOptions = {},
): Promise<NatsServers> {
  // nats-server 2.9's cluster now and then never elects its JetStream
  // metadata leader on a loaded machine (seen once in CI: one server heard
  // of a leader, the other two not in 30 s): a fresh start, on fresh ports,
  // then gets it going. Meshchat is not started until the cluster is up.
  try {
    return await startNatsServersOnce(count, options);
  } catch (error) {
    if (count === 1 || /exited/.test(String(error))) throw error;
    console.warn(`nats-server cluster did not come up, starting it again: ${error}`.slice(0, 300));
    return await startNatsServersOnce(count, options);
  }
}

async function startNatsServersOnce(
  count: number,
  options: NatsServerOptions,
): Promise<NatsServers> {
  const base = `./data/tmp/nats-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(base, { recursive: true });
  if (options.config !== undefined) await Deno.writeTextFile(`${base}/server.conf`, options.config);
  const specs = Array.from({ length: count }, (_, i) => ({
    name: `s${i + 1}`,
    port: freePort(),
    clusterPort: freePort(),
  }));
  const routes = specs.map((s) => `nats://127.0.0.1:${s.clusterPort}`).join(",");
  const servers = specs.map((spec) => {
    const args = [
      ...(options.config === undefined ? [] : ["-c", `${base}/server.conf`]),
      "-js",
      ...["-a", "127.0.0.1", "-p", String(spec.port), "-n", spec.name],
      ...["-sd", `${base}/${spec.name}`],
      ...(count > 1
        ? [
          ...["--cluster_name", "meshchat-test"],
          ...["--cluster", `nats://127.0.0.1:${spec.clusterPort}`, "--routes", routes],
        ]
        : []),
      ...options.args ?? [],
    ];
    let log = "";
    let running = false;
    let exited: Promise<unknown> = Promise.resolve();
    let child: Deno.ChildProcess | undefined;
    const spawn = () => {
      const process = new Deno.Command(NATS_SERVER, {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const read = async (stream: ReadableStream<Uint8Array>) => {
        for await (const chunk of stream.pipeThrough(new TextDecoderStream())) log += chunk;
      };
      const streams = Promise.all([read(process.stdout), read(process.stderr)]);
      running = true;
      child = process;
      exited = process.status.then(() => streams).finally(() => running = false);
    };
    spawn();
    const server: NatsServer & { running(): boolean } = {
      name: spec.name,
      url: `nats://127.0.0.1:${spec.port}`,
      log: () => log,
      running: () => running,
      async kill() {
        try {
          child?.kill("SIGKILL");
        } catch {
          // already gone
        }
        await exited;
      },
      async restart() {
        await server.kill();
        const before = log.length;
        spawn();
        await waitFor(() => log.slice(before).includes("Server is ready"), `${spec.name} again`, {
          detail: () => log,
        });
      },
    };
    return server;
  });
  const close = async () => {
    await Promise.all(servers.map((s) => s.kill()));
    await Deno.remove(base, { recursive: true }).catch(() => {});
  };
  const logs = () => servers.map((s) => `--- ${s.name}\n${s.log()}`).join("\n");
  try {
    await waitFor(
      () => {
        if (servers.some((s) => !s.running())) throw new Error(`nats-server exited:\n${logs()}`);
        const ready = servers.every((s) => s.log().includes("Server is ready"));
        // Every server has heard of the metadata leader: the cluster can place a stream.
        return ready && (count === 1 || servers.every((s) => /metadata leader/.test(s.log())));
      },
      "nats-server to take JetStream requests",
      { timeoutMs: 20_000, detail: logs },
    );
  } catch (error) {
    await close();
    throw error;
  }
  return { servers, urls: servers.map((s) => s.url).join(","), close };
}
