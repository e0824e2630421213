import assert from "node:assert/strict";
import tls from "node:tls";
import { certificateFingerprint } from "../../../core/crypto/certificate_fingerprint.ts";
import {
  derElement,
  derOid,
  derTime,
  derUnsignedInteger,
  generateCertificate,
  pemDecode,
  pemEncode,
} from "./tls_certificate.ts";
import { scratchDir } from "../../../tests/helpers/scratch_dir.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

Deno.test("DER encoders write the known encodings of lengths, integers, OIDs and times", () => {
  assert.equal(hex(derElement(0x04, new Uint8Array(3))), "0403000000");
  assert.equal(hex(derElement(0x04, new Uint8Array(200)).subarray(0, 3)), "0481c8");
  assert.equal(hex(derElement(0x04, new Uint8Array(300)).subarray(0, 4)), "0482012c");
  assert.equal(hex(derUnsignedInteger(new Uint8Array([0, 0, 5]))), "020105");
  assert.equal(hex(derUnsignedInteger(new Uint8Array([0x80]))), "02020080");
  assert.equal(hex(derUnsignedInteger(new Uint8Array([0]))), "020100");
  // ecdsa-with-SHA256, as in every ECDSA certificate.
  assert.equal(hex(derOid("1.2.840.10045.4.3.2")), "06082a8648ce3d040302");
  assert.throws(() => derOid("1"), RangeError);
  assert.equal(
    new TextDecoder().decode(derTime(new Date("2049-12-31T23:59:59Z")).subarray(2)),
    "491231235959Z",
  );
  assert.equal(derTime(new Date("2049-01-01T00:00:00Z"))[0], 0x17, "UTCTime before 2050");
  assert.equal(derTime(new Date("2050-01-01T00:00:00Z"))[0], 0x18, "GeneralizedTime from 2050");
});

Deno.test("pemDecode() reads back what pemEncode() wrote and refuses a missing block", () => {
  const der = crypto.getRandomValues(new Uint8Array(100));
  assert.deepEqual(pemDecode(`junk\n${pemEncode("CERTIFICATE", der)}`, "CERTIFICATE"), der);
  assert.throws(() => pemDecode("nothing", "CERTIFICATE"), SyntaxError);
});

Deno.test("generateCertificate() makes a certificate openssl reads: self-signed, not a CA, no expiry", async () => {
  const { cert } = await generateCertificate({
    commonName: "meshchat node n1",
    now: new Date("2026-06-01T12:00:00Z"),
  });
  const dir = await scratchDir();
  try {
    await Deno.writeTextFile(`${dir}/cert.pem`, cert);
    const run = async (args: string[]) => {
      const out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
        .output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      return new TextDecoder().decode(out.stdout);
    };
    const text = await run(["x509", "-in", `${dir}/cert.pem`, "-noout", "-text"]);
    assert.match(text, /Subject: CN ?= ?meshchat node n1/);
    assert.match(text, /Issuer: CN ?= ?meshchat node n1/);
    assert.match(text, /Not Before: May 31 12:00:00 2026 GMT/);
    assert.match(text, /Not After : Dec 31 23:59:59 9999 GMT/);
    assert.match(text, /CA:FALSE/);
    assert.match(text, /ecdsa-with-SHA256/);
    assert.match(text, /TLS Web Server Authentication/);
    // The signature is the certificate's own: openssl verifies it against itself.
    const verified = await run([
      ...["verify", "-CAfile", `${dir}/cert.pem`, "-partial_chain", "-attime", "1790000000"],
      `${dir}/cert.pem`,
    ]);
    assert.match(verified, /: OK/);
    // The fingerprint is openssl's SHA-256 of the DER, in the SSH form.
    const openssl = await run([
      "x509",
      "-in",
      `${dir}/cert.pem`,
      "-noout",
      "-fingerprint",
      "-sha256",
    ]);
    const bytes = openssl.trim().split("=")[1]!.split(":").map((h) => parseInt(h, 16));
    const expected = `SHA256:${btoa(String.fromCharCode(...bytes)).replace(/=+$/, "")}`;
    assert.equal(await certificateFingerprint(pemDecode(cert, "CERTIFICATE")), expected);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a generated certificate serves TLS, and a client sees the same fingerprint", async () => {
  const { cert, key } = await generateCertificate({ commonName: "meshchat test" });
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const served = (async () => {
    const conn = await listener.accept();
    await conn.write(new TextEncoder().encode("hi\n"));
    conn.close();
  })();
  try {
    const socket = tls.connect({
      host: "127.0.0.1",
      port: listener.addr.port,
      rejectUnauthorized: false,
    });
    const seen = await new Promise<{ raw: Uint8Array; authorized: boolean; data: string }>(
      (resolve, reject) => {
        socket.once("error", reject);
        socket.once("data", (data) => {
          const peer = socket.getPeerCertificate();
          resolve({
            raw: new Uint8Array(peer.raw),
            authorized: socket.authorized,
            data: String(data),
          });
        });
      },
    );
    socket.destroy();
    assert.equal(seen.data, "hi\n");
    assert.equal(seen.authorized, false, "self-signed: no CA vouches for it");
    assert.equal(
      await certificateFingerprint(seen.raw),
      await certificateFingerprint(pemDecode(cert, "CERTIFICATE")),
    );
  } finally {
    await served;
    listener.close();
  }
});
