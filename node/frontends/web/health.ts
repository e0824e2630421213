/**
 * What `/healthz` and `/readyz` answer, for load balancers and
 * orchestrators. Pure: the node passes in what it knows.
 *
 * - **Alive** (`/healthz`): the process answers HTTP; always 200.
 * - **Ready** (`/readyz`): the node should be sent people. The HTTP port
 *   opens only once the snapshot is restored (like every port), so a node
 *   that answers has restored; it is ready when it is linked to the mesh,
 *   or alone by choice: standalone (no mesh), or the first node of a
 *   cluster (a mesh but no `--peers`: the others join it). A node given
 *   `--peers` with no link up is not ready (its people would see a split
 *   chat), nor is a node shutting down (so a balancer drains it).
 *
 * @module
 */

/** The `/healthz` body. */
export interface HealthBody {
  /** Always `"ok"`. */
  readonly status: "ok";
  /** Node id. */
  readonly node: string;
  /** Seconds since the node started. */
  readonly uptimeS: number;
}

/** What readiness depends on. */
export interface ReadinessState {
  /** Node id. */
  readonly node: string;
  /** The node is shutting down. */
  readonly stopping: boolean;
  /** Time the boot took to restore the snapshot (ms), undefined when it keeps no data. */
  readonly restoreMs: number | undefined;
  /** The mesh, or undefined for a standalone node. */
  readonly mesh: {
    /** Whether it was given `--peers` to join. */
    readonly seeded: boolean;
    /** Peers it has a link to now. */
    readonly links: number;
  } | undefined;
}

/** How a node stands with the mesh, as `/readyz` says it. */
export type MeshStanding = "standalone" | "linked" | "alone" | "unlinked";

/** The `/readyz` body. */
export interface ReadyBody {
  /** `"ready"` (HTTP 200) or `"not ready"` (HTTP 503). */
  readonly status: "ready" | "not ready";
  /** Node id. */
  readonly node: string;
  /** Always true: see the module doc. */
  readonly restored: true;
  /** Time the boot took to restore the snapshot (ms), absent when it keeps no data. */
  readonly restoreMs?: number;
  /** How it stands with the mesh. */
  readonly mesh: MeshStanding;
  /** Peers it has a link to. */
  readonly links: number;
  /** Why it is not ready, when it is not. */
  readonly reason?: string;
}

/**
 * The `/healthz` body.
 *
 * @param node Node id.
 * @param uptimeMs Time since the node started (ms).
 * @returns The body.
 */
export function healthBody(node: string, uptimeMs: number): HealthBody {
  return { status: "ok", node, uptimeS: Math.floor(uptimeMs / 1000) };
}

/**
 * The `/readyz` body: ready or not, and why (see the module doc).
 *
 * @param state What the node knows now.
 * @returns The body; `status` says which HTTP status goes with it.
 */
export function readyBody(state: ReadinessState): ReadyBody {
  const { node, stopping, restoreMs, mesh } = state;
  const links = mesh?.links ?? 0;
  const standing: MeshStanding = mesh === undefined
    ? "standalone"
    : links > 0
    ? "linked"
    : mesh.seeded
    ? "unlinked"
    : "alone";
  const reason = stopping
    ? "shutting down"
    : standing === "unlinked"
    ? "no mesh link: none of --peers is reachable yet"
    : undefined;
  return {
    status: reason === undefined ? "ready" : "not ready",
    node,
    restored: true,
    ...(restoreMs === undefined ? {} : { restoreMs }),
    mesh: standing,
    links,
    ...(reason === undefined ? {} : { reason }),
  };
}
