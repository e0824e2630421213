/**
 * One running node: the hub plus its listeners, started from a
 * {@linkcode NodeConfig} and stopped gracefully.
 *
 * @module
 */
import { ClientListener } from "./frontends/tcp/client_listener.ts";
import { type ClientPortTls, prepareClientTls } from "./frontends/tcp/client_tls.ts";
import { ConnectionLimits } from "./frontends/connection_limits.ts";
import { Hub } from "./chat/hub.ts";
import { EventLog } from "./chat/event_log.ts";
import { SEEN_INTERVAL_MS } from "./chat/coming_back.ts";
import type { Logger } from "./logger.ts";
import { Mesh } from "./mesh/mesh.ts";
import { NatsReplication } from "./nats/nats_replication.ts";
import type { MeshTransport } from "./mesh/transport.ts";
import type { NickRegistryView } from "./chat/nick_registry.ts";
import { importNicksJson } from "./store/nicks_json_import.ts";
import type { NodeConfig } from "./node_config.ts";
import { loadHostKey } from "./frontends/ssh/ssh_host_key.ts";
import { SshListener } from "./frontends/ssh/ssh_listener.ts";
import { UserSettingsStore } from "./store/user_settings.ts";
import type { SnapshotStore } from "./store/snapshot_store.ts";
import { parseOpsFile } from "./chat/moderation.ts";
import { NodeMetrics } from "./node_metrics.ts";
import { HttpServer } from "./frontends/web/http_server.ts";
import { healthBody, readyBody } from "./frontends/web/health.ts";
import { WebSocketFrontend } from "./frontends/web/ws_frontend.ts";
import { linkBase, WebSignIn } from "./frontends/web/signin.ts";
import { SignInTokens } from "./frontends/web/signin_tokens.ts";
import { KeyUpload } from "./frontends/web/key_upload.ts";
import type { SshListenerOptions } from "./frontends/ssh/ssh_listener.ts";
import { staticAssets } from "./frontends/web/static_assets.ts";
import { WEB_ASSETS } from "../client/web/dist/web_assets.ts";
import type { ProtocolOptions } from "./frontends/protocol_connection.ts";

/** The ops file (`--ops FILE`) cannot be read or has a bad line. */
export class OpsFileError extends Error {
  /** Always `"OpsFileError"`. */
  override name = "OpsFileError";
}

/**
 * Reads the operators' key fingerprints from an ops file.
 *
 * @param path The file.
 * @returns The fingerprints.
 * @throws {OpsFileError} When the file cannot be read or a line is not a fingerprint.
 */
export function readOpsFile(path: string): string[] {
  try {
    return parseOpsFile(Deno.readTextFileSync(path));
  } catch (error) {
    throw new OpsFileError(`Cannot use --ops ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** A started node. */
export interface RunningNode {
  /** The hub. */
  readonly hub: Hub;
  /** Where the client listener is bound. */
  readonly clientAddr: Deno.NetAddr;
  /** Where the SSH listener is bound, when SSH is on. */
  readonly sshAddr: { hostname: string; port: number } | undefined;
  /** Where the HTTP port is bound, when HTTP is on. */
  readonly httpAddr: Deno.NetAddr | undefined;
  /** Where the metrics listener is bound, when `--metrics-host` is set. */
  readonly metricsAddr: Deno.NetAddr | undefined;
  /**
   * Tells every client, stops listening, and waits briefly for output to flush.
   *
   * @param reason Told to clients.
   */
  stop(reason: string): Promise<void>;
}

/** Options of {@linkcode startNode}. */
export interface StartNodeOptions {
  /**
   * How the mesh listens and dials; tests running nodes in one process pass
   * an in-memory transport that can cut links. @default tcpTransport
   */
  meshTransport?: MeshTransport;
}

/**
 * Starts a node: binds its ports and begins serving.
 *
 * @param config Validated configuration.
 * @param logger Where log lines go.
 * @param store The opened snapshot store: restored into the hub before any
 *   port opens, snapshots periodically, closed (last snapshot) by `stop`.
 * @param options The mesh transport.
 * @returns The running node.
 * @throws {Deno.errors.AddrInUse} When a port is taken.
 * @throws {HostKeyError} When the SSH host key file is missing or not an ed25519 key.
 * @throws {OpsFileError} When the ops file cannot be read.
 */
export async function startNode(
  config: NodeConfig,
  logger: Logger,
  store?: SnapshotStore,
  options: StartNodeOptions = {},
): Promise<RunningNode> {
  const started = performance.now();
  const ops = config.opsFile === undefined ? [] : readOpsFile(config.opsFile);
  if (config.opsFile !== undefined) {
    logger.info("operators", { count: ops.length, file: config.opsFile });
  }
  // The one writer of chat state; the hub, the store and the mesh are its clients.
  const log = new EventLog({
    origin: store?.origin ?? config.id,
    lastSeq: store?.lastSeq ?? 0,
    historySize: config.historySize,
    historyBudgetBytes: config.historyBudgetBytes,
    logger,
  });
  const hub = new Hub({
    nodeId: config.id,
    log,
    rateBurst: config.rateBurst,
    ratePerSecond: config.ratePerSecond,
    maxRoomsPerSession: config.maxRoomsPerSession,
    maxRooms: config.maxRooms,
    roomTtlMs: config.roomTtlMs,
    logger,
    // Nick ownership by SSH key: claim events, replicated and snapshotted like the rest.
    nickGuard: log.nicks,
    ops,
  });
  const restored = store?.attach(log);
  hub.storage = store;
  if (store) await importOldNicks(`${config.dataDir}/nicks.json`, log, store, logger);
  // Quiet rooms (empty, no event for --room-ttl) are found by a scan: hourly is plenty.
  const quietSweep = setInterval(() => {
    const expired = hub.expireQuietRooms();
    if (expired > 0) logger.info("quiet rooms expired", { rooms: expired });
  }, Math.min(config.roomTtlMs, 3_600_000));
  Deno.unrefTimer(quietSweep);
  // Where people who stay stopped reading, so a crash loses little (node/chat/coming_back.ts).
  const seenSweep = setInterval(() => hub.comingBack.markAll(hub.sessions()), SEEN_INTERVAL_MS);
  Deno.unrefTimer(seenSweep);
  const stopSweeps = () => {
    clearInterval(quietSweep);
    clearInterval(seenSweep);
  };
  const mesh = config.mesh && new Mesh(hub, {
    identity: {
      nodeId: config.id,
      boot: crypto.randomUUID(),
      advertise: config.mesh.advertise,
      secret: config.mesh.secret,
    },
    hostname: config.mesh.host,
    port: config.mesh.port,
    seeds: config.mesh.peers,
    ackMode: config.mesh.ack,
    logger,
    transport: options.meshTransport,
  });
  // With --nats, JetStream replicates instead: the stream is replayed before any port opens.
  const nats = config.nats && await NatsReplication.start(hub, config.nats, {
    nodeId: config.id,
    dataDir: config.dataDir,
    store,
    restored: restored !== undefined && restored.previousStop !== "none",
    logger,
  });
  if (nats) {
    hub.cluster = nats;
  } else if (mesh) {
    try {
      mesh.start();
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
      const { host, port } = config.mesh!;
      throw new Deno.errors.AddrInUse(`Mesh port ${host}:${port} is in use`, { cause: error });
    }
    hub.cluster = mesh;
    const addr = mesh.addr!;
    logger.info("listening", { what: "mesh", addr: `${addr.hostname}:${addr.port}` });
  } else {
    logger.info(
      "standalone: no mesh port; to link nodes, give each the same secret (MESHCHAT_CLUSTER_SECRET or --cluster-secret-file) and --peers",
    );
  }
  // One account of connections for both frontends: limits are per address, not per port.
  const limits = new ConnectionLimits({
    maxPerAddress: config.limits.maxConnsPerAddress,
    maxTotal: config.limits.maxConns,
    maxOffences: config.limits.maxOffences,
    coolOffMs: config.limits.coolOffMs,
  });
  const metrics = config.http &&
    new NodeMetrics({ hub, mesh, nats, store, restoreMs: restored?.ms, limits });
  // The client protocol's limits: the same over TCP and the WebSocket.
  const clientProtocol: ProtocolOptions = {
    maxLineBytes: config.maxLineBytes,
    maxQueueBytes: config.maxQueueBytes,
    limits,
    helloTimeoutMs: config.limits.helloTimeoutMs,
    idleTimeoutMs: config.limits.idleTimeoutMs,
    maxBytesPerMinute: config.limits.maxBytesPerMinute,
    ...(mesh ? { ackGate: (event) => mesh.replicated(event) } : {}),
    ...(nats ? { ackGate: (event) => nats.replicated(event) } : {}),
  };
  // Web sign-in with an SSH key (`/web`) and key upload; their state is in this node's memory.
  const webOrigins = new Set(config.webOrigins);
  const signIn = config.http && new WebSignIn({
    nodeId: config.id,
    tokens: new SignInTokens(),
    webOrigins,
    tls: config.http.tls !== undefined,
    logger,
    limits,
  });
  const keyUpload = config.http &&
    new KeyUpload({ nicks: log.nicks, moderation: log.moderation, webOrigins, logger, limits });
  const web = config.http &&
    new WebSocketFrontend(hub, logger, {
      ...clientProtocol,
      webOrigins: config.webOrigins,
      ...(signIn ? { identify: signIn.identify } : {}),
    });
  let stopping = false;
  let http: HttpServer | undefined;
  let clientPort: Deno.TcpListener;
  let clientTls: ClientPortTls;
  try {
    // Before the client port: a node that says it listens for clients answers health checks too.
    http = config.http && await HttpServer.start({
      health: () => healthBody(config.id, performance.now() - started),
      ready: () =>
        readyBody({
          node: config.id,
          stopping,
          restoreMs: restored?.ms,
          mesh: mesh && { seeded: config.mesh!.peers.length > 0, links: mesh.links } ||
            nats && { seeded: true, links: nats.connected ? 1 : 0 },
        }),
      metrics: () => metrics!.render(),
      webSocket: web?.handler,
      pages: [signIn!.route, keyUpload!.route, staticAssets(WEB_ASSETS)],
    }, { ...config.http, hostname: config.http.host, logger });
    clientTls = await prepareClientTls(config.clientTls, config.dataDir, config.id, logger);
    clientPort = Deno.listen({ hostname: config.host, port: config.port, transport: "tcp" });
  } catch (error) {
    stopSweeps();
    metrics?.stop();
    await http?.close();
    await mesh?.stop();
    await nats?.stop();
    throw error;
  }
  metrics?.start();
  const clients = new ClientListener(hub, clientPort, logger, {
    ...clientProtocol,
    tls: clientTls,
  });
  const serving = clients.serve();
  store?.start();
  logger.info("listening", {
    what: "clients",
    addr: `${clients.addr.hostname}:${clients.addr.port}`,
  });
  let ssh: SshListener | undefined;
  try {
    const endpoint = http && {
      hostname: http.addr.hostname,
      port: http.addr.port,
      tls: config.http?.tls !== undefined,
      webOrigins: config.webOrigins,
    };
    const webSignIn: SshListenerOptions["webSignIn"] = signIn && endpoint &&
      ((identity, localAddress) => ({
        url: signIn.link(identity, linkBase(endpoint, localAddress)),
        ttlMs: signIn.linkTtlMs,
      }));
    ssh = await startSsh(config, hub, log.nicks, logger, limits, webSignIn);
  } catch (error) {
    stopSweeps();
    metrics?.stop();
    await Promise.all([clients.close(), http?.close()]);
    await mesh?.stop();
    await nats?.stop();
    throw error;
  }
  return {
    hub,
    clientAddr: clients.addr,
    sshAddr: ssh?.addr,
    httpAddr: http?.addr,
    metricsAddr: http?.metricsAddr,
    async stop(reason: string) {
      stopping = true;
      stopSweeps();
      metrics?.stop();
      hub.shutdown(reason);
      // WebSockets first: they are told why before the HTTP server ends what is left.
      await Promise.all([clients.close(), ssh?.close(), web?.close().then(() => http?.close())]);
      await serving;
      await mesh?.stop();
      await nats?.stop();
      await store?.close();
    },
  };
}

/**
 * Imports the `nicks.json` of an older version once, as claim events (see
 * node/store/nicks_json_import.ts), and says so.
 */
async function importOldNicks(
  path: string,
  log: EventLog,
  store: SnapshotStore,
  logger: Logger,
): Promise<void> {
  const imported = await importNicksJson(path, log.nicks, () => store.snapshotNow());
  if (imported !== undefined) {
    logger.info("nick registry imported as claim events", {
      file: imported.file,
      moved_to: imported.movedTo,
      ...imported.outcomes,
    });
  }
}

async function startSsh(
  config: NodeConfig,
  hub: Hub,
  nicks: NickRegistryView,
  logger: Logger,
  limits: ConnectionLimits,
  webSignIn: SshListenerOptions["webSignIn"],
): Promise<SshListener | undefined> {
  if (config.ssh === undefined) return undefined;
  const { port, hostKeyFile, guests } = config.ssh;
  const hostKey = loadHostKey(hostKeyFile ?? `${config.dataDir}/ssh_host_ed25519_key`, {
    create: hostKeyFile === undefined,
  });
  if (hostKey.created) logger.info("ssh host key generated", { file: hostKey.path });
  // Per node: what a key chose here is not sent to the other nodes.
  const settings = UserSettingsStore.open(`${config.dataDir}/user_settings.json`, {
    onWarning: (message, details) => logger.warn(message, details),
  });
  let ssh: SshListener;
  try {
    ssh = await SshListener.listen(hub, {
      hostname: config.host,
      port,
      hostKey: hostKey.privateKey,
      registry: nicks,
      settings,
      guests,
      maxQueueBytes: config.maxQueueBytes,
      maxLineBytes: config.maxLineBytes,
      limits,
      handshakeTimeoutMs: config.limits.sshLoginTimeoutMs,
      idleTimeoutMs: config.limits.idleTimeoutMs,
      maxBytesPerMinute: config.limits.maxBytesPerMinute,
      logger,
      ...(webSignIn ? { webSignIn } : {}),
    });
  } catch (error) {
    if ((error as { code?: unknown }).code === "EADDRINUSE") {
      throw new Deno.errors.AddrInUse(`SSH port ${config.host}:${port} is in use`, {
        cause: error,
      });
    }
    throw error;
  }
  logger.info("listening", { what: "ssh", addr: `${ssh.addr.hostname}:${ssh.addr.port}` });
  logger.info("ssh host key", { fingerprint: hostKey.fingerprint, file: hostKey.path });
  return ssh;
}
