/**
 * What the hub (node/chat/hub.ts) is given: its options at construction, what the
 * mesh tells it about the cluster, and what a client asks for at hello.
 *
 * @module
 */
import type { HybridClock } from "../../core/hybrid_clock.ts";
import type { Logger } from "../logger.ts";
import type { EventLog } from "./event_log.ts";
import type { NickGuard } from "./nick_policy.ts";
import type { RoomLimitsOptions } from "./room_limits.ts";

/** What the mesh tells the hub about the cluster, for `/nodes`. */
export interface ClusterView {
  /** Every known node, this one included. */
  members(): readonly {
    readonly id: string;
    readonly addr: string;
    readonly state: string;
    readonly incarnation: number;
    readonly connected: boolean;
  }[];
  /** Event ranges no reachable peer holds any more. */
  lostRanges(): readonly string[];
  /** Lost-range records dropped to keep their cap, for `/stats`. */
  lostRangesDropped?(): number;
}

/** Options of the `Hub`; the room limits are {@linkcode RoomLimitsOptions}. */
export interface HubOptions extends RoomLimitsOptions {
  /** This node's id, shown to people. */
  nodeId: string;
  /**
   * The event log to append to and fan out from; when given, `origin`,
   * `lastSeq`, `clock`, `historySize`, `historyBudgetBytes` and `maxLeadMs`
   * are the log's. @default a new EventLog from these options
   */
  log?: EventLog;
  /** Origin stamped on events accepted here. @default nodeId */
  origin?: string;
  /** Sequence number of the last event already issued under `origin`. @default 0 */
  lastSeq?: number;
  /** Events kept per room. @default 10000 */
  historySize?: number;
  /** Messages sent to a joining client. @default 50 */
  welcomeHistory?: number;
  /** Burst of messages a person may send at once; 0 disables rate limits. @default 10 */
  rateBurst?: number;
  /** Sustained messages per second per person. @default 5 */
  ratePerSecond?: number;
  /** Clock in ms. @default Date.now */
  now?: () => number;
  /** Hybrid clock. @default a new HybridClock(nodeId, { now }) */
  clock?: HybridClock;
  /** Logger. @default silentLogger */
  logger?: Logger;
  /** Extra rules for nicks (registered nicks: the log's `nicks`). @default none */
  nickGuard?: NickGuard;
  /**
   * SSH key fingerprints (`SHA256:...`) that are operators on this node
   * (`--ops FILE`), besides those granted cluster-wide with `/op`.
   * @default none
   */
  ops?: Iterable<string>;
  /**
   * How far a peer's event stamp may lead this node's clock (ms). An event
   * further ahead is refused until the clock catches up: a stamp from the
   * far future would win every last-writer-wins race (a permanent op
   * grant). Larger values tolerate worse clock skew between nodes; smaller
   * ones shorten how long a forged stamp can win.
   * @default 600000 (10 minutes)
   */
  maxLeadMs?: number;
  /**
   * Bytes of history this node retains across every room and the private
   * log (`--history-budget`), each event counted as its JSON plus
   * `EVENT_OVERHEAD_BYTES` (`node/chat/history_budget.ts`). Past it the oldest events node-wide
   * are evicted first, but every log keeps its last `KEPT_PER_ROOM`.
   * Smaller saves memory and disk; larger keeps more history for `/history`
   * and for peers catching up.
   * @default 268435456 (256 MiB)
   */
  historyBudgetBytes?: number;
}

/** What a client asks for when it says hello. */
export interface HelloRequest {
  /** Requested nick. */
  readonly user: string;
  /** Room to start in. @default "lobby" */
  readonly room?: string;
  /** Protocol version the client speaks. @default PROTOCOL_VERSION */
  readonly v?: number;
  /**
   * Most messages of history in the welcome and in every later `joined`
   * reply (0: none, for bots); validated by the frontend (0 to
   * `MAX_HELLO_HISTORY`). @default the hub's `welcomeHistory`
   */
  readonly history?: number;
}
