// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import { decodeHex, encodeBase64 } from "./_base64.ts";
import type { DeriveResponse } from "./_derive.ts";
import { argon2WorkerUrl } from "./argon2_worker.ts";
import { deriveRoomKey, deriveRoomKeyInWorker, RoomKey } from "./room_key.ts";
import type { SealParams } from "./room_params.ts";

const enc = new TextEncoder();

function paramsWithSalt(salt: string): SealParams {
  return {
    v: 1,
    kdf: "argon2id",
    salt: encodeBase64(enc.encode(salt), "base64"),
    m: 65536,
    t: 3,
    p: 4,
  };
}

// Both computed with the Argon2 reference CLI (Debian argon2 0~20171227):
//   echo -n PASSWORD | argon2 SALT -id -t 3 -m 16 -p 4 -l 32 -r
const HORSE = {
  passphrase: "correct horse battery staple",
  params: paramsWithSalt("meshchat-salt-16"),
  bytes: "353ec3160c91c27f425b2c5e1822ed36559faa5bd92860f3a6f60a00626ee72f",
};
const UMLAUT = {
  // printf 'p\xc3\xa4ss' — "päss" in NFC
  params: paramsWithSalt("0123456789abcdef"),
  bytes: "a85099c25ce73b9af0d537fcf69a7eaee24b1be15effb895d8103f018c84f962",
};

function idOf(hex: string): string {
  return RoomKey.fromBytes(decodeHex(hex)).id;
}

Deno.test("deriveRoomKey() at the default parameters equals the reference Argon2id output", async () => {
  const key = await deriveRoomKey(HORSE.passphrase, HORSE.params);
  assert.equal(key.id, await idOf(HORSE.bytes));
  assert.match(key.id, /^[0-9a-f]{16}$/);
});

Deno.test("deriveRoomKey() normalises the passphrase to NFC", async () => {
  const decomposed = "pa\u0308ss";
  assert.notEqual(decomposed, "p\u00e4ss");
  const key = await deriveRoomKey(decomposed, UMLAUT.params);
  assert.equal(key.id, await idOf(UMLAUT.bytes));
});

Deno.test("deriveRoomKey() refuses hostile parameters before running Argon2id", async () => {
  await assert.rejects(
    deriveRoomKey("pw", { ...HORSE.params, m: 8 }),
    {
      name: "RangeError",
      message: "Cannot use seal parameters: memory 8 KiB is below the minimum 65536 KiB",
    },
  );
  await assert.rejects(
    deriveRoomKey("pw", { ...HORSE.params, m: 4 * 1024 * 1024 }),
    /exceeds the maximum 1048576 KiB/,
  );
});

Deno.test("deriveRoomKey() refuses an empty or ill-formed passphrase", async () => {
  await assert.rejects(deriveRoomKey("", HORSE.params), {
    name: "RangeError",
    message: "Cannot derive room key: passphrase is empty",
  });
  await assert.rejects(deriveRoomKey("a\ud800b", HORSE.params), RangeError);
  await assert.rejects(
    deriveRoomKey(42 as unknown as string, HORSE.params),
    TypeError,
  );
});

Deno.test("RoomKey.fromBytes() gives equal ids for equal bytes and different ids otherwise", () => {
  const a = new Uint8Array(32).fill(7);
  const b = new Uint8Array(32).fill(7);
  b[31] = 8;
  assert.equal(
    RoomKey.fromBytes(a).id,
    RoomKey.fromBytes(a).id,
  );
  assert.notEqual(
    RoomKey.fromBytes(a).id,
    RoomKey.fromBytes(b).id,
  );
  assert.deepEqual(a, new Uint8Array(32).fill(7), "input left untouched");
});

Deno.test("RoomKey.fromBytes() refuses anything but 32 bytes", () => {
  assert.throws(() => RoomKey.fromBytes(new Uint8Array(31)), {
    name: "RangeError",
    message: "Cannot import room key: expected 32 bytes, got 31",
  });
  assert.throws(() => RoomKey.fromBytes(new Uint8Array(64)), RangeError);
});

Deno.test('RoomKey.deriveMessageKey() is HKDF-SHA-256(K, salt "", info "meshchat/v1 msg" ‖ nonce)', async () => {
  const bytes = Uint8Array.from({ length: 32 }, (_, i) => i);
  const key = RoomKey.fromBytes(bytes);
  const nonce = Uint8Array.from({ length: 24 }, (_, i) => 100 + i);
  const first = key.deriveMessageKey(nonce);
  const again = key.deriveMessageKey(nonce);
  const other = key.deriveMessageKey(new Uint8Array(24).fill(1));
  assert.equal(first.key.length, 32);
  assert.equal(first.commitment.length, 32);
  assert.deepEqual(first, again);
  assert.notDeepEqual(first.commitment, other.commitment);
  assert.notDeepEqual(first.key, other.key);
  // The same derivation through Web Crypto, written out from the spec.
  const info = new Uint8Array([...new TextEncoder().encode("meshchat/v1 msg"), ...nonce]);
  const material = await crypto.subtle.importKey("raw", bytes, "HKDF", false, ["deriveBits"]);
  const expected = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info },
      material,
      512,
    ),
  );
  assert.deepEqual(first.key, expected.slice(0, 32));
  assert.deepEqual(first.commitment, expected.slice(32));
  assert.throws(
    () => key.deriveMessageKey(new Uint8Array(12)),
    /nonce must be 24 bytes, got 12/,
  );
});

Deno.test("deriveRoomKeyInWorker() gives the same key as in-process derivation and keeps the event loop free", async () => {
  let ticks = 0;
  let running = true;
  const spinner = (async () => {
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      ticks++;
    }
  })();
  const key = await deriveRoomKeyInWorker(HORSE.passphrase, HORSE.params);
  running = false;
  await spinner;
  assert.equal(key.id, await idOf(HORSE.bytes));
  // In-process, Argon2id's ~0.3 s WASM call would block every timer.
  assert.ok(ticks >= 20, `only ${ticks} timer ticks during derivation`);
});

Deno.test("deriveRoomKeyInWorker() refuses hostile parameters without starting a worker", async () => {
  await assert.rejects(
    deriveRoomKeyInWorker("pw", { ...HORSE.params, m: 8 }),
    { name: "RangeError", message: /below the minimum 65536 KiB/ },
  );
});

Deno.test("deriveRoomKeyInWorker() stops when aborted", async () => {
  const controller = new AbortController();
  const pending = deriveRoomKeyInWorker(HORSE.passphrase, HORSE.params, {
    signal: controller.signal,
  });
  controller.abort(new Error("user left the room"));
  await assert.rejects(pending, { message: "user left the room" });
  await assert.rejects(
    deriveRoomKeyInWorker(HORSE.passphrase, HORSE.params, {
      signal: AbortSignal.abort(),
    }),
    { name: "AbortError" },
  );
});

// Deno still prints the worker's uncaught error to stderr although the
// parent handles it (onerror + preventDefault): expected output.
Deno.test("deriveRoomKeyInWorker() reports a worker that cannot start", async () => {
  await assert.rejects(
    deriveRoomKeyInWorker(HORSE.passphrase, HORSE.params, {
      workerUrl: "data:text/javascript,throw new Error('no worker today')",
    }),
    /Cannot derive room key in worker/,
  );
});

Deno.test("The Argon2id worker answers a malformed request with the error, not a crash", async () => {
  const worker = new Worker(argon2WorkerUrl(), { type: "module" });
  try {
    const reply = (request: unknown) =>
      new Promise<DeriveResponse>((resolve) => {
        worker.onmessage = (event) => resolve(event.data);
        worker.postMessage(request);
      });
    const missingSalt = await reply({ password: enc.encode("pw"), memoryKib: 64 });
    assert.equal(missingSalt.ok, false);
    assert.equal((await reply(null)).ok, false);
  } finally {
    worker.terminate();
  }
});

Deno.test("argon2WorkerUrl() is a data: URL whose only import is hash-wasm", () => {
  const url = argon2WorkerUrl("npm:hash-wasm@4.13.0");
  assert.match(url, /^data:text\/javascript/);
  const source = decodeURIComponent(url.slice(url.indexOf(",") + 1));
  assert.deepEqual([...source.matchAll(/\bimport\b.*?from\s+("[^"]*")/g)].map((m) => m[1]), [
    '"npm:hash-wasm@4.13.0"',
  ]);
});

Deno.test("deriveRoomKeyInWorker() starts its worker without any permission", async () => {
  // A child with no permission at all: before the data: URL, the Worker's
  // script needed read access and the derivation failed.
  const script = `import { deriveRoomKeyInWorker } from ${
    JSON.stringify(new URL("./room_key.ts", import.meta.url).href)
  };
const key = await deriveRoomKeyInWorker(${JSON.stringify(HORSE.passphrase)}, ${
    JSON.stringify(HORSE.params)
  });
console.log(key.id);`;
  const output = await new Deno.Command("deno", {
    args: ["run", "--no-prompt", "--quiet", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = output.stdin.getWriter();
  await writer.write(enc.encode(script));
  await writer.close();
  const { code, stdout, stderr } = await output.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.equal(new TextDecoder().decode(stdout).trim(), await idOf(HORSE.bytes));
});
