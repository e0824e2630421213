/**
 * The node's configuration: the flag table (`main.ts node --help` is made
 * from it), and validation into a {@linkcode NodeConfig}.
 *
 * @module
 */
import { type FlagSpec, formatHelp, parseFlags, UsageError } from "../core/cli_flags.ts";
import { readClusterSecretFile } from "./mesh/cluster_secret.ts";
import { LOG_LEVELS, type LogLevel } from "./logger.ts";
import { MAX_ROOMS_PER_ENTRY } from "./chat/presence.ts";
import { webOrigin } from "./frontends/web/ws_frontend.ts";
import { NATS_FLAGS, type NatsConfig, natsConfig } from "./nats/nats_config.ts";

/** Every node flag with its default; the help text says what each trades off. */
export const NODE_FLAGS = {
  id: {
    type: "string",
    default: "n1",
    arg: "ID",
    help: "node id: letters, digits, hyphen; unique in a cluster",
  },
  host: {
    type: "string",
    default: "0.0.0.0",
    arg: "ADDR",
    help: "address the client port listens on",
  },
  port: {
    type: "number",
    default: 8080,
    arg: "PORT",
    help: "client port (terminal client, NDJSON); 0 picks a free one",
  },
  "client-tls": {
    type: "string",
    default: "auto",
    arg: "MODE",
    help: "TLS on the client port, told apart from plain text by its first byte: auto " +
      "(both; the terminal client encrypts), required (plain connections are refused), " +
      "off; the certificate is --tls-cert, else one generated once in the data directory " +
      "that clients pin on first use",
  },
  "ssh-port": {
    type: "number",
    default: 2222,
    arg: "PORT",
    help: "SSH port (ssh -p 2222 alice@host); 0 turns SSH off",
  },
  "ssh-host-key": {
    type: "string",
    default: "",
    arg: "FILE",
    defaultLabel: "generated in the data directory",
    help: "SSH host key, an OpenSSH ed25519 private key; give every node of a cluster the same one",
  },
  guests: {
    type: "boolean",
    default: true,
    help: "let people without an SSH key join as guests (--no-guests: keys only)",
  },
  data: {
    type: "string",
    default: "",
    arg: "DIR",
    defaultLabel: "./data/<id>",
    help: "data directory (the snapshot, the SSH host key, settings), kept private: 0700, " +
      "files 0600 (looser modes are fixed at start, with a warning); " +
      "deno task node may write only under ./data",
  },
  "snapshot-interval": {
    type: "number",
    default: 10,
    arg: "SECONDS",
    help: "seconds between snapshots to Deno KV; 0 turns periodic snapshots off " +
      "(the one at shutdown stays, a crash loses more)",
  },
  "reset-data": {
    type: "boolean",
    default: false,
    help: "move the snapshot file aside as snapshot.kv.<time>.bak (with its -wal/-shm files) " +
      "and start empty",
  },
  history: {
    type: "number",
    default: 10_000,
    arg: "N",
    help: "events kept per room (rounded up to a power of two)",
  },
  "max-line": {
    type: "number",
    default: 16_384,
    arg: "BYTES",
    help: "longest accepted client line",
  },
  "max-queue": {
    type: "number",
    default: 1_048_576,
    arg: "BYTES",
    help: "output a slow reader may have pending before it is dropped",
  },
  rate: { type: "number", default: 5, arg: "N", help: "messages per second per person, sustained" },
  burst: {
    type: "number",
    default: 10,
    arg: "N",
    help: "messages a person may send at once (a pasted block); 0 turns rate limits off",
  },
  "max-rooms-per-session": {
    type: "number",
    default: 64,
    arg: "N",
    help: "rooms one connection may be in at once (1-256); past it /join answers too_many_rooms",
  },
  "max-rooms": {
    type: "number",
    default: 10_000,
    arg: "N",
    help: "rooms this node keeps; a room left empty that nobody spoke in expires; " +
      "when none can, a new room is refused (rooms_full)",
  },
  "history-budget": {
    type: "number",
    default: 256,
    arg: "MIB",
    help: "memory for history across all rooms and private messages (each event counts as " +
      "its JSON size plus 384 bytes); past it the oldest events node-wide are evicted first, " +
      "but every room keeps its last 8; the snapshot holds the same events",
  },
  "room-ttl": {
    type: "number",
    default: 30,
    arg: "DAYS",
    help: "a room empty on every node with no event for this long expires, with its history, " +
      "topic and seal; rooms nobody spoke in expire as soon as they are empty; #lobby never",
  },
  "max-conns-per-addr": {
    type: "number",
    default: 20,
    arg: "N",
    help: "connections one address may have open (client and SSH ports together; " +
      "IPv6 counted per /64); over it is an offence",
  },
  "max-conns": {
    type: "number",
    default: 10_000,
    arg: "N",
    help: "connections open at once (client and SSH ports); " +
      "keep it below the open-file limit (ulimit -n)",
  },
  "max-bytes-per-conn": {
    type: "number",
    default: 1_048_576,
    arg: "BYTES",
    help: "bytes a connection may send per minute (a bucket holding one minute's worth); " +
      "0 = no limit, else at least 65536; over it the connection is dropped",
  },
  "idle-timeout": {
    type: "number",
    default: 1800,
    arg: "SECONDS",
    help: "a connection that sent no bytes for this long is dropped; " +
      "0 = never (SSH clients are pinged)",
  },
  "hello-timeout": {
    type: "number",
    default: 10,
    arg: "SECONDS",
    help: "time a new client connection has to say hello",
  },
  "ssh-login-timeout": {
    type: "number",
    default: 20,
    arg: "SECONDS",
    help: "time from SSH connect to a running chat session",
  },
  "max-offences": {
    type: "number",
    default: 5,
    arg: "N",
    help: "offences (a flood, a missed deadline, one connection too many, a wrong web sign-in " +
      "token or key-upload challenge) from one address within a minute before it is refused",
  },
  "cool-off": {
    type: "number",
    default: 60,
    arg: "SECONDS",
    help: "how long a repeat offender's address is refused",
  },
  "http-port": {
    type: "number",
    default: 8090,
    arg: "PORT",
    help: "HTTP port: /healthz, /readyz, /metrics, the web client at /ws; 0 turns HTTP off",
  },
  "http-host": {
    type: "string",
    default: "",
    arg: "ADDR",
    defaultLabel: "--host",
    help: "address the HTTP port listens on",
  },
  "tls-cert": {
    type: "string",
    default: "",
    arg: "FILE",
    help: "PEM certificate (chain): the HTTP port speaks HTTPS, and the client port's TLS " +
      "uses it; needs --tls-key (keep both under ./data, the only place deno task node may read)",
  },
  "tls-key": {
    type: "string",
    default: "",
    arg: "FILE",
    help: "PEM private key of --tls-cert",
  },
  "metrics-host": {
    type: "string",
    default: "",
    arg: "ADDR",
    defaultLabel: "none: /metrics on the HTTP port",
    help: "serve /metrics only on a second listener at this address (with /healthz and " +
      "/readyz), so it need not be public; the HTTP port then answers /metrics with 404",
  },
  "metrics-port": {
    type: "number",
    default: 0,
    arg: "PORT",
    defaultLabel: "--http-port",
    help: "port of the --metrics-host listener",
  },
  "web-origin": {
    type: "string",
    default: "",
    arg: "URL,...",
    defaultLabel: "none: only the node's own",
    help: "origins whose pages may open the WebSocket at /ws besides the node's own " +
      "(the host:port a browser asked for), e.g. a reverse proxy's https://chat.example.com; " +
      "a page from any other origin is refused (403)",
  },
  ops: {
    type: "string",
    default: "",
    arg: "FILE",
    help:
      "operators: SSH key fingerprints (SHA256:...), one a line, # comments (keep it under ./data)",
  },
  "log-level": {
    type: "string",
    default: "info",
    arg: "LEVEL",
    help: "debug, info, warn or error",
  },
  "mesh-host": {
    type: "string",
    default: "127.0.0.1",
    arg: "ADDR",
    help: "address the mesh port listens on",
  },
  "mesh-port": {
    type: "number",
    default: 7946,
    arg: "PORT",
    help: "node-to-node port, opened only with a cluster secret; 0 turns the mesh off",
  },
  peers: {
    type: "string",
    default: "",
    arg: "HOST:PORT,...",
    help: "mesh addresses of one or more members to join (the rest are learned)",
  },
  advertise: {
    type: "string",
    default: "",
    arg: "HOST:PORT",
    defaultLabel: "mesh-host:mesh-port",
    help: "mesh address other nodes should dial",
  },
  "cluster-secret-file": {
    type: "string",
    default: "",
    arg: "FILE",
    defaultLabel: "env MESHCHAT_CLUSTER_SECRET",
    help: "file holding the secret all nodes of a cluster share, mode 0600 " +
      "(refused if group or others may read it); --cluster-secret VALUE is refused: " +
      "ps would show it",
  },
  ack: {
    type: "string",
    default: "peer",
    arg: "MODE",
    help: "peer: acknowledge a message once a peer holds it (when any peer is up); " +
      "local: once stored here",
  },
  "exit-on-stdin-eof": {
    type: "boolean",
    default: false,
    help: "stop gracefully when stdin closes (the local cluster uses it so no node is orphaned)",
  },
  ...NATS_FLAGS,
} as const satisfies FlagSpec;

/** A validated node configuration. */
export interface NodeConfig {
  /** Node id. */
  readonly id: string;
  /** Client listener address. */
  readonly host: string;
  /** Client listener port (0 = any free port). */
  readonly port: number;
  /** Data directory. */
  readonly dataDir: string;
  /** Time between snapshots (ms); 0 = only at shutdown. */
  readonly snapshotIntervalMs: number;
  /** Move the snapshot file aside and start empty. */
  readonly resetData: boolean;
  /** Events per room. */
  readonly historySize: number;
  /** Longest client line in bytes. */
  readonly maxLineBytes: number;
  /** Pending output bytes per session. */
  readonly maxQueueBytes: number;
  /** Sustained messages per second per person. */
  readonly ratePerSecond: number;
  /** Burst size; 0 = no rate limit. */
  readonly rateBurst: number;
  /** Rooms one session may be in at once. */
  readonly maxRoomsPerSession: number;
  /** Rooms the node keeps before it refuses new ones. */
  readonly maxRooms: number;
  /** Bytes of history retained across rooms (`--history-budget` MiB). */
  readonly historyBudgetBytes: number;
  /** How long an empty room must be quiet before it expires (`--room-ttl` days). */
  readonly roomTtlMs: number;
  /** Log level. */
  readonly logLevel: LogLevel;
  /** Connection limits of the client and SSH frontends. */
  readonly limits: LimitsConfig;
  /** SSH frontend settings, or undefined when SSH is off. */
  readonly ssh: SshConfig | undefined;
  /** Mesh settings, or undefined when the mesh is off. */
  readonly mesh: MeshConfig | undefined;
  /** NATS JetStream replication (`--nats`), in place of the mesh; undefined for the mesh. */
  readonly nats: NatsConfig | undefined;
  /** HTTP settings (health, metrics, web), or undefined when HTTP is off. */
  readonly http: HttpConfig | undefined;
  /** TLS on the client port (`--client-tls`). */
  readonly clientTls: ClientTlsConfig;
  /** Origins besides the node's own whose pages may open `/ws` (`--web-origin`), as `URL.origin`. */
  readonly webOrigins: readonly string[];
  /** Stop when stdin reaches end of file. */
  readonly exitOnStdinEof: boolean;
  /** File listing operator key fingerprints (`--ops`), or undefined for none. */
  readonly opsFile: string | undefined;
}

/** Connection limits shared by the client and SSH frontends. */
export interface LimitsConfig {
  /** Connections one address may have open. */
  readonly maxConnsPerAddress: number;
  /** Connections open at once. */
  readonly maxConns: number;
  /** Bytes a connection may send per minute; 0 = no limit. */
  readonly maxBytesPerMinute: number;
  /** No bytes received for this long drops a connection (ms); 0 = never. */
  readonly idleTimeoutMs: number;
  /** Time a client connection has to say hello (ms). */
  readonly helloTimeoutMs: number;
  /** Time from SSH connect to a running chat session (ms). */
  readonly sshLoginTimeoutMs: number;
  /** Offences within a minute that get an address refused. */
  readonly maxOffences: number;
  /** How long a repeat offender is refused (ms). */
  readonly coolOffMs: number;
}

/** SSH frontend settings. */
export interface SshConfig {
  /** Listen port (same address as the client port; 0 = any free port). */
  readonly port: number;
  /** Host key file given with --ssh-host-key, or undefined for the generated one. */
  readonly hostKeyFile: string | undefined;
  /** Whether people without a key may join as guests. */
  readonly guests: boolean;
}

/** HTTP settings. */
export interface HttpConfig {
  /** Listen address. */
  readonly host: string;
  /** Listen port. */
  readonly port: number;
  /** Certificate and key (PEM text) for HTTPS, or undefined for plain HTTP. */
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
  /** Where `/metrics` is served instead of the HTTP port, or undefined for the HTTP port. */
  readonly metrics: { readonly host: string; readonly port: number } | undefined;
}

/** TLS on the client port. */
export interface ClientTlsConfig {
  /** `auto`: TLS and plain text; `required`: TLS only; `off`: plain text only. */
  readonly mode: "auto" | "required" | "off";
  /** `--tls-cert` and `--tls-key` (PEM text), or undefined for the node's generated certificate. */
  readonly pem: { readonly cert: string; readonly key: string } | undefined;
}

/** Node-to-node settings. */
export interface MeshConfig {
  /** Listen address. */
  readonly host: string;
  /** Listen port. */
  readonly port: number;
  /** Seeds to join. */
  readonly peers: readonly string[];
  /** Address peers dial. */
  readonly advertise: string;
  /** Cluster secret. */
  readonly secret: string;
  /** When `say` is acknowledged. */
  readonly ack: "local" | "peer";
}

/** How to give a node the cluster secret (never on the command line: `ps` shows it to everyone). */
const SECRET_HOW = "set MESHCHAT_CLUSTER_SECRET or pass --cluster-secret-file FILE";

/** Options of {@linkcode parseNodeConfig}. */
export interface NodeConfigOptions {
  /** Reads the secret of `--cluster-secret-file`. @default readClusterSecretFile */
  readSecretFile?: (path: string) => string;
  /** Reads `--tls-cert` and `--tls-key`. @default Deno.readTextFileSync */
  readTextFile?: (path: string) => string;
}

/** Whether `name` is among the flags (one or two dashes, `=value` or not), before any `--`. */
function given(args: readonly string[], name: string): boolean {
  for (const arg of args) {
    if (arg === "--") return false;
    if (arg.replace(/^--?/, "").split("=")[0] === name && arg.startsWith("-")) return true;
  }
  return false;
}

function hostPort(name: string, value: string): string {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value.trim());
  const portNumber = Number(match?.[2]);
  if (!match || portNumber < 1 || portNumber > 65535) {
    throw new UsageError(`Invalid ${name} "${value}": use HOST:PORT, e.g. 127.0.0.1:7946`);
  }
  return value.trim();
}

/** With `--nats` the mesh stays closed: asking for it too is a mistake, said as one. */
function noMesh(args: readonly string[], meshPort: number): undefined {
  const meshFlag = ["peers", "advertise", "ack", ...(meshPort === 0 ? [] : ["mesh-port"])]
    .find((name) => given(args, name));
  if (meshFlag !== undefined) {
    throw new UsageError(
      `Cannot use --${meshFlag} with --nats: NATS replaces the mesh (acks wait for JetStream)`,
    );
  }
  return undefined;
}

/**
 * The mesh opens only with a secret: a node given neither a secret nor
 * `--peers` nor `--mesh-port` runs standalone; asking for the mesh without
 * a secret is an error, not a mesh anyone could join.
 */
function meshConfig(
  flags: ReturnType<typeof parseFlags<typeof NODE_FLAGS>>,
  args: readonly string[],
  env: (name: string) => string | undefined,
  readSecretFile: (path: string) => string,
): MeshConfig | undefined {
  const meshPort = port("mesh-port", flags["mesh-port"]);
  if (meshPort === 0) return undefined;
  const host = flags["mesh-host"];
  const fromEnv = env("MESHCHAT_CLUSTER_SECRET") ?? "";
  const file = flags["cluster-secret-file"];
  if (fromEnv !== "" && file !== "") {
    throw new UsageError(
      "Cannot choose a cluster secret: both MESHCHAT_CLUSTER_SECRET and --cluster-secret-file are set; use one",
    );
  }
  const secret = file !== "" ? readSecretFile(file) : fromEnv;
  if (secret === "") {
    const meshFlags = ["peers", "mesh-port", "mesh-host", "advertise"];
    const asked = meshFlags.find((name) => given(args, name));
    if (asked === undefined) return undefined;
    throw new UsageError(
      `Cannot open the mesh (--${asked}) without a cluster secret: ${SECRET_HOW}, the same on every node`,
    );
  }
  if (flags.ack !== "peer" && flags.ack !== "local") {
    throw new UsageError(`Invalid --ack "${flags.ack}": use peer or local`);
  }
  const peers = flags.peers.split(",").map((p) => p.trim()).filter((p) => p !== "");
  return {
    host,
    port: meshPort,
    peers: peers.map((p) => hostPort("--peers entry", p)),
    advertise: flags.advertise === ""
      ? `${host === "0.0.0.0" ? "127.0.0.1" : host}:${meshPort}`
      : hostPort("--advertise", flags.advertise),
    secret,
    ack: flags.ack,
  };
}

/** Addresses that listen on every interface: a port bound there is taken on all of them. */
const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]"]);

/**
 * HTTP is on unless `--http-port 0`; TLS takes a certificate and a key, both
 * or neither; `--metrics-host` moves `/metrics` to a listener of its own.
 */
function httpConfig(
  flags: ReturnType<typeof parseFlags<typeof NODE_FLAGS>>,
  args: readonly string[],
  tls: HttpConfig["tls"],
): HttpConfig | undefined {
  const httpPort = port("http-port", flags["http-port"]);
  if (httpPort === 0) {
    const needsHttp = ["http-host", "metrics-host", "metrics-port"]
      .find((name) => given(args, name));
    if (needsHttp !== undefined) {
      throw new UsageError(`Cannot use --${needsHttp} with --http-port 0: HTTP is off`);
    }
    return undefined;
  }
  const host = flags["http-host"] === "" ? flags.host : flags["http-host"];
  const metricsHost = flags["metrics-host"];
  const metricsPortFlag = port("metrics-port", flags["metrics-port"]);
  if (metricsHost === "") {
    if (given(args, "metrics-port")) {
      throw new UsageError("Cannot use --metrics-port without --metrics-host ADDR");
    }
    return { host, port: httpPort, tls, metrics: undefined };
  }
  const metricsPort = metricsPortFlag === 0 ? httpPort : metricsPortFlag;
  const overlap = metricsHost === host || WILDCARD_HOSTS.has(host) ||
    WILDCARD_HOSTS.has(metricsHost);
  if (metricsPort === httpPort && overlap) {
    throw new UsageError(
      `Cannot serve /metrics on ${metricsHost}:${metricsPort}: the HTTP port listens there ` +
        `already (--http-host ${host}); give --metrics-port PORT, or an --http-host of its own`,
    );
  }
  return { host, port: httpPort, tls, metrics: { host: metricsHost, port: metricsPort } };
}

/** `--tls-cert` and `--tls-key`, both or neither: the HTTPS and client-port certificate. */
function tlsFiles(
  flags: ReturnType<typeof parseFlags<typeof NODE_FLAGS>>,
  readTextFile: (path: string) => string,
): { cert: string; key: string } | undefined {
  const cert = flags["tls-cert"];
  const key = flags["tls-key"];
  if ((cert === "") !== (key === "")) {
    const [have, lack] = cert === "" ? ["--tls-key", "--tls-cert"] : ["--tls-cert", "--tls-key"];
    throw new UsageError(`Cannot use ${have} alone: give ${lack} FILE too (both or neither)`);
  }
  return cert === "" ? undefined : {
    cert: pemFile("tls-cert", cert, /-----BEGIN CERTIFICATE-----/, "certificate", readTextFile),
    key: pemFile("tls-key", key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, "private key", readTextFile),
  };
}

/** `--client-tls`: the mode, and the certificate when one was given. */
function clientTlsConfig(
  mode: string,
  pem: ClientTlsConfig["pem"],
): ClientTlsConfig {
  if (mode !== "auto" && mode !== "required" && mode !== "off") {
    throw new UsageError(`Invalid --client-tls "${mode}": use auto, required or off`);
  }
  return { mode, pem };
}

/** The text of a PEM file named by a flag, or a usage error saying what is wrong with it. */
function pemFile(
  name: string,
  path: string,
  marker: RegExp,
  what: string,
  readTextFile: (path: string) => string,
): string {
  let text: string;
  try {
    text = readTextFile(path);
  } catch (error) {
    throw new UsageError(`Cannot read --${name} ${path}: ${(error as Error).message}`);
  }
  if (!marker.test(text)) {
    throw new UsageError(`Invalid --${name} ${path}: not a PEM ${what}`);
  }
  return text;
}

/** The text of `main.ts node --help`. */
export const NODE_HELP = formatHelp(
  "Usage: deno task node [flags]",
  NODE_FLAGS,
  [
    "Starts one meshchat node. Join it with:",
    "  deno task client -server localhost:8080 -user alice",
    "",
    "Nodes link only with a shared cluster secret, from MESHCHAT_CLUSTER_SECRET or",
    "--cluster-secret-file (never a flag: ps shows flags to every local account).",
    "Without one the node runs standalone and opens no mesh port.",
  ],
);

/** `--web-origin`: each an http(s) origin, kept as `URL.origin` writes it. */
function webOrigins(value: string): string[] {
  const entries = value.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "");
  return entries.map((entry) => {
    try {
      return webOrigin(entry);
    } catch (error) {
      throw new UsageError(`Invalid --web-origin: ${(error as Error).message}`);
    }
  });
}

function port(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new UsageError(`Invalid --${name} ${value}: use a port from 0 to 65535`);
  }
  return value;
}

function snapshotInterval(seconds: number): number {
  if (seconds !== 0 && !(seconds >= 0.05 && seconds <= 86_400)) {
    throw new UsageError(
      `Invalid --snapshot-interval ${seconds}: use 0 (off) or 0.05 to 86400 seconds`,
    );
  }
  return Math.round(seconds * 1000);
}

function positive(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`Invalid --${name} ${value}: use a whole number from ${min} to ${max}`);
  }
  return value;
}

function roomTtl(days: number): number {
  if (!(days > 0 && days <= 3650)) {
    throw new UsageError(`Invalid --room-ttl ${days}: use more than 0 and at most 3650 days`);
  }
  return Math.round(days * 24 * 3600 * 1000);
}

function seconds(name: string, value: number, min: number, max: number): number {
  if (!(value >= min && value <= max)) {
    throw new UsageError(`Invalid --${name} ${value}: use ${min} to ${max} seconds`);
  }
  return Math.round(value * 1000);
}

function limitsConfig(flags: ReturnType<typeof parseFlags<typeof NODE_FLAGS>>): LimitsConfig {
  const bytes = flags["max-bytes-per-conn"];
  if (bytes !== 0 && !(Number.isInteger(bytes) && bytes >= 65536 && bytes <= 1 << 30)) {
    throw new UsageError(
      `Invalid --max-bytes-per-conn ${bytes}: use 0 (no limit) or a whole number from 65536 to ${
        1 << 30
      }`,
    );
  }
  const idle = flags["idle-timeout"];
  return {
    maxConnsPerAddress: positive("max-conns-per-addr", flags["max-conns-per-addr"], 1, 1_000_000),
    maxConns: positive("max-conns", flags["max-conns"], 1, 1_000_000),
    maxBytesPerMinute: bytes,
    idleTimeoutMs: idle === 0 ? 0 : seconds("idle-timeout", idle, 1, 7 * 86_400),
    helloTimeoutMs: seconds("hello-timeout", flags["hello-timeout"], 0.1, 3600),
    sshLoginTimeoutMs: seconds("ssh-login-timeout", flags["ssh-login-timeout"], 0.1, 3600),
    maxOffences: positive("max-offences", flags["max-offences"], 1, 1_000_000),
    coolOffMs: seconds("cool-off", flags["cool-off"], 0.1, 7 * 86_400),
  };
}

/**
 * Parses and validates node flags.
 *
 * @param args Arguments after `node`.
 * @param env Reads an environment variable (the cluster secret may come from one).
 * @param options How to read the secret file.
 * @returns The config (`mesh` undefined when the node runs standalone), or
 *   `"help"` when help was asked for.
 * @throws {UsageError} With a message naming the flag and the fix; for
 *   `--cluster-secret`, which would show the secret in `ps`, too.
 */
export function parseNodeConfig(
  args: readonly string[],
  env: (name: string) => string | undefined = () => undefined,
  options: NodeConfigOptions = {},
): NodeConfig | "help" {
  const { readSecretFile = readClusterSecretFile, readTextFile = Deno.readTextFileSync } = options;
  // Before parsing, so the error names the alternatives and never echoes the value.
  if (given(args, "cluster-secret")) {
    throw new UsageError(
      `Cannot take the secret from --cluster-secret: every local account can read it in the process list; ${SECRET_HOW}`,
    );
  }
  const flags = parseFlags(NODE_FLAGS, args);
  if (flags.help) return "help";
  if (flags.rest.length > 0) {
    throw new UsageError(`Unexpected argument "${flags.rest[0]}": flags start with - or --`);
  }
  if (!/^[A-Za-z0-9-]{1,32}$/.test(flags.id)) {
    throw new UsageError(`Invalid --id "${flags.id}": use 1-32 letters, digits or hyphens`);
  }
  const level = flags["log-level"];
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`Invalid --log-level "${level}": use ${LOG_LEVELS.join(", ")}`);
  }
  if (!(flags.rate > 0)) throw new UsageError(`Invalid --rate ${flags.rate}: must be above 0`);
  const nats = natsConfig(flags, readTextFile);
  const tls = tlsFiles(flags, readTextFile);
  return {
    id: flags.id,
    host: flags.host,
    port: port("port", flags.port),
    dataDir: flags.data === "" ? `./data/${flags.id}` : flags.data,
    snapshotIntervalMs: snapshotInterval(flags["snapshot-interval"]),
    resetData: flags["reset-data"],
    historySize: positive("history", flags.history, 16, 1 << 20),
    maxLineBytes: positive("max-line", flags["max-line"], 1024, 1 << 20),
    maxQueueBytes: positive("max-queue", flags["max-queue"], 65536, 1 << 30),
    ratePerSecond: flags.rate,
    rateBurst: positive("burst", flags.burst, 0, 10_000),
    maxRoomsPerSession: positive(
      "max-rooms-per-session",
      flags["max-rooms-per-session"],
      1,
      MAX_ROOMS_PER_ENTRY,
    ),
    maxRooms: positive("max-rooms", flags["max-rooms"], 1, 1_000_000),
    historyBudgetBytes: positive("history-budget", flags["history-budget"], 1, 1 << 20) * 1024 *
      1024,
    roomTtlMs: roomTtl(flags["room-ttl"]),
    logLevel: level as LogLevel,
    limits: limitsConfig(flags),
    ssh: port("ssh-port", flags["ssh-port"]) === 0 ? undefined : {
      port: port("ssh-port", flags["ssh-port"]),
      hostKeyFile: flags["ssh-host-key"] === "" ? undefined : flags["ssh-host-key"],
      guests: flags.guests,
    },
    mesh: nats === undefined
      ? meshConfig(flags, args, env, readSecretFile)
      : noMesh(args, flags["mesh-port"]),
    nats,
    http: httpConfig(flags, args, tls),
    clientTls: clientTlsConfig(flags["client-tls"], tls),
    webOrigins: webOrigins(flags["web-origin"]),
    exitOnStdinEof: flags["exit-on-stdin-eof"],
    opsFile: flags.ops === "" ? undefined : flags.ops,
  };
}
