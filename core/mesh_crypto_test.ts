// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import {
  computeMeshProof,
  decodeMeshHandshake,
  deriveMeshSecretSalt,
  deriveMeshSessionKeys,
  encodeMeshHandshake,
  generateMeshEphemeral,
  MESH_SYNC_FRAME_BYTES,
  MESH_TAG_BYTES,
  MeshFrameOpener,
  MeshFrameSealer,
  MeshHandshakeType,
  type MeshSessionKeys,
  verifyMeshProof,
} from "./mesh_crypto.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

async function session(
  secretA = "cluster secret",
  secretB = secretA,
): Promise<[MeshSessionKeys, MeshSessionKeys]> {
  const a = await generateMeshEphemeral();
  const b = await generateMeshEphemeral();
  const transcript = new Uint8Array([...a.publicKey, ...b.publicKey]);
  return await Promise.all([
    deriveMeshSessionKeys(
      await deriveMeshSecretSalt(secretA),
      a.privateKey,
      b.publicKey,
      transcript,
    ),
    deriveMeshSessionKeys(
      await deriveMeshSecretSalt(secretB),
      b.privateKey,
      a.publicKey,
      transcript,
    ),
  ]);
}

Deno.test("deriveMeshSessionKeys() gives both sides the same proof and traffic keys", async () => {
  const [a, b] = await session();
  assert.deepEqual(a.transcriptHash, b.transcriptHash);
  const proof = await computeMeshProof(a.initiatorProof, a.transcriptHash);
  assert.equal(await verifyMeshProof(b.initiatorProof, b.transcriptHash, proof), true);
  // A proof does not verify under the other direction's key (no reflection).
  assert.equal(await verifyMeshProof(b.responderProof, b.transcriptHash, proof), false);
  const sealed = await new MeshFrameSealer(a.initiatorToResponder).seal(bytes("hi"));
  assert.deepEqual(await new MeshFrameOpener(b.initiatorToResponder).open(sealed), bytes("hi"));
  assert.equal(await new MeshFrameOpener(b.responderToInitiator).open(sealed), null);
});

Deno.test("deriveMeshSessionKeys() gives different keys for different secrets", async () => {
  const [a, b] = await session("secret one", "secret two");
  const proof = await computeMeshProof(a.initiatorProof, a.transcriptHash);
  assert.equal(await verifyMeshProof(b.initiatorProof, b.transcriptHash, proof), false);
  const sealed = await new MeshFrameSealer(a.initiatorToResponder).seal(bytes("hi"));
  assert.equal(await new MeshFrameOpener(b.initiatorToResponder).open(sealed), null);
});

Deno.test("deriveMeshSessionKeys() binds the keys to the transcript", async () => {
  const salt = await deriveMeshSecretSalt("s");
  const a = await generateMeshEphemeral();
  const b = await generateMeshEphemeral();
  const one = await deriveMeshSessionKeys(salt, a.privateKey, b.publicKey, bytes("one"));
  const two = await deriveMeshSessionKeys(salt, b.privateKey, a.publicKey, bytes("two"));
  const proof = await computeMeshProof(one.initiatorProof, one.transcriptHash);
  assert.equal(await verifyMeshProof(two.initiatorProof, one.transcriptHash, proof), false);
});

Deno.test("deriveMeshSessionKeys() refuses malformed and low-order public keys", async () => {
  const salt = await deriveMeshSecretSalt("s");
  const { privateKey } = await generateMeshEphemeral();
  const lowOrder = new Uint8Array(32);
  lowOrder[0] = 1;
  for (const key of [new Uint8Array(31), new Uint8Array(32), lowOrder]) {
    await assert.rejects(
      deriveMeshSessionKeys(salt, privateKey, key, bytes("t")),
      SyntaxError,
    );
  }
});

Deno.test("deriveMeshSecretSalt() normalises to NFC and refuses an empty secret", async () => {
  assert.deepEqual(
    await deriveMeshSecretSalt("caf\u00e9"),
    await deriveMeshSecretSalt("cafe\u0301"),
  );
  assert.notDeepEqual(await deriveMeshSecretSalt("a"), await deriveMeshSecretSalt("b"));
  await assert.rejects(deriveMeshSecretSalt(""), RangeError);
  await assert.rejects(deriveMeshSecretSalt("\ud800"), RangeError);
  await assert.rejects(deriveMeshSecretSalt(42 as unknown as string), TypeError);
});

Deno.test("MeshFrameSealer.seal() uses 4 zero bytes and a big-endian counter as the IV", async () => {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  const sealer = new MeshFrameSealer(raw);
  await sealer.seal(bytes("zero"));
  const sealed = await sealer.seal(bytes("one"));
  assert.equal(sealer.counter, 2);
  assert.equal(sealed.length, 3 + MESH_TAG_BYTES);
  const iv = new Uint8Array(12);
  iv[11] = 1;
  const opened = await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, sealed);
  assert.deepEqual(new Uint8Array(opened), bytes("one"));
});

Deno.test("MeshFrameOpener.open() refuses reordered, tampered and later frames", async () => {
  const [a, b] = await session();
  const sealer = new MeshFrameSealer(a.initiatorToResponder);
  const frames = await Promise.all([bytes("0"), bytes("1"), bytes("2")].map((m) => sealer.seal(m)));

  const inOrder = new MeshFrameOpener(b.initiatorToResponder);
  for (const [i, frame] of frames.entries()) {
    assert.deepEqual(await inOrder.open(frame), bytes(String(i)));
  }

  const skipped = new MeshFrameOpener(b.initiatorToResponder);
  assert.equal(await skipped.open(frames[1]!), null);
  assert.equal(skipped.failed, true);
  // Once failed, even the right next frame is refused.
  assert.equal(await skipped.open(frames[0]!), null);

  const tampered = new MeshFrameOpener(b.initiatorToResponder);
  const flipped = frames[0]!.slice();
  flipped[0]! ^= 1;
  assert.equal(await tampered.open(flipped), null);
  assert.equal(await tampered.open(new Uint8Array(3)), null);
});

Deno.test("mesh frames above the synchronous size go through Web Crypto and keep the order", async () => {
  const [a, b] = await session();
  const sealer = new MeshFrameSealer(a.initiatorToResponder);
  const opener = new MeshFrameOpener(b.initiatorToResponder);
  const sizes = [0, 100, MESH_SYNC_FRAME_BYTES, MESH_SYNC_FRAME_BYTES + 1, 1 << 20, 200];
  const frames = sizes.map((n) => Uint8Array.from({ length: n }, (_, i) => i * 31));
  // Sealed all at once: the large ones settle later, but counters follow call order.
  const sealed = await Promise.all(frames.map((f) => sealer.seal(f)));
  for (const [i, frame] of sealed.entries()) {
    assert.deepEqual(await opener.open(frame), frames[i], `frame ${i} of ${sizes[i]} bytes`);
  }
  const flipped = (await sealer.seal(frames[4]!)).slice();
  flipped[1000]! ^= 1;
  assert.equal(await opener.open(flipped), null);
  assert.equal(opener.failed, true);
  assert.throws(() => new MeshFrameSealer(new Uint8Array(16)), RangeError);
});

Deno.test("encodeMeshHandshake() and decodeMeshHandshake() round-trip and check lengths", () => {
  const payload = crypto.getRandomValues(new Uint8Array(48));
  const body = encodeMeshHandshake(MeshHandshakeType.init, payload);
  assert.deepEqual(body.subarray(0, 6), new Uint8Array([0x4d, 0x45, 0x53, 0x48, 1, 1]));
  const message = decodeMeshHandshake(body);
  assert.equal(message.version, 1);
  assert.equal(message.type, MeshHandshakeType.init);
  assert.deepEqual(message.payload, payload);

  assert.throws(() => encodeMeshHandshake(MeshHandshakeType.init, new Uint8Array(47)), RangeError);
  assert.throws(() => decodeMeshHandshake(bytes("MES")), SyntaxError);
  assert.throws(() => decodeMeshHandshake(bytes("GET / HTTP/1.1")), SyntaxError);
  assert.throws(() => decodeMeshHandshake(bytes("MESH\x01\x09")), SyntaxError);
  assert.throws(() => decodeMeshHandshake(body.subarray(0, 53)), SyntaxError);
  // Another version is returned unchecked, so the caller can say "version".
  assert.equal(decodeMeshHandshake(bytes("MESH\x02\x77")).version, 2);
});
