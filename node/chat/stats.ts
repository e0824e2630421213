/**
 * The figures an operator checks on a long-running node (`/stats`): how
 * much history it holds, how many rooms, sessions and presence entries, the
 * size of its version vector, lost ranges, and how far its snapshot file
 * lags behind memory. Every per-thing structure of a node is capped or
 * expires; these are the ones that grow with use, so the place to look
 * when memory climbs.
 *
 * @module
 */
import { countOf } from "../../core/chat_format.ts";
import { eventBytes } from "../../core/event_size.ts";
import type { Hub } from "./hub.ts";
import type { SnapshotStatus } from "./storage_view.ts";

/** The figures of {@linkcode gatherStats}. */
export interface NodeStats {
  /** This node's id. */
  readonly node: string;
  /** Events retained in memory: room logs, the private log and the moderation log. */
  readonly retainedEvents: number;
  /** Their size as UTF-8 JSON ({@linkcode eventBytes}), without per-object overhead. */
  readonly historyBytes: number;
  /** Rooms held. */
  readonly rooms: number;
  /** Origins in the version vector. */
  readonly versionOrigins: number;
  /** Seqs held beyond a gap, waiting for the gap to fill. */
  readonly outOfOrderSeqs: number;
  /** Sessions connected to this node. */
  readonly sessions: number;
  /** Presence entries: local sessions plus the other nodes' tables. */
  readonly presenceEntries: number;
  /** Lost-range records kept, undefined for a standalone node. */
  readonly lostRanges: number | undefined;
  /** Lost-range records dropped to keep the cap. */
  readonly lostRangesDropped: number;
  /** The snapshot file's lag, undefined when the node keeps no data. */
  readonly snapshot: SnapshotStatus | undefined;
}

/**
 * Gathers the figures of a node. O(retained events): each event's size is
 * measured, so this is for an operator's command, not a hot path.
 *
 * @param hub The node's hub (its `cluster` and `storage` are read when set).
 * @returns The figures.
 */
export function gatherStats(hub: Hub): NodeStats {
  let retainedEvents = 0;
  let historyBytes = 0;
  for (const event of hub.events()) {
    retainedEvents++;
    historyBytes += eventBytes(event);
  }
  let sessions = 0;
  for (const _ of hub.sessions()) sessions++;
  return {
    node: hub.nodeId,
    retainedEvents,
    historyBytes,
    rooms: hub.rooms().size,
    versionOrigins: hub.versions.origins().length,
    outOfOrderSeqs: hub.versions.outOfOrderCount(),
    sessions,
    presenceEntries: hub.presenceCount(),
    lostRanges: hub.cluster?.lostRanges().length,
    lostRangesDropped: hub.cluster?.lostRangesDropped?.() ?? 0,
    snapshot: hub.storage?.status(),
  };
}

/**
 * The figures as lines for people.
 *
 * @param stats From {@linkcode gatherStats}.
 * @param now The current time (ms), for the age of the last snapshot.
 * @returns One figure per line.
 */
export function formatStats(stats: NodeStats, now: number): string[] {
  const n = (value: number) => value.toLocaleString("en-US");
  const lines = [
    `Node ${stats.node}:`,
    `  retained events: ${n(stats.retainedEvents)} (${formatBytes(stats.historyBytes)} of history)`,
    `  rooms: ${n(stats.rooms)}`,
    `  version vector: ${countOf(stats.versionOrigins, "origin")}, ${
      countOf(stats.outOfOrderSeqs, "out-of-order seq")
    }`,
    `  sessions: ${n(stats.sessions)}, presence entries: ${n(stats.presenceEntries)}`,
    stats.lostRanges === undefined
      ? "  lost ranges: none (standalone)"
      : `  lost ranges: ${n(stats.lostRanges)}${
        stats.lostRangesDropped > 0 ? ` (${n(stats.lostRangesDropped)} older dropped)` : ""
      }`,
  ];
  const snapshot = stats.snapshot;
  if (snapshot === undefined) {
    lines.push("  snapshots: off (no data directory)");
    return lines;
  }
  const saved = snapshot.lastSavedAt === undefined
    ? "never saved"
    : `last saved ${formatAge(now - snapshot.lastSavedAt)} ago`;
  const failing = snapshot.failures > 0 ? `FAILING (${snapshot.failures} in a row), ` : "";
  lines.push(
    `  snapshots: ${failing}${saved}; ${n(snapshot.unwritten)} ${
      snapshot.unwritten === 1 ? "event" : "events"
    } unwritten (lost if this node crashed now)${
      snapshot.evictedUnwritten > 0
        ? `, ${n(snapshot.evictedUnwritten)} evicted from memory before a snapshot held them`
        : ""
    }`,
  );
  return lines;
}

/**
 * A byte count for people: `512 B`, `3.4 KB`, `12.0 MB`, `1.2 GB` (powers of 1,024).
 *
 * @param bytes A count of bytes.
 * @returns The text.
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor(s / 60) % 60}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
}
