// Copyright the meshchat authors. MIT license.
/**
 * Cluster membership and failure detection for a small full mesh (3–10
 * nodes), in the spirit of SWIM (Das, Gupta, Motivala, 2002) and
 * hashicorp/memberlist.
 *
 * {@linkcode Membership} is a pure state machine: it owns no sockets and no
 * timers. The link layer tells it when an authenticated link to a peer comes up
 * or goes down and hands it the peer's messages; it answers through
 * {@linkcode MembershipEvents} (send a message, dial an address, a member
 * changed). Time and randomness are injected, and the owner calls
 * {@linkcode Membership.tick} every ~100 ms.
 *
 * Protocol in short:
 *
 * - Every connected, alive or suspect peer is pinged once per
 *   `probeIntervalMs` (each peer on its own randomly phased schedule, so the
 *   pings are spread over the interval). With no ack after `probeTimeoutMs`
 *   (or at once when the link to it is down) `indirectProbes` other alive
 *   peers are asked to ping it for us (`ping-req` → `ack-req`). With no ack at
 *   all by the end of the interval the peer becomes **suspect**.
 * - A suspect that does not refute within `suspicionMs` becomes **dead**.
 *   A node that hears it is suspect or dead refutes by raising its
 *   incarnation and gossiping `alive`. Every message to a peer we do not
 *   think alive tells it so, and a dead peer whose link is still up keeps
 *   being pinged (without verdict), so a wrongly declared node hears of it
 *   and refutes.
 * - State changes are gossiped: piggybacked on pings and acks (fewest
 *   transmissions first, each retransmitted `retransmitMult × ⌈log2(n+1)⌉`
 *   times), sent in full to a peer when its link comes up (that is how a node
 *   that knows one seed learns everyone) and to one random peer every
 *   `syncIntervalMs` (anti-entropy, so a lost update cannot diverge views
 *   for long).
 * - A member learnt from gossip that we have no link to is dialed; a lost link
 *   is redialed with exponential backoff and jitter. Dead members are
 *   redialed at the maximum backoff (a crashed node may come back); dead and
 *   left members are forgotten after `deadRetentionMs`.
 * - A link or gossip carrying a new `boot` for a known id means the node
 *   restarted: it is reset to alive and reported with `restarted = true`.
 * - {@linkcode Membership.leave} gossips `left` to every connected peer.
 *
 * @example Wiring
 * ```ts ignore
 * const membership = new Membership({ id, addr, boot }, {
 *   send: (to, message) => links.get(to)?.send(message),
 *   dial: (_id, addr) => linkLayer.dial(addr),
 *   changed: (member, previous, restarted) => log.info("member", member, previous, restarted),
 * });
 * membership.addSeeds(peers);
 * setInterval(() => membership.tick(), 100);
 * ```
 *
 * @module
 */

/**
 * What this node believes about a member.
 *
 * - `alive`: answering probes (or not yet caught failing one).
 * - `suspect`: failed a probe; becomes `dead` unless it refutes.
 * - `dead`: declared failed; not probed, redialed slowly, forgotten later.
 * - `left`: shut down gracefully; not redialed, forgotten later.
 */
export type MemberState = "alive" | "suspect" | "dead" | "left";

/** A snapshot of one member, as reported by {@linkcode Membership.members}. */
export interface Member {
  /** The node id. */
  readonly id: string;
  /** The node's mesh address (`host:port`) other nodes dial. */
  readonly addr: string;
  /** Identifies one run of the node; a new value means it restarted. */
  readonly boot: string;
  /** The node's incarnation number; only the node itself raises it. */
  readonly incarnation: number;
  /** What this node believes about the member. */
  readonly state: MemberState;
  /** When `state` last changed (or the member was learnt), in ms. */
  readonly since: number;
  /** Whether a link to the member is up (always `true` for the local node). */
  readonly connected: boolean;
}

/**
 * Tuning of {@linkcode Membership}. Every field trades detection speed
 * against traffic and false positives; see {@linkcode defaultMembershipConfig}.
 */
export interface MembershipConfig {
  /**
   * How often each peer is probed, in ms. Also the deadline of one probe: a
   * peer that has not acked (directly or through a helper) by then becomes
   * suspect. Lower detects failures sooner at the cost of more pings
   * (`n × (n − 1)` per interval in the whole mesh).
   */
  probeIntervalMs: number;
  /**
   * How long to wait for a direct ack before asking other members to probe
   * the peer, in ms. Must be less than `probeIntervalMs`. Should exceed the
   * round-trip time; lower makes indirect probes (more traffic) more common.
   */
  probeTimeoutMs: number;
  /**
   * How many other members to ask for an indirect probe. More tolerates more
   * broken paths (one-way cuts) before a false suspicion, at more traffic.
   */
  indirectProbes: number;
  /**
   * How long a suspect has to refute before it is declared dead, in ms.
   * Longer tolerates longer pauses (GC, SIGSTOP, overload) without a false
   * death; shorter reacts to real crashes sooner.
   */
  suspicionMs: number;
  /**
   * How long dead and left members are remembered, in ms: while remembered
   * their state keeps being gossiped (so stale `alive` gossip cannot
   * resurrect them) and dead ones are still redialed.
   */
  deadRetentionMs: number;
  /**
   * How long the earlier boots of a restarted member are remembered, in ms,
   * so that stale gossip about an earlier run is ignored. Gossip about a run
   * dies out within seconds (each entry is retransmitted a few times, and
   * syncs carry current boots only); longer guards against a peer that was
   * cut off for that long, shorter forgets sooner. At most
   * {@linkcode MAX_RETIRED_BOOTS} are kept per member whatever their age.
   */
  retiredBootRetentionMs: number;
  /**
   * First reconnect delay after a lost link or a failed dial, in ms; each
   * further failure doubles it. Every delay is jittered to between half and
   * all of its value so nodes do not redial in lockstep.
   */
  reconnectBaseMs: number;
  /**
   * Longest reconnect delay, in ms; dead members are always redialed at this
   * delay. Also how long a dial may stay unanswered before it counts as
   * failed.
   */
  reconnectMaxMs: number;
  /**
   * Each gossip entry is piggybacked `retransmitMult × ⌈log2(n + 1)⌉` times
   * (n = known members). Higher spreads news more reliably over lossy paths,
   * at larger messages.
   */
  retransmitMult: number;
  /** Most gossip entries piggybacked on one ping or ack. Bounds message size. */
  maxPiggyback: number;
  /**
   * How often the full membership list is sent to one random connected peer,
   * in ms (anti-entropy). Lower repairs views that missed gossip sooner.
   */
  syncIntervalMs: number;
}

/**
 * The default {@linkcode MembershipConfig}: detects a crashed or paused peer
 * in about 1–2 s (suspect) and declares it dead 4 s later.
 *
 * @returns A fresh config object.
 */
export function defaultMembershipConfig(): MembershipConfig {
  return {
    // Each peer is pinged about once a second.
    probeIntervalMs: 1000,
    // Direct ack expected within 500 ms, then indirect probes get the rest of the interval.
    probeTimeoutMs: 500,
    // Two helpers: survives one broken path besides the direct one.
    indirectProbes: 2,
    // A suspect has 4 s to refute.
    suspicionMs: 4000,
    // Dead/left members are remembered (and dead ones redialed) for a minute.
    deadRetentionMs: 60_000,
    // Earlier runs of a restarted node are recognised as stale for 10 minutes.
    retiredBootRetentionMs: 600_000,
    // Reconnect after 0.5 s, 1 s, 2 s, … up to 10 s.
    reconnectBaseMs: 500,
    reconnectMaxMs: 10_000,
    // 3 × ⌈log2(n + 1)⌉ transmissions: 6 for 3 nodes, 12 for 10.
    retransmitMult: 3,
    // Every member of a 10-node mesh fits in one message.
    maxPiggyback: 16,
    // Full state to one random peer every 5 s.
    syncIntervalMs: 5000,
  };
}

/** One member's state as gossiped between nodes. */
export interface GossipEntry {
  /** The node id. */
  id: string;
  /** The node's mesh address. */
  addr: string;
  /** Identifies one run of the node. */
  boot: string;
  /** The incarnation the state refers to. */
  incarnation: number;
  /** The gossiped state. */
  state: MemberState;
}

/**
 * Membership messages, JSON-serialisable; send them over the secure channel
 * as they are and pass received ones through
 * {@linkcode parseMembershipMessage}.
 *
 * - `ping` / `ack`: a direct probe and its answer (same `seq`), both carrying
 *   piggybacked gossip.
 * - `ping-req`: "ping `target` for me"; answered with `ack-req` (same `seq`
 *   and `target`) when the target acked the helper.
 * - `gossip`: a batch of entries, the full membership list on link-up and in
 *   periodic syncs, or the `left` entry of a node leaving.
 */
export type MembershipMessage =
  | { t: "ping"; seq: number; gossip: GossipEntry[] }
  | { t: "ack"; seq: number; gossip: GossipEntry[] }
  | { t: "ping-req"; seq: number; target: string }
  | { t: "ack-req"; seq: number; target: string }
  | { t: "gossip"; gossip: GossipEntry[] };

/** Earlier boots remembered per member, at most (the oldest are forgotten first). */
export const MAX_RETIRED_BOOTS = 8;

/** Most gossip entries {@linkcode parseMembershipMessage} accepts in one message. */
export const MAX_GOSSIP_ENTRIES = 256;
/** Longest id, address or boot {@linkcode parseMembershipMessage} accepts, in UTF-16 units. */
export const MAX_GOSSIP_FIELD_LENGTH = 256;

const STATES: ReadonlySet<string> = new Set(["alive", "suspect", "dead", "left"]);

/**
 * Validates a decoded membership message from the network.
 *
 * @param value A value decoded from JSON.
 * @returns The same value, typed.
 * @throws {TypeError} When the value is not a membership message.
 * @throws {RangeError} When it carries more than {@linkcode MAX_GOSSIP_ENTRIES}
 * entries or a field longer than {@linkcode MAX_GOSSIP_FIELD_LENGTH}.
 */
export function parseMembershipMessage(value: unknown): MembershipMessage {
  if (typeof value !== "object" || value === null) {
    throw new TypeError("Cannot parse membership message: not an object");
  }
  const message = value as Record<string, unknown>;
  switch (message.t) {
    case "ping":
    case "ack":
      checkSeq(message.seq);
      checkGossip(message.gossip);
      break;
    case "ping-req":
    case "ack-req":
      checkSeq(message.seq);
      checkField("target", message.target);
      break;
    case "gossip":
      checkGossip(message.gossip);
      break;
    default:
      throw new TypeError(`Cannot parse membership message: unknown type ${String(message.t)}`);
  }
  return value as MembershipMessage;
}

function checkSeq(seq: unknown): void {
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) {
    throw new TypeError(`Cannot parse membership message: bad seq ${String(seq)}`);
  }
}

function checkField(name: string, value: unknown): void {
  if (typeof value !== "string" || value === "") {
    throw new TypeError(`Cannot parse membership message: ${name} must be a non-empty string`);
  }
  if (value.length > MAX_GOSSIP_FIELD_LENGTH) {
    throw new RangeError(
      `Cannot parse membership message: ${name} length ${value.length} exceeds maximum ${MAX_GOSSIP_FIELD_LENGTH}`,
    );
  }
}

function checkGossip(gossip: unknown): void {
  if (!Array.isArray(gossip)) {
    throw new TypeError("Cannot parse membership message: gossip must be an array");
  }
  if (gossip.length > MAX_GOSSIP_ENTRIES) {
    throw new RangeError(
      `Cannot parse membership message: ${gossip.length} gossip entries exceed maximum ${MAX_GOSSIP_ENTRIES}`,
    );
  }
  for (const entry of gossip as unknown[]) {
    if (typeof entry !== "object" || entry === null) {
      throw new TypeError("Cannot parse membership message: gossip entry is not an object");
    }
    const e = entry as Record<string, unknown>;
    checkField("id", e.id);
    checkField("addr", e.addr);
    checkField("boot", e.boot);
    if (!Number.isSafeInteger(e.incarnation) || (e.incarnation as number) < 0) {
      throw new TypeError(
        `Cannot parse membership message: bad incarnation ${String(e.incarnation)}`,
      );
    }
    if (typeof e.state !== "string" || !STATES.has(e.state)) {
      throw new TypeError(`Cannot parse membership message: bad state ${String(e.state)}`);
    }
  }
}

/** What {@linkcode Membership} asks of its owner. Called synchronously. */
export interface MembershipEvents {
  /**
   * Sends a message over the link to `to`. Only called while the link is up
   * as far as membership knows (between `linkUp` and `linkDown`).
   */
  send(to: string, message: MembershipMessage): void;
  /**
   * Asks the link layer to connect to `addr`. Every dial must end in
   * `linkUp` or `dialFailed(addr)`; one with no outcome after
   * `reconnectMaxMs` counts as failed. `id` is `undefined` for a seed address
   * whose node is not known yet.
   */
  dial(id: string | undefined, addr: string): void;
  /**
   * A member was learnt (`previous` undefined), changed state, or restarted
   * (`restarted`: it has a new boot; it may still be `alive`). Never called
   * for the local node, nor when a member is forgotten.
   */
  changed(member: Member, previous: MemberState | undefined, restarted: boolean): void;
}

/** Options of {@linkcode Membership}. */
export interface MembershipOptions {
  /** Overrides of {@linkcode defaultMembershipConfig}. @default {{}} */
  config?: Partial<MembershipConfig>;
  /** The clock, in ms. @default {Date.now} */
  now?: () => number;
  /** Uniform random numbers in [0, 1), for jitter and helper choice. @default {Math.random} */
  random?: () => number;
}

interface MemberRecord {
  id: string;
  addr: string;
  boot: string;
  incarnation: number;
  state: MemberState;
  since: number;
  connected: boolean;
  /** Boots of earlier runs → when they were retired: gossip about them is stale. */
  retiredBoots: Map<string, number>;
  suspectDeadline: number;
  nextProbeAt: number;
  probeSeq: number | undefined;
  dialAttempts: number;
  nextDialAt: number;
  dialingSince: number | undefined;
}

interface SeedRecord {
  addr: string;
  attempts: number;
  nextDialAt: number;
  dialingSince: number | undefined;
}

interface Probe {
  seq: number;
  target: string;
  indirectAt: number;
  deadline: number;
  indirect: boolean;
}

interface Relay {
  requester: string;
  seq: number;
  target: string;
  deadline: number;
}

interface Broadcast {
  entry: GossipEntry;
  transmits: number;
  order: number;
}

/**
 * The membership list and failure detector of one node.
 *
 * Creating one starts nothing: the owner calls {@linkcode Membership.tick}
 * every ~100 ms, feeds link events and messages in, and carries out the
 * {@linkcode MembershipEvents} it is given.
 *
 * @example A test drives it by hand
 * ```ts ignore
 * let time = 0;
 * const sent: [string, MembershipMessage][] = [];
 * const m = new Membership({ id: "a", addr: "a:7946", boot: "1" }, {
 *   send: (to, message) => sent.push([to, message]),
 *   dial: () => {},
 *   changed: () => {},
 * }, { now: () => time });
 * m.linkUp({ id: "b", addr: "b:7946", boot: "1" });
 * time += 1000;
 * m.tick(); // pings b
 * ```
 */
export class Membership {
  readonly #self: { readonly id: string; readonly addr: string; readonly boot: string };
  readonly #events: MembershipEvents;
  readonly #config: MembershipConfig;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #members = new Map<string, MemberRecord>();
  readonly #seeds = new Map<string, SeedRecord>();
  readonly #probes = new Map<number, Probe>();
  readonly #relays = new Map<number, Relay>();
  readonly #broadcasts = new Map<string, Broadcast>();
  #incarnation = 0;
  #left = false;
  #since: number;
  #seq = 0;
  #broadcastOrder = 0;
  #lastTick: number | undefined;
  #nextSyncAt: number | undefined;

  /**
   * @param self This node: its id, the mesh address others dial, and its boot.
   * @param events What membership asks of its owner.
   * @param options Config overrides, clock and randomness.
   * @throws {TypeError} When `self` has an empty field.
   * @throws {RangeError} When a config value is out of range.
   */
  constructor(
    self: { id: string; addr: string; boot: string },
    events: MembershipEvents,
    options: MembershipOptions = {},
  ) {
    const { config = {}, now = Date.now, random = Math.random } = options;
    for (const key of ["id", "addr", "boot"] as const) {
      if (typeof self[key] !== "string" || self[key] === "") {
        throw new TypeError(`Cannot create membership: self.${key} must be a non-empty string`);
      }
    }
    this.#config = validateConfig({ ...defaultMembershipConfig(), ...config });
    this.#self = { id: self.id, addr: self.addr, boot: self.boot };
    this.#events = events;
    this.#now = now;
    this.#random = random;
    this.#since = now();
  }

  /** The id of this node. */
  get id(): string {
    return this.#self.id;
  }

  /** This node's current incarnation number. */
  get incarnation(): number {
    return this.#incarnation;
  }

  /**
   * Adds seed addresses (`--peers`) and dials them. A seed whose address is
   * no known member's `addr` is redialed after a failure: with exponential
   * backoff while no link to any member is up, at `reconnectMaxMs` once one
   * is (so a seed that was down at start is found later). Give seeds as the
   * addresses nodes advertise, so a seed is recognised as a member once
   * known. This node's own address is skipped.
   *
   * @param addrs Mesh addresses, `host:port`.
   */
  addSeeds(addrs: string[]): void {
    const now = this.#now();
    for (const raw of addrs) {
      const addr = raw.trim();
      if (addr === "" || addr === this.#self.addr || this.#seeds.has(addr)) continue;
      this.#seeds.set(addr, { addr, attempts: 0, nextDialAt: now, dialingSince: undefined });
    }
    this.#pumpSeeds(now);
  }

  /**
   * Reports an authenticated link to `peer`. A new id is added as alive; a
   * known id with a new boot has restarted and is reset to alive. The peer
   * is sent our full membership list.
   *
   * @param peer The id, address and boot the peer proved in the handshake.
   */
  linkUp(peer: { id: string; addr: string; boot: string }): void {
    if (peer.id === this.#self.id) return;
    const now = this.#now();
    let m = this.#members.get(peer.id);
    if (m === undefined) {
      m = this.#newRecord(peer.id, peer.addr, peer.boot, 0, "alive", now);
      m.connected = true;
      this.#members.set(m.id, m);
      this.#enqueue(m);
      this.#events.changed(snapshot(m), undefined, false);
    } else if (m.boot !== peer.boot) {
      m.connected = true;
      this.#restart(m, peer.addr, peer.boot, 0, "alive", now);
    } else {
      m.connected = true;
      m.addr = peer.addr;
    }
    m.dialAttempts = 0;
    m.dialingSince = undefined;
    for (const seed of this.#seeds.values()) {
      // Perhaps this link came from that seed; if its address is another
      // member's (or nobody's) it is retried slowly.
      if (seed.dialingSince === undefined) continue;
      seed.dialingSince = undefined;
      seed.nextDialAt = now + this.#config.reconnectMaxMs;
    }
    // Even after leave() (then with our own entry as left): a newcomer that
    // dialed us as its seed still learns whom to dial.
    this.#send(m, { t: "gossip", gossip: this.#fullState() });
  }

  /**
   * Reports that the link to a member is lost. The member keeps its state
   * (only the failure detector declares it dead) and is redialed with
   * backoff, unless it left. `id` must name the link last reported by
   * {@linkcode Membership.linkUp} for that id.
   *
   * @param id The peer's id.
   */
  linkDown(id: string): void {
    const m = this.#members.get(id);
    if (m === undefined || !m.connected) return;
    const now = this.#now();
    m.connected = false;
    m.dialingSince = undefined;
    m.dialAttempts = 0; // the link worked: start the backoff over
    m.nextDialAt = now + this.#backoff(m);
    m.dialAttempts++;
    // A missing link is a failed direct probe: go indirect at once.
    const probe = m.probeSeq === undefined ? undefined : this.#probes.get(m.probeSeq);
    if (probe !== undefined && !probe.indirect && !this.#left) this.#probeIndirectly(probe);
    this.#pumpSeeds(now);
  }

  /**
   * Reports that a dial of `addr` failed; the next dial waits longer.
   *
   * @param addr The address given to {@linkcode MembershipEvents.dial}.
   */
  dialFailed(addr: string): void {
    const now = this.#now();
    for (const m of this.#members.values()) {
      if (m.addr !== addr || m.dialingSince === undefined) continue;
      m.dialingSince = undefined;
      m.nextDialAt = now + this.#backoff(m);
      m.dialAttempts++;
    }
    const seed = this.#seeds.get(addr);
    if (seed !== undefined && seed.dialingSince !== undefined) this.#seedFailed(seed, now);
  }

  /**
   * Handles a message from a peer. Messages from unknown ids (no
   * {@linkcode Membership.linkUp} yet, or forgotten) and everything after
   * {@linkcode Membership.leave} are ignored.
   *
   * @param from The peer's id, as authenticated by the link.
   * @param message A message validated by {@linkcode parseMembershipMessage}.
   */
  receive(from: string, message: MembershipMessage): void {
    if (this.#left) return;
    const sender = this.#members.get(from);
    if (sender === undefined) return;
    const now = this.#now();
    switch (message.t) {
      case "ping":
        this.#merge(message.gossip, now);
        this.#send(sender, { t: "ack", seq: message.seq, gossip: this.#piggyback(sender) });
        break;
      case "ack": {
        this.#merge(message.gossip, now);
        const probe = this.#probes.get(message.seq);
        if (probe !== undefined && probe.target === from) this.#endProbe(probe);
        const relay = this.#relays.get(message.seq);
        if (relay !== undefined && relay.target === from) {
          this.#relays.delete(message.seq);
          const requester = this.#members.get(relay.requester);
          if (requester !== undefined) {
            this.#send(requester, { t: "ack-req", seq: relay.seq, target: relay.target });
          }
        }
        break;
      }
      case "ping-req": {
        const target = this.#members.get(message.target);
        if (target === undefined || !target.connected || !isProbed(target.state)) break;
        const seq = ++this.#seq;
        this.#relays.set(seq, {
          requester: from,
          seq: message.seq,
          target: target.id,
          deadline: now + this.#config.probeTimeoutMs,
        });
        this.#send(target, { t: "ping", seq, gossip: this.#piggyback(target) });
        break;
      }
      case "ack-req": {
        const probe = this.#probes.get(message.seq);
        if (probe !== undefined && probe.target === message.target) this.#endProbe(probe);
        break;
      }
      case "gossip":
        this.#merge(message.gossip, now);
        break;
    }
  }

  /**
   * Advances the protocol to the current time; call every ~100 ms. Ends
   * probes (indirect probes, suspicion), declares overdue suspects dead,
   * starts due probes, redials, syncs and forgets. A gap longer than
   * `probeIntervalMs` since the last call (this process was paused) abandons
   * probes in flight without a verdict and extends running suspicions by the
   * gap, so a stalled node does not accuse everyone else.
   */
  tick(): void {
    if (this.#left) return;
    const now = this.#now();
    const config = this.#config;
    if (this.#lastTick !== undefined && now - this.#lastTick > config.probeIntervalMs) {
      this.#recoverFromStall(now, now - this.#lastTick);
    }
    this.#lastTick = now;

    for (const [seq, relay] of this.#relays) if (now >= relay.deadline) this.#relays.delete(seq);
    for (const probe of [...this.#probes.values()]) {
      if (now >= probe.deadline) {
        this.#endProbe(probe);
        const m = this.#members.get(probe.target);
        if (m !== undefined && m.state === "alive") {
          this.#setState(m, "suspect", m.incarnation, now);
        }
      } else if (!probe.indirect && now >= probe.indirectAt) {
        this.#probeIndirectly(probe);
      }
    }
    for (const m of [...this.#members.values()]) {
      if (m.state === "suspect" && now >= m.suspectDeadline) {
        this.#setState(m, "dead", m.incarnation, now);
      }
      if (
        (m.state === "dead" || m.state === "left") && !m.connected &&
        now - m.since >= config.deadRetentionMs
      ) {
        this.#members.delete(m.id);
        this.#broadcasts.delete(m.id);
        continue;
      }
      // Oldest first (Map order): stop at the first one still young.
      for (const [boot, retiredAt] of m.retiredBoots) {
        if (now - retiredAt < config.retiredBootRetentionMs) break;
        m.retiredBoots.delete(boot);
      }
      if (
        (isProbed(m.state) || (m.state === "dead" && m.connected)) &&
        m.probeSeq === undefined && now >= m.nextProbeAt
      ) {
        this.#startProbe(m, now);
      }
      this.#maybeDial(m, now);
    }
    this.#pumpSeeds(now);

    this.#nextSyncAt ??= now + config.syncIntervalMs;
    if (now >= this.#nextSyncAt) {
      this.#nextSyncAt = now + config.syncIntervalMs;
      const peers = [...this.#members.values()].filter((m) => m.connected);
      const peer = peers[Math.floor(this.#random() * peers.length)];
      if (peer !== undefined) this.#send(peer, { t: "gossip", gossip: this.#fullState() });
    }
  }

  /**
   * Leaves the cluster gracefully: raises the incarnation and sends `left`
   * to every connected peer. Afterwards the node probes, dials and answers
   * nothing; close the links once the messages are flushed.
   */
  leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.#incarnation++;
    this.#since = this.#now();
    this.#probes.clear();
    this.#relays.clear();
    for (const m of this.#members.values()) m.probeSeq = undefined;
    for (const m of this.#members.values()) {
      this.#send(m, { t: "gossip", gossip: [this.#selfEntry()] });
    }
  }

  /**
   * Lists every known member, this node included.
   *
   * @returns Snapshots sorted by id.
   */
  members(): Member[] {
    const list: Member[] = [this.#selfSnapshot()];
    for (const m of this.#members.values()) list.push(snapshot(m));
    return list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Looks up one member.
   *
   * @param id A node id (this node's own id included).
   * @returns Its snapshot, or `undefined` when unknown or forgotten.
   */
  member(id: string): Member | undefined {
    if (id === this.#self.id) return this.#selfSnapshot();
    const m = this.#members.get(id);
    return m === undefined ? undefined : snapshot(m);
  }

  /**
   * Lists the peers that are `alive` and connected. Suspects are left out:
   * one may be paused or gone, so it should not count as a replica that has
   * an event.
   *
   * @returns Peer ids, sorted.
   */
  alivePeers(): string[] {
    const ids: string[] = [];
    for (const m of this.#members.values()) {
      if (m.state === "alive" && m.connected) ids.push(m.id);
    }
    return ids.sort();
  }

  // --- gossip ---------------------------------------------------------------

  #merge(entries: readonly GossipEntry[], now: number): void {
    for (const e of entries) this.#apply(e, now);
  }

  #apply(e: GossipEntry, now: number): void {
    if (e.id === this.#self.id) {
      this.#applyAboutSelf(e);
      return;
    }
    const m = this.#members.get(e.id);
    if (m === undefined) {
      // Gossip about the death of someone we never knew (or forgot) is not news.
      if (e.state === "dead" || e.state === "left") return;
      const record = this.#newRecord(e.id, e.addr, e.boot, e.incarnation, e.state, now);
      this.#members.set(record.id, record);
      this.#enqueue(record);
      this.#events.changed(snapshot(record), undefined, false);
      this.#maybeDial(record, now);
      return;
    }
    if (e.boot !== m.boot) {
      // Another run of the node. Stale if retired, or if the link told us
      // the current boot; a new run if it says it is up.
      if (m.retiredBoots.has(e.boot) || m.connected) return;
      if (e.state === "alive" || e.state === "suspect") {
        this.#restart(m, e.addr, e.boot, e.incarnation, e.state, now);
        this.#maybeDial(m, now);
      }
      return;
    }
    if (!overrides(e, m)) return;
    if (e.state === "alive" && e.incarnation > m.incarnation) m.addr = e.addr;
    this.#setState(m, e.state, e.incarnation, now);
  }

  #applyAboutSelf(e: GossipEntry): void {
    if (this.#left) return;
    if (e.boot !== this.#self.boot) {
      // Gossip about an earlier run of this node: outbid it.
      if (e.incarnation >= this.#incarnation) this.#refute(e.incarnation + 1);
    } else if (e.state !== "alive" && e.incarnation >= this.#incarnation) {
      this.#refute(e.incarnation + 1);
    } else if (e.incarnation > this.#incarnation) {
      this.#refute(e.incarnation);
    }
  }

  #refute(incarnation: number): void {
    this.#incarnation = incarnation;
    this.#broadcasts.set(this.#self.id, {
      entry: this.#selfEntry(),
      transmits: 0,
      order: ++this.#broadcastOrder,
    });
  }

  #enqueue(m: MemberRecord): void {
    this.#broadcasts.set(m.id, { entry: entryOf(m), transmits: 0, order: ++this.#broadcastOrder });
  }

  /** Entries to piggyback on a message to `to`, newest and least sent first. */
  #piggyback(to: MemberRecord): GossipEntry[] {
    const gossip: GossipEntry[] = [];
    // A peer we do not think alive is told so, whatever the queue holds: it refutes.
    if (to.state !== "alive") gossip.push(entryOf(to));
    const limit = this.#config.retransmitMult * Math.ceil(Math.log2(this.#members.size + 2));
    const queue = [...this.#broadcasts.values()].sort((a, b) =>
      a.transmits - b.transmits || b.order - a.order
    );
    for (const b of queue) {
      if (gossip.length >= this.#config.maxPiggyback) break;
      if (to.state !== "alive" && b.entry.id === to.id) continue;
      gossip.push({ ...b.entry });
      if (++b.transmits >= limit) this.#broadcasts.delete(b.entry.id);
    }
    return gossip;
  }

  #fullState(): GossipEntry[] {
    const gossip = [this.#selfEntry()];
    for (const m of this.#members.values()) {
      if (gossip.length >= MAX_GOSSIP_ENTRIES) break;
      gossip.push(entryOf(m));
    }
    return gossip;
  }

  #selfEntry(): GossipEntry {
    return {
      id: this.#self.id,
      addr: this.#self.addr,
      boot: this.#self.boot,
      incarnation: this.#incarnation,
      state: this.#left ? "left" : "alive",
    };
  }

  #selfSnapshot(): Member {
    return Object.freeze({ ...this.#selfEntry(), since: this.#since, connected: true });
  }

  // --- state ------------------------------------------------------------------

  #newRecord(
    id: string,
    addr: string,
    boot: string,
    incarnation: number,
    state: MemberState,
    now: number,
  ): MemberRecord {
    return {
      id,
      addr,
      boot,
      incarnation,
      state,
      since: now,
      connected: false,
      retiredBoots: new Map(),
      suspectDeadline: now + this.#config.suspicionMs,
      nextProbeAt: now + this.#random() * this.#config.probeIntervalMs,
      probeSeq: undefined,
      dialAttempts: 0,
      nextDialAt: now,
      dialingSince: undefined,
    };
  }

  #setState(m: MemberRecord, state: MemberState, incarnation: number, now: number): void {
    const previous = m.state;
    m.incarnation = incarnation;
    m.state = state;
    this.#enqueue(m);
    if (state === previous) return;
    m.since = now;
    if (state === "suspect") m.suspectDeadline = now + this.#config.suspicionMs;
    if (!isProbed(state)) {
      this.#cancelProbe(m);
      m.nextProbeAt = now + this.#config.probeIntervalMs;
    } else if (!isProbed(previous)) {
      // Back from dead: probe soon, and dial at once if the link is gone.
      m.nextProbeAt = now + this.#random() * this.#config.probeIntervalMs;
      m.dialAttempts = 0;
      m.nextDialAt = now;
    }
    this.#events.changed(snapshot(m), previous, false);
    this.#maybeDial(m, now);
  }

  #restart(
    m: MemberRecord,
    addr: string,
    boot: string,
    incarnation: number,
    state: MemberState,
    now: number,
  ): void {
    const previous = m.state;
    this.#cancelProbe(m);
    m.retiredBoots.delete(boot);
    m.retiredBoots.set(m.boot, now);
    if (m.retiredBoots.size > MAX_RETIRED_BOOTS) {
      m.retiredBoots.delete(m.retiredBoots.keys().next().value!);
    }
    m.boot = boot;
    m.addr = addr;
    m.incarnation = incarnation;
    m.state = state;
    m.since = now;
    m.suspectDeadline = now + this.#config.suspicionMs;
    m.nextProbeAt = now + this.#random() * this.#config.probeIntervalMs;
    m.dialAttempts = 0;
    m.nextDialAt = now;
    this.#enqueue(m);
    this.#events.changed(snapshot(m), previous, true);
  }

  #recoverFromStall(now: number, gap: number): void {
    for (const probe of this.#probes.values()) this.#endProbe(probe);
    this.#relays.clear();
    for (const m of this.#members.values()) {
      if (m.state === "suspect") m.suspectDeadline += gap;
      m.nextProbeAt = now + this.#random() * this.#config.probeIntervalMs;
    }
  }

  // --- probes -------------------------------------------------------------------

  #startProbe(m: MemberRecord, now: number): void {
    const config = this.#config;
    const seq = ++this.#seq;
    const probe: Probe = {
      seq,
      target: m.id,
      indirectAt: now + config.probeTimeoutMs,
      deadline: now + config.probeIntervalMs,
      // A dead member is only pinged (the ping tells it it is dead), never judged.
      indirect: m.state === "dead",
    };
    this.#probes.set(seq, probe);
    m.probeSeq = seq;
    m.nextProbeAt += config.probeIntervalMs;
    if (m.nextProbeAt <= now) m.nextProbeAt = now + config.probeIntervalMs;
    if (m.connected) {
      this.#send(m, { t: "ping", seq, gossip: this.#piggyback(m) });
    } else {
      this.#probeIndirectly(probe);
    }
  }

  #probeIndirectly(probe: Probe): void {
    probe.indirect = true;
    const helpers = [...this.#members.values()].filter((m) =>
      m.id !== probe.target && m.connected && m.state === "alive"
    );
    for (let i = 0; i < this.#config.indirectProbes && helpers.length > 0; i++) {
      const [helper] = helpers.splice(Math.floor(this.#random() * helpers.length), 1);
      if (helper !== undefined) {
        this.#send(helper, { t: "ping-req", seq: probe.seq, target: probe.target });
      }
    }
  }

  #endProbe(probe: Probe): void {
    this.#probes.delete(probe.seq);
    const m = this.#members.get(probe.target);
    if (m !== undefined && m.probeSeq === probe.seq) m.probeSeq = undefined;
  }

  #cancelProbe(m: MemberRecord): void {
    if (m.probeSeq !== undefined) this.#probes.delete(m.probeSeq);
    m.probeSeq = undefined;
  }

  // --- links --------------------------------------------------------------------

  #send(m: MemberRecord, message: MembershipMessage): void {
    if (m.connected) this.#events.send(m.id, message);
  }

  #backoff(m: MemberRecord): number {
    return this.#backoffDelay(m.dialAttempts, m.state === "dead");
  }

  #backoffDelay(attempts: number, atMax: boolean): number {
    const { reconnectBaseMs, reconnectMaxMs } = this.#config;
    const cap = atMax ? reconnectMaxMs : Math.min(reconnectMaxMs, reconnectBaseMs * 2 ** attempts);
    return cap / 2 + this.#random() * (cap / 2);
  }

  #maybeDial(m: MemberRecord, now: number): void {
    if (this.#left || m.connected || m.state === "left") return;
    if (m.dialingSince !== undefined) {
      if (now - m.dialingSince < this.#config.reconnectMaxMs) return;
      m.dialingSince = undefined; // no outcome: count it as failed
      m.nextDialAt = now + this.#backoff(m);
      m.dialAttempts++;
    }
    if (now < m.nextDialAt) return;
    m.dialingSince = now;
    this.#events.dial(m.id, m.addr);
  }

  /**
   * Dials seeds whose address is no known member's: with backoff while this
   * node has no link at all, then at `reconnectMaxMs` (a seed that was down
   * when we started is found when it comes up).
   */
  #pumpSeeds(now: number): void {
    if (this.#left) return;
    const known = new Set<string>();
    for (const m of this.#members.values()) known.add(m.addr);
    for (const seed of this.#seeds.values()) {
      if (known.has(seed.addr)) continue;
      if (seed.dialingSince !== undefined) {
        if (now - seed.dialingSince < this.#config.reconnectMaxMs) continue;
        this.#seedFailed(seed, now); // no outcome: count it as failed
      }
      if (now < seed.nextDialAt) continue;
      seed.dialingSince = now;
      this.#events.dial(undefined, seed.addr);
    }
  }

  #seedFailed(seed: SeedRecord, now: number): void {
    let linked = false;
    for (const m of this.#members.values()) linked ||= m.connected;
    seed.dialingSince = undefined;
    seed.nextDialAt = now + this.#backoffDelay(seed.attempts, linked);
    seed.attempts++;
  }
}

function isProbed(state: MemberState): boolean {
  return state === "alive" || state === "suspect";
}

/** SWIM precedence between gossip `e` and what we hold, for the same boot. */
function overrides(e: GossipEntry, m: MemberRecord): boolean {
  if (e.incarnation > m.incarnation) return true;
  if (e.incarnation < m.incarnation) return false;
  switch (e.state) {
    case "alive":
      return false;
    case "suspect":
      return m.state === "alive";
    case "dead":
      return m.state === "alive" || m.state === "suspect";
    case "left":
      return m.state !== "left";
  }
}

function entryOf(m: MemberRecord): GossipEntry {
  return { id: m.id, addr: m.addr, boot: m.boot, incarnation: m.incarnation, state: m.state };
}

function snapshot(m: MemberRecord): Member {
  return Object.freeze({
    id: m.id,
    addr: m.addr,
    boot: m.boot,
    incarnation: m.incarnation,
    state: m.state,
    since: m.since,
    connected: m.connected,
  });
}

function validateConfig(config: MembershipConfig): MembershipConfig {
  for (const [key, value] of Object.entries(config)) {
    const min = key === "indirectProbes" ? 0 : 1;
    if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
      throw new RangeError(`Cannot create membership: ${key} ${value} must be a number >= ${min}`);
    }
  }
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    throw new RangeError(
      `Cannot create membership: probeTimeoutMs ${config.probeTimeoutMs} must be less than probeIntervalMs ${config.probeIntervalMs}`,
    );
  }
  if (config.reconnectBaseMs > config.reconnectMaxMs) {
    throw new RangeError(
      `Cannot create membership: reconnectBaseMs ${config.reconnectBaseMs} exceeds reconnectMaxMs ${config.reconnectMaxMs}`,
    );
  }
  return config;
}
