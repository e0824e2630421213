/**
 * The `--nats*` flags of a node and their validation into a
 * {@linkcode NatsConfig}: where the NATS servers are, how to authenticate
 * (a `.creds` file, TLS), and the JetStream stream that holds the events.
 * `node/node_config.ts` adds these flags to the node's table.
 *
 * @module
 */
import { UsageError } from "../../core/cli_flags.ts";

/** The NATS flags, with their defaults; the help text says what each trades off. */
export const NATS_FLAGS = {
  nats: {
    type: "string",
    default: "",
    arg: "URL,...",
    defaultLabel: "off: the built-in mesh",
    help: "replicate through these NATS servers (nats://host:4222,...) with JetStream instead " +
      "of the mesh: no mesh port, no cluster secret; NATS's own auth and TLS protect it",
  },
  "nats-creds": {
    type: "string",
    default: "",
    arg: "FILE",
    help:
      "NATS user credentials (.creds: JWT and NKey seed), as nsc or the NATS operator hands out",
  },
  "nats-tls-ca": {
    type: "string",
    default: "",
    arg: "FILE",
    help: "CA certificate (PEM) that signed the NATS servers' certificates; turns TLS on",
  },
  "nats-tls-cert": {
    type: "string",
    default: "",
    arg: "FILE",
    help: "client certificate (PEM) for NATS servers that verify clients (with --nats-tls-key)",
  },
  "nats-tls-key": {
    type: "string",
    default: "",
    arg: "FILE",
    help: "private key (PEM) of --nats-tls-cert",
  },
  "nats-stream": {
    type: "string",
    default: "meshchat",
    arg: "NAME",
    help: "JetStream stream of this cluster's events (subjects NAME.events.<origin>); " +
      "one per cluster, the same on every node",
  },
  "nats-replicas": {
    type: "number",
    default: 3,
    arg: "N",
    help: "copies of the stream across NATS servers (1-5); a message is acknowledged once a " +
      "quorum stored it; use 1 with a single NATS server",
  },
  "nats-max-age": {
    type: "number",
    default: 30,
    arg: "DAYS",
    help: "events older than this leave the stream (a node that was down longer catches up " +
      "only what is left)",
  },
  "nats-max-bytes": {
    type: "number",
    default: 1024,
    arg: "MIB",
    help: "size of the stream; past it the oldest events leave it first",
  },
} as const;

/** The user JWT block of a `.creds` file (a JWT is three base64url parts). */
const CREDS_JWT = /-{3,}BEGIN NATS USER JWT-{3,}\s*\n\s*ey[\w-]+\.[\w-]+\.[\w-]+\s*\n/;
/** The user NKey seed block of a `.creds` file (a user seed starts with `SU`). */
const CREDS_SEED = /-{3,}BEGIN USER NKEY SEED-{3,}\s*\n\s*SU[A-Z2-7]+\s*\n/;

/** How a node reaches NATS and which stream it replicates through. */
export interface NatsConfig {
  /** Server URLs, as given. */
  readonly servers: readonly string[];
  /** The `.creds` file's text, or undefined for none. */
  readonly creds: string | undefined;
  /** TLS material (PEM text), or undefined for plain connections. */
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string } | undefined;
  /** Stream name; also the first token of its subjects. */
  readonly stream: string;
  /** Stream replicas. */
  readonly replicas: number;
  /** Longest time an event stays in the stream (ms). */
  readonly maxAgeMs: number;
  /** Most bytes the stream holds. */
  readonly maxBytes: number;
}

/** The flag values {@linkcode natsConfig} reads. */
export type NatsFlagValues = {
  readonly [K in keyof typeof NATS_FLAGS]: (typeof NATS_FLAGS)[K]["default"] extends string ? string
    : number;
};

/**
 * Validates the NATS flags.
 *
 * @param flags The parsed flag values.
 * @param readTextFile Reads the creds and TLS files (read at start, so a
 *   missing file is a usage error, not a failure later).
 * @returns The config, or undefined when `--nats` is not given (the mesh replicates).
 * @throws {UsageError} Naming the flag and the fix.
 */
export function natsConfig(
  flags: NatsFlagValues,
  readTextFile: (path: string) => string,
): NatsConfig | undefined {
  const others = (Object.keys(NATS_FLAGS) as (keyof typeof NATS_FLAGS)[])
    .filter((name) => name !== "nats" && flags[name] !== NATS_FLAGS[name].default);
  const servers = flags.nats.split(",").map((url) => url.trim()).filter((url) => url !== "");
  if (servers.length === 0) {
    if (others.length > 0) {
      throw new UsageError(`Cannot use --${others[0]} without --nats URL`);
    }
    return undefined;
  }
  for (const url of servers) {
    if (!/^(nats|tls):\/\/[^\s/]+$|^[^\s/:]+:\d{1,5}$/.test(url)) {
      throw new UsageError(
        `Invalid --nats "${url}": use nats://HOST:PORT (or tls://HOST:PORT, or HOST:PORT)`,
      );
    }
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(flags["nats-stream"])) {
    throw new UsageError(
      `Invalid --nats-stream "${flags["nats-stream"]}": use 1-64 letters, digits, _ or -`,
    );
  }
  const replicas = flags["nats-replicas"];
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new UsageError(`Invalid --nats-replicas ${replicas}: use 1 to 5`);
  }
  const days = flags["nats-max-age"];
  if (!(days > 0 && days <= 3650)) {
    throw new UsageError(`Invalid --nats-max-age ${days}: use more than 0 and at most 3650 days`);
  }
  const mib = flags["nats-max-bytes"];
  if (!Number.isInteger(mib) || mib < 1 || mib > 1 << 20) {
    throw new UsageError(`Invalid --nats-max-bytes ${mib}: use a whole number from 1 to 1048576`);
  }
  const read = (name: keyof typeof NATS_FLAGS): string | undefined => {
    const path = flags[name] as string;
    if (path === "") return undefined;
    try {
      return readTextFile(path);
    } catch (error) {
      throw new UsageError(`Cannot read --${name} ${path}: ${(error as Error).message}`);
    }
  };
  const [cert, key] = [read("nats-tls-cert"), read("nats-tls-key")];
  if ((cert === undefined) !== (key === undefined)) {
    const [have, lack] = cert === undefined
      ? ["--nats-tls-key", "--nats-tls-cert"]
      : ["--nats-tls-cert", "--nats-tls-key"];
    throw new UsageError(`Cannot use ${have} alone: give ${lack} FILE too (both or neither)`);
  }
  const ca = read("nats-tls-ca");
  const tls = ca === undefined && cert === undefined && !servers.some((s) => s.startsWith("tls:"))
    ? undefined
    : { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  const creds = read("nats-creds");
  if (creds !== undefined && !(CREDS_JWT.test(creds) && CREDS_SEED.test(creds))) {
    throw new UsageError(
      `Invalid --nats-creds ${flags["nats-creds"]}: not a NATS .creds file ` +
        "(a user JWT and a user NKey seed, as nsc writes them)",
    );
  }
  return {
    servers,
    creds,
    tls,
    stream: flags["nats-stream"],
    replicas,
    maxAgeMs: Math.round(days * 86_400_000),
    maxBytes: mib * 1024 * 1024,
  };
}
