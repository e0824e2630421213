/**
 * A person connected to this node, as the hub sees them: where their frames
 * go (a {@linkcode SessionSink}, written by a frontend), how they reached
 * the node, and their per-session state (rooms, nick, rate limit, display
 * preferences, ignores). No transport: frontends implement the sink.
 *
 * @module
 */
import type { ServerFrame } from "../../core/protocol.ts";
import type { TokenBucket } from "../../core/rate_limiter.ts";

/**
 * Where a session's output goes: one per connected person. The hub calls
 * `send` from inside its fan-out loops, so a sink only enqueues: it never
 * blocks and never ends the session there. A sink whose queue overflows
 * stops taking frames, tells its person why, and reports the session to
 * `Hub.dropSlowReader`, which ends it once the fan-out is over.
 */
export interface SessionSink {
  /** Queues one frame for the person; must not block or call back into the hub to disconnect. */
  send(frame: ServerFrame): void;
  /** Ends the connection after queued frames are flushed. */
  close(reason: string): void;
  /**
   * Bytes one reply frame may take now without overfilling the output queue
   * (see node/chat/reply_budget.ts); absent: no limit.
   */
  replyBudget?(): number;
  /** Bytes waiting in the output queue now, for `/metrics`; absent: not known. */
  queuedBytes?(): number;
}

/** How a session reached the node. */
export interface SessionOrigin {
  /** Frontend name, e.g. `tcp` or `ssh`. */
  readonly via: string;
  /** Remote address, `host:port`. */
  readonly address: string;
  /** Fingerprint (`SHA256:...`) of the SSH key the person proved, if any. */
  readonly fingerprint?: string;
}

/** One connected person. */
export class Session {
  /** Unique per hub. */
  readonly id: number;
  /** How the person is connected. */
  readonly origin: SessionOrigin;
  /** Where frames go. */
  readonly sink: SessionSink;
  /** Rooms joined, in join order. */
  readonly rooms = new Set<string>();
  /** When the session started (ms). */
  readonly since: number;
  /** Current nick. */
  nick: string;
  /** The room plain lines and room commands go to by default. */
  current = "";
  /** Away message, when away. */
  away: string | undefined;
  /** Last time the person did something (ms). */
  lastActive: number;
  /** Messages-per-second budget; undefined when rate limiting is off. */
  readonly limiter: TokenBucket | undefined;
  /** False once the session has left. */
  open = true;
  /**
   * Display preferences (`/theme`, `/timestamp`): the hub only stores them,
   * each frontend renders by the ones it understands.
   */
  readonly prefs = new Map<string, string>();
  /**
   * Nick keys (see `nickKey`) of people whose messages this session does
   * not want (`/ignore`); local to the session, never replicated.
   */
  readonly ignored = new Set<string>();
  /**
   * Most messages of history this session's `joined` replies carry, as its
   * hello asked; undefined: the hub's default.
   */
  joinHistory: number | undefined;

  /**
   * @param id Unique id.
   * @param nick Validated nick.
   * @param sink Output.
   * @param origin Transport details.
   * @param limiter Rate limiter or undefined.
   * @param now Current time (ms).
   */
  constructor(
    id: number,
    nick: string,
    sink: SessionSink,
    origin: SessionOrigin,
    limiter: TokenBucket | undefined,
    now: number,
  ) {
    this.id = id;
    this.nick = nick;
    this.sink = sink;
    this.origin = origin;
    this.limiter = limiter;
    this.since = now;
    this.lastActive = now;
  }
}
