// Copyright meshchat authors. All rights reserved.
//
// deno bench --allow-read core/crypto/
//
// Targets from the sealed-rooms issue: derivation ≤ 500 ms at the default
// parameters; seal + open ≤ 20 µs per 100-byte message. The baseline groups
// show what Web Crypto's per-call cost alone adds up to on this runtime.

import { deriveRoomKey, deriveRoomKeyInWorker, RoomKey } from "./room_key.ts";
import { newSealParams } from "./room_params.ts";
import { openMessage, sealMessage } from "./envelope.ts";
import { ReplayGuard } from "./replay_guard.ts";
import { SenderIdentity } from "./sender_identity.ts";
import { SignerPins } from "./signer_pins.ts";
import { aesGcmOpen, aesGcmSeal, HkdfSha256 } from "./symmetric.ts";

const ZERO_IV = new Uint8Array(12);

const params = newSealParams();
const PASSPHRASE = "correct horse battery staple";

Deno.bench({
  name: "deriveRoomKey() at m=64 MiB, t=3, p=4 (in process)",
  group: "derive",
  baseline: true,
  n: 10,
  warmup: 1,
  async fn() {
    await deriveRoomKey(PASSPHRASE, params);
  },
});

Deno.bench({
  name: "deriveRoomKeyInWorker() at m=64 MiB, t=3, p=4 (incl. worker start)",
  group: "derive",
  n: 10,
  warmup: 1,
  async fn() {
    await deriveRoomKeyInWorker(PASSPHRASE, params);
  },
});

const key = RoomKey.fromBytes(crypto.getRandomValues(new Uint8Array(32)));
const TEXT = "x".repeat(100);
let seq = 0;
const header = {
  room: "general",
  sender: "ada",
  session: "Hq3kV0m2bR9sYd1xT7uW4g",
  time: 1_700_000_000_000,
};
const sealed = await sealMessage(key, { ...header, seq: 1, text: TEXT });

const guard = new ReplayGuard();

Deno.bench({
  name: "seal + open, 100-byte message (with replay guard)",
  group: "message",
  baseline: true,
  async fn() {
    const envelope = await sealMessage(key, {
      ...header,
      seq: ++seq,
      text: TEXT,
    });
    await openMessage(key, envelope, { room: "general", replayGuard: guard });
  },
});

const identity = await SenderIdentity.generate();
const pins = new SignerPins();

Deno.bench({
  name: "seal + open, 100-byte message, Ed25519-signed (suite 2)",
  group: "message",
  async fn() {
    const envelope = await sealMessage(key, {
      ...header,
      seq: ++seq,
      text: TEXT,
    }, { identity });
    await openMessage(key, envelope, { room: "general", replayGuard: guard, pins });
  },
});

Deno.bench({
  name: "seal, 100-byte message",
  group: "message",
  async fn() {
    await sealMessage(key, { ...header, seq: ++seq, text: TEXT });
  },
});

Deno.bench({
  name: "open, 100-byte message",
  group: "message",
  async fn() {
    await openMessage(key, sealed, { room: "general" });
  },
});

Deno.bench({
  name: "seal + open, 100 messages concurrently (per call: divide by 100)",
  group: "batch",
  async fn() {
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        const envelope = await sealMessage(key, {
          ...header,
          seq: ++seq,
          text: TEXT,
        });
        await openMessage(key, envelope, { room: "general" });
      }),
    );
  },
});

// Floor: the cryptography alone of one seal and one open (two HKDF expands,
// one AES-256-GCM encryption and one decryption, in WebAssembly), without
// the envelope's encoding, parsing and checks.
const hkdf = new HkdfSha256(crypto.getRandomValues(new Uint8Array(32)));
const info = new Uint8Array(39);
const associatedData = new Uint8Array(100);
const plaintext = new TextEncoder().encode(TEXT);

Deno.bench({
  name: "floor: 2 × (HKDF expand + AES-256-GCM), 100 bytes, WebAssembly",
  group: "message",
  fn() {
    const sealKey = hkdf.expand(info, 64).subarray(0, 32);
    const sealedBytes = aesGcmSeal(sealKey, ZERO_IV, plaintext, associatedData);
    const openKey = hkdf.expand(info, 64).subarray(0, 32);
    if (aesGcmOpen(openKey, ZERO_IV, sealedBytes, associatedData) === null) {
      throw new Error("Cannot open benchmark message: authentication failed");
    }
  },
});

// Baseline: the floor any Web Crypto AES-GCM design pays here.
const aesKey = await crypto.subtle.importKey(
  "raw",
  crypto.getRandomValues(new Uint8Array(32)),
  "AES-GCM",
  false,
  ["encrypt", "decrypt"],
);

Deno.bench({
  name: "baseline: bare Web Crypto AES-256-GCM encrypt + decrypt, 100 bytes",
  group: "message",
  async fn() {
    const c = await crypto.subtle.encrypt({ name: "AES-GCM", iv: ZERO_IV }, aesKey, plaintext);
    await crypto.subtle.decrypt({ name: "AES-GCM", iv: ZERO_IV }, aesKey, c);
  },
});
