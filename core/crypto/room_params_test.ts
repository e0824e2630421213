// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import { decodeBase64 } from "./_base64.ts";
import {
  MAX_COST,
  MAX_MEMORY_KIB,
  MIN_MEMORY_KIB,
  newSealParams,
  type SealParams,
  sealParamsSalt,
  validateSealParams,
} from "./room_params.ts";

const GOOD: SealParams = {
  v: 1,
  kdf: "argon2id",
  salt: "AAECAwQFBgcICQoLDA0ODw==",
  m: 65536,
  t: 3,
  p: 4,
};

Deno.test("newSealParams() defaults to RFC 9106's second recommended option", () => {
  const params = newSealParams();
  assert.equal(params.v, 1);
  assert.equal(params.kdf, "argon2id");
  assert.equal(params.m, 65536);
  assert.equal(params.t, 3);
  assert.equal(params.p, 4);
  assert.equal(decodeBase64(params.salt, "base64").length, 16);
});

Deno.test("newSealParams() draws a fresh salt every time", () => {
  const salts = new Set(
    Array.from({ length: 50 }, () => newSealParams().salt),
  );
  assert.equal(salts.size, 50);
});

Deno.test("newSealParams() refuses a cost below the floor", () => {
  assert.throws(() => newSealParams({ memoryKib: 8 }), RangeError);
  assert.throws(() => newSealParams({ iterations: 1 }), RangeError);
  const params = newSealParams({ memoryKib: 262144, iterations: 4 });
  assert.equal(params.m, 262144);
  assert.equal(params.t, 4);
});

Deno.test("validateSealParams() accepts the defaults and returns a clean copy", () => {
  const input = { ...GOOD, extra: "dropped" };
  const out = validateSealParams(input);
  assert.deepEqual(out, GOOD);
  assert.notEqual(out, input);
  assert.deepEqual(validateSealParams(JSON.parse(JSON.stringify(GOOD))), GOOD);
});

Deno.test("validateSealParams() refuses m = 8 KiB as a downgrade", () => {
  assert.throws(() => validateSealParams({ ...GOOD, m: 8 }), {
    name: "RangeError",
    message: "Cannot use seal parameters: memory 8 KiB is below the minimum 65536 KiB",
  });
  assert.throws(
    () => validateSealParams({ ...GOOD, m: MIN_MEMORY_KIB - 1 }),
    RangeError,
  );
});

Deno.test("validateSealParams() refuses m = 4 GiB as a denial of service", () => {
  assert.throws(() => validateSealParams({ ...GOOD, m: 4 * 1024 * 1024 }), {
    name: "RangeError",
    message: "Cannot use seal parameters: memory 4194304 KiB exceeds the maximum 1048576 KiB",
  });
  assert.throws(
    () => validateSealParams({ ...GOOD, m: MAX_MEMORY_KIB + 1 }),
    RangeError,
  );
  assert.equal(validateSealParams({ ...GOOD, m: MAX_MEMORY_KIB }).m, 1048576);
});

Deno.test("validateSealParams() refuses passes and lanes outside their limits", () => {
  assert.throws(() => validateSealParams({ ...GOOD, t: 2 }), {
    message: "Cannot use seal parameters: iterations 2 is below the minimum 3",
  });
  assert.throws(() => validateSealParams({ ...GOOD, t: 11 }), {
    message: "Cannot use seal parameters: iterations 11 exceeds the maximum 10",
  });
  assert.throws(() => validateSealParams({ ...GOOD, p: 1 }), {
    message: "Cannot use seal parameters: parallelism 1 is below the minimum 4",
  });
  assert.throws(() => validateSealParams({ ...GOOD, p: 256 }), RangeError);
});

Deno.test("validateSealParams() caps total work m × t", () => {
  assert.equal(
    validateSealParams({ ...GOOD, m: MAX_MEMORY_KIB, t: 3 }).t,
    3,
  );
  assert.throws(() => validateSealParams({ ...GOOD, m: MAX_MEMORY_KIB, t: 4 }), {
    message: `Cannot use seal parameters: cost m × t = 4194304 exceeds the maximum ${MAX_COST}`,
  });
});

Deno.test("validateSealParams() refuses an unknown version or KDF", () => {
  assert.throws(() => validateSealParams({ ...GOOD, v: 2 }), {
    name: "RangeError",
    message: "Cannot use seal parameters: unknown version 2",
  });
  assert.throws(() => validateSealParams({ ...GOOD, kdf: "scrypt" }), {
    name: "RangeError",
    message: 'Cannot use seal parameters: unknown key derivation function "scrypt"',
  });
  assert.throws(() => validateSealParams({ ...GOOD, v: "1" }), TypeError);
});

Deno.test("validateSealParams() refuses a salt that is not 16 bytes of canonical base64", () => {
  for (
    const salt of [
      "AAECAwQFBgcICQoLDA0O",
      "AAECAwQFBgcICQoLDA0ODxA=",
      "AAECAwQFBgcICQoLDA0ODw",
      "AAECAwQFBgcICQoLDA0ODx==",
      "AAECAwQFBgcICQoLDA0OD*==",
      "",
    ]
  ) {
    assert.throws(() => validateSealParams({ ...GOOD, salt }), RangeError, salt);
  }
  assert.throws(() => validateSealParams({ ...GOOD, salt: 16 }), TypeError);
});

Deno.test("validateSealParams() refuses the wrong shapes with a TypeError", () => {
  for (const value of [null, undefined, 42, "params", [GOOD]]) {
    assert.throws(() => validateSealParams(value), TypeError);
  }
  assert.throws(() => validateSealParams({ ...GOOD, m: "65536" }), {
    name: "TypeError",
    message: "Cannot use seal parameters: memory (m) must be an integer, got string",
  });
  assert.throws(() => validateSealParams({ ...GOOD, m: 65536.5 }), TypeError);
  assert.throws(() => validateSealParams({ ...GOOD, t: NaN }), TypeError);
  assert.throws(() => validateSealParams({ ...GOOD, p: undefined }), TypeError);
});

Deno.test("sealParamsSalt() decodes the 16 salt bytes", () => {
  assert.deepEqual(
    sealParamsSalt(GOOD),
    Uint8Array.from({ length: 16 }, (_, i) => i),
  );
});

Deno.test("validateSealParams() keeps a key check of 16 lowercase hex digits and refuses others", () => {
  assert.deepEqual(validateSealParams({ ...GOOD, check: "f18e73d6fd8b43c5" }), {
    ...GOOD,
    check: "f18e73d6fd8b43c5",
  });
  assert.equal("check" in validateSealParams(GOOD), false, "rooms sealed without one stay valid");
  for (const check of ["F18E73D6FD8B43C5", "f18e73d6fd8b43c", "f18e73d6fd8b43c5a", ""]) {
    assert.throws(() => validateSealParams({ ...GOOD, check }), RangeError, check);
  }
  assert.throws(() => validateSealParams({ ...GOOD, check: 7 }), TypeError);
});
