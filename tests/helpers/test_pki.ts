/**
 * A private CA and the certificates it signs, made with the `openssl` CLI
 * (EC P-256, valid two days) for tests of TLS between real processes: a
 * server certificate for `localhost` and `127.0.0.1`, a client certificate
 * for servers that verify their clients.
 *
 * @module
 */

/** A certificate and its private key: paths of PEM files. */
export interface CertificateFiles {
  /** The certificate (PEM). */
  readonly cert: string;
  /** Its private key (PEM, PKCS #8, unencrypted). */
  readonly key: string;
}

/** What a certificate issued by {@linkcode issueCertificate} is for. */
export type CertificateUse = "server" | "client";

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Makes a self-signed CA.
 *
 * @param dir Where its files go (must exist).
 * @param name Its common name, and the files' base name.
 * @returns The CA's certificate and key.
 */
export async function makeCa(dir: string, name: string): Promise<CertificateFiles> {
  const files = { cert: `${dir}/${name}.pem`, key: `${dir}/${name}.key` };
  await openssl([
    ...["req", "-x509", ...EC_KEY, "-keyout", files.key, "-out", files.cert, "-days", "2"],
    ...["-subj", `/CN=${name}`],
  ]);
  return files;
}

/**
 * Issues a certificate signed by a CA: for a server, named `localhost` and
 * `127.0.0.1`; for a client, with the client-auth usage only.
 *
 * @param ca The signing CA ({@linkcode makeCa}).
 * @param dir Where its files go.
 * @param name Its common name, and the files' base name.
 * @param use Server or client.
 * @returns The certificate and key.
 */
export async function issueCertificate(
  ca: CertificateFiles,
  dir: string,
  name: string,
  use: CertificateUse,
): Promise<CertificateFiles> {
  const files = { cert: `${dir}/${name}.pem`, key: `${dir}/${name}.key` };
  const csr = `${dir}/${name}.csr`;
  const ext = `${dir}/${name}.ext`;
  await Deno.writeTextFile(
    ext,
    [
      "basicConstraints=critical,CA:FALSE",
      use === "server"
        ? "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"
        : "extendedKeyUsage=clientAuth",
    ].join("\n") + "\n",
  );
  await openssl(["req", ...EC_KEY, "-keyout", files.key, "-out", csr, "-subj", `/CN=${name}`]);
  await openssl([
    ...["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial"],
    ...["-out", files.cert, "-days", "2", "-extfile", ext],
  ]);
  return files;
}
