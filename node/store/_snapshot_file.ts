/**
 * Reading a snapshot file: the meta record and the whole KV layout (see
 * snapshot_store.ts for the layout), validated as it is read, a few
 * entries at a time.
 *
 * @module
 */
import { type ChatEvent, originFor, parseEvent } from "../../core/event.ts";
import { concatBytes } from "../../core/bytes.ts";
import { messageOf, RESET_HINT, SnapshotStoreError } from "./snapshot_store_error.ts";

/** The layout version this code writes; a file with a higher one is refused. */
export const SNAPSHOT_SCHEMA = 1;

/** KV entries read at a time while loading (a chunk is ~48 KB). */
const LOAD_BATCH = 8;
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

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Everything a file holds, validated. */
export interface Loaded {
  meta: SnapshotMeta | undefined;
  chunks: Map<number, { events: ChatEvent[]; parts: number }>;
  pins: Map<string, ChatEvent>;
  pinParts: Map<string, number>;
  vv: Record<string, number>;
  /** Retirement watermarks: node id → epoch. */
  retired: Record<string, number>;
  keys: number;
}

/** Reads and validates the whole file. */
export async function load(kv: Deno.Kv, path: string): Promise<Loaded> {
  const metaEntry = await kv.get(["meta"]);
  const meta = metaEntry.versionstamp === null ? undefined : parseMeta(metaEntry.value, path);
  const loaded: Loaded = {
    meta,
    chunks: new Map(),
    pins: new Map(),
    pinParts: new Map(),
    vv: {},
    retired: {},
    keys: meta === undefined ? 0 : 1,
  };
  // Parts of the value being assembled.
  let open: { key: Deno.KvKey; parts: Uint8Array[] } | undefined;
  const finish = () => {
    if (open === undefined) return;
    const bytes = open.parts.length === 1 ? open.parts[0]! : concatBytes(...open.parts);
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(bytes));
    } catch (error) {
      throw new SyntaxError(`${formatKey(open.key)} is not valid JSON: ${messageOf(error)}`);
    }
    if (open.key[0] === "ev") {
      if (!Array.isArray(value)) throw new TypeError(`chunk ${formatKey(open.key)} is not a list`);
      loaded.chunks.set(open.key[1] as number, {
        events: value.map(parseEvent),
        parts: open.parts.length,
      });
    } else {
      const [, room, kind] = open.key;
      const event = parseEvent(value);
      if (event.room !== room || event.kind !== kind) {
        throw new TypeError(`pinned event under ${formatKey(open.key)} is of another room`);
      }
      const key = `${room}\u0000${kind}`;
      loaded.pins.set(key, event);
      loaded.pinParts.set(key, open.parts.length);
    }
    open = undefined;
  };
  // A few entries at a time, each chunk decoded as soon as its parts are in:
  // the raw values of a large batch (500 would be ~24 MB) would all be alive
  // at once, on top of the restored events (issue 18: restart memory).
  for await (const entry of kv.list({ prefix: [] }, { batchSize: LOAD_BATCH })) {
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
    if (tag === "retired") {
      const [, node] = key;
      const epoch = entry.value;
      if (key.length !== 2 || typeof node !== "string" || !isCount(epoch)) {
        throw new TypeError(`bad retired-origins entry ${formatKey(key)}`);
      }
      loaded.retired[node] = epoch;
      continue;
    }
    const valid = (tag === "ev" && key.length === 3 && isCount(key[1])) ||
      (tag === "pin" && key.length === 4 && typeof key[1] === "string" &&
        typeof key[2] === "string");
    const part = key.at(-1);
    if (!valid || !isCount(part) || !(entry.value instanceof Uint8Array)) {
      throw new TypeError(`unexpected entry ${formatKey(key)}`);
    }
    if (part === 0) {
      finish();
      open = { key: key.slice(0, -1), parts: [entry.value] };
    } else if (
      open !== undefined && part === open.parts.length &&
      open.key.every((item, i) => item === key[i])
    ) {
      open.parts.push(entry.value);
    } else {
      throw new TypeError(`stray part ${formatKey(key)}`);
    }
  }
  finish();
  return loaded;
}

export function parseMeta(value: unknown, path: string): SnapshotMeta {
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

export function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

export function formatKey(key: Deno.KvKey): string {
  return `[${key.map((part) => typeof part === "string" ? JSON.stringify(part) : String(part))}]`;
}
