// Copyright meshchat authors. All rights reserved.
//
// deno bench tests/bench/mesh_channel_bench.ts
//
// The per-frame and per-handshake cost of the mesh channel's cryptography,
// without sockets. "raw AES-GCM" is the baseline: one encrypt and one decrypt
// straight through Web Crypto, which is what a sealed frame costs at least.

import {
  computeMeshProof,
  deriveMeshSecretSalt,
  deriveMeshSessionKeys,
  generateMeshEphemeral,
  MeshFrameOpener,
  MeshFrameSealer,
  verifyMeshProof,
} from "../../core/mesh_crypto.ts";

const SECRET = "7Jq2vX9rT1mB4kZ8wP0sN6yC3hD5fG7a";
const frame = crypto.getRandomValues(new Uint8Array(200));

const salt = await deriveMeshSecretSalt(SECRET);
const a = await generateMeshEphemeral();
const b = await generateMeshEphemeral();
const transcript = new Uint8Array([...a.publicKey, ...b.publicKey]);
const keysA = await deriveMeshSessionKeys(salt, a.privateKey, b.publicKey, transcript);
const keysB = await deriveMeshSessionKeys(salt, b.privateKey, a.publicKey, transcript);
const sealer = new MeshFrameSealer(keysA.initiatorToResponder);
const opener = new MeshFrameOpener(keysB.initiatorToResponder);

const webKey = await crypto.subtle.importKey("raw", keysA.responderToInitiator, "AES-GCM", false, [
  "encrypt",
  "decrypt",
]);

Deno.bench({
  name: "Web Crypto AES-GCM encrypt + decrypt, 200 bytes",
  group: "frame",
  baseline: true,
  async fn() {
    const iv = new Uint8Array(12);
    const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, webKey, frame);
    await crypto.subtle.decrypt({ name: "AES-GCM", iv }, webKey, sealed);
  },
});

Deno.bench({
  name: "MeshFrameSealer.seal() + MeshFrameOpener.open(), 200 bytes",
  group: "frame",
  async fn() {
    const opened = await opener.open(await sealer.seal(frame));
    if (opened === null) throw new Error("Cannot open benchmark frame: authentication failed");
  },
});

Deno.bench({
  name: "handshake cryptography of both sides (2 X25519 key pairs, 2 key schedules, 2 proofs)",
  group: "handshake",
  async fn() {
    const [i, r] = await Promise.all([generateMeshEphemeral(), generateMeshEphemeral()]);
    const t = new Uint8Array([...i.publicKey, ...r.publicKey]);
    const [ki, kr] = await Promise.all([
      deriveMeshSecretSalt(SECRET).then((s) =>
        deriveMeshSessionKeys(s, i.privateKey, r.publicKey, t)
      ),
      deriveMeshSecretSalt(SECRET).then((s) =>
        deriveMeshSessionKeys(s, r.privateKey, i.publicKey, t)
      ),
    ]);
    const proof = await computeMeshProof(ki.initiatorProof, ki.transcriptHash);
    if (!(await verifyMeshProof(kr.initiatorProof, kr.transcriptHash, proof))) {
      throw new Error("Cannot verify benchmark proof");
    }
    const back = await computeMeshProof(kr.responderProof, kr.transcriptHash);
    await verifyMeshProof(ki.responderProof, ki.transcriptHash, back);
  },
});
