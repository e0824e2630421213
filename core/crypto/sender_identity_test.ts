// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import { decodeHex, encodeBase64, encodeHex } from "./_base64.ts";
import { decodeSignerKey, SenderIdentity, verifySignature } from "./sender_identity.ts";

Deno.test("Ed25519 through Web Crypto matches RFC 8032 section 7.1 test 1", async () => {
  const secret = decodeHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const publicKey = decodeHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const privateKey = await crypto.subtle.importKey(
    "jwk",
    {
      kty: "OKP",
      crv: "Ed25519",
      d: encodeBase64(secret, "base64url"),
      x: encodeBase64(publicKey, "base64url"),
    },
    "Ed25519",
    false,
    ["sign"],
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign("Ed25519", privateKey, new Uint8Array(0)),
  );
  assert.equal(
    encodeHex(signature),
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  );
  assert.equal(await verifySignature(publicKey, signature, new Uint8Array(0)), true);
  assert.equal(await verifySignature(publicKey, signature, new Uint8Array(1)), false);
});

Deno.test("SenderIdentity.generate() makes a non-extractable key that signs verifiably", async () => {
  const me = await SenderIdentity.generate();
  assert.match(me.publicKey, /^[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(decodeSignerKey(me.publicKey), me.publicKeyBytes());
  const data = new TextEncoder().encode("hello");
  const signature = await me.sign(data);
  assert.equal(signature.length, 64);
  assert.equal(await verifySignature(me.publicKeyBytes(), signature, data), true);
  const other = await SenderIdentity.generate();
  assert.equal(await verifySignature(other.publicKeyBytes(), signature, data), false);
});

Deno.test("SenderIdentity.fromKeyPair() refuses keys that are not Ed25519", async () => {
  const ecdsa = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  await assert.rejects(SenderIdentity.fromKeyPair(ecdsa), TypeError);
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const me = await SenderIdentity.fromKeyPair(pair);
  assert.deepEqual(
    me.publicKeyBytes(),
    new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
  );
});

Deno.test("verifySignature() returns false for malformed keys and signatures", async () => {
  const data = new Uint8Array(3);
  assert.equal(await verifySignature(new Uint8Array(31), new Uint8Array(64), data), false);
  assert.equal(await verifySignature(new Uint8Array(32), new Uint8Array(63), data), false);
  assert.equal(
    await verifySignature(new Uint8Array(32).fill(0xff), new Uint8Array(64), data),
    false,
  );
});

Deno.test("decodeSignerKey() refuses anything but 32 bytes of base64url", () => {
  assert.throws(() => decodeSignerKey("AAAA"), RangeError);
  assert.throws(() => decodeSignerKey("not base64!"), SyntaxError);
});
