// Copyright meshchat authors. All rights reserved.

/**
 * End-to-end encrypted ("sealed") rooms.
 *
 * A sealed room's messages are encrypted in the clients with AES-256-GCM
 * under one-message keys derived (HKDF-SHA-256) from a room key, which is
 * Argon2id(passphrase, room salt). Nodes store and replicate only the
 * envelope strings and cannot read them.
 *
 * - {@linkcode newSealParams} / {@linkcode validateSealParams}: the public
 *   room metadata (salt, Argon2id cost and, since December 2026, a key check
 *   equal to the key id) and the limits clients enforce
 *   (m 64 MiB–1 GiB, t 3–10, p 4–255, m × t ≤ 3 GiB·passes).
 * - {@linkcode deriveRoomKeyInWorker} (or {@linkcode deriveRoomKey}): once
 *   per room per session, off the main event loop.
 * - {@linkcode SealedRoom}: seals with this session's id and seq counter,
 *   opens with a replay guard. Or use {@linkcode sealMessage} /
 *   {@linkcode openMessage} / {@linkcode ReplayGuard} directly.
 * - {@linkcode SealedMessageError}: every refusal, with a stable `code`.
 * - Optional: {@linkcode SenderIdentity} signs envelopes with a per-client
 *   Ed25519 key (suite 2); {@linkcode SignerPins} pins each nick's key on
 *   first use, and opened messages say whether the sender is `verified`.
 *
 * The envelope format is documented byte by byte in `envelope.ts`.
 *
 * Pure TypeScript, Web Crypto and WASM (hash-wasm, behind `_argon2.ts`): it
 * runs in Deno and in browsers.
 *
 * @example
 * ```ts
 * import {
 *   deriveRoomKeyInWorker,
 *   newSealParams,
 *   SealedMessageError,
 *   SealedRoom,
 * } from "./mod.ts";
 *
 * // Whoever seals the room publishes `params` in the room's metadata.
 * const params = newSealParams();
 * const key = await deriveRoomKeyInWorker("correct horse battery staple", params);
 * const room = new SealedRoom("general", key);
 * const body = await room.seal({ sender: "ada", text: "hello", time: Date.now() });
 *
 * try {
 *   const message = await room.open(body);
 *   console.log(`<${message.sender}> ${message.text}`);
 * } catch (error) {
 *   if (!(error instanceof SealedMessageError)) throw error;
 *   console.log(error.message); // e.g. "Cannot open sealed message in #general: wrong passphrase"
 * }
 * ```
 *
 * @module
 */

export * from "./room_params.ts";
export * from "./room_key.ts";
export * from "./envelope.ts";
export * from "./replay_guard.ts";
export * from "./sealed_room.ts";
export * from "./sealed_message_error.ts";
export * from "./sender_identity.ts";
export * from "./signer_pins.ts";
