/**
 * What a node keeps on disk, under its private data directory.
 *
 * - {@linkcode SnapshotStore} (snapshot_store.ts): Deno KV snapshots of the
 *   event log, restored at boot; it tells `/stats` a `SnapshotStatus`
 *   (node/chat/storage_view.ts).
 * - {@linkcode importNicksJson} (nicks_json_import.ts): the one-time import
 *   of an older version's `nicks.json` as nick claim events.
 * - {@linkcode UserSettingsStore} (user_settings.ts): people's display
 *   settings by SSH key.
 * - {@linkcode securePrivateDir} (private_dir.ts): the data directory, made
 *   private to the node's user.
 *
 * @module
 */
export { SnapshotStore, type SnapshotStoreOptions } from "./snapshot_store.ts";
export { importNicksJson } from "./nicks_json_import.ts";
export { UserSettingsStore } from "./user_settings.ts";
export { securePrivateDir } from "./private_dir.ts";
