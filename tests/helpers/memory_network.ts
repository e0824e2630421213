// Copyright the meshchat authors. MIT license.
/**
 * An in-memory network for deterministic tests of distributed protocols.
 *
 * {@linkcode MemoryNetwork} connects named endpoints through a fake link
 * layer (dial, link up/down, messages over a link) on a virtual clock driven
 * by {@linkcode MemoryNetwork.advance}. Faults are injected on demand: message
 * drops, duplicates, delays (and so reordering), one-way or two-way cuts that
 * leave links up, broken links, paused endpoints (SIGSTOP: nothing in or out,
 * links stay up) and crashes. Randomness comes from a seeded generator, so a
 * failing run replays exactly.
 *
 * {@linkcode MembershipCluster} wires {@linkcode Membership} instances
 * through one, for membership tests; other mesh protocols (anti-entropy) can
 * attach their own endpoints to a `MemoryNetwork<TheirMessage>`.
 *
 * @module
 */

import type { ReplicationMessage, Replicator } from "../../node/mesh/replicator.ts";
import {
  Membership,
  type MembershipConfig,
  type MembershipMessage,
  type MemberState,
  parseMembershipMessage,
} from "../../node/mesh/membership.ts";
import { LinkCuts } from "./link_cuts.ts";

/** One endpoint attached to a {@linkcode MemoryNetwork}. Every hook is called from `advance()`. */
export interface MemoryEndpoint<M> {
  /** A message from `from` arrived over the link. */
  receive(from: string, message: M): void;
  /** Called every `tickMs` of virtual time while attached and not paused. */
  tick?(): void;
  /** A link to `peer` is up (after either side dialed). */
  linkUp?(peer: string): void;
  /** The link to `peer` is gone (it crashed, or the link was broken). */
  linkDown?(peer: string): void;
  /** A dial of `address` failed (nobody there, paused, or cut off). */
  dialFailed?(address: string): void;
}

/** Message faults of a {@linkcode MemoryNetwork}, applied to every message sent. */
export interface LinkFaults {
  /** Probability that a message is lost. @default {0} */
  drop: number;
  /** Probability that a message is delivered twice. @default {0} */
  duplicate: number;
  /** Least one-way delay, in ms. @default {1} */
  minDelayMs: number;
  /**
   * Greatest one-way delay, in ms; each message draws its delay uniformly
   * from `[minDelayMs, maxDelayMs]`, so a spread reorders messages.
   * @default {1}
   */
  maxDelayMs: number;
}

/** The fault-free {@linkcode LinkFaults}: every message arrives once, in order, after 1 ms. */
export function noFaults(): LinkFaults {
  return { drop: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 1 };
}

/**
 * The endpoint of a {@linkcode Replicator}: messages in, link changes, and
 * an anti-entropy round on every tick.
 *
 * @param replicator The replicator.
 * @returns The endpoint to attach.
 */
export function replicatorEndpoint(replicator: Replicator): MemoryEndpoint<ReplicationMessage> {
  return {
    receive: (from, message) => replicator.receive(from, message),
    linkUp: (peer) => replicator.linkUp(peer),
    linkDown: (peer) => replicator.linkDown(peer),
    tick: () => replicator.antiEntropy(),
  };
}

/** Options of {@linkcode MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** Virtual time at creation, in ms. @default {1_000_000} */
  start?: number;
  /** How often endpoints are ticked, in ms of virtual time. @default {100} */
  tickMs?: number;
  /** Seed of the generator behind faults (and {@linkcode MemoryNetwork.random}). @default {1} */
  seed?: number;
  /** How long a dial takes to succeed or fail, in ms. @default {2} */
  dialDelayMs?: number;
  /** Initial message faults. @default {noFaults()} */
  faults?: Partial<LinkFaults>;
}

/** Counters of a {@linkcode MemoryNetwork}. */
export interface MemoryNetworkStats {
  /** Messages handed to `send()` over an open link. */
  sent: number;
  /** Messages handed to a receiver (duplicates included). */
  delivered: number;
  /** Messages lost to a cut, a drop fault, or a receiver that crashed. */
  dropped: number;
  /** Extra copies made by the duplicate fault. */
  duplicated: number;
}

interface Attached<M> {
  endpoint: MemoryEndpoint<M>;
  address: string;
  generation: number;
}

interface Scheduled {
  at: number;
  order: number;
  run: () => void;
}

/**
 * A deterministic in-memory network of named endpoints.
 *
 * Links are symmetric and persistent, like TCP connections: either side dials
 * the other's address, both get `linkUp`, and messages flow both ways until
 * one side crashes or the test breaks the link. Messages sent before a crash
 * are still delivered to the survivor (like data ahead of a FIN); messages to
 * a crashed endpoint are lost, also after it restarts.
 *
 * @example
 * ```ts ignore
 * const net = new MemoryNetwork<string>({ seed: 7 });
 * net.attach("a", "a:1", { receive: (from, m) => console.log(from, m) });
 * net.attach("b", "b:1", { receive: () => {} });
 * net.dial("b", "a:1");
 * net.advance(10);
 * net.send("b", "a", "hello");
 * net.advance(10); // logs "b hello"
 * ```
 */
export class MemoryNetwork<M> {
  #time: number;
  readonly #tickMs: number;
  readonly #dialDelayMs: number;
  readonly #random: () => number;
  #faults: LinkFaults;
  readonly #endpoints = new Map<string, Attached<M>>();
  readonly #byAddress = new Map<string, string>();
  readonly #generations = new Map<string, number>();
  readonly #links = new Set<string>();
  readonly #cuts = new LinkCuts();
  readonly #paused = new Map<string, Array<() => void>>();
  readonly #queue: Scheduled[] = [];
  #order = 0;
  readonly #stats: MemoryNetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };

  /** The virtual clock, in ms; pass it as the `now` of what you test. */
  readonly now = (): number => this.#time;

  /**
   * @param options Start time, tick period, seed, dial delay and faults.
   * @throws {RangeError} When `tickMs` is not positive.
   */
  constructor(options: MemoryNetworkOptions = {}) {
    const { start = 1_000_000, tickMs = 100, seed = 1, dialDelayMs = 2, faults = {} } = options;
    if (!(tickMs > 0)) throw new RangeError(`Cannot create network: tickMs ${tickMs} must be > 0`);
    this.#time = start;
    this.#tickMs = tickMs;
    this.#dialDelayMs = dialDelayMs;
    this.#random = seededRandom(seed);
    this.#faults = { ...noFaults(), ...faults };
    this.#schedule(start + tickMs, () => this.#tickAll());
  }

  /** Counters since creation. */
  get stats(): Readonly<MemoryNetworkStats> {
    return { ...this.#stats };
  }

  /** The tick period, in ms. */
  get tickMs(): number {
    return this.#tickMs;
  }

  /**
   * A number from the network's seeded generator, in [0, 1); use it to derive
   * seeds for the endpoints so a whole run replays from one seed.
   *
   * @returns The next number.
   */
  random(): number {
    return this.#random();
  }

  /**
   * Replaces some message faults; later sends use them.
   *
   * @param faults The faults to change.
   */
  setFaults(faults: Partial<LinkFaults>): void {
    this.#faults = { ...this.#faults, ...faults };
  }

  /** Stops dropping, duplicating and delaying messages (1 ms, in order). */
  clearFaults(): void {
    this.#faults = noFaults();
  }

  /**
   * Attaches an endpoint (starts a process).
   *
   * @param name Its unique name (the node id).
   * @param address The address others dial.
   * @param endpoint Its hooks.
   * @throws {Error} When `name` is attached already.
   */
  attach(name: string, address: string, endpoint: MemoryEndpoint<M>): void {
    if (this.#endpoints.has(name)) throw new Error(`Cannot attach ${name}: already attached`);
    const generation = (this.#generations.get(name) ?? 0) + 1;
    this.#generations.set(name, generation);
    this.#endpoints.set(name, { endpoint, address, generation });
    this.#byAddress.set(address, name);
  }

  /**
   * Detaches an endpoint (the process crashed or exited). Its links close:
   * each peer gets `linkDown` now. Messages already sent by it are still
   * delivered; messages to it are lost.
   *
   * @param name The endpoint.
   */
  detach(name: string): void {
    const attached = this.#endpoints.get(name);
    if (attached === undefined) return;
    this.#endpoints.delete(name);
    if (this.#byAddress.get(attached.address) === name) this.#byAddress.delete(attached.address);
    this.#paused.delete(name);
    for (const key of [...this.#links]) {
      const [a, b] = splitKey(key);
      if (a !== name && b !== name) continue;
      this.#links.delete(key);
      const peer = a === name ? b : a;
      this.#notify(peer, (e) => e.linkDown?.(name));
    }
  }

  /**
   * Whether an endpoint is attached.
   *
   * @param name The endpoint.
   * @returns `true` while attached (paused or not).
   */
  isAttached(name: string): boolean {
    return this.#endpoints.has(name);
  }

  /**
   * Whether a link between two endpoints is up.
   *
   * @param a One endpoint.
   * @param b The other.
   * @returns `true` when linked.
   */
  linked(a: string, b: string): boolean {
    return this.#links.has(linkKey(a, b));
  }

  /**
   * Starts a dial from `from` to `address`; after `dialDelayMs` both sides get
   * `linkUp`, or `from` gets `dialFailed(address)` when nothing is attached
   * there, the target is paused, or either direction is cut. A dial between
   * endpoints already linked does nothing.
   *
   * @param from The dialing endpoint.
   * @param address The address to dial.
   */
  dial(from: string, address: string): void {
    const generation = this.#endpoints.get(from)?.generation;
    this.#schedule(this.#time + this.#dialDelayMs, () => {
      if (this.#endpoints.get(from)?.generation !== generation) return;
      const to = this.#byAddress.get(address);
      if (to !== undefined && this.linked(from, to)) return;
      if (
        to === undefined || to === from || this.#paused.has(to) || this.#cuts.separates(from, to)
      ) {
        this.#notify(from, (e) => e.dialFailed?.(address));
        return;
      }
      this.#links.add(linkKey(from, to));
      this.#notify(from, (e) => e.linkUp?.(to));
      this.#notify(to, (e) => e.linkUp?.(from));
    });
  }

  /**
   * Breaks the link between two endpoints (both get `linkDown` now); they may
   * dial again.
   *
   * @param a One endpoint.
   * @param b The other.
   */
  disconnect(a: string, b: string): void {
    if (!this.#links.delete(linkKey(a, b))) return;
    this.#notify(a, (e) => e.linkDown?.(b));
    this.#notify(b, (e) => e.linkDown?.(a));
  }

  /**
   * Sends a message over the link from `from` to `to`, subject to cuts and
   * faults. The message is delivered as it is (not copied).
   *
   * @param from The sender.
   * @param to The receiver.
   * @param message The message.
   * @returns `false` when no link is up between them (nothing sent).
   */
  send(from: string, to: string, message: M): boolean {
    if (!this.linked(from, to)) return false;
    this.#stats.sent++;
    const faults = this.#faults;
    if (this.#cuts.blocks(from, to) || this.#random() < faults.drop) {
      this.#stats.dropped++;
      return true;
    }
    const copies = this.#random() < faults.duplicate ? 2 : 1;
    if (copies === 2) this.#stats.duplicated++;
    const generation = this.#endpoints.get(to)?.generation;
    for (let i = 0; i < copies; i++) {
      const spread = Math.max(0, faults.maxDelayMs - faults.minDelayMs);
      const delay = faults.minDelayMs + Math.floor(this.#random() * (spread + 1));
      this.#schedule(this.#time + delay, () => {
        if (this.#endpoints.get(to)?.generation !== generation) {
          this.#stats.dropped++;
          return;
        }
        this.#notify(to, (e) => {
          this.#stats.delivered++;
          e.receive(from, message);
        });
      });
    }
    return true;
  }

  /**
   * Silently drops messages from `a` to `b` (and from `b` to `a` unless
   * `oneWay`), while the link stays up, as with a broken route under a live
   * TCP connection. Dials between them fail while either direction is cut.
   *
   * @param a One endpoint.
   * @param b The other.
   * @param options `oneWay`: cut only `a` → `b`.
   */
  cut(a: string, b: string, options: { oneWay?: boolean } = {}): void {
    this.#cuts.cut(a, b, options);
  }

  /**
   * Undoes {@linkcode MemoryNetwork.cut}.
   *
   * @param a One endpoint.
   * @param b The other.
   * @param options `oneWay`: heal only `a` → `b`.
   */
  heal(a: string, b: string, options: { oneWay?: boolean } = {}): void {
    this.#cuts.heal(a, b, options);
  }

  /**
   * Cuts every pair of endpoints in different groups, both ways.
   *
   * @param groups The sides of the partition.
   */
  partition(groups: string[][]): void {
    this.#cuts.partition(groups);
  }

  /** Heals every cut. */
  healAll(): void {
    this.#cuts.healAll();
  }

  /**
   * Pauses an endpoint (SIGSTOP): it is not ticked and receives nothing, but
   * its links stay up; whatever arrives meanwhile is held, in order, until
   * {@linkcode MemoryNetwork.resume}. Dials to it fail.
   *
   * @param name The endpoint.
   */
  pause(name: string): void {
    if (this.#endpoints.has(name) && !this.#paused.has(name)) this.#paused.set(name, []);
  }

  /**
   * Resumes a paused endpoint (SIGCONT): what it was sent meanwhile is
   * delivered now, then it is ticked as usual.
   *
   * @param name The endpoint.
   */
  resume(name: string): void {
    const held = this.#paused.get(name);
    if (held === undefined) return;
    this.#paused.delete(name);
    for (const run of held) run();
  }

  /**
   * Whether an endpoint is paused.
   *
   * @param name The endpoint.
   * @returns `true` while paused.
   */
  isPaused(name: string): boolean {
    return this.#paused.has(name);
  }

  /**
   * Advances virtual time by `ms`, delivering messages and link events and
   * ticking endpoints in time order (ties in the order scheduled).
   *
   * @param ms How far to advance, in ms.
   */
  advance(ms: number): void {
    const end = this.#time + ms;
    for (;;) {
      const next = this.#queue[0];
      if (next === undefined || next.at > end) break;
      this.#pop();
      this.#time = next.at;
      next.run();
    }
    this.#time = end;
  }

  /**
   * Advances in steps of `tickMs` until `predicate` holds.
   *
   * @param predicate The condition to wait for (checked before each step).
   * @param maxMs The most virtual time to spend.
   * @returns The virtual time spent, in ms.
   * @throws {Error} When `predicate` still fails after `maxMs`.
   */
  advanceUntil(predicate: () => boolean, maxMs: number): number {
    const start = this.#time;
    while (!predicate()) {
      if (this.#time - start >= maxMs) {
        throw new Error(`Condition not met within ${maxMs} ms of virtual time`);
      }
      this.advance(this.#tickMs);
    }
    return this.#time - start;
  }

  #tickAll(): void {
    this.#schedule(this.#time + this.#tickMs, () => this.#tickAll());
    for (const [name, attached] of [...this.#endpoints]) {
      if (this.#paused.has(name) || this.#endpoints.get(name) !== attached) continue;
      attached.endpoint.tick?.();
    }
  }

  /** Runs `run` against `name` now, or when it resumes if paused; nothing if detached. */
  #notify(name: string, run: (endpoint: MemoryEndpoint<M>) => void): void {
    const attached = this.#endpoints.get(name);
    if (attached === undefined) return;
    const go = () => {
      if (this.#endpoints.get(name) === attached) run(attached.endpoint);
    };
    const held = this.#paused.get(name);
    if (held !== undefined) held.push(go);
    else go();
  }

  #schedule(at: number, run: () => void): void {
    const queue = this.#queue;
    const item = { at, order: ++this.#order, run };
    queue.push(item);
    let i = queue.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, queue[parent]!)) break;
      queue[i] = queue[parent]!;
      i = parent;
    }
    queue[i] = item;
  }

  #pop(): void {
    const queue = this.#queue;
    const last = queue.pop();
    if (last === undefined || queue.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= queue.length) break;
      const right = left + 1;
      const child = right < queue.length && before(queue[right]!, queue[left]!) ? right : left;
      if (!before(queue[child]!, last)) break;
      queue[i] = queue[child]!;
      i = child;
    }
    queue[i] = last;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf("\u0000");
  return [key.slice(0, i), key.slice(i + 1)];
}

/**
 * A small seeded generator (mulberry32) of numbers in [0, 1).
 *
 * @param seed Any integer.
 * @returns The generator.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- membership harness ------------------------------------------------------

/** A state change seen by one node, recorded by {@linkcode MembershipCluster}. */
export interface MembershipChange {
  /** Virtual time of the change. */
  at: number;
  /** The node that saw it. */
  observer: string;
  /** The member that changed. */
  id: string;
  /** Its state before (`undefined` when newly learnt). */
  previous: MemberState | undefined;
  /** Its state now. */
  state: MemberState;
  /** Its incarnation now. */
  incarnation: number;
  /** Its boot now. */
  boot: string;
  /** Whether it restarted (new boot). */
  restarted: boolean;
}

/** A dial requested by a node, recorded by {@linkcode MembershipCluster}. */
export interface MembershipDial {
  /** Virtual time of the request. */
  at: number;
  /** The dialing node. */
  from: string;
  /** The member dialed, `undefined` for a seed. */
  id: string | undefined;
  /** The address dialed. */
  addr: string;
}

/** Options of {@linkcode MembershipCluster}. */
export interface MembershipClusterOptions extends MemoryNetworkOptions {
  /** Membership config overrides for every node. @default {{}} */
  config?: Partial<MembershipConfig>;
}

/**
 * Membership nodes wired through a {@linkcode MemoryNetwork}. Messages go
 * through a JSON round trip and {@linkcode parseMembershipMessage}, as over a
 * real link. Node `x` listens on `x:7946`.
 */
export class MembershipCluster {
  /** The network underneath; use it to inject faults and advance time. */
  readonly network: MemoryNetwork<MembershipMessage>;
  /** Every state change any node reported, in order. */
  readonly changes: MembershipChange[] = [];
  /** Every dial any node requested, in order. */
  readonly dials: MembershipDial[] = [];
  readonly #config: Partial<MembershipConfig>;
  readonly #nodes = new Map<string, { membership: Membership; boot: string }>();
  readonly #boots = new Map<string, number>();

  /** @param options Network options and membership config for every node. */
  constructor(options: MembershipClusterOptions = {}) {
    const { config = {}, ...network } = options;
    this.network = new MemoryNetwork(network);
    this.#config = config;
  }

  /**
   * The address node `id` listens on.
   *
   * @param id A node id.
   * @returns `id:7946`.
   */
  static addressOf(id: string): string {
    return `${id}:7946`;
  }

  /**
   * Starts (or restarts, with a new boot) node `id` and seeds it.
   *
   * @param id The node id.
   * @param seeds Ids of nodes whose addresses it is given as `--peers`.
   * @returns Its membership.
   * @throws {Error} When it is running already.
   */
  start(id: string, seeds: string[] = []): Membership {
    if (this.#nodes.has(id)) throw new Error(`Cannot start ${id}: already running`);
    const run = (this.#boots.get(id) ?? 0) + 1;
    this.#boots.set(id, run);
    const boot = `${id}-boot${run}`;
    const network = this.network;
    const membership = new Membership(
      { id, addr: MembershipCluster.addressOf(id), boot },
      {
        send: (to, message) => {
          network.send(id, to, JSON.parse(JSON.stringify(message)));
        },
        dial: (peer, addr) => {
          this.dials.push({ at: network.now(), from: id, id: peer, addr });
          network.dial(id, addr);
        },
        changed: (member, previous, restarted) => {
          this.changes.push({
            at: network.now(),
            observer: id,
            id: member.id,
            previous,
            state: member.state,
            incarnation: member.incarnation,
            boot: member.boot,
            restarted,
          });
        },
      },
      { config: this.#config, now: network.now, random: seededRandom(network.random() * 2 ** 32) },
    );
    network.attach(id, MembershipCluster.addressOf(id), {
      receive: (from, message) => membership.receive(from, parseMembershipMessage(message)),
      tick: () => membership.tick(),
      linkUp: (peer) => {
        const boot = this.#nodes.get(peer)?.boot;
        if (boot !== undefined) {
          membership.linkUp({ id: peer, addr: MembershipCluster.addressOf(peer), boot });
        }
      },
      linkDown: (peer) => membership.linkDown(peer),
      dialFailed: (addr) => membership.dialFailed(addr),
    });
    this.#nodes.set(id, { membership, boot });
    membership.addSeeds(seeds.map((seed) => MembershipCluster.addressOf(seed)));
    return membership;
  }

  /**
   * Starts several nodes, each seeded with the one before it (a chain), so
   * each knows a single seed.
   *
   * @param ids Node ids, in start order.
   */
  startChain(ids: string[]): void {
    for (const [i, id] of ids.entries()) this.start(id, i === 0 ? [] : [ids[i - 1]!]);
  }

  /**
   * The membership of a running node.
   *
   * @param id The node id.
   * @returns Its membership.
   * @throws {Error} When it is not running.
   */
  node(id: string): Membership {
    const node = this.#nodes.get(id);
    if (node === undefined) throw new Error(`Cannot find node ${id}: not running`);
    return node.membership;
  }

  /** Ids of the running nodes (paused ones included), sorted. */
  running(): string[] {
    return [...this.#nodes.keys()].sort();
  }

  /**
   * Crashes a node: it stops, its links close.
   *
   * @param id The node id.
   */
  crash(id: string): void {
    this.#nodes.delete(id);
    this.network.detach(id);
  }

  /**
   * Shuts a node down gracefully: `leave()`, let the goodbyes flush, then
   * close its links.
   *
   * @param id The node id.
   * @param flushMs How long to let the `left` gossip travel first.
   */
  leave(id: string, flushMs = 50): void {
    this.node(id).leave();
    this.network.advance(flushMs);
    this.crash(id);
  }

  /**
   * What `observer` believes about every member.
   *
   * @param observer A running node.
   * @returns Member id → state, the observer included.
   */
  view(observer: string): Record<string, MemberState> {
    return Object.fromEntries(this.node(observer).members().map((m) => [m.id, m.state]));
  }

  /**
   * Whether every running, unpaused node sees exactly the running nodes, all
   * `alive`, with the same incarnation and boot.
   *
   * @returns `true` once converged.
   */
  converged(): boolean {
    const live = this.running().filter((id) => !this.network.isPaused(id));
    const expected = JSON.stringify(
      this.node(live[0]!).members().filter((m) => live.includes(m.id))
        .map((m) => [m.id, m.boot, m.incarnation]),
    );
    return live.every((observer) => {
      const members = this.node(observer).members().filter((m) => m.state !== "left");
      return members.length === live.length &&
        members.every((m) => live.includes(m.id) && m.state === "alive") &&
        JSON.stringify(members.map((m) => [m.id, m.boot, m.incarnation])) === expected;
    });
  }
}
