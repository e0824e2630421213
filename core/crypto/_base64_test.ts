// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeBase64, decodeHex, encodeBase64, encodeHex } from "./_base64.ts";

Deno.test("encodeBase64() matches btoa for the standard alphabet", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      const expected = btoa(String.fromCharCode(...bytes));
      assert.equal(encodeBase64(bytes, "base64"), expected);
      assert.equal(
        encodeBase64(bytes, "base64url"),
        expected.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, ""),
      );
    }),
  );
});

Deno.test("decodeBase64() inverts encodeBase64() for both alphabets", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      for (const alphabet of ["base64", "base64url"] as const) {
        assert.deepEqual(
          decodeBase64(encodeBase64(bytes, alphabet), alphabet),
          bytes,
        );
      }
    }),
  );
});

Deno.test("decodeBase64() accepts exactly one spelling of each byte string", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom(..."AQgw-_+/=a9 "), maxLength: 12 }),
      (text) => {
        let bytes: Uint8Array;
        try {
          bytes = decodeBase64(text, "base64url");
        } catch (error) {
          assert.ok(error instanceof SyntaxError);
          return;
        }
        assert.equal(encodeBase64(bytes, "base64url"), text);
      },
    ),
  );
  assert.throws(() => decodeBase64("AQF", "base64url"), {
    name: "Base64SyntaxError",
    message: "Cannot decode base64: non-zero padding bits",
  });
  assert.throws(() => decodeBase64("AQ==", "base64url"), SyntaxError);
  assert.throws(() => decodeBase64("AQ", "base64"), SyntaxError);
  assert.throws(() => decodeBase64("A===", "base64"), SyntaxError);
  assert.throws(() => decodeBase64("AB€=", "base64"), { offset: 2 });
});

Deno.test("encodeHex() and decodeHex() round-trip", () => {
  assert.equal(encodeHex(new Uint8Array([0, 1, 171, 255])), "0001abff");
  assert.deepEqual(decodeHex("0001ABff"), new Uint8Array([0, 1, 171, 255]));
  assert.throws(() => decodeHex("abc"), SyntaxError);
  assert.throws(() => decodeHex("zz"), SyntaxError);
});
