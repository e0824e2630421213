/**
 * How the terminal client opens a node's client port: TLS first, always.
 *
 * - A certificate a CA vouches for, for the name dialled, is accepted as
 *   any TLS client would (add a private CA with `DENO_CERT=ca.pem`).
 * - Otherwise (the certificate a node makes for itself) the certificate is
 *   pinned on first use in ./server_pins.ts, per address, and from then on
 *   a different one is refused with {@linkcode CertificateChangedError}: the
 *   warning OpenSSH gives for a changed host key, and how to accept the new
 *   certificate when the change is expected.
 * - A node that answers the handshake in plain text (`--client-tls off`, or
 *   something that is not a node) is used unencrypted, and the caller says
 *   so loudly — unless the address has a pin: a node that had TLS and now
 *   has not is what an attacker stripping TLS looks like, so it is refused
 *   ({@linkcode TlsDowngradeError}).
 *
 * Deno's own `Deno.connectTls` cannot show the certificate it rejected, so
 * the handshake runs in `node:tls` over the `Deno.TcpConn` (the TCP errors
 * stay Deno's, which ./node_connection.ts words for people). Only the
 * terminal client imports this module: the web client's bundle has no
 * `node:tls`.
 *
 * @module
 */
import tls from "node:tls";
import { concatBytes } from "../core/bytes.ts";
import { certificateFingerprint } from "../core/crypto/certificate_fingerprint.ts";
import { ConnDuplex, SocketStream } from "../node/frontends/tcp/socket_stream.ts";
import {
  ConnectError,
  connectFailureReason,
  dialNode,
  NodeConnection,
  parseAddress,
  WRONG_PORT_HINT,
} from "./node_connection.ts";
import { type Pin, pinKey, type ServerPins } from "./server_pins.ts";

/**
 * A node presented a certificate other than the one pinned for its
 * address. The message is the whole warning, several lines.
 */
export class CertificateChangedError extends ConnectError {
  /**
   * @param message The warning.
   */
  constructor(message: string) {
    super(message);
    this.name = "CertificateChangedError";
  }
}

/** A node that had TLS answered in plain text; the message says why that is refused. */
export class TlsDowngradeError extends ConnectError {
  /**
   * @param message What happened and what to do.
   */
  constructor(message: string) {
    super(message);
    this.name = "TlsDowngradeError";
  }
}

/** As long as a node has to welcome a hello. */
const HANDSHAKE_TIMEOUT_MS = 5000;

/**
 * Opens a node: TLS, trusted by a CA or by its pin, or plain text when the
 * node does not speak TLS and the address has no pin (`security.kind` is
 * then `"plain"`, for the caller to say).
 *
 * @param address `host:port`: the name checked against a CA-signed
 *   certificate, and the key of its pin.
 * @param pins The pinned certificates; a first certificate is pinned here.
 * @returns The connection.
 * @throws {CertificateChangedError} When the certificate is not the pinned one.
 * @throws {TlsDowngradeError} When a pinned node answers in plain text.
 * @throws {ConnectError} When the node cannot be reached or does not answer.
 */
export async function openSecureNode(address: string, pins: ServerPins): Promise<NodeConnection> {
  const { hostname } = parseAddress(address);
  // The node's first bytes: when they are not TLS, they may say why (a full node refuses in plain text).
  let answer = new Uint8Array();
  const keep = (bytes: Uint8Array) => {
    if (answer.length < MAX_ANSWER_BYTES) answer = concatBytes(answer, bytes);
  };
  const socket = tls.connect({
    socket: new ConnDuplex(await dialNode(address), new Uint8Array(), keep),
    // SNI takes names, not addresses.
    ...(/^[\d.]+$|:/.test(hostname) ? {} : { servername: hostname }),
    // Verified below, by a CA or by the pin: node:tls must not hang up before the certificate is seen.
    rejectUnauthorized: false,
  });
  try {
    await handshake(socket);
  } catch (error) {
    socket.destroy();
    if (error === TIMED_OUT) {
      throw new ConnectError(
        `No answer from ${address} within ${HANDSHAKE_TIMEOUT_MS / 1000} s: ${WRONG_PORT_HINT}`,
      );
    }
    if (!isPlainTextAnswer(error)) {
      throw new ConnectError(`Cannot connect to ${address}: ${connectFailureReason(error)}`, {
        cause: error,
      });
    }
    const refusal = refusalIn(answer);
    if (refusal !== undefined) {
      throw new ConnectError(`${address} refused to let you in: ${refusal}`);
    }
    const pin = pins.get(address);
    // The TLS attempt used that connection up: plain text starts afresh.
    if (pin === undefined) return await NodeConnection.open(address);
    throw new TlsDowngradeError(
      `Refusing ${address}: it answered without TLS, but its certificate is pinned ` +
        `(${pin.fingerprint}): someone may be stripping the encryption. If the node was ` +
        `really switched to --client-tls off, remove line ${pin.line ?? "?"} of ${
          pins.path ?? "the pin file"
        } to connect unencrypted`,
    );
  }
  const stream = new SocketStream(socket);
  if (socket.authorized) return NodeConnection.over(address, stream, { kind: "verified" });
  const fingerprint = await certificateFingerprint(
    new Uint8Array(socket.getPeerCertificate().raw),
  );
  const pin = pins.get(address);
  if (pin === undefined || pin.fingerprint === fingerprint) {
    const firstUse = pin === undefined ? pins.pin(address, fingerprint) : undefined;
    return NodeConnection.over(address, stream, { kind: "pinned", fingerprint, firstUse });
  }
  stream.close();
  throw new CertificateChangedError(changedWarning(address, fingerprint, pin, pins));
}

/** Of the node's plain-text answer, what is kept to read a refusal in (bytes). */
const MAX_ANSWER_BYTES = 4096;

/**
 * Refusals a node sends before it reads anything (node/frontends/connection_limits.ts): they
 * say the node is full, not that it lacks TLS.
 */
const ADMISSION_REFUSALS: ReadonlySet<string> = new Set([
  "too_many_connections",
  "server_full",
  "refused",
]);

/** The message of an admission refusal when `answer` starts with one. */
function refusalIn(answer: Uint8Array): string | undefined {
  const line = new TextDecoder().decode(answer).split("\n")[0] ?? "";
  try {
    const frame = JSON.parse(line) as { t?: unknown; code?: unknown; message?: unknown };
    if (frame.t !== "error" || !ADMISSION_REFUSALS.has(String(frame.code))) return undefined;
    return typeof frame.message === "string" ? frame.message : String(frame.code);
  } catch {
    return undefined;
  }
}

/** What {@linkcode handshake} rejects with when the node says nothing. */
const TIMED_OUT = Symbol("timed out");

/** Resolves when the handshake is done; rejects with its error, or {@linkcode TIMED_OUT}. */
function handshake(socket: tls.TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(TIMED_OUT), HANDSHAKE_TIMEOUT_MS);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once("close", () => {
      clearTimeout(timer);
      reject(new Error("the node closed the connection during the TLS handshake"));
    });
  });
}

/** Whether a handshake failed because the node answered with something other than TLS. */
function isPlainTextAnswer(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === "ERR_SSL_WRONG_VERSION_NUMBER" ||
    /InvalidContentType|wrong version number|corrupt message/i.test(String(message));
}

/** The warning for a changed certificate, worded after OpenSSH's for a changed host key. */
function changedWarning(
  address: string,
  fingerprint: string,
  pin: Pin,
  pins: ServerPins,
): string {
  const where = pins.path === undefined || pin.line === undefined
    ? "for this session"
    : `in ${pins.path}:${pin.line}`;
  const fix = pins.path === undefined || pin.line === undefined
    ? "start the client again to accept the new certificate."
    : `remove line ${pin.line} of ${pins.path}\n(the line starting "${pinKey(address)} "), ` +
      `then connect again to pin the new one.`;
  return [
    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
    "@    WARNING: NODE CERTIFICATE HAS CHANGED!               @",
    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
    "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!",
    "Someone could be eavesdropping on you right now (man-in-the-middle attack)!",
    "It is also possible that the node's certificate has just been changed",
    "(its data directory was reset, or it was given a new --tls-cert).",
    `The certificate ${address} sent has the fingerprint`,
    `  ${fingerprint}`,
    `but the one pinned ${where} is`,
    `  ${pin.fingerprint}`,
    "Ask the node's operator which is right: the node logs its fingerprint at start",
    '("client port tls … fingerprint=SHA256:…").',
    `If the change is expected, ${fix}`,
    `Refusing to connect to ${address}.`,
  ].join("\n");
}
