/**
 * Boot epochs: how a node continues after its previous run (same origin
 * after a clean stop, a new epoch after a crash, an epoch from the clock
 * after a reset), and the file operations around it (moving a file aside,
 * narrowing its mode).
 *
 * @module
 */
import { originFor } from "../../core/event.ts";
import { type Loaded, SNAPSHOT_SCHEMA, type SnapshotMeta } from "./_snapshot_file.ts";
import { RESET_HINT, SnapshotStoreError } from "./snapshot_store_error.ts";

/** How the node's previous run ended, as far as the file says. */
export type PreviousStop = "none" | "clean" | "crash";

/**
 * Decides this run's epoch, origin and last seq from the loaded file.
 *
 * @throws {SnapshotStoreError} When the file belongs to another node.
 * @throws {TypeError} When it holds data but no meta.
 */
export function decideBoot(
  loaded: Loaded,
  nodeId: string,
  path: string,
  now: number,
  movedTo: string | undefined,
): { boot: SnapshotMeta; previousStop: PreviousStop } {
  const { meta } = loaded;
  if (meta === undefined && loaded.keys > 0) {
    throw new TypeError("the file holds data but no snapshot metadata");
  }
  if (meta !== undefined && meta.nodeId !== nodeId) {
    throw new SnapshotStoreError(
      `Cannot restore snapshot from ${path}: it belongs to node ${meta.nodeId}, not ${nodeId}`,
      path,
      `Run with --id ${meta.nodeId}, or choose another --data directory. ${RESET_HINT}`,
    );
  }
  const previousStop: PreviousStop = meta === undefined ? "none" : meta.clean ? "clean" : "crash";
  // A reset node starts at an epoch no earlier run can have reached.
  const epoch = meta === undefined
    ? (movedTo === undefined ? 0 : Math.floor(now / 1000))
    : meta.clean
    ? meta.epoch
    : meta.epoch + 1;
  const origin = originFor(nodeId, epoch);
  let lastSeq = Math.max(loaded.vv[origin] ?? 0, meta?.origin === origin ? meta.lastSeq : 0);
  for (const chunk of loaded.chunks.values()) {
    for (const event of chunk.events) {
      if (event.origin === origin && event.seq > lastSeq) lastSeq = event.seq;
    }
  }
  return {
    boot: {
      schema: SNAPSHOT_SCHEMA,
      nodeId,
      origin,
      epoch,
      lastSeq,
      clock: meta?.clock ?? { wall: 0, counter: 0 },
      savedAt: meta?.savedAt ?? now,
      clean: false,
    },
    previousStop,
  };
}

/**
 * Narrows the KV file and its SQLite side files to 0600: Deno KV creates
 * them with the umask (often 0644). SQLite gives a WAL or SHM file it
 * creates later the mode of the main file, so this holds from here on.
 */
export async function makePrivate(path: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      await Deno.chmod(`${path}${suffix}`, 0o600);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}

/**
 * Renames the KV file and its SQLite side files to `<file>.<time>.bak…`.
 *
 * @returns The new name of the file, or undefined when there was none.
 */
export async function moveAside(path: string, now: number): Promise<string | undefined> {
  const stamp = new Date(now).toISOString().replaceAll(":", "-");
  const target = `${path}.${stamp}.bak`;
  let moved: string | undefined;
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      await Deno.rename(`${path}${suffix}`, `${target}${suffix}`);
      if (suffix === "") moved = target;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return moved;
}
