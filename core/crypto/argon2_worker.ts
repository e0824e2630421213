// Copyright meshchat authors. All rights reserved.

/**
 * Module Worker script that runs Argon2id off the main event loop, so a
 * terminal or browser tab stays responsive during the ~0.3 s derivation.
 *
 * Spawned by {@linkcode deriveRoomKeyInWorker}; not meant to be imported.
 * Protocol: it receives one {@linkcode DeriveRequest} and answers with one
 * {@linkcode DeriveResponse}, transferring the 32 key bytes. It uses only the
 * web-standard worker scope (`onmessage`, `postMessage`).
 *
 * @module
 */

import { type DeriveRequest, type DeriveResponse, deriveRoomKeyBytes } from "./_derive.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent<unknown>) => void) | null;
  postMessage(message: DeriveResponse, transfer?: ArrayBuffer[]): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = async (event) => {
  try {
    const request = event.data as Partial<DeriveRequest> | null;
    if (typeof request !== "object" || request === null) {
      throw new TypeError("Cannot derive room key: malformed worker request");
    }
    const key = await deriveRoomKeyBytes(
      request.passphrase as string,
      request.params!,
    );
    scope.postMessage({ ok: true, key }, [key.buffer]);
  } catch (error) {
    const { name, message } = error instanceof Error
      ? error
      : { name: "Error", message: String(error) };
    scope.postMessage({ ok: false, name, message });
  }
};
