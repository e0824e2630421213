/**
 * Snapshots of a node's chat state in Deno KV: written every few seconds and
 * at graceful shutdown, restored at boot before the node accepts anyone.
 *
 * ## What is kept
 *
 * Every retained event (rooms' ring buffers and the private log, stored as
 * they are: a sealed envelope stays an opaque string), the per-origin version
 * vector, the node's origin, epoch and last sequence number, the hybrid
 * clock, and per room the newest `topic` and `seal` event (room metadata that
 * must outlive the ring buffer). Presence is not kept: the sessions are gone.
 *
 * ## KV layout (schema {@linkcode SNAPSHOT_SCHEMA})
 *
 * | key | value |
 * | --- | --- |
 * | `["meta"]` | {@linkcode SnapshotMeta}: schema, node id, origin, epoch, last seq, clock, saved at, clean |
 * | `["ev", origin, seq, part]` | the event as UTF-8 JSON, in parts of ≤ 60,000 bytes (almost always one) |
 * | `["vv", origin]` | highest contiguous seq held from `origin` |
 * | `["pin", room, kind, part]` | the room's newest `topic` / `seal` event, same encoding |
 *
 * ## Incremental writes
 *
 * The store listens to the hub's apply path and keeps the dirty set: events
 * added since the last snapshot (minus those already evicted again), events
 * evicted (to delete), changed pins and version-vector entries. A snapshot
 * takes the dirty set in one synchronous step (with the version vector,
 * last seq and clock of that same instant) and writes it in atomic commits of
 * at most 500 mutations and 512 KiB (Deno KV allows 1,000 and 800 KiB; one
 * value may hold 64 KiB), awaiting each commit so the event loop keeps
 * running. Nothing changed → nothing written.
 *
 * ## Crash safety
 *
 * A snapshot writes, in this order: new events (in the order the hub accepted
 * them), then version-vector entries and pins, then deletions of evicted
 * events, and `["meta"]` in the very last commit. Each commit is atomic, and
 * events are immutable facts keyed by their id, so a kill -9 after any commit
 * leaves: the previous meta, the previous events plus a prefix of the new
 * ones (a state the node went through), and possibly some evicted events not
 * yet deleted. Restore loads everything, inserts the events in order into
 * ring buffers of the configured size (which evicts the leftovers again, and
 * the next snapshot deletes them), and merges the stored version vector,
 * which never claims an event that is not stored: its entries are taken at
 * the same instant as the dirty set and written after the events.
 *
 * ## Ids are never reused: boot epochs
 *
 * A graceful shutdown writes a last snapshot with `clean: true`. At boot the
 * store writes `clean: false` (before the node accepts anyone), so a node
 * that dies without that last snapshot is recognised at its next boot. Then
 * its events since the last snapshot may be out in the world with ids it no
 * longer knows, so it continues under a new origin `<id>.<epoch>` (see
 * {@linkcode originFor}), starting at seq 1. Sequence numbers stay gap-free
 * per origin, which anti-entropy relies on (reserving blocks of sequence
 * numbers ahead of use would leave gaps nobody can fill). After a clean stop
 * the node continues its origin and sequence. `--reset-data` starts a fresh
 * file at an epoch taken from the clock (seconds since 1970), so a reset node
 * never reissues its former ids either.
 *
 * ## Errors
 *
 * A corrupt, truncated, foreign or newer-schema file is never discarded or
 * overwritten: {@linkcode SnapshotStore.open} throws a
 * {@linkcode SnapshotStoreError} naming the file, with a hint: run again with
 * `--reset-data`, which moves the file aside as
 * `snapshot.kv.<time>.bak` and starts empty.
 *
 * @example Boot, serve, shut down
 * ```ts ignore
 * const store = await SnapshotStore.open("./data/n1", { nodeId: "n1", logger });
 * const hub = new Hub({ nodeId: "n1", origin: store.origin, lastSeq: store.lastSeq });
 * store.attach(hub); // restores, logs one line, starts tracking changes
 * store.start(); // a snapshot every 10 s
 * // ... serve ...
 * hub.shutdown("bye");
 * await store.close(); // last snapshot, marked clean
 * ```
 *
 * @module
 */
import {
  type ChatEvent,
  compareEvents,
  eventId,
  nodeOf,
  originFor,
  parseEvent,
} from "../core/event.ts";
import { compareStamps, type HlcStamp } from "../core/hybrid_clock.ts";
import type { VersionVectorJson } from "../core/version_vector.ts";
import type { Hub } from "./hub.ts";
import { type Logger, silentLogger } from "./logger.ts";

/** The layout version this code writes; a file with a higher one is refused. */
export const SNAPSHOT_SCHEMA = 1;

/** Name of the Deno KV file inside the data directory. */
export const SNAPSHOT_FILE = "snapshot.kv";

/** Largest value part, below Deno KV's 64 KiB per value. */
const PART_BYTES = 60_000;
/** Deno KV's limits per atomic commit. */
const KV_MAX_MUTATIONS = 1000;
const KV_MAX_COMMIT_BYTES = 800 * 1024;
/**
 * Work done between two commits before yielding (ms): a commit is sent early
 * when preparing it takes this long, so a slow machine makes smaller commits
 * instead of longer pauses.
 */
const STEP_BUDGET_MS = 4;
/** Event kinds whose newest event per room is kept beyond the ring buffer. */
const PINNED_KINDS: ReadonlySet<string> = new Set(["topic", "seal"]);

/** What `["meta"]` holds. */
export interface SnapshotMeta {
  /** Layout version, {@linkcode SNAPSHOT_SCHEMA}. */
  readonly schema: number;
  /** The node the file belongs to. */
  readonly nodeId: string;
  /** Origin the node stamps on its events: `originFor(nodeId, epoch)`. */
  readonly origin: string;
  /** Boot epoch. */
  readonly epoch: number;
  /** Last sequence number issued under `origin`. */
  readonly lastSeq: number;
  /** The hybrid clock's last stamp. */
  readonly clock: { readonly wall: number; readonly counter: number };
  /** When the last snapshot with something to write was taken (ms). */
  readonly savedAt: number;
  /** True only after the final snapshot of a graceful shutdown. */
  readonly clean: boolean;
}

/** How the node's previous run ended, as far as the file says. */
export type PreviousStop = "none" | "clean" | "crash";

/** What {@linkcode SnapshotStore.attach} restored. */
export interface RestoreSummary {
  /** Rooms in the hub. */
  readonly rooms: number;
  /** Events retained in the hub. */
  readonly events: number;
  /** Highest contiguous seq per origin. */
  readonly versions: VersionVectorJson;
  /** Age of the snapshot (ms), undefined when there was none. */
  readonly ageMs: number | undefined;
  /** How the previous run ended. */
  readonly previousStop: PreviousStop;
}

/** What one {@linkcode SnapshotStore.snapshotNow} did. */
export interface SnapshotResult {
  /** False when nothing had changed and nothing was written. */
  readonly written: boolean;
  /** Events written. */
  readonly events: number;
  /** Evicted events deleted. */
  readonly deleted: number;
  /** Atomic commits. */
  readonly commits: number;
  /** Approximate bytes written. */
  readonly bytes: number;
  /** Time taken (ms). */
  readonly ms: number;
  /** Longest stretch of work between two commits, when the event loop waited (ms). */
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
   * Mutations per atomic commit: more means fewer commits but a longer
   * pause of the event loop while one is prepared (at most 1000).
   * @default 500
   */
  commitMutations?: number;
  /** Bytes per atomic commit, keys included (at most 800 KiB). @default 524288 */
  commitBytes?: number;
}

/**
 * The data file cannot be used: corrupt, truncated, of another node, written
 * by a newer meshchat, or not accessible. `message` names the file and the
 * problem; `hint` says the way out.
 */
export class SnapshotStoreError extends Error {
  /** The KV file. */
  readonly path: string;
  /** What to do about it. */
  readonly hint: string;

  /**
   * @param message Sentence case, names the file.
   * @param path The KV file.
   * @param hint The way out.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, path: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SnapshotStoreError";
    this.path = path;
    this.hint = hint;
  }
}

const RESET_HINT =
  "To start empty, run again with --reset-data: the file is moved aside (renamed with a timestamp), not deleted";

const NOTHING_WRITTEN: SnapshotResult = {
  written: false,
  events: 0,
  deleted: 0,
  commits: 0,
  bytes: 0,
  ms: 0,
  longestStepMs: 0,
};

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

interface Loaded {
  meta: SnapshotMeta | undefined;
  events: ChatEvent[];
  pins: Map<string, ChatEvent>;
  multiPart: Map<string, number>;
  pinParts: Map<string, number>;
  vv: Record<string, number>;
  keys: number;
}

/**
 * A node's snapshots in one Deno KV file. Opening it restores nothing into a
 * hub yet and starts no timer: {@linkcode SnapshotStore.attach} restores,
 * {@linkcode SnapshotStore.start} schedules periodic snapshots.
 */
export class SnapshotStore {
  /** The KV file. */
  readonly path: string;
  /** Node id. */
  readonly nodeId: string;
  /** Boot epoch of this run. */
  readonly epoch: number;
  /** Origin the hub must stamp on its events in this run. */
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
  readonly #commitMutations: number;
  readonly #commitBytes: number;
  #loaded: Loaded | undefined;
  #hub: Hub | undefined;
  #unlisten: (() => void) | undefined;
  /** Events accepted since the last snapshot, by id, in apply order. */
  #pending = new Map<string, Pending>();
  /** Events evicted since the last snapshot that may be in KV. */
  #deletes = new Map<string, ChatEvent>();
  /** Newest pinned event per `room\0kind`. */
  readonly #pins = new Map<string, ChatEvent>();
  #dirtyPins = new Set<string>();
  /** Parts of each pin in KV. */
  readonly #pinParts: Map<string, number>;
  /** Events stored in more than one part, by id. */
  readonly #multiPart: Map<string, number>;
  /** Version vector as stored. */
  readonly #vvInKv = new Map<string, number>();
  #metaInKv: SnapshotMeta;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: unknown;
  #started = false;
  #closed = false;
  readonly #savedAtBoot: number | undefined;

  private constructor(
    path: string,
    kv: Deno.Kv,
    loaded: Loaded,
    boot: SnapshotMeta,
    previousStop: PreviousStop,
    options: Required<Omit<SnapshotStoreOptions, "resetData" | "openKv">>,
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
    this.#pinParts = loaded.pinParts;
    this.#multiPart = loaded.multiPart;
    this.#intervalMs = options.intervalMs;
    this.#logger = options.logger;
    this.#now = options.now;
    this.#timers = options.timers;
    this.#commitMutations = options.commitMutations;
    this.#commitBytes = options.commitBytes;
  }

  /**
   * Opens (or creates) `<dataDir>/snapshot.kv`, reads and validates all of
   * it, decides this run's origin, and records the boot (`clean: false`,
   * the new epoch) before returning, so the node may accept people as soon
   * as the hub is attached.
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
      commitMutations = 500,
      commitBytes = 512 * 1024,
    } = options;
    if (!Number.isFinite(intervalMs) || intervalMs < 0) {
      throw new RangeError(`Invalid snapshot interval ${intervalMs} ms: must be 0 or more`);
    }
    if (!Number.isInteger(commitMutations) || commitMutations < 4) {
      throw new RangeError(`Invalid commit size ${commitMutations}: must be an integer >= 4`);
    }
    if (!Number.isInteger(commitBytes) || commitBytes < 1024) {
      throw new RangeError(`Invalid commit bytes ${commitBytes}: must be an integer >= 1024`);
    }
    const dir = dataDir.replace(/\/+$/, "") || ".";
    const path = `${dir}/${SNAPSHOT_FILE}`;
    try {
      await Deno.mkdir(dir, { recursive: true });
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
    } catch (error) {
      throw isAccessError(error) ? accessError(path, error) : corruptError(path, error);
    }
    try {
      const loaded = await load(kv, path);
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
        nodeId,
        intervalMs,
        logger,
        now,
        timers,
        commitMutations: Math.min(commitMutations, KV_MAX_MUTATIONS),
        commitBytes: Math.min(commitBytes, KV_MAX_COMMIT_BYTES - 16 * 1024),
      });
    } catch (error) {
      kv.close();
      if (error instanceof SnapshotStoreError) throw error;
      throw corruptError(path, error);
    }
  }

  /**
   * Restores the loaded snapshot into a hub that was created with this
   * store's origin and last seq, logs one line (rooms, events, last seqs,
   * age), and from now on tracks every change of the hub. Events the hub
   * already held are written by the next snapshot. Synchronous: call it
   * before the node accepts anyone.
   *
   * @param hub The node's hub, with `origin` = {@linkcode SnapshotStore.origin}.
   * @returns What was restored.
   * @throws {TypeError} When the hub's origin differs or a hub is attached already.
   */
  attach(hub: Hub): RestoreSummary {
    const loaded = this.#loaded;
    if (loaded === undefined || this.#hub !== undefined || this.#closed) {
      throw new TypeError("Cannot attach snapshot store: it is attached or closed already");
    }
    if (hub.origin !== this.origin || hub.lastSeq < this.lastSeq) {
      throw new TypeError(
        `Cannot attach snapshot store: the hub must use origin ${this.origin} from seq ${this.lastSeq}, not ${hub.origin} from ${hub.lastSeq}`,
      );
    }
    this.#loaded = undefined;
    this.#hub = hub;
    loaded.events.sort(compareEvents);
    hub.restore(loaded.events);
    hub.restore([...loaded.pins.values()].sort(compareEvents));
    hub.versions.merge(loaded.vv);
    this.#restoreClock(hub, loaded);
    for (const [origin, seq] of Object.entries(loaded.vv)) this.#vvInKv.set(origin, seq);
    for (const [key, event] of loaded.pins) this.#pins.set(key, event);
    const stored = new Set<string>();
    for (const event of loaded.events) {
      const id = eventId(event);
      stored.add(id);
      // Leftovers of an interrupted snapshot that the ring buffers evicted again.
      if (hub.event(event.origin, event.seq) === undefined) this.#deletes.set(id, event);
    }
    let events = 0;
    for (const event of hub.events()) {
      events++;
      if (PINNED_KINDS.has(event.kind)) this.#pin(event);
      const id = eventId(event);
      if (!stored.has(id)) this.#pending.set(id, { event, origin: event.origin, contiguous: 0 });
    }
    this.#unlisten = hub.onEvent((event, evicted) => this.#track(event, evicted));
    const versions = hub.versions.toJSON();
    const ageMs = this.#savedAtBoot === undefined ? undefined : this.#now() - this.#savedAtBoot;
    const summary: RestoreSummary = {
      rooms: hub.rooms().size,
      events,
      versions,
      ageMs,
      previousStop: this.previousStop,
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
      if (snapshot && this.#hub !== undefined) {
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
        this.#logger.warn("snapshot failed, retrying at the next interval", {
          error: messageOf(error),
          file: this.path,
        });
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
          id: eventId(event),
        });
      }
      return;
    }
    if (PINNED_KINDS.has(event.kind)) this.#pin(event);
    this.#pending.set(eventId(event), {
      event: evicted === event ? undefined : event,
      origin: event.origin,
      contiguous: this.#hub!.versions.contiguous(event.origin),
    });
    // An event evicted before it was written is still written, then deleted
    // by the same snapshot: every cut of a snapshot is then exactly a state
    // the node went through, never one with a hole in a room's history.
    if (evicted !== undefined && evicted !== event) this.#deletes.set(eventId(evicted), evicted);
  }

  #pin(event: ChatEvent): void {
    if (event.room === "") return;
    const key = `${event.room}\u0000${event.kind}`;
    const current = this.#pins.get(key);
    if (current !== undefined && compareEvents(current, event) >= 0) return;
    this.#pins.set(key, event);
    this.#dirtyPins.add(key);
  }

  #restoreClock(hub: Hub, loaded: Loaded): void {
    const clock = loaded.meta?.clock;
    if (clock !== undefined) hub.clock.advanceTo(clock);
    let remote: HlcStamp | undefined;
    for (const event of loaded.events) {
      if (nodeOf(event.origin) === this.nodeId) {
        hub.clock.advanceTo(event.hlc);
      } else if (remote === undefined || compareStamps(event.hlc, remote) > 0) {
        remote = event.hlc;
      }
    }
    const last = hub.clock.last;
    if (
      remote !== undefined &&
      (remote.wall > last.wall || (remote.wall === last.wall && remote.counter > last.counter))
    ) {
      hub.clock.receive(remote);
    }
  }

  async #write(clean: boolean): Promise<SnapshotResult> {
    const hub = this.#hub;
    if (hub === undefined || this.#closed) {
      return NOTHING_WRITTEN;
    }
    const started = performance.now();
    // One synchronous step: the dirty set and the state it belongs to.
    const pending = this.#pending;
    const deletes = this.#deletes;
    const dirtyPins = this.#dirtyPins;
    const pins = [...dirtyPins].map((key) => [key, this.#pins.get(key)!] as const);
    this.#pending = new Map();
    this.#deletes = new Map();
    this.#dirtyPins = new Set();
    const vv = Object.entries(hub.versions.toJSON());
    const last = hub.clock.last;
    const meta: SnapshotMeta = {
      ...this.#metaInKv,
      lastSeq: hub.lastSeq,
      clock: { wall: last.wall, counter: last.counter },
      savedAt: this.#now(),
      clean,
    };
    const unchanged = pending.size === 0 && deletes.size === 0 && dirtyPins.size === 0 &&
      vv.every(([origin, seq]) => this.#vvInKv.get(origin) === seq) &&
      meta.lastSeq === this.#metaInKv.lastSeq && meta.clean === this.#metaInKv.clean &&
      meta.clock.wall === this.#metaInKv.clock.wall &&
      meta.clock.counter === this.#metaInKv.clock.counter;
    if (unchanged) return NOTHING_WRITTEN;
    const batch = new CommitBatcher(this.#kv, this.#commitMutations, this.#commitBytes, started);
    let events = 0;
    // Each commit of events carries the version vector as it was after its
    // last event, so no cut ever claims an event that is not stored, nor
    // leaves a gap where evicted events were.
    const touched = new Map<string, number>();
    const flushWithVv = async () => {
      const mutations: Mutation[] = [];
      for (const [origin, seq] of touched) {
        if (seq > (this.#vvInKv.get(origin) ?? 0)) mutations.push(vvMutation(origin, seq));
      }
      touched.clear();
      await batch.flush(mutations);
      for (const { key, value } of mutations) this.#vvInKv.set(key[1] as string, value as number);
    };
    try {
      for (const [id, record] of pending) {
        let mutations: Mutation[] = [];
        if (record.event !== undefined) {
          const { event } = record;
          const parts = splitParts(encoder.encode(JSON.stringify(event)));
          // Known before the commit: a later delete must find every part.
          if (parts.length > 1) this.#multiPart.set(id, parts.length);
          mutations = partMutations(["ev", event.origin, event.seq], parts);
          events++;
        }
        if (!batch.fits(mutations, touched.size + 1) || batch.stepMs() > STEP_BUDGET_MS) {
          await flushWithVv();
        }
        batch.push(mutations);
        if (record.contiguous > (touched.get(record.origin) ?? 0)) {
          touched.set(record.origin, record.contiguous);
        }
      }
      await flushWithVv();
      for (const [origin, seq] of vv) {
        if (seq > (this.#vvInKv.get(origin) ?? 0)) await batch.add([vvMutation(origin, seq)]);
      }
      for (const [key, event] of pins) {
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
      for (const [id, event] of deletes) {
        const count = this.#multiPart.get(id) ?? 1;
        const mutations: Mutation[] = [];
        for (let part = 0; part < count; part++) {
          mutations.push({ key: ["ev", event.origin, event.seq, part], bytes: 64 });
        }
        await batch.add(mutations);
      }
      await batch.add([{ key: ["meta"], value: meta, bytes: 512 }]);
      await batch.flush();
      for (const [origin, seq] of vv) {
        if (seq > (this.#vvInKv.get(origin) ?? 0)) this.#vvInKv.set(origin, seq);
      }
    } catch (error) {
      this.#requeue(pending, deletes, dirtyPins);
      throw error;
    }
    this.#metaInKv = meta;
    for (const [key, event] of pins) this.#pinParts.set(key, splitCount(event));
    for (const id of deletes.keys()) this.#multiPart.delete(id);
    const result: SnapshotResult = {
      written: true,
      events,
      deleted: deletes.size,
      commits: batch.commits,
      bytes: batch.bytes,
      ms: Math.round((performance.now() - started) * 10) / 10,
      longestStepMs: Math.round(batch.longestStepMs * 100) / 100,
    };
    this.#logger.debug("snapshot written", {
      events: result.events,
      deleted: result.deleted,
      commits: result.commits,
      bytes: result.bytes,
      ms: result.ms,
      clean,
    });
    return result;
  }

  /** After a failed snapshot: everything it took is dirty again. */
  #requeue(
    pending: Map<string, Pending>,
    deletes: Map<string, ChatEvent>,
    dirtyPins: Set<string>,
  ): void {
    const merged = new Map(pending);
    for (const [id, record] of this.#pending) merged.set(id, record);
    this.#pending = merged;
    for (const [id, event] of deletes) this.#deletes.set(id, event);
    for (const key of dirtyPins) this.#dirtyPins.add(key);
  }
}

/** One accepted event not yet written. */
interface Pending {
  /** The event, or undefined when it was older than a full log (never stored). */
  readonly event: ChatEvent | undefined;
  /** Its origin. */
  readonly origin: string;
  /** The version vector's contiguous seq of `origin` right after it (0: unknown). */
  readonly contiguous: number;
}

interface Mutation {
  key: Deno.KvKey;
  /** Absent for a delete. */
  value?: unknown;
  bytes: number;
}

/** Groups mutations into atomic commits within the size limits. */
class CommitBatcher {
  readonly #kv: Deno.Kv;
  readonly #maxMutations: number;
  readonly #maxBytes: number;
  #op: Deno.AtomicOperation;
  #mutations = 0;
  #pending = 0;
  #resumedAt: number;
  commits = 0;
  bytes = 0;
  longestStepMs = 0;

  constructor(kv: Deno.Kv, maxMutations: number, maxBytes: number, startedAt: number) {
    this.#kv = kv;
    this.#maxMutations = maxMutations;
    this.#maxBytes = maxBytes;
    this.#op = kv.atomic();
    this.#resumedAt = startedAt;
  }

  /**
   * Whether mutations fit in the pending commit, keeping room for `reserve`
   * small ones. Anything fits in an empty commit.
   */
  fits(mutations: Mutation[], reserve = 0): boolean {
    if (this.#mutations === 0) return true;
    const bytes = mutations.reduce((sum, m) => sum + m.bytes, 0) + reserve * 128;
    return this.#mutations + mutations.length + reserve <= this.#maxMutations &&
      this.#pending + bytes <= this.#maxBytes;
  }

  /** Adds mutations to the pending commit (check {@linkcode fits} first). */
  push(mutations: Mutation[]): void {
    for (const mutation of mutations) {
      if (mutation.value === undefined) this.#op.delete(mutation.key);
      else this.#op.set(mutation.key, mutation.value);
      this.#pending += mutation.bytes;
    }
    this.#mutations += mutations.length;
  }

  /** Time since the last commit returned (ms). */
  stepMs(): number {
    return performance.now() - this.#resumedAt;
  }

  /** Adds mutations that must land in the same commit, committing first when full. */
  async add(mutations: Mutation[]): Promise<void> {
    if (!this.fits(mutations) || this.stepMs() > STEP_BUDGET_MS) await this.flush();
    this.push(mutations);
  }

  /** Commits what is pending, with `extra` mutations in the same commit. */
  async flush(extra: Mutation[] = []): Promise<void> {
    this.push(extra);
    if (this.#mutations === 0) return;
    const op = this.#op;
    this.#op = this.#kv.atomic();
    this.bytes += this.#pending;
    this.#mutations = 0;
    this.#pending = 0;
    const committing = commitOrThrow(op);
    this.longestStepMs = Math.max(this.longestStepMs, performance.now() - this.#resumedAt);
    await committing;
    this.#resumedAt = performance.now();
    this.commits++;
  }
}

function vvMutation(origin: string, seq: number): Mutation {
  return { key: ["vv", origin], value: seq, bytes: origin.length + 24 };
}

async function commitOrThrow(op: Deno.AtomicOperation): Promise<void> {
  const result = await op.commit();
  if (!result.ok) throw new Error("Cannot commit snapshot: Deno KV rejected the commit");
}

function splitParts(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length <= PART_BYTES) return [bytes];
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += PART_BYTES) {
    parts.push(bytes.subarray(offset, offset + PART_BYTES));
  }
  return parts;
}

function splitCount(event: ChatEvent): number {
  return splitParts(encoder.encode(JSON.stringify(event))).length;
}

function partMutations(prefix: Deno.KvKeyPart[], parts: Uint8Array[]): Mutation[] {
  const keyBytes = 32 + prefix.reduce<number>(
    (sum, part) => sum + (typeof part === "string" ? part.length * 3 : 9),
    0,
  );
  return parts.map((value, part) => ({
    key: [...prefix, part],
    value,
    bytes: keyBytes + value.length,
  }));
}

/** Reads and validates the whole file. */
async function load(kv: Deno.Kv, path: string): Promise<Loaded> {
  const metaEntry = await kv.get(["meta"]);
  const meta = metaEntry.versionstamp === null ? undefined : parseMeta(metaEntry.value, path);
  const loaded: Loaded = {
    meta,
    events: [],
    pins: new Map(),
    multiPart: new Map(),
    pinParts: new Map(),
    vv: {},
    keys: meta === undefined ? 0 : 1,
  };
  // Parts of the value being assembled.
  let open: { kind: "ev" | "pin"; key: Deno.KvKey; parts: Uint8Array[] } | undefined;
  const finish = () => {
    if (open === undefined) return;
    const bytes = open.parts.length === 1 ? open.parts[0]! : concat(open.parts);
    const event = parseEvent(JSON.parse(decoder.decode(bytes)));
    if (open.kind === "ev") {
      const [, origin, seq] = open.key;
      if (event.origin !== origin || event.seq !== seq) {
        throw new TypeError(`event ${eventId(event)} is stored under ${String(origin)}:${String(seq)}`);
      }
      loaded.events.push(event);
      if (open.parts.length > 1) loaded.multiPart.set(eventId(event), open.parts.length);
    } else {
      const [, room, kind] = open.key;
      if (event.room !== room || event.kind !== kind) {
        throw new TypeError(`pinned event ${eventId(event)} is stored under the wrong room`);
      }
      const key = `${room}\u0000${kind}`;
      loaded.pins.set(key, event);
      loaded.pinParts.set(key, open.parts.length);
    }
    open = undefined;
  };
  for await (const entry of kv.list({ prefix: [] }, { batchSize: 1000 })) {
    const key = entry.key;
    const tag = key[0];
    if (tag === "meta" && key.length === 1) continue;
    loaded.keys++;
    if (tag === "vv") {
      const [, origin] = key;
      const seq = entry.value;
      if (key.length !== 2 || typeof origin !== "string" || !isCount(seq)) {
        throw new TypeError(`bad version vector entry ${formatKey(key)}`);
      }
      loaded.vv[origin] = seq;
      continue;
    }
    if ((tag !== "ev" && tag !== "pin") || key.length !== 4) {
      throw new TypeError(`unexpected key ${formatKey(key)}`);
    }
    const part = key[3];
    if (!(entry.value instanceof Uint8Array) || typeof part !== "number") {
      throw new TypeError(`bad value under ${formatKey(key)}`);
    }
    if (part === 0) {
      finish();
      open = { kind: tag, key, parts: [entry.value] };
    } else if (
      open !== undefined && open.kind === tag && part === open.parts.length &&
      key[1] === open.key[1] && key[2] === open.key[2]
    ) {
      open.parts.push(entry.value);
    } else {
      throw new TypeError(`stray part ${formatKey(key)}`);
    }
  }
  finish();
  return loaded;
}

function parseMeta(value: unknown, path: string): SnapshotMeta {
  const record = (typeof value === "object" && value !== null ? value : {}) as Record<
    string,
    unknown
  >;
  const schema = record.schema;
  if (isCount(schema) && schema > SNAPSHOT_SCHEMA) {
    throw new SnapshotStoreError(
      `Cannot restore snapshot from ${path}: it was written by a newer meshchat (schema ${schema}, this one reads schema ${SNAPSHOT_SCHEMA})`,
      path,
      `Run the newer meshchat again. ${RESET_HINT}`,
    );
  }
  const clock = record.clock as Record<string, unknown> | undefined;
  if (
    schema !== SNAPSHOT_SCHEMA || typeof record.nodeId !== "string" ||
    typeof record.origin !== "string" || !isCount(record.epoch) || !isCount(record.lastSeq) ||
    typeof clock !== "object" || clock === null || !isCount(clock.wall) ||
    !isCount(clock.counter) || !isCount(record.savedAt) || typeof record.clean !== "boolean" ||
    record.origin !== originFor(record.nodeId, record.epoch)
  ) {
    throw new TypeError("the snapshot metadata is malformed");
  }
  return {
    schema,
    nodeId: record.nodeId,
    origin: record.origin,
    epoch: record.epoch,
    lastSeq: record.lastSeq,
    clock: { wall: clock.wall, counter: clock.counter },
    savedAt: record.savedAt,
    clean: record.clean,
  };
}

function decideBoot(
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
  for (const event of loaded.events) {
    if (event.origin === origin && event.seq > lastSeq) lastSeq = event.seq;
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
 * Renames the KV file and its SQLite side files to `<file>.<time>.bak…`.
 *
 * @returns The new name of the file, or undefined when there was none.
 */
async function moveAside(path: string, now: number): Promise<string | undefined> {
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

function corruptError(path: string, cause: unknown): SnapshotStoreError {
  return new SnapshotStoreError(
    `Cannot restore snapshot from ${path}: the file is corrupt or truncated (${messageOf(cause)})`,
    path,
    RESET_HINT,
    { cause },
  );
}

function isAccessError(error: unknown): boolean {
  return error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.NotFound;
}

function accessError(path: string, cause: unknown): SnapshotStoreError {
  return new SnapshotStoreError(
    `Cannot open snapshot file ${path}: ${messageOf(cause)}`,
    path,
    "Check the --data directory and its permissions (deno task node may write only under ./data)",
    { cause },
  );
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!.replace(/\.$/, "");
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function formatKey(key: Deno.KvKey): string {
  return `[${key.map((part) => typeof part === "string" ? JSON.stringify(part) : String(part))}]`;
}

function formatVersions(versions: VersionVectorJson): string {
  const entries = Object.entries(versions).sort(([, a], [, b]) => b - a);
  const shown = entries.slice(0, 8).map(([origin, seq]) => `${origin}:${seq}`);
  if (entries.length > shown.length) shown.push(`+${entries.length - shown.length} more`);
  return shown.join(" ") || "none";
}
