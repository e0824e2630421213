/**
 * A self-signed X.509 certificate for the client port, made offline with
 * WebCrypto: an ECDSA P-256 key and a version 3 certificate written in DER
 * by the few encoders below (no npm package, no openssl). The client does
 * not check it against a CA: it pins it on first use, as SSH pins a host
 * key, so the names in it are informative only.
 *
 * The certificate is valid from a day before it was made (clocks differ)
 * until 9999-12-31, the RFC 5280 "no well-defined expiration date": a node's
 * identity should not lapse while clients have it pinned.
 *
 * @example
 * ```ts
 * import { generateCertificate } from "./tls_certificate.ts";
 *
 * const { cert, key } = await generateCertificate({ commonName: "meshchat node n1" });
 * Deno.listenTls({ port: 0, cert, key }).close();
 * ```
 *
 * @module
 */
import { concatBytes } from "../../../core/bytes.ts";

/** A certificate and its private key, PEM text as `Deno.listenTls` and `node:tls` take them. */
export interface PemCertificate {
  /** `-----BEGIN CERTIFICATE-----` … */
  readonly cert: string;
  /** `-----BEGIN PRIVATE KEY-----` … (PKCS #8, unencrypted). */
  readonly key: string;
}

/** Options of {@linkcode generateCertificate}. */
export interface GenerateCertificateOptions {
  /** The subject's and issuer's common name, e.g. `meshchat node n1`. */
  commonName: string;
  /** When the certificate is made; it is valid from a day before. @default {new Date()} */
  now?: Date;
}

const encoder = new TextEncoder();

/** DER tags used here. */
const TAG = {
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
  /** `[0]` explicit (constructed, context-specific). */
  context0: 0xa0,
  /** `[3]` explicit. */
  context3: 0xa3,
} as const;

/**
 * One DER element: tag, definite length, contents.
 *
 * @param tag The tag byte.
 * @param contents The contents, concatenated.
 * @returns The encoded element.
 */
export function derElement(
  tag: number,
  ...contents: readonly Uint8Array[]
): Uint8Array<ArrayBuffer> {
  const body = concatBytes(...contents);
  const length = body.length;
  let header: number[];
  if (length < 0x80) header = [tag, length];
  else {
    const bytes: number[] = [];
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
    header = [tag, 0x80 | bytes.length, ...bytes];
  }
  return concatBytes(new Uint8Array(header), body);
}

/**
 * A DER INTEGER from unsigned big-endian bytes: leading zeros dropped, one
 * added back when the high bit is set (DER integers are signed).
 *
 * @param magnitude The value's bytes, most significant first.
 * @returns The encoded INTEGER.
 */
export function derUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const padded = (trimmed[0] ?? 0) & 0x80 ? concatBytes(new Uint8Array([0]), trimmed) : trimmed;
  return derElement(TAG.integer, padded.length === 0 ? new Uint8Array([0]) : padded);
}

/**
 * A DER OBJECT IDENTIFIER.
 *
 * @param dotted For example `1.2.840.10045.4.3.2`.
 * @returns The encoded OID.
 * @throws {RangeError} When it has fewer than two arcs.
 */
export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  if (arcs.length < 2 || arcs.some((arc) => !Number.isSafeInteger(arc) || arc < 0)) {
    throw new RangeError(`Invalid OID "${dotted}": use at least two dot-separated numbers`);
  }
  const out: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    // Base 128, high bit set on every byte but the last.
    const digits = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) {
      digits.unshift((rest & 0x7f) | 0x80);
    }
    out.push(...digits);
  }
  return derElement(TAG.oid, new Uint8Array(out));
}

/**
 * A certificate time: UTCTime before 2050, GeneralizedTime from then on (RFC 5280 §4.1.2.5).
 *
 * @param date The time (seconds precision).
 * @returns The encoded time.
 */
export function derTime(date: Date): Uint8Array {
  const iso = date.toISOString(); // 2026-12-04T05:10:40.123Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  const year = date.getUTCFullYear();
  return year < 2050
    ? derElement(TAG.utcTime, encoder.encode(`${digits.slice(2)}Z`))
    : derElement(TAG.generalizedTime, encoder.encode(`${digits}Z`));
}

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

const TRUE = new Uint8Array([0x01, 0x01, 0xff]);

function name(commonName: string): Uint8Array {
  const attribute = derElement(
    TAG.sequence,
    derOid(OID.commonName),
    derElement(TAG.utf8String, encoder.encode(commonName)),
  );
  return derElement(TAG.sequence, derElement(TAG.set, attribute));
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return derElement(
    TAG.sequence,
    derOid(oid),
    ...(critical ? [TRUE] : []),
    derElement(TAG.octetString, value),
  );
}

/** Not a CA; signs TLS handshakes (digitalSignature); a TLS server. */
function extensions(): Uint8Array {
  const notCa = extension(OID.basicConstraints, true, derElement(TAG.sequence));
  // BIT STRING, 7 unused bits, bit 0 (digitalSignature) set.
  const keyUsage = extension(OID.keyUsage, true, new Uint8Array([TAG.bitString, 2, 7, 0x80]));
  const serverAuth = extension(
    OID.extKeyUsage,
    false,
    derElement(TAG.sequence, derOid(OID.serverAuth)),
  );
  return derElement(TAG.context3, derElement(TAG.sequence, notCa, keyUsage, serverAuth));
}

/** WebCrypto's ECDSA signature (r ‖ s, 32 bytes each) as DER `Ecdsa-Sig-Value`. */
function ecdsaSigValue(raw: Uint8Array): Uint8Array {
  return derElement(
    TAG.sequence,
    derUnsignedInteger(raw.subarray(0, raw.length / 2)),
    derUnsignedInteger(raw.subarray(raw.length / 2)),
  );
}

/**
 * PEM armour for DER bytes.
 *
 * @param label For example `CERTIFICATE`.
 * @param der The bytes.
 * @returns The PEM text, 64 characters a line, ending in a newline.
 */
export function pemEncode(label: string, der: Uint8Array): string {
  let binary = "";
  for (const byte of der) binary += String.fromCharCode(byte);
  const lines = btoa(binary).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * The DER bytes of the first PEM block with this label.
 *
 * @param pem PEM text (other blocks and text around them are ignored).
 * @param label For example `CERTIFICATE`.
 * @returns The bytes.
 * @throws {SyntaxError} When there is no such block or its base64 is invalid.
 */
export function pemDecode(pem: string, label: string): Uint8Array {
  const match = new RegExp(`-----BEGIN ${label}-----([^-]*)-----END ${label}-----`).exec(pem);
  if (!match) throw new SyntaxError(`Cannot find a PEM ${label} block`);
  let binary: string;
  try {
    binary = atob(match[1]!.replace(/\s+/g, ""));
  } catch {
    throw new SyntaxError(`Cannot decode PEM ${label} block: invalid base64`);
  }
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

/**
 * Makes an ECDSA P-256 key and a self-signed certificate for it.
 *
 * @param options The common name and the time.
 * @returns Certificate and key as PEM.
 */
export async function generateCertificate(
  options: GenerateCertificateOptions,
): Promise<PemCertificate> {
  const { commonName, now = new Date() } = options;
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = serial[0]! & 0x7f || 0x01; // positive, 16 bytes, never a leading zero
  const algorithm = derElement(TAG.sequence, derOid(OID.ecdsaWithSha256));
  const tbs = derElement(
    TAG.sequence,
    derElement(TAG.context0, derUnsignedInteger(new Uint8Array([2]))), // version 3
    derUnsignedInteger(serial),
    algorithm,
    name(commonName),
    derElement(
      TAG.sequence,
      derTime(new Date(now.getTime() - 86_400_000)),
      derTime(new Date(Date.UTC(9999, 11, 31, 23, 59, 59))),
    ),
    name(commonName),
    spki,
    extensions(),
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, tbs),
  );
  const certificate = derElement(
    TAG.sequence,
    tbs,
    algorithm,
    // BIT STRING with no unused bits.
    derElement(TAG.bitString, new Uint8Array([0]), ecdsaSigValue(signature)),
  );
  return { cert: pemEncode("CERTIFICATE", certificate), key: pemEncode("PRIVATE KEY", pkcs8) };
}
