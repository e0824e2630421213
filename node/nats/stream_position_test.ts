import assert from "node:assert/strict";
import type { SnapshotResult } from "../store/snapshot_store.ts";
import { silentLogger } from "../logger.ts";
import { followSnapshots, POSITION_FILE, readStreamPosition } from "./stream_position.ts";

const identity = { stream: "meshchat", created: "2026-12-04T05:00:00Z" };

/** A data directory under ./data/tmp, removed after `run`. */
async function inDataDir(run: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = `./data/tmp/position-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir, { recursive: true });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The snapshot store's listener registry, which is all followSnapshots uses. */
function snapshots() {
  const listeners = new Set<(result: SnapshotResult) => void>();
  return {
    onSnapshot(listener: (result: SnapshotResult) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    written() {
      for (const listener of listeners) listener({} as SnapshotResult);
    },
  };
}

Deno.test("followSnapshots() writes the sequence applied at the end of the previous snapshot, never the current one", () =>
  inDataDir((dir) => {
    const store = snapshots();
    let applied = 0;
    const stop = followSnapshots(store, dir, identity, () => applied, silentLogger);
    applied = 10;
    store.written(); // the first snapshot: it may have started before seq 10 was applied
    assert.equal(readStreamPosition(dir, identity), 0);
    applied = 25;
    store.written(); // started after the first ended: holds everything up to 10
    assert.equal(readStreamPosition(dir, identity), 10);
    applied = 40;
    store.written();
    assert.equal(readStreamPosition(dir, identity), 25);
    stop();
    applied = 90;
    store.written();
    assert.equal(readStreamPosition(dir, identity), 25, "stopped following");
  }));

Deno.test("readStreamPosition() replays the whole stream for another stream, a re-created one, or no file", () =>
  inDataDir((dir) => {
    assert.equal(readStreamPosition(dir, identity), 0);
    Deno.writeTextFileSync(`${dir}/${POSITION_FILE}`, JSON.stringify({ ...identity, seq: 7 }));
    assert.equal(readStreamPosition(dir, identity), 7);
    assert.equal(readStreamPosition(dir, { ...identity, stream: "other" }), 0);
    assert.equal(readStreamPosition(dir, { ...identity, created: "2026-12-05T00:00:00Z" }), 0);
    Deno.writeTextFileSync(`${dir}/${POSITION_FILE}`, "{ torn");
    assert.equal(readStreamPosition(dir, identity), 0);
  }));
