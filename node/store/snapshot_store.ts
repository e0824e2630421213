/**
 * Snapshots of a node's chat state in Deno KV: written every few seconds and
 * at graceful shutdown, restored at boot before the node accepts anyone.
 *
 * ## What is kept
 *
 * Every retained event (the rooms' ring buffers, the private log, the
 * moderation log and the nick log, stored as they are: a sealed envelope
 * stays an opaque string), the per-origin
 * version vector, the node's origin, epoch and last sequence number, the
 * hybrid clock, and per room the newest `topic` and `seal` event (room
 * metadata that must outlive the ring buffer). Moderation (`mod` events in
 * room `""`: bans, mutes, ops, motd) needs no pins: the hub's moderation log
 * holds 16,384 of them, and the state is derived again from those restored.
 * Nick ownership neither: the log keeps the live `claim` event of every
 * registered nick (outside the history budget; a claim replaced by an earlier
 * one leaves its chunk like an evicted event), and the registry is derived
 * again from those restored.
 * Presence is not kept: the sessions are gone after a restart.
 *
 * ## KV layout (schema {@linkcode SNAPSHOT_SCHEMA})
 *
 * | key | value |
 * | --- | --- |
 * | `["meta"]` | {@linkcode SnapshotMeta}: schema, node id, origin, epoch, last seq, clock, saved at, clean |
 * | `["ev", chunk, part]` | a chunk: a JSON array of ~48 KB of events in the order the log accepted them, as UTF-8 in parts of ≤ 60,000 bytes (almost always one) |
 * | `["vv", origin]` | highest contiguous seq held from `origin` |
 * | `["retired", nodeId]` | epoch below which every origin of `nodeId` is retired (node/mesh/origin_retirement.ts); their `vv` entries are deleted |
 * | `["pin", room, kind, part]` | the room's newest `topic` / `seal` event, as JSON |
 *
 * ## A log of chunks
 *
 * The store listens to the event log's apply path. A snapshot appends the events
 * accepted since the previous one as new chunks (chunk numbers only grow),
 * and keeps, per chunk, how many of its events the log still retains. A
 * chunk none of whose events is retained any more is deleted; one that is
 * less than half alive is compacted: its live events are appended again and
 * the chunk deleted. So the file holds at most about twice what the ring
 * buffers hold, 100,000 events are some 600 KV entries rather than 100,000
 * (restoring is ~2× faster, writing ~5×), and nothing changed → nothing
 * written.
 *
 * Deno KV's limits are respected: a value ≤ 64 KiB (chunks are split into
 * parts, all in one commit), a commit ≤ 1,000 mutations and 800 KiB (a
 * snapshot commits at most 512 KiB at a time). Between commits it yields to
 * the event loop, and it commits early once it has worked 4 ms, so a
 * snapshot of 100,000 events does not freeze the node.
 *
 * ## Crash safety
 *
 * A snapshot commits, in this order: the new chunks (events in the order
 * the log accepted them, each commit carrying the version-vector entries as
 * they were right after its last event), then the remaining version-vector
 * entries and pins, then deletions of dead chunks, and `["meta"]` in the very
 * last commit. Each commit is atomic and events are immutable facts, so a
 * kill -9 after any commit leaves the previous meta, the previous chunks,
 * and the first chunks of the new snapshot: the events the node held at
 * some moment of its past plus some it had evicted before that moment. On
 * restore all events are inserted in order into ring buffers of the
 * configured size, which evicts those again (duplicates from a compaction
 * cut in the middle are dropped by id), so the node restarts in exactly a
 * state it went through, with a version vector that claims neither an event
 * it does not hold nor leaves a gap where evicted events were.
 *
 * ## Ids are never reused: boot epochs
 *
 * A graceful shutdown writes a last snapshot with `clean: true`. At boot the
 * store writes `clean: false` (before the node accepts anyone), so a node
 * that dies without that last snapshot is recognised at its next boot: its
 * events since the last snapshot may be out in the world under ids it no
 * longer knows, so it continues under a new origin `<id>.<epoch>` (see
 * `originFor` in core/event.ts), from seq 1. Sequence numbers stay gap-free per
 * origin, which anti-entropy relies on (reserving blocks of sequence numbers
 * ahead of use would leave gaps nobody can fill). After a clean stop the
 * node continues its origin and sequence. `--reset-data` starts a fresh file
 * at an epoch taken from the clock (seconds since 1970), so a reset node
 * never reissues its former ids either.
 *
 * ## A full disk
 *
 * A snapshot that fails (disk full, file unwritable) leaves its changes
 * queued for the next one, and the node keeps serving from memory. The
 * queue holds only events the log still retains: those it evicts before
 * any snapshot wrote them are dropped from the queue and counted. A warning
 * at most once a minute says how many events a crash would lose and when
 * the last snapshot was written ({@linkcode SnapshotStore.status}, also in
 * `/stats`); the first snapshot that gets through writes everything.
 *
 * ## Errors
 *
 * A corrupt, truncated, foreign or newer-schema file is never discarded or
 * overwritten: {@linkcode SnapshotStore.open} throws a
 * {@linkcode SnapshotStoreError} naming the file, with a hint: run again with
 * `--reset-data`, which moves the file aside as `snapshot.kv.<time>.bak` and
 * starts empty.
 *
 * @example Boot, serve, shut down
 * ```ts ignore
 * const store = await SnapshotStore.open("./data/n1", { nodeId: "n1", logger });
 * const hub = new Hub({ nodeId: "n1", origin: store.origin, lastSeq: store.lastSeq });
 * store.attach(hub.log); // restores, logs one line, starts tracking changes
 * store.start(); // a snapshot every 10 s
 * // ... serve ...
 * hub.shutdown("bye");
 * await store.close(); // last snapshot, marked clean
 * ```
 *
 * @module
 */
import { type ChatEvent, compareEvents, nodeOf } from "../../core/event.ts";
import { compareStamps, type HlcStamp } from "../../core/hybrid_clock.ts";
import type { VersionVectorJson } from "../../core/version_vector.ts";
import type { EventLog } from "../chat/event_log.ts";
import type { SnapshotStatus } from "../chat/storage_view.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { ChunkIndex } from "./_chunk_index.ts";
import {
  CommitBatcher,
  commitOrThrow,
  KV_MAX_COMMIT_BYTES,
  type Mutation,
  partMutations,
  splitParts,
  STEP_BUDGET_MS,
  vvMutation,
} from "./_kv_commit.ts";
import { load, type Loaded, type SnapshotMeta } from "./_snapshot_file.ts";
import { decideBoot, makePrivate, moveAside, type PreviousStop } from "./_boot_epoch.ts";
import {
  accessError,
  corruptError,
  isAccessError,
  messageOf,
  SnapshotStoreError,
} from "./snapshot_store_error.ts";

export { SNAPSHOT_SCHEMA, type SnapshotMeta } from "./_snapshot_file.ts";
export type { PreviousStop } from "./_boot_epoch.ts";
export { SnapshotStoreError } from "./snapshot_store_error.ts";

/** Name of the Deno KV file inside the data directory. */
export const SNAPSHOT_FILE = "snapshot.kv";

/** A chunk is closed once its JSON reaches this many characters. */
const CHUNK_CHARS = 48_000;
/**
 * Unwritten records at which the queue is first compacted (see
 * {@linkcode SnapshotStore.status}); later, at twice what the last one kept.
 */
const PENDING_COMPACT_MIN = 4096;
/** Least time between two "snapshots are failing" warnings (ms). */
const FAILURE_WARN_MS = 60_000;
/** Event kinds whose newest event per room is kept beyond the ring buffer. */
const PINNED_KINDS: ReadonlySet<string> = new Set(["topic", "seal"]);

/** What {@linkcode SnapshotStore.attach} restored. */
export interface RestoreSummary {
  /** Rooms in the log. */
  readonly rooms: number;
  /** Events retained in the log. */
  readonly events: number;
  /** Highest contiguous seq per origin. */
  readonly versions: VersionVectorJson;
  /** Age of the snapshot (ms), undefined when there was none. */
  readonly ageMs: number | undefined;
  /** How the previous run ended. */
  readonly previousStop: PreviousStop;
  /** Time to read the file (at open) and restore it into the log (ms). */
  readonly ms: number;
}

/** What one {@linkcode SnapshotStore.snapshotNow} did. */
export interface SnapshotResult {
  /** False when nothing had changed and nothing was written. */
  readonly written: boolean;
  /** Events written (new ones, and live ones of compacted chunks). */
  readonly events: number;
  /** Chunks written. */
  readonly chunks: number;
  /** Chunks deleted (dead or compacted). */
  readonly deletedChunks: number;
  /** Atomic commits. */
  readonly commits: number;
  /** Approximate bytes written. */
  readonly bytes: number;
  /** Time taken (ms). */
  readonly ms: number;
  /** Longest stretch of work between two commits, while the event loop waited (ms). */
  readonly longestStepMs: number;
}

/** Timers the periodic snapshot uses (injected by tests). */
export interface SnapshotTimers {
  /** Like `globalThis.setTimeout`: calls `callback` once after `ms`, returns a handle. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Like `globalThis.clearTimeout`: cancels a handle of `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

const globalTimers: SnapshotTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/** Options of {@linkcode SnapshotStore.open}. */
export interface SnapshotStoreOptions {
  /** This node's id; a file of another node is refused. */
  nodeId: string;
  /** Move an existing file aside (`<file>.<time>.bak`) and start empty. @default false */
  resetData?: boolean;
  /** Time between periodic snapshots (ms); 0 turns them off. @default 10000 */
  intervalMs?: number;
  /** Where the boot line and failures are logged. @default silentLogger */
  logger?: Logger;
  /** Clock (ms). @default Date.now */
  now?: () => number;
  /** Timers of the periodic snapshot. @default globalThis's */
  timers?: SnapshotTimers;
  /** Opens the KV file (tests wrap it to inject failures). @default Deno.openKv */
  openKv?: (path: string) => Promise<Deno.Kv>;
  /**
   * Bytes per atomic commit, keys included: more means fewer commits but a
   * longer pause while one is prepared. Capped below Deno KV's 800 KiB.
   * @default 524288
   */
  commitBytes?: number;
  /** Characters of JSON per chunk (tests make it small). @default 48000 */
  chunkChars?: number;
}

const NOTHING_WRITTEN: SnapshotResult = {
  written: false,
  events: 0,
  chunks: 0,
  deletedChunks: 0,
  commits: 0,
  bytes: 0,
  ms: 0,
  longestStepMs: 0,
};

const encoder = new TextEncoder();

/** One accepted event (or a live event of a compacted chunk) not yet written. */
interface Pending {
  /** The event, or undefined when it was older than a full log (never stored). */
  readonly event: ChatEvent | undefined;
  /** Its origin. */
  readonly origin: string;
  /** The version vector's contiguous seq of `origin` right after it (0: no step). */
  readonly contiguous: number;
}

/** A chunk in KV (or possibly in KV, after a failed commit). */
interface Chunk {
  /** Every event written in it, live or not. */
  readonly events: readonly ChatEvent[];
  /** How many of them the log retains and have this chunk as their home. */
  live: number;
  /** Value parts. */
  readonly parts: number;
}

/**
 * A node's snapshots in one Deno KV file. Opening it restores nothing into a
 * log yet and starts no timer: {@linkcode SnapshotStore.attach} restores,
 * {@linkcode SnapshotStore.start} schedules periodic snapshots.
 */
export class SnapshotStore {
  /** The KV file. */
  readonly path: string;
  /** Node id. */
  readonly nodeId: string;
  /** Boot epoch of this run. */
  readonly epoch: number;
  /** Origin the log must stamp on its events in this run. */
  readonly origin: string;
  /** Last seq already issued under {@linkcode SnapshotStore.origin}. */
  readonly lastSeq: number;
  /** How the previous run ended. */
  readonly previousStop: PreviousStop;

  readonly #kv: Deno.Kv;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #timers: SnapshotTimers;
  readonly #commitBytes: number;
  readonly #chunkChars: number;
  #loaded: Loaded | undefined;
  #log: EventLog | undefined;
  #unlisten: (() => void) | undefined;
  /** Accepted since the last snapshot, in apply order. */
  #pending: Pending[] = [];
  /** Chunks by number. */
  readonly #chunks = new Map<number, Chunk>();
  /** The chunk each retained, written event lives in. */
  readonly #chunkOf = new ChunkIndex();
  /** Chunks that lost events since the last snapshot. */
  #dirtyChunks = new Set<number>();
  #nextChunk = 1;
  /** Newest pinned event per `room\0kind`. */
  readonly #pins = new Map<string, ChatEvent>();
  #dirtyPins = new Set<string>();
  /** Parts of each pin in KV (an upper bound while a snapshot runs). */
  readonly #pinParts: Map<string, number>;
  /** Version vector as committed. */
  readonly #vvInKv = new Map<string, number>();
  /** Retirement watermarks as committed. */
  readonly #retiredInKv = new Map<string, number>();
  #metaInKv: SnapshotMeta;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: unknown;
  #started = false;
  #closed = false;
  readonly #savedAtBoot: number | undefined;
  /** When the last snapshot was committed, in this run or before. */
  #lastSavedAt: number | undefined;
  /** `#pending`'s length at which it is compacted next. */
  #compactAt = PENDING_COMPACT_MIN;
  #evictedUnwritten = 0;
  /**
   * Records of `#pending` whose event the log still holds, kept as events
   * come and go so that {@linkcode SnapshotStore.status} (read by every
   * `/metrics`) costs O(1) rather than a walk of the backlog. Counted again
   * exactly whenever `#pending` is rebuilt.
   */
  #pendingHeld = 0;
  #failures = 0;
  #lastFailureWarning = -Infinity;
  /** Time {@linkcode SnapshotStore.open} took to read the file (ms). */
  readonly #loadMs: number;
  readonly #written = new Set<(result: SnapshotResult) => void>();

  private constructor(
    path: string,
    kv: Deno.Kv,
    loaded: Loaded,
    boot: SnapshotMeta,
    previousStop: PreviousStop,
    options: {
      intervalMs: number;
      logger: Logger;
      now: () => number;
      timers: SnapshotTimers;
      commitBytes: number;
      chunkChars: number;
      loadMs: number;
    },
  ) {
    this.path = path;
    this.nodeId = boot.nodeId;
    this.epoch = boot.epoch;
    this.origin = boot.origin;
    this.lastSeq = boot.lastSeq;
    this.previousStop = previousStop;
    this.#kv = kv;
    this.#loaded = loaded;
    this.#metaInKv = boot;
    this.#savedAtBoot = loaded.meta?.savedAt;
    this.#lastSavedAt = this.#savedAtBoot;
    this.#pinParts = loaded.pinParts;
    this.#intervalMs = options.intervalMs;
    this.#logger = options.logger;
    this.#now = options.now;
    this.#timers = options.timers;
    this.#commitBytes = options.commitBytes;
    this.#chunkChars = options.chunkChars;
    this.#loadMs = options.loadMs;
  }

  /**
   * Opens (or creates) `<dataDir>/snapshot.kv`, reads and validates all of
   * it, decides this run's origin, and records the boot (`clean: false`,
   * the new epoch) before returning, so the node may accept people as soon
   * as the log is attached.
   *
   * @param dataDir The node's data directory (created when missing).
   * @param options Node id and tuning.
   * @returns The store, holding the loaded state until
   *   {@linkcode SnapshotStore.attach}.
   * @throws {SnapshotStoreError} When the file is corrupt, truncated, of
   *   another node, of a newer schema, or cannot be opened or written.
   * @throws {RangeError} When an option is out of range.
   */
  static async open(dataDir: string, options: SnapshotStoreOptions): Promise<SnapshotStore> {
    const {
      nodeId,
      resetData = false,
      intervalMs = 10_000,
      logger = silentLogger,
      now = Date.now,
      timers = globalTimers,
      openKv = (path: string) => Deno.openKv(path),
      commitBytes = 512 * 1024,
      chunkChars = CHUNK_CHARS,
    } = options;
    if (!Number.isFinite(intervalMs) || intervalMs < 0) {
      throw new RangeError(`Invalid snapshot interval ${intervalMs} ms: must be 0 or more`);
    }
    if (!Number.isInteger(commitBytes) || commitBytes < 1024) {
      throw new RangeError(`Invalid commit bytes ${commitBytes}: must be an integer >= 1024`);
    }
    if (!Number.isInteger(chunkChars) || chunkChars < 1 || chunkChars > CHUNK_CHARS) {
      throw new RangeError(`Invalid chunk size ${chunkChars}: must be from 1 to ${CHUNK_CHARS}`);
    }
    const dir = dataDir.replace(/\/+$/, "") || ".";
    const path = `${dir}/${SNAPSHOT_FILE}`;
    try {
      // 0700: private messages are in this file in the clear (see node/store/private_dir.ts).
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw accessError(path, error);
    }
    let movedTo: string | undefined;
    if (resetData) {
      try {
        movedTo = await moveAside(path, now());
      } catch (error) {
        throw accessError(path, error);
      }
      if (movedTo !== undefined) logger.warn("moved old data file aside", { to: movedTo });
    }
    const existing = await Deno.stat(path).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw accessError(path, error);
    });
    if (existing !== undefined && !existing.isFile) {
      throw new SnapshotStoreError(
        `Cannot open snapshot file ${path}: it is not a file`,
        path,
        "Move it out of the way or choose another --data directory",
      );
    }
    if (existing?.size === 0) {
      throw corruptError(path, new Error("the file is empty (truncated?)"));
    }
    let kv: Deno.Kv;
    try {
      kv = await openKv(path);
      await makePrivate(path);
    } catch (error) {
      throw isAccessError(error) ? accessError(path, error) : corruptError(path, error);
    }
    try {
      const loadStarted = performance.now();
      const loaded = await load(kv, path);
      const loadMs = performance.now() - loadStarted;
      const { boot, previousStop } = decideBoot(loaded, nodeId, path, now(), movedTo);
      try {
        await commitOrThrow(kv.atomic().set(["meta"], boot));
      } catch (error) {
        throw new SnapshotStoreError(
          `Cannot write snapshot file ${path}: ${messageOf(error)}`,
          path,
          "Check free disk space and write permission on the data directory",
          { cause: error },
        );
      }
      return new SnapshotStore(path, kv, loaded, boot, previousStop, {
        intervalMs,
        logger,
        now,
        timers,
        commitBytes: Math.min(commitBytes, KV_MAX_COMMIT_BYTES - 32 * 1024),
        chunkChars,
        loadMs,
      });
    } catch (error) {
      kv.close();
      if (error instanceof SnapshotStoreError) throw error;
      throw corruptError(path, error);
    }
  }

  /**
   * Restores the loaded snapshot into a log created with this store's origin
   * and last seq, logs one line (rooms, events, last seqs, age), and from
   * now on tracks every change of the log. Events the log already held are
   * written by the next snapshot. Synchronous: call it before the node
   * accepts anyone.
   *
   * @param log The node's log, with `origin` = {@linkcode SnapshotStore.origin}.
   * @returns What was restored.
   * @throws {TypeError} When the log's origin differs or a log is attached already.
   */
  attach(log: EventLog): RestoreSummary {
    const started = performance.now();
    const loaded = this.#loaded;
    if (loaded === undefined || this.#log !== undefined || this.#closed) {
      throw new TypeError("Cannot attach snapshot store: it is attached or closed already");
    }
    if (log.origin !== this.origin || log.lastSeq < this.lastSeq) {
      throw new TypeError(
        `Cannot attach snapshot store: the log must use origin ${this.origin} from seq ${this.lastSeq}, not ${log.origin} from ${log.lastSeq}`,
      );
    }
    this.#loaded = undefined;
    this.#log = log;
    const all: ChatEvent[] = [];
    for (const chunk of loaded.chunks.values()) {
      for (const event of chunk.events) all.push(event);
    }
    all.sort(compareEvents);
    log.restore(all);
    log.restore([...loaded.pins.values()].sort(compareEvents));
    // After the events: the ring buffers keep retired origins' history.
    log.restoreVersions(loaded.vv, loaded.retired);
    for (const [node, below] of Object.entries(loaded.retired)) this.#retiredInKv.set(node, below);
    this.#restoreClock(log, all, loaded.meta);
    for (const [origin, seq] of Object.entries(loaded.vv)) this.#vvInKv.set(origin, seq);
    for (const [key, event] of loaded.pins) {
      // A room the restore expired (quiet for the room TTL): its pin is deleted.
      if (log.rooms.has(event.room)) this.#pins.set(key, event);
      else this.#dirtyPins.add(key);
    }
    for (const [number, { events, parts }] of loaded.chunks) {
      let live = 0;
      for (const event of events) {
        // Only the copy the log kept (a cut compaction can leave two).
        if (log.get(event.origin, event.seq) === event) {
          this.#chunkOf.set(event.origin, event.seq, number);
          live++;
        }
      }
      this.#chunks.set(number, { events, live, parts });
      if (live * 2 < events.length) this.#dirtyChunks.add(number);
      this.#nextChunk = Math.max(this.#nextChunk, number + 1);
    }
    let events = 0;
    for (const event of log.events()) {
      events++;
      if (PINNED_KINDS.has(event.kind)) this.#pin(event);
      if (this.#chunkOf.get(event.origin, event.seq) === 0) {
        this.#pending.push({ event, origin: event.origin, contiguous: 0 });
        this.#pendingHeld++;
      }
    }
    const unlistenEvents = log.onApplied((event, evicted) => this.#track(event, evicted));
    // An expired room's events leave their chunks as evicted ones do, and
    // its pins go (history budget evictions keep them: the room lives on).
    const unlistenForget = log.onForget((event) => {
      this.#release(event);
      this.#unpinExpired(event);
    });
    this.#unlisten = () => {
      unlistenEvents();
      unlistenForget();
    };
    const versions = log.versions.toJSON();
    const ageMs = this.#savedAtBoot === undefined ? undefined : this.#now() - this.#savedAtBoot;
    const summary: RestoreSummary = {
      rooms: log.rooms.size,
      events,
      versions,
      ageMs,
      previousStop: this.previousStop,
      ms: Math.round((this.#loadMs + performance.now() - started) * 10) / 10,
    };
    this.#logger.info(
      this.previousStop === "none" ? "no snapshot yet, starting empty" : "snapshot restored",
      {
        rooms: summary.rooms,
        events,
        last_seq: formatVersions(versions),
        age: ageMs === undefined ? undefined : `${(ageMs / 1000).toFixed(1)}s`,
        previous_stop: this.previousStop,
        origin: this.origin,
        file: this.path,
      },
    );
    return summary;
  }

  /**
   * How far the file lags the log. While snapshots fail (a full disk), the
   * node keeps serving from memory: unwritten events are held only while the
   * log retains them (its history is the bound), and those it evicts first
   * are counted in `evictedUnwritten`.
   *
   * @returns The backlog and the time of the last snapshot. O(1).
   */
  status(): SnapshotStatus {
    return {
      unwritten: this.#pendingHeld,
      evictedUnwritten: this.#evictedUnwritten,
      queued: this.#pending.length,
      lastSavedAt: this.#lastSavedAt,
      failures: this.#failures,
    };
  }

  /**
   * Listens to every snapshot written (not those that found nothing to write), for `/metrics`.
   *
   * @param listener Called with what the snapshot did.
   * @returns A function that removes the listener.
   */
  onSnapshot(listener: (result: SnapshotResult) => void): () => void {
    this.#written.add(listener);
    return () => this.#written.delete(listener);
  }

  /** Schedules periodic snapshots (none when the interval is 0). Idempotent. */
  start(): void {
    if (this.#started || this.#closed || this.#intervalMs === 0) return;
    this.#started = true;
    this.#schedule();
  }

  /**
   * Writes what changed since the last snapshot. Snapshots run one at a
   * time; a call while one is running waits for it, then writes.
   *
   * @param options `clean` marks the snapshot as the last of a graceful
   *   shutdown (used by {@linkcode SnapshotStore.close}).
   * @returns What was written.
   * @throws {Error} When Deno KV fails (the changes stay queued for the next snapshot).
   */
  snapshotNow(options: { clean?: boolean } = {}): Promise<SnapshotResult> {
    const run = this.#queue.then(() => this.#write(options.clean ?? false));
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Stops the periodic snapshots, writes the last snapshot marked clean
   * (unless `snapshot` is false, which leaves the file as a crash would)
   * and closes the file.
   *
   * @param options `snapshot: false` skips the last snapshot.
   * @throws {Error} When the last snapshot fails (the file is closed anyway).
   */
  async close(options: { snapshot?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    const { snapshot = true } = options;
    this.#stopTimer();
    try {
      if (snapshot && this.#log !== undefined) {
        await this.snapshotNow({ clean: true });
      } else if (snapshot) {
        // Never attached: nothing was issued under this run's origin.
        await this.#queue;
        await commitOrThrow(this.#kv.atomic().set(["meta"], { ...this.#metaInKv, clean: true }));
      } else {
        await this.#queue;
      }
    } finally {
      this.#closed = true;
      this.#unlisten?.();
      this.#kv.close();
    }
  }

  #schedule(): void {
    this.#timer = this.#timers.setTimeout(async () => {
      this.#timer = undefined;
      try {
        await this.snapshotNow();
      } catch (error) {
        // Every interval fails the same way on a full disk: say it once a minute.
        const now = this.#now();
        if (now - this.#lastFailureWarning >= FAILURE_WARN_MS) {
          this.#lastFailureWarning = now;
          const status = this.status();
          this.#logger.warn("snapshot failed, serving from memory and retrying", {
            error: messageOf(error),
            file: this.path,
            failures: status.failures,
            lost_if_crash: status.unwritten,
            evicted_unwritten: status.evictedUnwritten,
            last_saved: status.lastSavedAt === undefined
              ? undefined
              : new Date(status.lastSavedAt).toISOString(),
          });
        }
      }
      if (!this.#closed && this.#started) this.#schedule();
    }, this.#intervalMs);
  }

  #stopTimer(): void {
    this.#started = false;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #track(event: ChatEvent, evicted: ChatEvent | undefined): void {
    if (this.#closed) {
      if (event.origin === this.origin) {
        this.#logger.warn("event after the final snapshot will not be saved", {
          id: `${event.origin}:${event.seq}`,
        });
      }
      return;
    }
    if (PINNED_KINDS.has(event.kind)) this.#pin(event);
    // Written even if evicted before the snapshot (then found dead in its
    // chunk): every cut of a snapshot is then exactly a past state.
    if (evicted !== event) this.#pendingHeld++;
    this.#pending.push({
      event: evicted === event ? undefined : event,
      origin: event.origin,
      contiguous: this.#log!.versions.contiguous(event.origin),
    });
    if (evicted !== undefined && evicted !== event) this.#release(evicted);
    if (this.#pending.length >= this.#compactAt) this.#compactPending();
  }

  /**
   * Bounds the unwritten queue by what the log retains: drops the records of
   * events evicted before any snapshot wrote them (counted), and those of
   * events never retained. Runs only when the queue outgrows the history
   * (failing snapshots, or a burst larger than the history between two), and
   * gives up one guarantee then: a snapshot cut by a crash may lack an event
   * the log still held at the cut's point, one it evicted soon after. A
   * snapshot that gets through is exact, and writes the whole vector.
   */
  #compactPending(): void {
    const log = this.#log!;
    const kept: Pending[] = [];
    for (const record of this.#pending) {
      const event = record.event;
      if (event !== undefined && log.get(event.origin, event.seq) === event) {
        kept.push(record);
      } else if (event !== undefined) {
        this.#evictedUnwritten++;
      }
    }
    this.#pending = kept;
    this.#pendingHeld = kept.length;
    this.#compactAt = Math.max(PENDING_COMPACT_MIN, 2 * kept.length);
  }

  /** Records of `#pending` whose event the log still holds, counted. */
  #countHeld(): number {
    const log = this.#log!;
    let held = 0;
    for (const { event } of this.#pending) {
      if (event !== undefined && log.get(event.origin, event.seq) === event) held++;
    }
    return held;
  }

  /** Drops a chunk that never reached KV: its events are in no chunk now. */
  #forgetChunk(number: number): void {
    const chunk = this.#chunks.get(number);
    if (chunk === undefined) return;
    for (const event of chunk.events) {
      if (this.#chunkOf.get(event.origin, event.seq) === number) {
        this.#chunkOf.delete(event.origin, event.seq);
      }
    }
    this.#chunks.delete(number);
    this.#dirtyChunks.delete(number);
  }

  /** An event is no longer retained (or moves): its chunk loses it. */
  #release(event: ChatEvent): void {
    const number = this.#chunkOf.delete(event.origin, event.seq);
    if (number === 0) {
      // Unwritten, so queued: in `#pending`, or in a snapshot in flight
      // (then the count is low until that snapshot ends; never below 0).
      this.#pendingHeld = Math.max(0, this.#pendingHeld - 1);
      return;
    }
    const chunk = this.#chunks.get(number);
    if (chunk === undefined) return;
    chunk.live--;
    if (chunk.live * 2 < chunk.events.length) this.#dirtyChunks.add(number);
  }

  /** An event of a room that expired: the room's pins go with it. */
  #unpinExpired(event: ChatEvent): void {
    if (event.room === "" || this.#log?.rooms.has(event.room) !== false) return;
    for (const kind of PINNED_KINDS) {
      const key = `${event.room}\u0000${kind}`;
      if (this.#pins.delete(key)) this.#dirtyPins.add(key);
    }
  }

  #pin(event: ChatEvent): void {
    if (event.room === "") return;
    const key = `${event.room}\u0000${event.kind}`;
    const current = this.#pins.get(key);
    if (current !== undefined && compareEvents(current, event) >= 0) return;
    this.#pins.set(key, event);
    this.#dirtyPins.add(key);
  }

  #restoreClock(log: EventLog, events: readonly ChatEvent[], meta: SnapshotMeta | undefined): void {
    const own: { wall: number; counter: number }[] = meta === undefined ? [] : [meta.clock];
    let remote: HlcStamp | undefined;
    for (const event of events) {
      if (nodeOf(event.origin) === this.nodeId) {
        own.push(event.hlc);
      } else if (remote === undefined || compareStamps(event.hlc, remote) > 0) {
        remote = event.hlc;
      }
    }
    log.restoreClock(own, remote);
  }

  async #write(clean: boolean): Promise<SnapshotResult> {
    const log = this.#log;
    if (log === undefined || this.#closed) return NOTHING_WRITTEN;
    const started = performance.now();
    // One synchronous step: the dirty set and the state it belongs to.
    const dead: number[] = [];
    const compacted: Pending[] = [];
    for (const number of this.#dirtyChunks) {
      const chunk = this.#chunks.get(number);
      if (chunk === undefined || chunk.live * 2 >= chunk.events.length) continue;
      dead.push(number);
      for (const event of chunk.events) {
        if (
          this.#chunkOf.get(event.origin, event.seq) === number &&
          log.get(event.origin, event.seq) === event
        ) {
          compacted.push({ event, origin: event.origin, contiguous: 0 });
        }
      }
    }
    const pending = compacted.length === 0 ? this.#pending : [...compacted, ...this.#pending];
    const dirtyChunks = this.#dirtyChunks;
    const dirtyPins = this.#dirtyPins;
    const pins = [...dirtyPins].map((key) => [key, this.#pins.get(key)] as const);
    this.#pending = [];
    this.#pendingHeld = 0;
    this.#dirtyChunks = new Set();
    this.#dirtyPins = new Set();
    const vv = Object.entries(log.versions.toJSON());
    const retired = Object.entries(log.versions.retiredJSON())
      .filter(([node, below]) => below > (this.#retiredInKv.get(node) ?? 0));
    const retiredOrigins = [...this.#vvInKv.keys()].filter((o) => log.versions.isRetired(o));
    const last = log.clock.last;
    const meta: SnapshotMeta = {
      ...this.#metaInKv,
      lastSeq: log.lastSeq,
      clock: { wall: last.wall, counter: last.counter },
      savedAt: this.#now(),
      clean,
    };
    const unchanged = pending.length === 0 && dead.length === 0 && pins.length === 0 &&
      vv.every(([origin, seq]) => this.#vvInKv.get(origin) === seq) &&
      retired.length === 0 && retiredOrigins.length === 0 &&
      meta.lastSeq === this.#metaInKv.lastSeq && meta.clean === this.#metaInKv.clean &&
      meta.clock.wall === this.#metaInKv.clock.wall &&
      meta.clock.counter === this.#metaInKv.clock.counter;
    if (unchanged) return NOTHING_WRITTEN;

    const batch = new CommitBatcher(this.#kv, this.#commitBytes, started);
    let events = 0;
    let chunks = 0;
    // Version-vector steps of the events in chunks not yet committed: each
    // commit carries those of its own events.
    const touched = new Map<string, number>();
    let open: Pending[] = [];
    let openChars = 0;
    /** Chunks added to commits, in order; the first `committed` are in KV. */
    const emitted: number[] = [];
    let committed = 0;
    /** Encodes the open chunk and adds it to the pending commit. */
    const emitChunk = async () => {
      const records = open;
      open = [];
      openChars = 0;
      const members: ChatEvent[] = [];
      const json: string[] = [];
      for (const record of records) {
        if (record.event === undefined) continue;
        members.push(record.event);
        json.push(JSON.stringify(record.event));
      }
      if (members.length > 0) {
        const number = this.#nextChunk++;
        const parts = splitParts(encoder.encode(`[${json.join(",")}]`));
        const mutations = partMutations(["ev", number], parts);
        if (!batch.fits(mutations, touched.size)) await commitChunks();
        let live = 0;
        for (const event of members) {
          // Evicted before this snapshot: written (for the cut) but not alive.
          if (log.get(event.origin, event.seq) !== event) continue;
          if (this.#chunkOf.get(event.origin, event.seq) === number) continue; // listed twice
          this.#release(event); // a compacted event leaves its old chunk
          this.#chunkOf.set(event.origin, event.seq, number);
          live++;
        }
        this.#chunks.set(number, { events: members, live, parts: parts.length });
        if (live * 2 < members.length) this.#dirtyChunks.add(number);
        batch.push(mutations);
        emitted.push(number);
        events += members.length;
        chunks++;
      }
      for (const { origin, contiguous } of records) {
        if (contiguous > (touched.get(origin) ?? 0)) touched.set(origin, contiguous);
      }
    };
    const commitChunks = async () => {
      const mutations: Mutation[] = [];
      for (const [origin, seq] of touched) {
        if (seq > (this.#vvInKv.get(origin) ?? 0)) mutations.push(vvMutation(origin, seq));
      }
      touched.clear();
      const flushing = emitted.length;
      await batch.flush(mutations);
      committed = flushing;
      for (const { key, value } of mutations) this.#vvInKv.set(key[1] as string, value as number);
    };
    try {
      for (const record of pending) {
        open.push(record);
        if (record.event !== undefined) {
          // Most events are ASCII; the exact size is known when the chunk is encoded.
          openChars += record.event.text.length + (record.event.sealed?.length ?? 0) + 160;
        }
        const chunkDone = openChars >= this.#chunkChars;
        const overBudget = !chunkDone && (open.length & 31) === 0 &&
          batch.stepMs() > STEP_BUDGET_MS;
        if (chunkDone || overBudget) {
          await emitChunk();
          if (overBudget || batch.full() || batch.stepMs() > STEP_BUDGET_MS) await commitChunks();
        }
      }
      await emitChunk();
      await commitChunks();
      for (const [origin, seq] of vv) {
        if (seq > (this.#vvInKv.get(origin) ?? 0)) await batch.add([vvMutation(origin, seq)]);
      }
      for (const [node, below] of retired) {
        await batch.add([{ key: ["retired", node], value: below, bytes: node.length + 32 }]);
      }
      for (const origin of retiredOrigins) {
        await batch.add([{ key: ["vv", origin], bytes: origin.length + 24 }]);
      }
      for (const [key, event] of pins) {
        if (event === undefined) {
          // Its room expired: the pin is deleted.
          const [room, kind] = key.split("\u0000") as [string, string];
          const mutations: Mutation[] = [];
          for (let part = 0; part < (this.#pinParts.get(key) ?? 0); part++) {
            mutations.push({ key: ["pin", room, kind, part], bytes: 64 });
          }
          if (mutations.length > 0) await batch.add(mutations);
          continue;
        }
        const parts = splitParts(encoder.encode(JSON.stringify(event)));
        const mutations = partMutations(["pin", event.room, event.kind], parts);
        const before = this.#pinParts.get(key) ?? 0;
        for (let part = parts.length; part < before; part++) {
          mutations.push({ key: ["pin", event.room, event.kind, part], bytes: 64 });
        }
        // An upper bound until the snapshot is through: stale parts get deleted.
        this.#pinParts.set(key, Math.max(before, parts.length));
        await batch.add(mutations);
      }
      for (const number of dead) {
        const mutations: Mutation[] = [];
        for (let part = 0; part < this.#chunks.get(number)!.parts; part++) {
          mutations.push({ key: ["ev", number, part], bytes: 48 });
        }
        await batch.add(mutations);
      }
      await batch.add([{ key: ["meta"], value: meta, bytes: 512 }]);
      await batch.flush();
    } catch (error) {
      // Everything taken is dirty again; chunks written meanwhile lose their
      // events when those are written anew, and are deleted then.
      this.#pending = [...pending, ...this.#pending];
      this.#pendingHeld = this.#countHeld();
      for (const number of dirtyChunks) this.#dirtyChunks.add(number);
      for (const key of dirtyPins) this.#dirtyPins.add(key);
      // Chunks never committed are forgotten, so retries on a full disk do
      // not pile up chunk records; their events are queued again above.
      for (const number of emitted.slice(committed)) this.#forgetChunk(number);
      if (this.#pending.length >= this.#compactAt) this.#compactPending();
      this.#failures++;
      throw error;
    }
    for (const [origin, seq] of vv) {
      if (seq > (this.#vvInKv.get(origin) ?? 0)) this.#vvInKv.set(origin, seq);
    }
    for (const [node, below] of retired) this.#retiredInKv.set(node, below);
    for (const origin of retiredOrigins) this.#vvInKv.delete(origin);
    for (const number of dead) this.#chunks.delete(number);
    for (const [key, event] of pins) {
      if (event === undefined) this.#pinParts.delete(key);
      else this.#pinParts.set(key, splitParts(encoder.encode(JSON.stringify(event))).length);
    }
    this.#metaInKv = meta;
    this.#lastSavedAt = meta.savedAt;
    if (this.#failures > 0) {
      this.#logger.info("snapshot written again", { after_failures: this.#failures });
      this.#failures = 0;
      this.#lastFailureWarning = -Infinity;
    }
    const result: SnapshotResult = {
      written: true,
      events,
      chunks,
      deletedChunks: dead.length,
      commits: batch.commits,
      bytes: batch.bytes,
      ms: Math.round((performance.now() - started) * 10) / 10,
      longestStepMs: Math.round(batch.longestStepMs * 100) / 100,
    };
    this.#logger.debug("snapshot written", {
      events,
      chunks,
      deleted_chunks: dead.length,
      commits: result.commits,
      bytes: result.bytes,
      ms: result.ms,
      clean,
    });
    for (const listener of this.#written) listener(result);
    return result;
  }
}

function formatVersions(versions: VersionVectorJson): string {
  const entries = Object.entries(versions).sort(([, a], [, b]) => b - a);
  const shown = entries.slice(0, 8).map(([origin, seq]) => `${origin}:${seq}`);
  if (entries.length > shown.length) shown.push(`+${entries.length - shown.length} more`);
  return shown.join(" ") || "none";
}
