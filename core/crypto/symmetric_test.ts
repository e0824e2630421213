// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeHex, encodeHex } from "./_base64.ts";
import { aesGcmOpen, aesGcmSeal, HkdfSha256 } from "./symmetric.ts";

const EMPTY = new Uint8Array(0);

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): string {
  return encodeHex(new HkdfSha256(ikm, salt).expand(info, length));
}

Deno.test("HkdfSha256 matches RFC 5869 test cases 1, 2 and 3", () => {
  const range = (n: number, from: number) => Uint8Array.from({ length: n }, (_, i) => from + i);
  assert.equal(
    hkdf(new Uint8Array(22).fill(0x0b), range(13, 0), range(10, 0xf0), 42),
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  );
  assert.equal(
    hkdf(range(80, 0), range(80, 0x60), range(80, 0xb0), 82),
    "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c" +
      "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71" +
      "cc30c58179ec3e87c14c01d5c1f3434f1d87",
  );
  assert.equal(
    hkdf(new Uint8Array(22).fill(0x0b), EMPTY, EMPTY, 42),
    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
  );
});

Deno.test("HkdfSha256 agrees with Web Crypto on random inputs and expands repeatably", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 1, maxLength: 100 }),
      fc.uint8Array({ maxLength: 100 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: 1, max: 300 }),
      async (ikm, salt, info, length) => {
        const material = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
        const expected = new Uint8Array(
          await crypto.subtle.deriveBits(
            { name: "HKDF", hash: "SHA-256", salt, info },
            material,
            length * 8,
          ),
        );
        const hkdf = new HkdfSha256(ikm, salt);
        assert.deepEqual(hkdf.expand(info, length), expected);
        assert.deepEqual(hkdf.expand(info, length), expected, "the saved state is not used up");
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("HkdfSha256.expand() refuses lengths outside 1 to 8,160 bytes", () => {
  const hkdf = new HkdfSha256(new Uint8Array(32));
  for (const length of [0, -1, 8161, 1.5, NaN]) {
    assert.throws(() => hkdf.expand(EMPTY, length), {
      name: "RangeError",
      message: `Cannot run HKDF: length must be 1 to 8160 bytes, got ${length}`,
    });
  }
  assert.equal(hkdf.expand(EMPTY, 8160).length, 8160);
});

// The AES-256 cases (13–16) of McGrew and Viega, "The Galois/Counter Mode
// of Operation (GCM)", the vectors NIST's GCM validation starts from.
const K15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
const IV15 = "cafebabefacedbaddecaf888";
const P15 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
const C15 = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
const GCM_VECTORS = [
  {
    name: "test case 13",
    key: "00".repeat(32),
    iv: "00".repeat(12),
    plain: "",
    ad: "",
    sealed: "530f8afbc74536b9a963b4f1c4cb738b",
  },
  {
    name: "test case 14",
    key: "00".repeat(32),
    iv: "00".repeat(12),
    plain: "00".repeat(16),
    ad: "",
    sealed: "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919",
  },
  {
    name: "test case 15",
    key: K15,
    iv: IV15,
    plain: P15,
    ad: "",
    sealed: C15 + "b094dac5d93471bdec1a502270e3cc6c",
  },
  {
    name: "test case 16",
    key: K15,
    iv: IV15,
    plain: P15.slice(0, 120),
    ad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    sealed: C15.slice(0, 120) + "76fc6ece0f4e1768cddf8853bb2d551b",
  },
];

Deno.test("aesGcmSeal() and aesGcmOpen() match the GCM specification's AES-256 vectors", () => {
  for (const v of GCM_VECTORS) {
    const [key, iv, plain, ad] = [v.key, v.iv, v.plain, v.ad].map(decodeHex);
    assert.equal(encodeHex(aesGcmSeal(key!, iv!, plain!, ad!)), v.sealed, v.name);
    assert.deepEqual(aesGcmOpen(key!, iv!, decodeHex(v.sealed), ad!), plain, v.name);
  }
});

Deno.test("aesGcmSeal() agrees with Web Crypto, and aesGcmOpen() refuses any flipped bit", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.nat(),
      async (keyBytes, iv, plain, ad, flip) => {
        const key = await crypto.subtle.importKey("raw", keyBytes, "AES-GCM", false, ["encrypt"]);
        const expected = new Uint8Array(
          await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: ad }, key, plain),
        );
        const sealed = aesGcmSeal(keyBytes, iv, plain, ad);
        assert.deepEqual(sealed, expected);
        assert.deepEqual(aesGcmOpen(keyBytes, iv, sealed, ad), plain);
        // One flipped bit anywhere in key, IV, associated data or sealed bytes.
        const parts = [keyBytes, iv, ad, sealed].map((p) => new Uint8Array(p));
        const bits = parts.reduce((n, p) => n + p.length * 8, 0);
        let bit = flip % bits;
        const part = parts.find((p) => (bit < p.length * 8 ? true : (bit -= p.length * 8, false)))!;
        part[bit >> 3]! ^= 1 << (bit & 7);
        const [k, i, a, s] = parts;
        assert.equal(aesGcmOpen(k!, i!, s!, a!), null);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("aesGcmOpen() returns null for input shorter than a tag", () => {
  const key = new Uint8Array(32);
  const iv = new Uint8Array(12);
  assert.equal(aesGcmOpen(key, iv, new Uint8Array(15), EMPTY), null);
  assert.equal(aesGcmOpen(key, iv, EMPTY, EMPTY), null);
});

Deno.test("aesGcmSeal() refuses keys that are not 32 bytes and IVs that are not 12", () => {
  const plain = new Uint8Array(4);
  assert.throws(() => aesGcmSeal(new Uint8Array(16), new Uint8Array(12), plain, EMPTY), {
    name: "RangeError",
    message: "Cannot run AES-256-GCM: key must be 32 bytes, got 16",
  });
  assert.throws(() => aesGcmOpen(new Uint8Array(32), new Uint8Array(16), plain, EMPTY), {
    name: "RangeError",
    message: "Cannot run AES-256-GCM: IV must be 12 bytes, got 16",
  });
});

Deno.test("aesGcmSeal() grows the module's memory for a 1 MiB message and keeps working", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => i * 7);
  const sealed = aesGcmSeal(key, iv, big, EMPTY);
  assert.equal(sealed.length, big.length + 16);
  assert.deepEqual(aesGcmOpen(key, iv, sealed, EMPTY), big);
  const small = new Uint8Array([1, 2, 3]);
  assert.deepEqual(aesGcmOpen(key, iv, aesGcmSeal(key, iv, small, EMPTY), EMPTY), small);
});
