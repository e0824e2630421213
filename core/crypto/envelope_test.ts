// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeBase64, decodeHex, encodeBase64, encodeHex } from "./_base64.ts";
import {
  ENVELOPE_SUITE,
  ENVELOPE_SUITE_SIGNED,
  ENVELOPE_VERSION,
  EnvelopeSyntaxError,
  MAX_ENVELOPE_LENGTH,
  MAX_TEXT_BYTES,
  openMessage,
  type PlainMessage,
  readEnvelopeHeader,
  sealMessage,
} from "./envelope.ts";
import { ReplayGuard } from "./replay_guard.ts";
import { RoomKey } from "./room_key.ts";
import { SenderIdentity } from "./sender_identity.ts";
import { SignerPins } from "./signer_pins.ts";
import { SealedMessageError, type SealedMessageErrorCode } from "./sealed_message_error.ts";

const enc = new TextEncoder();
const KEY_BYTES = Uint8Array.from({ length: 32 }, (_, i) => i);
const key = RoomKey.fromBytes(KEY_BYTES);
const otherKey = RoomKey.fromBytes(new Uint8Array(32).fill(0xee));

const MESSAGE: PlainMessage = {
  room: "general",
  sender: "ada",
  session: "s1",
  seq: 1,
  time: 1_700_000_000_000,
  text: "hello, sealed world",
};

const UNSIGNED = { signer: null, trust: "unsigned", verified: false } as const;

// Sealed once with the key bytes 00 01 … 1f; pins version 1 byte for byte.
const FIXTURE =
  "AgEHZ2VuZXJhbANhZGECczEAAAAAAAAAAQAAAYvP5WgA8Y5z1v2LQ8VrUIXIbbJgK_Er-2l5Z0tfWu637br3xiSzRhMspMN4ga8X0MXvvkGfNQIHy2xHtgQC8HNxpD8ux_5Qtn2Fh4lmSXSV8CPllgxUlaLJNKgPHr1NjL1OvfCK_Y0f";

async function rejectsWith(
  promise: Promise<unknown>,
  code: SealedMessageErrorCode,
  message?: string,
): Promise<SealedMessageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(
      error instanceof SealedMessageError,
      `expected SealedMessageError, got ${error}`,
    );
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.equal(error.message, message);
    return error;
  }
  assert.fail(`expected a SealedMessageError with code ${code}`);
}

function mutate(
  envelope: string,
  change: (bytes: Uint8Array<ArrayBuffer>) => Uint8Array,
): string {
  return encodeBase64(change(decodeBase64(envelope, "base64url")), "base64url");
}

Deno.test("AES-256-GCM through Web Crypto matches the GCM spec's test cases 13, 14 and 16", async () => {
  const cases = [
    {
      name: "13",
      key: "00".repeat(32),
      iv: "00".repeat(12),
      plain: "",
      aad: "",
      sealed: "530f8afbc74536b9a963b4f1c4cb738b",
    },
    {
      // Zero key and the zero IV that envelopes use.
      name: "14",
      key: "00".repeat(32),
      iv: "00".repeat(12),
      plain: "00".repeat(16),
      aad: "",
      sealed: "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919",
    },
    {
      name: "16",
      key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
      iv: "cafebabefacedbaddecaf888",
      plain: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
      aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
      sealed: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" +
        "76fc6ece0f4e1768cddf8853bb2d551b",
    },
  ];
  for (const c of cases) {
    const aesKey = await crypto.subtle.importKey(
      "raw",
      decodeHex(c.key),
      "AES-GCM",
      false,
      ["encrypt", "decrypt"],
    );
    const params = {
      name: "AES-GCM",
      iv: decodeHex(c.iv),
      additionalData: decodeHex(c.aad),
    };
    const sealed = await crypto.subtle.encrypt(
      params,
      aesKey,
      decodeHex(c.plain),
    );
    assert.equal(encodeHex(new Uint8Array(sealed)), c.sealed, c.name);
    const opened = await crypto.subtle.decrypt(params, aesKey, sealed);
    assert.equal(encodeHex(new Uint8Array(opened)), c.plain, c.name);
  }
});

Deno.test("sealMessage() and openMessage() round-trip every header field and the text", async () => {
  const envelope = await sealMessage(key, MESSAGE);
  assert.match(envelope, /^[A-Za-z0-9_-]+$/);
  const opened = await openMessage(key, envelope, { room: "general" });
  assert.deepEqual(opened, {
    ...MESSAGE,
    keyId: key.id,
    ...UNSIGNED,
    reordered: false,
  });
});

Deno.test("sealMessage() round-trips Unicode, empty and maximum-length text", async () => {
  for (
    const text of [
      "",
      "héllo 👋🏽 世界 \u0000\u001b[31m",
      "x".repeat(MAX_TEXT_BYTES),
      "é".repeat(MAX_TEXT_BYTES / 2),
    ]
  ) {
    const envelope = await sealMessage(key, { ...MESSAGE, text });
    assert.ok(envelope.length <= MAX_ENVELOPE_LENGTH);
    const opened = await openMessage(key, envelope, { room: "general" });
    assert.equal(opened.text, text);
  }
});

Deno.test("sealMessage() uses a fresh nonce for every message", async () => {
  const a = await sealMessage(key, MESSAGE);
  const b = await sealMessage(key, MESSAGE);
  assert.notEqual(a, b);
});

Deno.test("openMessage() opens the pinned version 2 envelope", async () => {
  const opened = await openMessage(key, FIXTURE, { room: "general" });
  assert.deepEqual(opened, { ...MESSAGE, keyId: key.id, ...UNSIGNED, reordered: false });
});

Deno.test("the pinned envelope follows the documented layout when rebuilt by hand", async () => {
  const bytes = decodeBase64(FIXTURE, "base64url");
  let o = 0;
  assert.equal(bytes[o++], ENVELOPE_VERSION);
  assert.equal(bytes[o++], ENVELOPE_SUITE);
  const fields: string[] = [];
  for (let i = 0; i < 3; i++) {
    const length = bytes[o++]!;
    fields.push(new TextDecoder().decode(bytes.subarray(o, o + length)));
    o += length;
  }
  assert.deepEqual(fields, ["general", "ada", "s1"]);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getBigUint64(o), 1n);
  assert.equal(view.getBigUint64(o + 8), 1_700_000_000_000n);
  o += 16;
  const keyId = bytes.subarray(o, o + 8);
  const nonce = bytes.slice(o + 8, o + 32);
  const commitment = bytes.subarray(o + 32, o + 64);
  const ciphertextAt = o + 64;

  const ikm = await crypto.subtle.importKey("raw", KEY_BYTES, "HKDF", false, [
    "deriveBits",
  ]);
  const hkdf = async (info: Uint8Array<ArrayBuffer>, n: number) =>
    new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info },
        ikm,
        n * 8,
      ),
    );
  assert.deepEqual(
    keyId,
    await hkdf(enc.encode("meshchat/v1 key id"), 8),
  );
  const okm = await hkdf(new Uint8Array([...enc.encode("meshchat/v1 msg"), ...nonce]), 64);
  assert.deepEqual(commitment, okm.subarray(32));
  const aesKey = await crypto.subtle.importKey(
    "raw",
    okm.slice(0, 32),
    "AES-GCM",
    false,
    ["decrypt"],
  );
  const plain = await crypto.subtle.decrypt(
    {
      name: "AES-GCM",
      iv: new Uint8Array(12),
      additionalData: bytes.subarray(0, ciphertextAt),
    },
    aesKey,
    bytes.subarray(ciphertextAt),
  );
  assert.equal(new TextDecoder().decode(plain), MESSAGE.text);
});

Deno.test("readEnvelopeHeader() reads the public header without the key", () => {
  assert.deepEqual(readEnvelopeHeader(FIXTURE), {
    version: 2,
    suite: 1,
    room: "general",
    sender: "ada",
    session: "s1",
    seq: 1,
    time: 1_700_000_000_000,
    keyId: key.id,
  });
  assert.throws(() => readEnvelopeHeader("AQ"), EnvelopeSyntaxError);
  assert.throws(() => readEnvelopeHeader("CQE"), {
    name: "EnvelopeSyntaxError",
    code: "unsupported_version",
    message: "Cannot read sealed envelope: unknown envelope version 9",
  });
});

Deno.test("openMessage() reports a wrong passphrase clearly", async () => {
  const envelope = await sealMessage(key, MESSAGE);
  await rejectsWith(
    openMessage(otherKey, envelope, { room: "general" }),
    "wrong_key",
    "Cannot open sealed message in #general: wrong passphrase",
  );
  await rejectsWith(
    openMessage(otherKey, envelope, { room: "#general".slice(1) }),
    "wrong_key",
  );
});

Deno.test("openMessage() refuses a room-A envelope spliced into room B", async () => {
  const roomA = await sealMessage(key, { ...MESSAGE, room: "a" });
  // Room B with its own key (another salt, so another key)...
  await rejectsWith(
    openMessage(otherKey, roomA, { room: "b" }),
    "wrong_room",
    "Cannot open sealed message in #b: envelope was sealed for #a",
  );
  // ...or even the same key: the room is checked first...
  await rejectsWith(openMessage(key, roomA, { room: "b" }), "wrong_room");
  // ...and rewriting the room in the header breaks the tag.
  const rewritten = mutate(roomA, (bytes) => {
    bytes[3] = "b".charCodeAt(0);
    return bytes;
  });
  await rejectsWith(
    openMessage(key, rewritten, { room: "b" }),
    "tampered",
    "Cannot open sealed message in #b: authentication tag does not match (envelope altered)",
  );
});

Deno.test("openMessage() refuses every single-bit flip, field by field", async () => {
  const bytes = decodeBase64(FIXTURE, "base64url");
  // Offsets for room "general", sender "ada", session "s1" and 19 bytes of text.
  const regions: Array<[number, number, string, SealedMessageErrorCode[]]> = [
    [0, 1, "version", ["unsupported_version"]],
    [1, 2, "suite", ["unsupported_version"]],
    [2, 3, "room length", ["bad_envelope", "wrong_room"]],
    [3, 10, "room", ["wrong_room", "bad_envelope"]],
    [10, 11, "sender length", ["bad_envelope", "tampered"]],
    [11, 14, "sender", ["tampered", "bad_envelope"]],
    [14, 15, "session length", ["bad_envelope", "tampered", "wrong_key"]],
    [15, 17, "session", ["tampered", "bad_envelope"]],
    [17, 25, "seq", ["tampered", "bad_envelope"]],
    [25, 33, "time", ["tampered", "bad_envelope"]],
    [33, 41, "key id", ["wrong_key"]],
    [41, 65, "nonce", ["tampered"]],
    [65, 97, "commitment", ["tampered"]],
    [97, 116, "ciphertext", ["tampered"]],
    [116, 132, "tag", ["tampered"]],
  ];
  assert.equal(bytes.length, 132);
  for (const [start, end, field, codes] of regions) {
    for (let i = start; i < end; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = new Uint8Array(bytes);
        flipped[i]! ^= 1 << bit;
        try {
          await openMessage(key, encodeBase64(flipped, "base64url"), {
            room: "general",
          });
          assert.fail(`${field}: flipping byte ${i} bit ${bit} was accepted`);
        } catch (error) {
          assert.ok(error instanceof SealedMessageError, String(error));
          assert.ok(
            codes.includes(error.code),
            `${field}: byte ${i} bit ${bit} gave ${error.code}: ${error.message}`,
          );
        }
      }
    }
  }
});

Deno.test("openMessage() checks the key commitment before decrypting", async () => {
  // Relabel an envelope as sealed under another key: the key id now matches,
  // but the commitment was made under the first key.
  const relabelled = mutate(FIXTURE, (bytes) => {
    bytes.set(otherKey.idBytes(), 33);
    return bytes;
  });
  await rejectsWith(
    openMessage(otherKey, relabelled, { room: "general" }),
    "tampered",
    "Cannot open sealed message in #general: key commitment does not match (envelope altered)",
  );
});

Deno.test("openMessage() refuses a truncated tag", async () => {
  const bytes = decodeBase64(FIXTURE, "base64url");
  for (const cut of [1, 4, 15, 16]) {
    const envelope = encodeBase64(
      bytes.subarray(0, bytes.length - cut),
      "base64url",
    );
    await rejectsWith(
      openMessage(key, envelope, { room: "general" }),
      "tampered",
    );
  }
  // Nothing left after the commitment: not even a tag.
  for (const length of [97, 112, 0, 1, 50]) {
    await rejectsWith(
      openMessage(key, encodeBase64(bytes.subarray(0, length), "base64url"), {
        room: "general",
      }),
      "bad_envelope",
    );
  }
  await rejectsWith(
    openMessage(key, encodeBase64(bytes.subarray(0, 112), "base64url"), {
      room: "general",
    }),
    "bad_envelope",
    "Cannot open sealed message in #general: envelope is truncated at byte 112",
  );
});

Deno.test("openMessage() refuses an unknown envelope version or cipher suite", async () => {
  await rejectsWith(
    openMessage(
      key,
      mutate(FIXTURE, (b) => {
        b[0] = 9;
        return b;
      }),
      { room: "general" },
    ),
    "unsupported_version",
    "Cannot open sealed message in #general: unknown envelope version 9",
  );
  await rejectsWith(
    openMessage(
      key,
      mutate(FIXTURE, (b) => {
        b[1] = 3;
        return b;
      }),
      { room: "general" },
    ),
    "unsupported_version",
    "Cannot open sealed message in #general: unknown cipher suite 3",
  );
});

Deno.test("openMessage() refuses text that is not an envelope", async () => {
  for (
    const junk of [
      "",
      "hello world",
      "AQEH=",
      `${FIXTURE}=`,
      "AQF", // [1, 1] with non-zero padding bits ("AQE" is canonical)
      FIXTURE.replaceAll("_", "/"),
      "A".repeat(MAX_ENVELOPE_LENGTH + 1),
      42 as unknown as string,
    ]
  ) {
    await rejectsWith(
      openMessage(key, junk, { room: "general" }),
      "bad_envelope",
    );
  }
});

Deno.test("openMessage() refuses a replay and flags reordering", async () => {
  const guard = new ReplayGuard();
  const first = await sealMessage(key, { ...MESSAGE, seq: 1 });
  const second = await sealMessage(key, { ...MESSAGE, seq: 2 });
  const options = { room: "general", replayGuard: guard };
  assert.equal((await openMessage(key, second, options)).reordered, false);
  assert.equal((await openMessage(key, first, options)).reordered, true);
  await rejectsWith(
    openMessage(key, second, options),
    "replay",
    "Cannot open sealed message in #general: replayed: seq 2 of ada session s1",
  );
  // The same seq from another sender or session is a different stream.
  await openMessage(key, await sealMessage(key, { ...MESSAGE, sender: "bob" }), options);
  await openMessage(key, await sealMessage(key, { ...MESSAGE, session: "s2" }), options);
});

Deno.test("openMessage() refuses a message older than the replay window", async () => {
  const guard = new ReplayGuard({ window: 32 });
  const options = { room: "general", replayGuard: guard };
  await openMessage(key, await sealMessage(key, { ...MESSAGE, seq: 100 }), options);
  await rejectsWith(
    openMessage(key, await sealMessage(key, { ...MESSAGE, seq: 68 }), options),
    "replay",
    "Cannot open sealed message in #general: too old to check for replay: seq 68 of ada session s1",
  );
});

Deno.test("openMessage() records a sequence number only after authenticating it", async () => {
  const guard = new ReplayGuard();
  const options = { room: "general", replayGuard: guard };
  const genuine = await sealMessage(key, { ...MESSAGE, seq: 5 });
  const forged = mutate(genuine, (b) => {
    b[b.length - 1]! ^= 1;
    return b;
  });
  await rejectsWith(openMessage(key, forged, options), "tampered");
  await rejectsWith(openMessage(otherKey, genuine, options), "wrong_key");
  assert.equal((await openMessage(key, genuine, options)).seq, 5);
});

Deno.test("openMessage() escapes control characters from the envelope in its messages", async () => {
  const envelope = await sealMessage(key, { ...MESSAGE, room: "evil\u001b[2J" });
  const error = await rejectsWith(
    openMessage(key, envelope, { room: "general" }),
    "wrong_room",
  );
  assert.ok(!error.message.includes("\u001b"));
  assert.ok(error.message.includes("\\u{1b}[2J"));
});

Deno.test("sealMessage() refuses header fields it cannot encode exactly", async () => {
  const cases: Array<[Partial<PlainMessage>, RegExp]> = [
    [{ room: "" }, /room of 0 bytes is outside 1..255/],
    [{ sender: "x".repeat(256) }, /sender of 256 bytes is outside 1..255/],
    [{ session: "\ud800" }, /session contains a lone surrogate/],
    [{ seq: 0 }, /seq 0 is not an integer in 1..2\^53-1/],
    [{ seq: 2 ** 53 }, /seq/],
    [{ seq: 1.5 }, /seq/],
    [{ time: -1 }, /time -1 is not an integer/],
    [{ text: "x".repeat(MAX_TEXT_BYTES + 1) }, /text of 16385 bytes exceeds maximum 16384/],
  ];
  for (const [change, message] of cases) {
    await assert.rejects(sealMessage(key, { ...MESSAGE, ...change }), message);
  }
  await assert.rejects(
    sealMessage(key, { ...MESSAGE, room: 7 as unknown as string }),
    TypeError,
  );
});

Deno.test("openMessage() round-trips arbitrary headers and text", async () => {
  const name = fc.string({ unit: "binary", minLength: 1, maxLength: 40 })
    .filter((s) => s.isWellFormed() && enc.encode(s).length <= 255);
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        room: name,
        sender: name,
        session: name,
        seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        time: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        text: fc.string({ unit: "binary", maxLength: 300 }).filter((s) => s.isWellFormed()),
      }),
      async (message) => {
        const envelope = await sealMessage(key, message);
        const opened = await openMessage(key, envelope, { room: message.room });
        assert.deepEqual(opened, {
          ...message,
          keyId: key.id,
          ...UNSIGNED,
          reordered: false,
        });
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("openMessage() only ever throws SealedMessageError on hostile input", async () => {
  const valid = decodeBase64(FIXTURE, "base64url");
  const hostile = fc.oneof(
    fc.string(),
    fc.uint8Array({ maxLength: 300 }).map((b) => encodeBase64(b, "base64url")),
    fc.uint8Array({ maxLength: 300 }).map((b) =>
      encodeBase64(new Uint8Array([1, 1, ...b]), "base64url")
    ),
    fc.tuple(
      fc.nat({ max: valid.length - 1 }),
      fc.integer({ min: 1, max: 255 }),
      fc.nat({ max: valid.length }),
    ).map(([at, xor, cut]) => {
      const copy = new Uint8Array(valid);
      copy[at]! ^= xor;
      return encodeBase64(copy.subarray(0, Math.max(cut, at + 1)), "base64url");
    }),
  );
  await fc.assert(
    fc.asyncProperty(hostile, async (envelope) => {
      try {
        await openMessage(key, envelope, { room: "general" });
      } catch (error) {
        assert.ok(error instanceof SealedMessageError, String(error));
        return;
      }
      assert.fail("hostile input was accepted");
    }),
    { numRuns: 500 },
  );
});

const ada = await SenderIdentity.generate();
const mallory = await SenderIdentity.generate();

/** The AES key, GCM parameters and plaintext of an envelope under `key`. */
async function decryptInner(envelope: string) {
  const bytes = decodeBase64(envelope, "base64url");
  let o = 2;
  for (let i = 0; i < 3; i++) o += 1 + bytes[o]!;
  const nonceAt = o + 24;
  const ciphertextAt = nonceAt + 24 + 32;
  // Web Crypto as an independent AES-GCM: it must agree with the WebAssembly.
  const { key: rawKey } = key.deriveMessageKey(bytes.slice(nonceAt, nonceAt + 24));
  const aesKey = await crypto.subtle.importKey("raw", rawKey, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  const params = {
    name: "AES-GCM",
    iv: new Uint8Array(12),
    additionalData: bytes.slice(0, ciphertextAt),
  };
  const plain = new Uint8Array(
    await crypto.subtle.decrypt(params, aesKey, bytes.subarray(ciphertextAt)),
  );
  return { bytes, ciphertextAt, aesKey, params, plain };
}

/** Decrypts an envelope, lets `change` edit the plaintext, re-encrypts it. */
async function reseal(
  envelope: string,
  change: (plain: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>,
): Promise<string> {
  const { bytes, ciphertextAt, aesKey, params, plain } = await decryptInner(
    envelope,
  );
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(params, aesKey, change(plain)),
  );
  const out = new Uint8Array(ciphertextAt + sealed.length);
  out.set(bytes.subarray(0, ciphertextAt));
  out.set(sealed, ciphertextAt);
  return encodeBase64(out, "base64url");
}

Deno.test("a signed message opens with its signer, verified on first use and after", async () => {
  const pins = new SignerPins();
  const envelope = await sealMessage(key, MESSAGE, { identity: ada });
  assert.equal(readEnvelopeHeader(envelope).suite, ENVELOPE_SUITE_SIGNED);
  const first = await openMessage(key, envelope, { room: "general", pins });
  assert.equal(first.text, MESSAGE.text);
  assert.equal(first.signer, ada.publicKey);
  assert.equal(first.trust, "first_use");
  assert.equal(first.verified, true);
  const again = await openMessage(key, envelope, { room: "general", pins });
  assert.equal(again.trust, "trusted");
  assert.equal(again.verified, true);
  const unpinned = await openMessage(key, envelope, { room: "general" });
  assert.equal(unpinned.trust, "unpinned");
  assert.equal(unpinned.verified, false);
});

Deno.test("openMessage() with pinFirstUse false pins nothing and only compares", async () => {
  const pins = new SignerPins();
  const envelope = await sealMessage(key, MESSAGE, { identity: ada });
  const distrusted = await openMessage(key, envelope, {
    room: "general",
    pins,
    pinFirstUse: false,
  });
  assert.equal(distrusted.trust, "unpinned");
  assert.equal(distrusted.verified, false);
  assert.equal(pins.get("ada"), undefined, "a possible replay plants no pin");
  pins.set("ada", ada.publicKey);
  const known = await openMessage(key, envelope, { room: "general", pins, pinFirstUse: false });
  assert.equal(known.trust, "trusted");
  const other = await sealMessage(key, MESSAGE, { identity: mallory });
  const changed = await openMessage(key, other, { room: "general", pins, pinFirstUse: false });
  assert.equal(changed.trust, "changed");
  assert.equal(pins.get("ada"), ada.publicKey);
});

Deno.test("a signed message under another key for a pinned nick is not verified", async () => {
  const pins = new SignerPins([["ada", ada.publicKey]]);
  const impostor = await sealMessage(key, MESSAGE, { identity: mallory });
  const opened = await openMessage(key, impostor, { room: "general", pins });
  assert.equal(opened.trust, "changed");
  assert.equal(opened.verified, false);
  assert.equal(opened.signer, mallory.publicKey);
  const unsigned = await openMessage(key, await sealMessage(key, MESSAGE), {
    room: "general",
    pins,
  });
  assert.equal(unsigned.trust, "unsigned");
  assert.equal(unsigned.verified, false);
});

Deno.test("a room member cannot forge or move another sender's signature", async () => {
  const signed = await sealMessage(key, MESSAGE, { identity: ada });
  // Claim ada's public key with mallory's signature.
  const claimed = await reseal(
    await sealMessage(key, MESSAGE, { identity: mallory }),
    (plain) => {
      plain.set(ada.publicKeyBytes(), 0);
      return plain;
    },
  );
  await rejectsWith(
    openMessage(key, claimed, { room: "general" }),
    "bad_signature",
    "Cannot open sealed message in #general: signature of ada does not verify",
  );
  // Flip one bit of the signature, or of the text.
  for (const at of [40, 96 + 3]) {
    const flipped = await reseal(signed, (plain) => {
      plain[at]! ^= 1;
      return plain;
    });
    await rejectsWith(openMessage(key, flipped, { room: "general" }), "bad_signature");
  }
  // Move ada's signed plaintext into a new envelope with another seq.
  const { plain: inner } = await decryptInner(signed);
  const moved = await reseal(
    await sealMessage(key, { ...MESSAGE, seq: 2 }, { identity: mallory }),
    () => inner,
  );
  await rejectsWith(openMessage(key, moved, { room: "general" }), "bad_signature");
  // Too short to hold a key and a signature at all.
  const stub = await reseal(signed, (plain) => plain.slice(0, 50));
  await rejectsWith(openMessage(key, stub, { room: "general" }), "bad_envelope");
});

Deno.test("unsigned messages cannot burn the sequence numbers of a signed stream", async () => {
  const guard = new ReplayGuard();
  const options = { room: "general", replayGuard: guard };
  const forged = await sealMessage(key, { ...MESSAGE, seq: 7 });
  const genuine = await sealMessage(key, { ...MESSAGE, seq: 7 }, { identity: ada });
  await openMessage(key, forged, options);
  const opened = await openMessage(key, genuine, options);
  assert.equal(opened.signer, ada.publicKey);
  await rejectsWith(openMessage(key, genuine, options), "replay");
});
