import assert from "node:assert/strict";
import { MIN_RSA_BITS, weakKeyReason } from "./ssh_key_policy.ts";

Deno.test("weakKeyReason() accepts ed25519, ECDSA and RSA signed with SHA-2", () => {
  for (
    const type of [
      "ssh-ed25519",
      "ecdsa-sha2-nistp256",
      "ecdsa-sha2-nistp384",
      "ecdsa-sha2-nistp521",
    ]
  ) {
    assert.equal(weakKeyReason({ type, hashAlgo: undefined }), undefined, type);
  }
  for (const hashAlgo of ["sha256", "sha512"]) {
    assert.equal(weakKeyReason({ type: "ssh-rsa", hashAlgo, rsaBits: 2048 }), undefined);
    assert.equal(weakKeyReason({ type: "ssh-rsa", hashAlgo, rsaBits: 4096 }), undefined);
  }
});

Deno.test("weakKeyReason() refuses DSA keys and says what to use", () => {
  const why = weakKeyReason({ type: "ssh-dss", hashAlgo: undefined });
  assert.match(why ?? "", /^Refused ssh-dss \(DSA\) key: .*ssh-keygen -t ed25519/);
});

Deno.test("weakKeyReason() refuses RSA signatures with SHA-1", () => {
  const why = weakKeyReason({ type: "ssh-rsa", hashAlgo: undefined, rsaBits: 4096 });
  assert.match(why ?? "", /^Refused RSA signature with SHA-1 \(ssh-rsa\): .*rsa-sha2-256/);
  assert.ok(weakKeyReason({ type: "ssh-rsa", hashAlgo: "sha1", rsaBits: 4096 }));
});

Deno.test("weakKeyReason() refuses RSA keys shorter than MIN_RSA_BITS", () => {
  assert.equal(MIN_RSA_BITS, 2048);
  const why = weakKeyReason({ type: "ssh-rsa", hashAlgo: "sha256", rsaBits: 1024 });
  assert.match(why ?? "", /^Refused 1024-bit RSA key: at least 2048 bits/);
});

Deno.test("weakKeyReason() refuses unknown types, quoting them safely", () => {
  const why = weakKeyReason({ type: "sk-ssh-ed25519@openssh.com", hashAlgo: undefined });
  assert.match(why ?? "", /^Refused sk-ssh-ed25519@openssh\.com key: accepted are/);
  const hostile = weakKeyReason({ type: "x\x1b[2J\n", hashAlgo: undefined });
  assert.match(hostile ?? "", /^Refused x\?\[2J\? key/);
});
