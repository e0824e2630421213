/**
 * The SSH frontend: `ssh -p 2222 alice@host` puts a person in the chat.
 * Transport, authentication and channel policy live here; each shell or exec
 * channel becomes an {@linkcode SshChatSession}, which adapts it to the hub.
 *
 * Policy:
 *
 * - algorithms set explicitly: curve25519 key exchange, an ed25519 host key,
 *   AES-GCM or ChaCha20-Poly1305 ciphers, no compression; ssh2 ≥ 1.15 adds
 *   strict key exchange (the Terrapin fix);
 * - identity is the SHA256 fingerprint of a public key whose signature was
 *   verified; people without a key may join as guests (keyboard-interactive
 *   with no prompts) unless guests are off; passwords are never asked for;
 * - user keys: ed25519, ECDSA, RSA (2048 bits or more) signed with SHA-2
 *   ({@linkcode weakKeyReason}); a DSA key or an `ssh-rsa` (SHA-1) signature
 *   is refused with a banner that says why and what to use instead;
 * - at most 6 failed logins per connection, 20 s from connect to a running
 *   chat, failed logins rate-limited per address (an address over its budget
 *   is disconnected before the handshake), at most 16 connections per address
 *   that have not logged in yet;
 * - shared connection limits ({@linkcode ConnectionLimits}): connections per
 *   address and in total, repeat offenders refused with one line of text
 *   before the SSH banner; bytes per minute per connection; no bytes for the
 *   idle timeout drops a connection (the server sends SSH keepalives every
 *   third of it, so a client that is only reading still answers);
 * - refused: subsystems (sftp...), port forwarding both ways, X11, agent
 *   forwarding, more than a few channels per connection; PTY sizes clamped.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createPublicKey } from "node:crypto";
import net from "node:net";
// @deno-types="@types/ssh2"
import ssh2 from "ssh2";
import type {
  AcceptConnection,
  AuthContext,
  ClientInfo,
  Connection,
  ParsedKey,
  RejectConnection,
  ServerChannel,
  Session as Ssh2Session,
} from "ssh2";
import type { ErrorCode } from "../../../core/protocol.ts";
import { TokenBucket } from "../../../core/rate_limiter.ts";
import { ConnectionLimits } from "../connection_limits.ts";
import type { Hub } from "../../chat/hub.ts";
import { type Logger, silentLogger } from "../../logger.ts";
import type { NickRegistryView } from "../../chat/nick_registry.ts";
import type { UserSettingsStore } from "../../store/user_settings.ts";
import { validTimeZone } from "../../chat/user_preferences.ts";
import { addressKey } from "../../../core/address_key.ts";
import { SshAuthLimiter } from "./ssh_auth_limiter.ts";
import { sshFingerprint } from "./ssh_host_key.ts";
import { weakKeyReason } from "./ssh_key_policy.ts";
import {
  HISTORY_ENV,
  parseHistoryEnv,
  type SshChannel,
  SshChatSession,
  type SshTerminal,
} from "./ssh_session.ts";

/** The transport algorithms offered, in order of preference. */
export const SSH_ALGORITHMS = {
  kex: ["curve25519-sha256", "curve25519-sha256@libssh.org"],
  serverHostKey: ["ssh-ed25519"],
  cipher: [
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
  ],
  /** Unused with the AEAD ciphers above; listed so the negotiation is explicit. */
  hmac: ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com"],
  compress: ["none"],
} as const;

/** Options of {@linkcode SshListener.listen}. */
export interface SshListenerOptions {
  /** Address to bind. @default "0.0.0.0" */
  hostname?: string;
  /** Port; 0 picks a free one. @default 2222 */
  port?: number;
  /** The host private key (OpenSSH format, ed25519). */
  hostKey: string;
  /** Nick registry, to offer a key the nicks it owns. @default none */
  registry?: Pick<NickRegistryView, "nicksOf">;
  /**
   * Where people with a key keep their settings (flushed when the listener
   * closes). @default none: settings last the session
   */
  settings?: UserSettingsStore;
  /** Let people without a key in as guests. @default true */
  guests?: boolean;
  /** Failed logins per connection before it is cut. @default 6 */
  maxAuthAttempts?: number;
  /** Time from connect to a running chat session (ms). @default 20000 */
  handshakeTimeoutMs?: number;
  /** Session channels per connection. @default 3 */
  maxChannels?: number;
  /** Connections at once. @default 2000 */
  maxConnections?: number;
  /** Connections one address may have that have not logged in yet. @default 16 */
  maxPendingPerAddress?: number;
  /** Failed-login budget per address. @default a new SshAuthLimiter() */
  limiter?: SshAuthLimiter;
  /** Output a slow reader may have queued before it is dropped (bytes). @default 1048576 */
  maxQueueBytes?: number;
  /** Longest plain-mode input line (bytes). @default 16384 */
  maxLineBytes?: number;
  /** Largest PTY accepted; bigger requests are clamped. @default 1000 */
  maxColumns?: number;
  /**
   * Connections per address and in total, repeat offenders (share one with
   * the other frontends). @default a new ConnectionLimits()
   */
  limits?: ConnectionLimits;
  /** No bytes received for this long drops a connection (ms); 0 = never. @default 1800000 */
  idleTimeoutMs?: number;
  /** Bytes a connection may send per minute; 0 = no limit. @default 1048576 */
  maxBytesPerMinute?: number;
  /** Logger. @default silentLogger */
  logger?: Logger;
  /**
   * Makes a one-time web sign-in link (`/web`) for a key, a nick it owns,
   * and the local address the person's SSH connection reached (the link
   * names a host they can reach). @default none: `/web` is off
   */
  webSignIn?: (
    identity: { readonly fingerprint: string; readonly nick: string },
    localAddress: string,
  ) => { readonly url: string; readonly ttlMs: number };
}

/** One TCP connection and what it has proved so far. */
interface SshConnection {
  readonly socket: net.Socket;
  readonly address: string;
  readonly port: number;
  readonly deadline: ReturnType<typeof setTimeout>;
  client: Connection | undefined;
  username: string;
  fingerprint: string | undefined;
  authenticated: boolean;
  /** Still counted among its address's connections that have not logged in. */
  pending: boolean;
  failures: number;
  requests: number;
  /** Refusal reasons already sent as a banner (each once per connection). */
  readonly told: Set<string>;
  channels: number;
  started: boolean;
  readonly chats: Set<SshChatSession>;
  /** Bytes per minute budget, when limited. */
  readonly bytes: TokenBucket | undefined;
  lastReceived: number;
  dropped: boolean;
}

const KEY_ADVICE = "use an ed25519 key (ssh-keygen -t ed25519)";

/** Modulus size of an RSA key (bits), or undefined when it cannot be read. */
function rsaBits(key: ParsedKey): number | undefined {
  try {
    return createPublicKey(key.getPublicPEM()).asymmetricKeyDetails?.modulusLength;
  } catch {
    return undefined;
  }
}

/** The parts of ssh2's (internal) protocol object that write a packet. */
interface Ssh2Protocol {
  _kexinit?: unknown;
  _packetRW?: {
    write?: {
      allocStart: number;
      alloc(size: number): Buffer;
      finalize(packet: Buffer): Buffer;
    };
  };
  _cipher?: { encrypt(packet: Buffer): void };
}

/** SSH_MSG_USERAUTH_BANNER (RFC 4252 section 5.4). */
const USERAUTH_BANNER = 53;

/**
 * Sends a line the client shows during authentication (OpenSSH prints it on
 * stderr, ssh2 emits `banner`). RFC 4252 lets a server send a banner at any
 * time before login succeeds, but ssh2 only sends the one from its config,
 * at the start: this writes the packet the way ssh2 writes its own, through
 * its internals (ssh2 is pinned; tests/ssh_key_policy_test.ts checks the
 * banner arrives). When they are not there, or a key re-exchange is under
 * way, it sends nothing: the refusal is still logged and the login refused.
 */
function sendAuthBanner(client: Connection | undefined, text: string): void {
  const protocol = (client as unknown as { _protocol?: Ssh2Protocol } | undefined)?._protocol;
  const writer = protocol?._packetRW?.write;
  if (writer === undefined || protocol?._cipher === undefined) return;
  if (protocol._kexinit !== undefined) return;
  const body = Buffer.from(`${text}\r\n`, "utf8");
  let p = writer.allocStart;
  const packet = writer.alloc(1 + 4 + body.length + 4);
  packet[p] = USERAUTH_BANNER;
  packet.writeUInt32BE(body.length, ++p);
  packet.set(body, p += 4);
  packet.writeUInt32BE(0, p + body.length); // language tag: none
  protocol._cipher.encrypt(writer.finalize(packet));
}

/** A PTY height from the client: 24 when it sent none, at most 1000. */
function clampRows(value: unknown): number {
  const n = typeof value === "number" && Number.isFinite(value) ? Math.floor(value) : 0;
  return n < 1 ? 24 : Math.min(n, 1000);
}

function clamp(value: unknown, max: number): number {
  const n = typeof value === "number" && Number.isFinite(value) ? Math.floor(value) : 0;
  return n < 1 ? 80 : Math.min(n, max);
}

/**
 * A shell or exec channel as its chat session writes to it: everything one
 * write produces leaves in one socket write. ssh2 hands the socket four
 * pieces per packet (length, ciphertext, final block, tag), each a write of
 * its own; corked, they are joined into one, which is one system call and
 * one short-lived buffer per flush instead of four per packet.
 */
function chatChannel(channel: ServerChannel, socket: net.Socket): SshChannel {
  return {
    write(data: string): boolean {
      socket.cork();
      try {
        return channel.write(data);
      } finally {
        socket.uncork();
      }
    },
    get writableLength(): number {
      return channel.writableLength;
    },
    on(event: "data" | "end" | "close", listener: (data: Uint8Array) => void): unknown {
      return channel.on(event, listener);
    },
    exit: (status) => channel.exit(status),
    end: () => channel.end(),
    close: () => channel.close(),
  };
}

/** Accepts SSH connections and serves chat sessions on them. */
export class SshListener {
  readonly #hub: Hub;
  readonly #tcp: net.Server;
  readonly #ssh: ssh2.Server;
  readonly #logger: Logger;
  readonly #registry: Pick<NickRegistryView, "nicksOf"> | undefined;
  readonly #settings: UserSettingsStore | undefined;
  readonly #webSignIn: SshListenerOptions["webSignIn"];
  readonly #guests: boolean;
  readonly #maxAuthAttempts: number;
  readonly #handshakeTimeoutMs: number;
  readonly #maxChannels: number;
  readonly #maxConnections: number;
  readonly #maxPendingPerAddress: number;
  readonly #pendingByAddress = new Map<string, number>();
  readonly #limiter: SshAuthLimiter;
  readonly #maxQueueBytes: number;
  readonly #maxLineBytes: number;
  readonly #maxColumns: number;
  readonly #connections = new Set<SshConnection>();
  /** Accepted sockets waiting for ssh2 to announce their connection. */
  readonly #arriving = new Map<string, SshConnection>();
  readonly #limits: ConnectionLimits;
  readonly #idleTimeoutMs: number;
  readonly #maxBytesPerMinute: number;
  #idleSweep: ReturnType<typeof setInterval> | undefined;
  #addr: { hostname: string; port: number } = { hostname: "", port: 0 };
  #closed = false;

  private constructor(hub: Hub, options: SshListenerOptions) {
    const {
      hostKey,
      registry,
      settings,
      guests = true,
      maxAuthAttempts = 6,
      handshakeTimeoutMs = 20_000,
      maxChannels = 3,
      maxConnections = 2000,
      maxPendingPerAddress = 16,
      limiter = new SshAuthLimiter(),
      maxQueueBytes = 1 << 20,
      maxLineBytes = 16_384,
      maxColumns = 1000,
      logger = silentLogger,
      limits = new ConnectionLimits(),
      idleTimeoutMs = 1_800_000,
      maxBytesPerMinute = 1 << 20,
    } = options;
    this.#limits = limits;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#maxBytesPerMinute = maxBytesPerMinute;
    this.#hub = hub;
    this.#logger = logger;
    this.#registry = registry;
    this.#settings = settings;
    this.#webSignIn = options.webSignIn;
    this.#guests = guests;
    this.#maxAuthAttempts = maxAuthAttempts;
    this.#handshakeTimeoutMs = handshakeTimeoutMs;
    this.#maxChannels = maxChannels;
    this.#maxConnections = maxConnections;
    this.#maxPendingPerAddress = maxPendingPerAddress;
    this.#limiter = limiter;
    this.#maxQueueBytes = maxQueueBytes;
    this.#maxLineBytes = maxLineBytes;
    this.#maxColumns = maxColumns;
    this.#ssh = new ssh2.Server(
      {
        hostKeys: [hostKey],
        algorithms: {
          kex: [...SSH_ALGORITHMS.kex],
          serverHostKey: [...SSH_ALGORITHMS.serverHostKey],
          cipher: [...SSH_ALGORITHMS.cipher],
          hmac: [...SSH_ALGORITHMS.hmac],
          compress: [...SSH_ALGORITHMS.compress],
        },
        ident: "meshchat",
        // Keepalives make a reading client answer, so only dead ones go idle.
        ...(idleTimeoutMs > 0
          ? {
            keepaliveInterval: Math.max(100, Math.floor(idleTimeoutMs / 3)),
            keepaliveCountMax: 1e9,
          }
          : {}),
      },
      (client, info) => this.#onConnection(client, info),
    );
    this.#tcp = net.createServer((socket) => this.#accept(socket));
  }

  /**
   * Binds the port and starts serving.
   *
   * @param hub The hub to serve.
   * @param options Address, host key, limits.
   * @returns The listener, bound.
   * @throws {Error} When the port cannot be bound (`code` `EADDRINUSE`...).
   */
  static async listen(hub: Hub, options: SshListenerOptions): Promise<SshListener> {
    // Every small Buffer ssh2 keeps for a connection's life (its keys, IVs,
    // idents, the last auth tag: about ten) would otherwise pin an 8 KiB slab
    // of node:buffer's pool, some 6 KiB per connection. Without the pool each
    // Buffer is its own allocation. Only ssh2 uses node:buffer in a node.
    Buffer.poolSize = 0;
    const listener = new SshListener(hub, options);
    const { hostname = "0.0.0.0", port = 2222 } = options;
    await new Promise<void>((resolve, reject) => {
      listener.#tcp.once("error", reject);
      listener.#tcp.listen(port, hostname, () => {
        listener.#tcp.off("error", reject);
        resolve();
      });
    });
    listener.#tcp.on("error", (error) => {
      listener.#logger.error("ssh listener failed", { error: String(error) });
    });
    if (listener.#idleTimeoutMs > 0) {
      const every = Math.min(30_000, Math.max(250, Math.floor(listener.#idleTimeoutMs / 10)));
      listener.#idleSweep = setInterval(() => listener.#sweepIdle(), every);
    }
    const bound = listener.#tcp.address();
    if (bound !== null && typeof bound === "object") {
      listener.#addr = { hostname: bound.address, port: bound.port };
    }
    return listener;
  }

  /** The bound address. */
  get addr(): { hostname: string; port: number } {
    return this.#addr;
  }

  /** Open connections. */
  get connections(): number {
    return this.#connections.size;
  }

  /**
   * Stops accepting and ends every connection (chat sessions should have
   * been told by `hub.shutdown` first), waiting up to `graceMs` for their
   * output to go out.
   *
   * @param graceMs Longest wait before connections are cut.
   * @returns Resolves when every connection is closed.
   */
  async close(graceMs = 2000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#idleSweep);
    const stopped = new Promise<void>((resolve) => this.#tcp.close(() => resolve()));
    const open = [...this.#connections, ...this.#arriving.values()];
    const closed = open.map((conn) =>
      new Promise<void>((resolve) => {
        if (conn.socket.destroyed) return resolve();
        conn.socket.once("close", () => resolve());
      })
    );
    for (const conn of open) {
      for (const chat of conn.chats) chat.leave("node shutting down");
      if (conn.client) conn.client.end();
      else conn.socket.destroy();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
    for (const conn of open) conn.socket.destroy();
    await stopped;
    await this.#settings?.flush();
  }

  #accept(socket: net.Socket): void {
    const address = socket.remoteAddress ?? "";
    const port = socket.remotePort ?? 0;
    socket.on("error", () => {});
    const pendingKey = addressKey(address);
    const pending = this.#pendingByAddress.get(pendingKey) ?? 0;
    if (
      this.#closed ||
      this.#connections.size + this.#arriving.size >= this.#maxConnections ||
      pending >= this.#maxPendingPerAddress ||
      !this.#limiter.allows(address)
    ) {
      this.#logger.debug("ssh connection refused", { addr: address });
      socket.destroy();
      return;
    }
    const admission = this.#limits.admit(address);
    if (!admission.ok) {
      this.#logger.debug("ssh connection refused", { addr: address, code: admission.refusal.code });
      // Lines before the version banner are allowed (RFC 4253 4.2); clients show them.
      const timer = setTimeout(() => socket.destroy(), 1000);
      socket.end(`${admission.refusal.message}\r\n`, () => {
        clearTimeout(timer);
        socket.destroy();
      });
      return;
    }
    socket.setNoDelay(true);
    const conn: SshConnection = {
      socket,
      address,
      port,
      deadline: setTimeout(() => this.#timedOut(conn), this.#handshakeTimeoutMs),
      client: undefined,
      username: "",
      fingerprint: undefined,
      authenticated: false,
      pending: true,
      failures: 0,
      requests: 0,
      told: new Set(),
      channels: 0,
      started: false,
      chats: new Set(),
      bytes: this.#maxBytesPerMinute === 0 ? undefined : new TokenBucket({
        capacity: this.#maxBytesPerMinute,
        refillPerSecond: this.#maxBytesPerMinute / 60,
        now: Date.now,
      }),
      lastReceived: Date.now(),
      dropped: false,
    };
    socket.on("data", (chunk: Uint8Array) => {
      conn.lastReceived = Date.now();
      if (conn.bytes !== undefined && !conn.bytes.tryTake(chunk.length)) {
        this.#drop(
          conn,
          "flood",
          `Disconnected: more than ${this.#maxBytesPerMinute} bytes sent per minute`,
          true,
        );
      }
    });
    this.#pendingByAddress.set(pendingKey, pending + 1);
    const key = `${address}|${port}`;
    this.#arriving.set(key, conn);
    socket.once("close", () => {
      admission.release();
      this.#loggedIn(conn);
      clearTimeout(conn.deadline);
      this.#arriving.delete(key);
      this.#connections.delete(conn);
    });
    this.#ssh.injectSocket(socket);
  }

  /** The connection no longer counts as pending for its address. */
  #loggedIn(conn: SshConnection): void {
    if (!conn.pending) return;
    conn.pending = false;
    const key = addressKey(conn.address);
    const left = (this.#pendingByAddress.get(key) ?? 1) - 1;
    if (left > 0) this.#pendingByAddress.set(key, left);
    else this.#pendingByAddress.delete(key);
  }

  #timedOut(conn: SshConnection): void {
    if (conn.started) return;
    this.#logger.debug("ssh handshake timed out", { addr: conn.address });
    if (!conn.authenticated) this.#limiter.fail(conn.address);
    this.#limits.offend(conn.address);
    conn.socket.destroy();
  }

  #sweepIdle(): void {
    const now = Date.now();
    for (const conn of this.#connections) {
      if (conn.dropped || now - conn.lastReceived < this.#idleTimeoutMs) continue;
      const seconds = Math.round(this.#idleTimeoutMs / 1000);
      this.#drop(conn, "idle_timeout", `Disconnected: nothing received for ${seconds} s`, false);
    }
  }

  /**
   * Tells the person why (a line in their chat, when one runs), counts an
   * offence if it is one, and ends the connection.
   */
  #drop(conn: SshConnection, code: ErrorCode, message: string, offence: boolean): void {
    if (conn.dropped) return;
    conn.dropped = true;
    const refused = offence && this.#limits.offend(conn.address);
    this.#logger.info("ssh connection dropped", { addr: conn.address, code, refused });
    for (const chat of conn.chats) {
      chat.send({ t: "error", code, message });
      chat.leave(code.replaceAll("_", " "));
    }
    if (conn.client === undefined) {
      conn.socket.destroy();
      return;
    }
    // The flood stops counting; give the goodbye a moment, then cut.
    conn.socket.pause();
    conn.client.end();
    setTimeout(() => conn.socket.destroy(), 2000);
  }

  #onConnection(client: Connection, info: ClientInfo): void {
    const key = `${info.ip}|${info.port}`;
    const conn = this.#arriving.get(key);
    client.on("error", (error: Error) => {
      this.#logger.debug("ssh connection error", { addr: info.ip, error: error.message });
    });
    if (conn === undefined || this.#closed) {
      client.end();
      return;
    }
    this.#arriving.delete(key);
    if (conn.socket.destroyed) return;
    conn.client = client;
    this.#connections.add(conn);
    client.on("authentication", (ctx) => this.#authenticate(conn, ctx));
    client.on("ready", () => {
      conn.authenticated = true;
      this.#loggedIn(conn);
      this.#logger.info("ssh login", {
        user: conn.username.slice(0, 32),
        key: conn.fingerprint ?? "guest",
        addr: `${conn.address}:${conn.port}`,
      });
    });
    client.on("session", (accept, reject) => this.#openSession(conn, accept, reject));
  }

  #authenticate(conn: SshConnection, ctx: AuthContext): void {
    const methods = this.#guests ? ["publickey", "keyboard-interactive"] : ["publickey"];
    const fail = (why: string) => {
      conn.failures++;
      this.#limiter.fail(conn.address);
      this.#logger.debug("ssh login refused", { addr: conn.address, method: ctx.method, why });
      ctx.reject(methods as Parameters<typeof ctx.reject>[0]);
      if (conn.failures >= this.#maxAuthAttempts) {
        this.#logger.info("ssh login attempts exhausted", { addr: conn.address });
        conn.client?.end();
      }
    };
    /**
     * Refuses a key for what it is, not for a wrong secret: the person is
     * told why (once per reason). Not counted as a failed login, as an old
     * key in someone's agent is no attack; the request cap still bounds it.
     */
    const refuseKey = (why: string) => {
      if (!conn.told.has(why)) {
        conn.told.add(why);
        sendAuthBanner(conn.client, why);
      }
      this.#logger.info("ssh key refused", { addr: conn.address, why });
      ctx.reject(methods as Parameters<typeof ctx.reject>[0]);
    };
    // Queries ("would this key do?") are free, but not unlimited.
    if (++conn.requests > this.#maxAuthAttempts * 4) return fail("too many requests");
    switch (ctx.method) {
      case "none":
        // Every client starts here to learn the methods; not a failure.
        ctx.reject(methods as Parameters<typeof ctx.reject>[0]);
        return;
      case "publickey": {
        const parsed = ssh2.utils.parseKey(ctx.key.data);
        if (parsed instanceof Error || Array.isArray(parsed)) {
          return refuseKey(`Refused key: not a key type this server reads; ${KEY_ADVICE}`);
        }
        // The blob's own type must be the one the client signs as.
        if (parsed.type !== ctx.key.algo) {
          const claimed = ctx.key.algo.replace(/[^\x21-\x7e]/g, "?").slice(0, 40);
          return refuseKey(`Refused key: a ${parsed.type} key offered as ${claimed}`);
        }
        // Asked before a signature too, so ssh moves on to another key at once.
        const weak = weakKeyReason({
          type: parsed.type,
          hashAlgo: ctx.hashAlgo,
          ...(parsed.type === "ssh-rsa" ? { rsaBits: rsaBits(parsed) } : {}),
        });
        if (weak !== undefined) return refuseKey(weak);
        if (ctx.signature === undefined) {
          // ssh2 answers PK_OK; the login itself needs the signed request.
          ctx.accept();
          return;
        }
        // The signature over the session id proves the private key: without
        // this check anyone could log in with someone else's public key.
        if (parsed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) {
          return fail("bad signature");
        }
        conn.username = ctx.username;
        conn.fingerprint = sshFingerprint(new Uint8Array(parsed.getPublicSSH()));
        ctx.accept();
        return;
      }
      case "keyboard-interactive":
        if (!this.#guests) return fail("guests are off");
        conn.username = ctx.username;
        conn.fingerprint = undefined;
        ctx.accept();
        return;
      default:
        return fail(`method ${ctx.method} not offered`);
    }
  }

  #openSession(
    conn: SshConnection,
    accept: AcceptConnection<Ssh2Session>,
    reject: RejectConnection,
  ): void {
    if (this.#closed || conn.channels >= this.#maxChannels) {
      this.#logger.debug("ssh channel refused", { addr: conn.address, open: conn.channels });
      reject();
      return;
    }
    conn.channels++;
    const session = accept();
    let terminal: SshTerminal | undefined;
    let noColor = false;
    let timeZone: string | undefined;
    let history: number | undefined;
    let chat: SshChatSession | undefined;
    session.on("close", () => conn.channels--);
    session.on("pty", (accept, reject, info) => {
      if (chat !== undefined) return reject?.();
      terminal = {
        columns: clamp(info.cols, this.#maxColumns),
        rows: clampRows(info.rows),
        // ssh2 passes TERM along, though its types do not say so.
        term: String((info as { term?: unknown }).term ?? "").slice(0, 64),
      };
      accept?.();
    });
    session.on("window-change", (accept, _reject, info) => {
      const columns = clamp(info.cols, this.#maxColumns);
      const rows = clampRows(info.rows);
      if (terminal !== undefined) terminal = { ...terminal, columns, rows };
      chat?.resize(columns, rows);
      accept?.();
    });
    session.on("env", (accept, reject, info) => {
      if (info.key === "NO_COLOR" && chat === undefined) {
        noColor = true;
        accept?.();
      } else if (info.key === HISTORY_ENV && chat === undefined) {
        // A value that is no count is refused: the default applies.
        history = parseHistoryEnv(String(info.val).slice(0, 16));
        if (history === undefined) reject?.();
        else accept?.();
      } else if (info.key === "TZ" && chat === undefined) {
        // An IANA name (`Europe/Paris`); POSIX rules (`CET-1CEST`) are refused: the default applies.
        timeZone = validTimeZone(String(info.val).slice(0, 80));
        if (timeZone === undefined) reject?.();
        else accept?.();
      } else {
        reject?.();
      }
    });
    const start = (channel: ServerChannel, command: string | undefined) => {
      const webSignIn = this.#webSignIn;
      const fingerprint = conn.fingerprint;
      conn.started = true;
      clearTimeout(conn.deadline);
      chat = new SshChatSession(
        this.#hub,
        chatChannel(channel, conn.socket),
        {
          username: conn.username,
          fingerprint: conn.fingerprint,
          address: `${conn.address}:${conn.port}`,
          ownedNicks: conn.fingerprint === undefined
            ? []
            : this.#registry?.nicksOf(conn.fingerprint) ?? [],
        },
        {
          ...(terminal === undefined ? {} : { terminal }),
          ...(command === undefined ? {} : { command }),
          noColor,
          ...(timeZone === undefined ? {} : { timeZone }),
          ...(this.#settings === undefined ? {} : { settings: this.#settings }),
          ...(history === undefined ? {} : { history }),
          maxQueueBytes: this.#maxQueueBytes,
          maxLineBytes: this.#maxLineBytes,
          logger: this.#logger,
          onClosed: () => conn.chats.delete(chat!),
          ...(webSignIn === undefined || fingerprint === undefined ? {} : {
            webSignIn: (nick: string) =>
              webSignIn({ fingerprint, nick }, conn.socket.localAddress ?? "localhost"),
          }),
        },
      );
      conn.chats.add(chat);
      try {
        chat.start();
      } catch (error) {
        this.#logger.error("ssh session failed", { addr: conn.address, error: String(error) });
        chat.leave("error");
      }
    };
    session.on("shell", (accept, reject) => {
      if (chat !== undefined || this.#closed) return reject?.();
      start(accept(), undefined);
    });
    session.on("exec", (accept, reject, info) => {
      if (chat !== undefined || this.#closed) return reject?.();
      start(accept(), String(info.command).slice(0, 4000));
    });
    session.on("subsystem", (_accept, reject, info) => {
      this.#logger.debug("ssh subsystem refused", {
        addr: conn.address,
        name: String(info.name).slice(0, 32),
      });
      reject?.();
    });
  }
}
