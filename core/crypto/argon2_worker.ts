// Copyright meshchat authors. All rights reserved.

/**
 * The module Worker that runs Argon2id off the main event loop, so a
 * terminal or browser tab stays responsive during the ~0.3 s derivation.
 *
 * The Worker's script is not a file: it is a `data:` URL made here, whose
 * only import is hash-wasm (the build `_argon2.ts` uses). Loading a local
 * file into a Worker is a dynamic import, which Deno gates behind read
 * permission — and a permission prompt cannot be answered while the
 * terminal client holds the terminal in raw mode, so `/seal` failed under a
 * plain `deno run client/main.ts`. A `data:` module and an npm package need
 * no file permission, so the Worker starts under any permission set.
 *
 * The Worker runs Argon2id and nothing else: the caller validates the
 * parameters and encodes the passphrase first ({@linkcode DeriveRequest}).
 * Protocol: it receives one request and answers with one
 * {@linkcode DeriveResponse}, transferring the 32 key bytes; it zeroes the
 * password it was sent.
 *
 * @module
 */

import { HASH_WASM_SPECIFIER } from "./_argon2.ts";
import type { DeriveRequest, DeriveResponse } from "./_derive.ts";

export type { DeriveRequest, DeriveResponse };

/**
 * The Worker's source (JavaScript, web-standard worker scope only). Kept
 * tiny and dependency-free apart from hash-wasm so it can be inlined, or
 * served as a file beside a bundle of hash-wasm (the web client's
 * `/assets/argon2_worker.js`, where a page's CSP refuses `data:` workers).
 *
 * @param hashWasm The specifier the Worker imports hash-wasm's `argon2id` from.
 * @returns The module's source.
 */
export function argon2WorkerSource(hashWasm: string): string {
  return `import { argon2id } from ${JSON.stringify(hashWasm)};
onmessage = async (event) => {
  const request = event.data ?? {};
  try {
    const tag = await argon2id({
      password: request.password,
      salt: request.salt,
      memorySize: request.memoryKib,
      iterations: request.iterations,
      parallelism: request.parallelism,
      hashLength: request.hashLength,
      outputType: "binary",
    });
    const key = new Uint8Array(tag);
    tag.fill(0);
    postMessage({ ok: true, key }, [key.buffer]);
  } catch (error) {
    postMessage({
      ok: false,
      name: String(error?.name ?? "Error"),
      message: String(error?.message ?? error),
    });
  } finally {
    if (request.password instanceof Uint8Array) request.password.fill(0);
  }
};
`;
}

/**
 * The URL to start the Argon2id Worker from: a `data:` URL, so starting it
 * reads no file and needs no permission.
 *
 * @param hashWasm The hash-wasm module specifier. @default {"hash-wasm", through the import map}
 * @returns A `data:text/javascript` URL for `new Worker(url, { type: "module" })`.
 *
 * @example
 * ```ts
 * import { argon2WorkerUrl } from "./argon2_worker.ts";
 * const worker = new Worker(argon2WorkerUrl(), { type: "module" });
 * worker.terminate();
 * ```
 */
export function argon2WorkerUrl(hashWasm: string = HASH_WASM_SPECIFIER): string {
  return `data:text/javascript;charset=utf-8,${encodeURIComponent(argon2WorkerSource(hashWasm))}`;
}
