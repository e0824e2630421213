// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import { KEY_SPECS, KeygenDir } from "../../tests/helpers/ssh_keygen.ts";
import { decodeBase64, encodeBase64 } from "./_base64.ts";
import {
  parsePublicKeyLine,
  parseSshSignature,
  sshKeyFingerprint,
  SshSignatureError,
  verifySshSignature,
} from "./sshsig.ts";

const enc = new TextEncoder();
const MESSAGE = enc.encode("meshchat register nick=alice challenge=abc\n");

/** Rebuilds an armored signature from its parts, to forge what ssh-keygen never writes. */
function armor(parts: {
  key: Uint8Array;
  namespace: string;
  hash: string;
  algorithm: string;
  signature: Uint8Array;
}): string {
  const str = (bytes: Uint8Array) => {
    const out = new Uint8Array(4 + bytes.length);
    new DataView(out.buffer).setUint32(0, bytes.length);
    out.set(bytes, 4);
    return out;
  };
  const inner = new Uint8Array([...str(enc.encode(parts.algorithm)), ...str(parts.signature)]);
  const blob = new Uint8Array([
    ...enc.encode("SSHSIG"),
    0,
    0,
    0,
    1,
    ...str(parts.key),
    ...str(enc.encode(parts.namespace)),
    ...str(new Uint8Array()),
    ...str(enc.encode(parts.hash)),
    ...str(inner),
  ]);
  return `-----BEGIN SSH SIGNATURE-----\n${
    encodeBase64(blob, "base64")
  }\n-----END SSH SIGNATURE-----\n`;
}

function partsOf(armored: string) {
  const parsed = parseSshSignature(armored);
  return {
    key: parsed.publicKey.blob,
    namespace: parsed.namespace,
    hash: parsed.hashAlgorithm,
    algorithm: parsed.algorithm,
    signature: parsed.signature,
  };
}

async function refused(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error) => {
    assert.ok(error instanceof SshSignatureError, `${error.name}: ${error.message}`);
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("sshsig: real ssh-keygen signatures verify, and tampered ones are refused, per key type", async (t) => {
  const keys = await KeygenDir.create();
  try {
    const other = await keys.key("ed25519");
    for (const spec of Object.keys(KEY_SPECS) as (keyof typeof KEY_SPECS)[]) {
      await t.step(spec, async () => {
        const key = await keys.key(spec);
        const publicKey = parsePublicKeyLine(key.publicLine);
        assert.equal(await sshKeyFingerprint(publicKey), key.fingerprint);
        const armored = await keys.sign(key, MESSAGE);
        const options = { message: MESSAGE, namespace: "meshchat", publicKey };

        const signer = await verifySshSignature(armored, options);
        assert.deepEqual(signer.blob, publicKey.blob);
        if (spec === "rsa") assert.equal(signer.rsaBits, 2048);

        // Another namespace (made for git, say) is not valid here.
        await refused(
          verifySshSignature(await keys.sign(key, MESSAGE, "git"), options),
          /namespace git, not meshchat/,
        );
        // Another message.
        await refused(
          verifySshSignature(armored, { ...options, message: enc.encode("another challenge\n") }),
          /does not verify/,
        );
        // Another key expected.
        await refused(
          verifySshSignature(armored, {
            ...options,
            publicKey: parsePublicKeyLine(other.publicLine),
          }),
          /another key/,
        );
        // Truncated: the armor cut in the middle, and the blob cut short.
        const lines = armored.trim().split("\n");
        await refused(
          verifySshSignature(lines.slice(0, 3).join("\n"), options),
          /paste it whole/,
        );
        const blob = decodeBase64(lines.slice(1, -1).join(""), "base64");
        const short = encodeBase64(blob.slice(0, blob.length - 9), "base64");
        await refused(
          verifySshSignature(
            `-----BEGIN SSH SIGNATURE-----\n${short}\n-----END SSH SIGNATURE-----`,
            options,
          ),
          /cut short|not base64/,
        );
        // One bit of the signature flipped.
        const parts = partsOf(armored);
        const flipped = parts.signature.slice();
        flipped[flipped.length - 2]! ^= 1;
        await refused(
          verifySshSignature(armor({ ...parts, signature: flipped }), options),
          /does not verify|Invalid signature/,
        );
      });
    }

    await t.step("SHA-256 as the message hash (-O hashalg=sha256)", async () => {
      const key = await keys.key("nistp256");
      const armored = await keys.sign(key, MESSAGE, "meshchat", ["-O", "hashalg=sha256"]);
      assert.equal(parseSshSignature(armored).hashAlgorithm, "sha256");
      await verifySshSignature(armored, { message: MESSAGE, namespace: "meshchat" });
    });

    await t.step("a signature relabelled with another key's blob does not verify", async () => {
      const key = await keys.key("ed25519");
      const parts = partsOf(await keys.sign(key, MESSAGE));
      const otherKey = parsePublicKeyLine(other.publicLine);
      await refused(
        verifySshSignature(armor({ ...parts, key: otherKey.blob }), {
          message: MESSAGE,
          namespace: "meshchat",
          publicKey: otherKey,
        }),
        /does not verify/,
      );
    });

    await t.step("RSA signed with SHA-1 and mismatched algorithms are refused", async () => {
      const key = await keys.key("rsa");
      const parts = partsOf(await keys.sign(key, MESSAGE));
      const options = { message: MESSAGE, namespace: "meshchat" };
      await refused(
        verifySshSignature(armor({ ...parts, algorithm: "ssh-rsa" }), options),
        /SHA-1/,
      );
      await refused(
        verifySshSignature(armor({ ...parts, algorithm: "ssh-ed25519" }), options),
        /ssh-ed25519 with an RSA key/,
      );
      await refused(
        verifySshSignature(armor({ ...parts, hash: "sha1" }), options),
        /Unsupported hash sha1/,
      );
    });
  } finally {
    await keys.remove();
  }
});

Deno.test("sshsig: public key lines are checked", () => {
  const ed25519 =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host";
  assert.equal(parsePublicKeyLine(ed25519).type, "ssh-ed25519");
  assert.throws(
    () => parsePublicKeyLine(ed25519.replace("ssh-ed25519", "ssh-rsa")),
    /ssh-ed25519 key labelled ssh-rsa/,
  );
  assert.throws(() => parsePublicKeyLine("hello"), /expected a line like ssh-ed25519/);
  assert.throws(
    () => parsePublicKeyLine(ed25519.replace("AAAAI", "AAAAH")),
    SshSignatureError,
  );
  // A security-key type: its signed data differs, and it is said so.
  const sk = encodeBase64(
    new Uint8Array([0, 0, 0, 26, ...enc.encode("sk-ssh-ed25519@openssh.com")]),
    "base64",
  );
  assert.throws(
    () => parsePublicKeyLine(`sk-ssh-ed25519@openssh.com ${sk}`),
    /security-key signatures are not supported/,
  );
});
