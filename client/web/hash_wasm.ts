/**
 * The browser build of hash-wasm's Argon2id, bundled to
 * `/assets/hash_wasm.js` for the key derivation Worker
 * (`/assets/argon2_worker.js`, made from core/crypto/argon2_worker.ts),
 * which imports it by that relative name: a page cannot resolve the bare
 * `hash-wasm` the terminal client's Worker uses.
 *
 * @module
 */
export { argon2id } from "hash-wasm";
