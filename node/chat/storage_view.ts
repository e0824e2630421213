/**
 * What the chat side asks of a snapshot store (`/stats`): how far the file
 * lags memory. Types only: the store (node/store/snapshot_store.ts)
 * implements them, so the hub holds a store without importing it.
 *
 * @module
 */

/** What `SnapshotStore.status()` reports. */
export interface SnapshotStatus {
  /**
   * Events the log retains that no snapshot holds yet: what a crash now
   * would lose from this node (peers may still hold copies).
   */
  readonly unwritten: number;
  /**
   * Events accepted and evicted from the hub's memory before any snapshot
   * could write them (snapshots failing, or a burst larger than the
   * history), since this store was opened.
   */
  readonly evictedUnwritten: number;
  /**
   * Records queued for the next snapshot, those events included: at most
   * about twice what the log retains, plus 4,096.
   */
  readonly queued: number;
  /** When the last snapshot was committed (ms), undefined when none was yet. */
  readonly lastSavedAt: number | undefined;
  /** Snapshots that failed in a row (0 when the last one worked). */
  readonly failures: number;
}

/** What the snapshot store tells `/stats` (node/store/snapshot_store.ts implements it). */
export interface StorageView {
  /** The backlog and the time of the last snapshot. */
  status(): SnapshotStatus;
}
