/**
 * Where a node's snapshot ends in the stream: the last stream sequence
 * whose events the snapshot on disk is sure to hold, kept beside it in
 * `<data>/nats_position.json` as `{ stream, created, seq }`. A restarted
 * node replays the stream from the next sequence.
 *
 * ## Why it is never ahead of the snapshot
 *
 * A snapshot takes the log's state in one synchronous step when it starts,
 * and snapshots run one at a time. The sequence applied when snapshot k
 * *ended* was applied before snapshot k+1 *started*, so it is written only
 * once snapshot k+1 has ended (a failed snapshot writes nothing). So the
 * position lags a snapshot behind, and a restart replays a little more
 * than it must (harmless, see below) but never less. Written with a
 * rename, so a kill -9 leaves the old position or the new.
 *
 * ## When it is not used
 *
 * The position counts only for the snapshot it was written with and the
 * stream it was read from: a node with an empty snapshot (first start,
 * `--reset-data`), another stream name, or a stream created again since
 * (another creation time) replays the whole stream. Replaying too much is
 * harmless: the version vector drops what the log already holds.
 *
 * @module
 */
import type { SnapshotStore } from "../store/snapshot_store.ts";
import type { Logger } from "../logger.ts";

/** The file name, in the node's data directory. */
export const POSITION_FILE = "nats_position.json";

/** Which stream a position belongs to: its name and its creation time. */
export interface StreamIdentity {
  /** Stream name. */
  readonly stream: string;
  /** When the stream was created, as JetStream reports it. */
  readonly created: string;
}

/**
 * Reads the position a node's snapshot ends at in this stream.
 *
 * @param dataDir The node's data directory.
 * @param identity The stream as it is now.
 * @returns The last sequence the snapshot holds, or 0 (replay it all) when
 *   there is no file or it belongs to another stream.
 */
export function readStreamPosition(dataDir: string, identity: StreamIdentity): number {
  let saved: unknown;
  try {
    saved = JSON.parse(Deno.readTextFileSync(`${dataDir}/${POSITION_FILE}`));
  } catch {
    return 0;
  }
  const { stream, created, seq } = (saved ?? {}) as Record<string, unknown>;
  if (stream !== identity.stream || created !== identity.created) return 0;
  return Number.isSafeInteger(seq) && (seq as number) > 0 ? seq as number : 0;
}

/**
 * Keeps the position file in step with the snapshots (see the module doc).
 *
 * @param store The node's snapshot store.
 * @param dataDir Where the file goes.
 * @param identity The stream.
 * @param applied The last sequence applied to the log.
 * @param logger Where a failed write is reported.
 * @returns A function that stops following.
 */
export function followSnapshots(
  store: Pick<SnapshotStore, "onSnapshot">,
  dataDir: string,
  identity: StreamIdentity,
  applied: () => number,
  logger: Logger,
): () => void {
  let atLastSnapshot: number | undefined;
  return store.onSnapshot(() => {
    const safe = atLastSnapshot;
    atLastSnapshot = applied();
    if (safe === undefined || safe === 0) return;
    const path = `${dataDir}/${POSITION_FILE}`;
    try {
      // Small and once per snapshot: written at once, so a stop cannot outrun it.
      Deno.writeTextFileSync(`${path}.tmp`, JSON.stringify({ ...identity, seq: safe }), {
        mode: 0o600,
      });
      Deno.renameSync(`${path}.tmp`, path);
    } catch (error) {
      logger.warn("stream position not saved: a restart replays more", {
        file: path,
        error: String(error),
      });
    }
  });
}
