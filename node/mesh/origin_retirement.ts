/**
 * Retires a restarted node's old origins from the version vector, so the
 * vector (stored in every snapshot and sent in every `vv` and `have`) holds
 * about one origin per node however often nodes crash.
 *
 * ## Why origins pile up
 *
 * A node killed without a clean stop continues under a new origin
 * `<id>.<epoch>` from seq 1 (node/store/snapshot_store.ts), so `n2`, `n2.1`,
 * `n2.2`, … each stay in every vector for good, although none of them but
 * the newest ever grows again.
 *
 * ## The rule
 *
 * An origin is *superseded* once an origin of the same node with a higher
 * epoch is known (the node moved on; nobody issues under the old one any
 * more). Every replicator reports its vector with every `vv` and `have`, and
 * this module keeps each member's last report (also while the member is
 * down). In each anti-entropy round, a superseded origin is retired when
 * this node holds it without a gap and every member's last report, sent at
 * least one round after this node saw the origin superseded, shows the same
 * contiguous seq (or shows it retired already, see below): that seq is then
 * its final seq everywhere. (The round of margin lets events the owner
 * pushed just before it died arrive first; a member cut off or down since
 * then sends no fresh report, so retirement waits for it.) Origins of one node retire in epoch order,
 * and {@linkcode VersionVector.retireBelow} keeps one watermark per node id
 * ("`n2` below epoch 5 is retired"), so a late copy of an old event is still
 * recognised as a duplicate.
 *
 * Reports carry the sender's watermarks (`retired`), so a node does not
 * serve a peer the history of an origin the peer retired, and a node that
 * missed a retirement (down, partitioned, or joined later) adopts the
 * watermark once every member reports it.
 *
 * ## Members that were away
 *
 * Retirement waits for every member's word, down members included (their
 * last report counts). A member that comes back from an older snapshot may
 * hold less of a retired origin than its final seq: this node remembers the
 * final seq of the last {@linkcode OriginRetirementOptions.maxFinals}
 * origins it retired (in memory only), serves the member what its ring
 * buffers still hold up to there, and sends the final seqs the member lacks
 * (`final`); the member retires an origin only once it holds it up to the
 * final seq. A new node joining later gets the same: the retired origins'
 * events still in the ring buffers, as for any other history.
 *
 * What it does not cover: a member that the membership forgot (down longer
 * than its dead-retention) is not waited for; if it alone held events of an
 * old origin beyond the final seq the others agreed on, those events are
 * treated as duplicates by the others and stay only in its own log.
 *
 * ## Cost
 *
 * Per anti-entropy round O(origins × members) comparisons; per peer one
 * stored report (its vector, watermarks and finals); per message one
 * watermark per node id ever retired, and for a lagging peer the finals it
 * lacks. At most `maxFinals` remembered finals.
 *
 * @module
 */
import { nodeOf } from "../../core/event.ts";
import {
  epochOf,
  parseVersionVector,
  type RetiredJson,
  type VersionVector,
  type VersionVectorJson,
} from "../../core/version_vector.ts";
import { type Logger, silentLogger } from "../logger.ts";

/** A member's last report of what it holds. */
export interface PeerReport {
  /** Its vector: origin → contiguous seq. */
  readonly vv: VersionVectorJson;
  /** Its watermarks: node id → epoch below which it retired every origin. */
  readonly retired: RetiredJson;
  /** Final seqs it sent of origins it retired and the receiver had not. */
  readonly final: VersionVectorJson;
}

/**
 * What the retirement reads of the version vector, and the one write it
 * makes (a `VersionVector`, or the node's event log through an adapter).
 */
export type RetiringVersions = Pick<
  VersionVector,
  "retiredJSON" | "origins" | "contiguous" | "isGapFree" | "retireBelow"
>;

/** Options of {@linkcode OriginRetirement}. */
export interface OriginRetirementOptions {
  /** This node's current origin (its own node id is never waited for). */
  self: string;
  /** Every member whose report a retirement waits for, down ones included. */
  members(): readonly string[];
  /** Final seqs of retired origins remembered, to serve laggards (oldest dropped). @default 1024 */
  maxFinals?: number;
  /** Logger. @default silentLogger */
  logger?: Logger;
}

/** Decides when old origins leave one node's version vector. */
export class OriginRetirement {
  readonly #versions: RetiringVersions;
  readonly #selfNode: string;
  readonly #self: string;
  readonly #members: () => readonly string[];
  readonly #maxFinals: number;
  readonly #logger: Logger;
  readonly #reports = new Map<string, { report: PeerReport; round: number }>();
  /** Superseded origin → the round this node first saw it superseded. */
  readonly #supersededSince = new Map<string, number>();
  #round = 0;
  /** Origin → final seq, for origins this node retired; oldest first. */
  readonly #finals = new Map<string, number>();

  /**
   * @param versions The hub's version vector (retired in place).
   * @param options Own origin, members, limits.
   * @throws {RangeError} When `maxFinals` is not a non-negative integer.
   */
  constructor(versions: RetiringVersions, options: OriginRetirementOptions) {
    const { maxFinals = 1024, logger = silentLogger } = options;
    if (!Number.isInteger(maxFinals) || maxFinals < 0) {
      throw new RangeError(`Cannot create origin retirement: maxFinals ${maxFinals} is invalid`);
    }
    this.#versions = versions;
    this.#self = options.self;
    this.#selfNode = nodeOf(options.self);
    this.#members = options.members;
    this.#maxFinals = maxFinals;
    this.#logger = logger;
  }

  /** Final seqs of the origins this node retired, as far as remembered. */
  get finals(): ReadonlyMap<string, number> {
    return this.#finals;
  }

  /**
   * Validates and keeps a peer's report (a `vv` or `have` message).
   *
   * @param peer Node id of the sender.
   * @param message Its `vv`, `retired` and `final` fields, as received.
   * @returns The validated report.
   * @throws {TypeError} When a field is malformed.
   */
  report(
    peer: string,
    message: { readonly vv: unknown; readonly retired?: unknown; readonly final?: unknown },
  ): PeerReport {
    const report: PeerReport = {
      vv: parseVersionVector(message.vv),
      retired: message.retired === undefined ? {} : parseVersionVector(message.retired),
      final: message.final === undefined ? {} : parseVersionVector(message.final),
    };
    this.#reports.set(peer, { report, round: this.#round });
    return report;
  }

  /**
   * What to add to a `vv` or `have` for `peer`: our watermarks, and the
   * final seqs of origins we retired that its last report had not.
   *
   * @param peer Node id.
   * @returns The optional message fields.
   */
  extrasFor(peer: string): { retired?: RetiredJson; final?: VersionVectorJson } {
    const retired = this.#versions.retiredJSON();
    if (Object.keys(retired).length === 0) return {};
    const report = this.#reports.get(peer)?.report;
    if (report === undefined) return { retired };
    const final: VersionVectorJson = {};
    let any = false;
    for (const [origin, seq] of this.#finals) {
      if (!retiredBy(report, origin)) {
        final[origin] = seq;
        any = true;
      }
    }
    return any ? { retired, final } : { retired };
  }

  /**
   * The origins to serve a peer from, with how far: ours it has not retired,
   * then the retired ones whose final seq we remember and it has not retired.
   *
   * @param report The peer's report.
   * @returns `[origin, highest seq to serve]` pairs.
   */
  *servedTo(report: PeerReport): Generator<[string, number]> {
    const versions = this.#versions;
    for (const origin of versions.origins()) {
      if (!retiredBy(report, origin)) yield [origin, versions.contiguous(origin)];
    }
    for (const [origin, final] of this.#finals) {
      if (!retiredBy(report, origin)) yield [origin, final];
    }
  }

  /**
   * Retires every superseded origin that every member holds up to the same
   * seq, and adopts watermarks every member reports. Call once per
   * anti-entropy round.
   */
  retireAgreed(): void {
    const round = ++this.#round;
    const memberIds = new Set(this.#members().filter((id) => id !== this.#selfNode));
    for (const peer of this.#reports.keys()) if (!memberIds.has(peer)) this.#reports.delete(peer);
    const entries: { report: PeerReport; round: number }[] = [];
    // A member alone says which epoch it runs under: the newest of its own
    // origins in its own report (this node: its own). Another member's word
    // ("n2 restarted as n2.5") could otherwise retire a live origin, after
    // which everything it says is taken for a duplicate everywhere.
    const ownNewest = new Map<string, number>([[this.#selfNode, epochOf(this.#self)]]);
    for (const id of memberIds) {
      const entry = this.#reports.get(id);
      // A member that never reported may hold anything: wait for its word.
      if (entry === undefined) return;
      entries.push(entry);
      let newest = -1;
      for (const origin of Object.keys(entry.report.vv)) {
        if (nodeOf(origin) === id) newest = Math.max(newest, epochOf(origin));
      }
      ownNewest.set(id, newest);
    }
    const reports = entries.map((entry) => entry.report);
    const nodes = new Map<string, { newest: number; origins: Set<string> }>();
    const note = (origin: string, newest = epochOf(origin)) => {
      if (Number.isNaN(newest)) return;
      const node = nodeOf(origin);
      let entry = nodes.get(node);
      if (entry === undefined) nodes.set(node, entry = { newest, origins: new Set() });
      entry.newest = Math.max(entry.newest, newest);
      entry.origins.add(origin);
    };
    note(this.#self);
    for (const origin of this.#versions.origins()) note(origin);
    for (const report of reports) {
      for (const origin of Object.keys(report.vv)) note(origin);
      for (const origin of Object.keys(report.final)) note(origin);
      for (const [node, epoch] of Object.entries(report.retired)) note(node, epoch);
    }
    const watermarks = this.#versions.retiredJSON();
    for (const [node, claimed] of nodes) {
      const { origins } = claimed;
      const newest = Math.min(claimed.newest, ownNewest.get(node) ?? Infinity);
      const floor = watermarks[node] ?? 0;
      const candidates = [...origins]
        .filter((origin) => epochOf(origin) >= floor && epochOf(origin) < newest)
        .sort((a, b) => epochOf(a) - epochOf(b));
      let target = floor;
      let blocked = false;
      for (const origin of candidates) {
        const since = this.#supersededSince.get(origin) ?? round;
        this.#supersededSince.set(origin, since);
        if (!this.#agreed(origin, entries, since)) {
          blocked = true;
          break;
        }
        target = epochOf(origin) + 1;
      }
      // Every member retired further, nothing here holds back: follow them.
      if (!blocked && reports.length > 0) {
        target = Math.max(target, Math.min(...reports.map((r) => r.retired[node] ?? 0)));
        // Never past the epoch a member (or this node) runs under.
        target = Math.min(target, Math.max(floor, newest));
      }
      if (target > floor) this.#retire(node, target);
    }
  }

  /**
   * Whether every member retired `origin` with no more than we hold, or
   * holds it exactly as far as we do in a report sent after it stopped
   * growing (superseded in round `since`): events its owner pushed just
   * before it died may have been on their way.
   */
  #agreed(
    origin: string,
    entries: readonly { report: PeerReport; round: number }[],
    since: number,
  ): boolean {
    const versions = this.#versions;
    if (!versions.isGapFree(origin)) return false;
    const mine = versions.contiguous(origin);
    return entries.every(({ report, round }) =>
      retiredBy(report, origin)
        ? mine >= (report.final[origin] ?? 0)
        : round > since + 1 && (report.vv[origin] ?? 0) === mine
    );
  }

  #retire(node: string, below: number): void {
    const dropped = this.#versions.retireBelow(node, below);
    for (const origin of this.#supersededSince.keys()) {
      if (nodeOf(origin) === node && epochOf(origin) < below) this.#supersededSince.delete(origin);
    }
    for (const [origin, seq] of dropped) {
      this.#finals.delete(origin);
      this.#finals.set(origin, seq);
    }
    while (this.#finals.size > this.#maxFinals) {
      this.#finals.delete(this.#finals.keys().next().value!);
    }
    this.#logger.info("old origins retired: every member holds them complete", {
      node,
      below,
      origins: [...dropped.keys()].join(" "),
    });
  }
}

/** Whether a report's watermarks retire `origin`. */
function retiredBy(report: PeerReport, origin: string): boolean {
  return epochOf(origin) < (report.retired[nodeOf(origin)] ?? 0);
}
