/**
 * Who may hold a mesh handshake in progress. Until a peer proves the
 * cluster secret it costs a socket and a buffer, and anyone who can reach
 * the port can open such connections and say nothing. A fixed pool that
 * refuses newcomers when full lets a few idle sockets lock every real peer
 * out; this pool instead makes room by closing a handshake that has been
 * waiting longest, preferring one that has not sent a byte:
 *
 * - an address (IPv4 as is, IPv6 per /64, see {@linkcode addressKey}) over
 *   its share gives up its own oldest handshake, so one address cannot push
 *   out anyone else;
 * - when the whole pool is full, the address holding the most handshakes
 *   gives one up; addresses of known members give up theirs last, and
 *   `reservedForMembers` slots are theirs alone;
 * - within an address, silent handshakes (no byte received) go before ones
 *   under way, oldest first: a real peer sends its first message at once
 *   and finishes in a round trip or two, so it is never the one closed
 *   while idle sockets are there to close.
 *
 * Pure bookkeeping: the owner closes the connection in `evict` and calls
 * `release` when the handshake ends; the deadline that ends idle ones is
 * the handshake's own.
 *
 * @example
 * ```ts
 * import { HandshakeSlots } from "./handshake_slots.ts";
 * import assert from "node:assert/strict";
 *
 * const slots = new HandshakeSlots({ maxTotal: 4, maxPerAddress: 1 });
 * let closed = false;
 * const idle = slots.admit("192.0.2.1", { evict: () => closed = true });
 * const peer = slots.admit("192.0.2.1", { evict: () => {} });
 * assert.ok(idle && peer && closed); // the idle one made room
 * ```
 *
 * @module
 */
import { addressKey } from "../../core/address_key.ts";

/** Options of {@linkcode HandshakeSlots}. */
export interface HandshakeSlotsOptions {
  /** Handshakes in progress at once over all addresses. @default 64 */
  maxTotal?: number;
  /** Handshakes in progress at once from one address (IPv6: one /64). @default 8 */
  maxPerAddress?: number;
  /** Slots of `maxTotal` that only addresses of known members may take. @default 8 */
  reservedForMembers?: number;
}

/** One handshake's place in the pool. */
export interface HandshakeSlot {
  /** Marks the handshake as under way (a byte arrived): it is closed after silent ones. */
  progressed(): void;
  /** Frees the slot when the handshake ends, however it ends; later calls do nothing. */
  release(): void;
}

/** How {@linkcode HandshakeSlots.admit} treats one new connection. */
export interface AdmitOptions {
  /** The address is a known member's (or a seed's). @default false */
  member?: boolean;
  /** Closes this connection when it must make room; its slot is freed before the call. */
  evict: () => void;
}

interface Entry {
  readonly key: string;
  readonly member: boolean;
  readonly evict: () => void;
  silent: boolean;
  released: boolean;
}

/**
 * Bounded pool of inbound handshakes in progress; see the module doc.
 *
 * | operation | cost |
 * | --- | --- |
 * | `admit` without eviction | O(1) |
 * | `admit` that evicts | O(addresses + their handshakes), both bounded by `maxTotal` |
 * | `release` | O(handshakes of that address) |
 */
export class HandshakeSlots {
  readonly #maxTotal: number;
  readonly #maxPerAddress: number;
  readonly #reserved: number;
  /** Handshakes per address key, oldest first. */
  readonly #byKey = new Map<string, Entry[]>();
  #total = 0;
  #memberTotal = 0;

  /**
   * @param options Pool sizes.
   * @throws {RangeError} When a size is not a whole number, or the reserve is not below the total.
   */
  constructor(options: HandshakeSlotsOptions = {}) {
    const { maxTotal = 64, maxPerAddress = 8, reservedForMembers = 8 } = options;
    for (const [name, value] of Object.entries({ maxTotal, maxPerAddress })) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(
          `Invalid handshake limit: ${name} ${value} must be a whole number >= 1`,
        );
      }
    }
    if (
      !Number.isInteger(reservedForMembers) || reservedForMembers < 0 ||
      reservedForMembers >= maxTotal
    ) {
      throw new RangeError(
        `Invalid handshake limit: reservedForMembers ${reservedForMembers} must be from 0 to maxTotal - 1`,
      );
    }
    this.#maxTotal = maxTotal;
    this.#maxPerAddress = maxPerAddress;
    this.#reserved = reservedForMembers;
  }

  /** Handshakes in progress. */
  get total(): number {
    return this.#total;
  }

  /**
   * Handshakes in progress from an address (its /64 for IPv6).
   *
   * @param address Remote IP address.
   * @returns The count.
   */
  heldBy(address: string): number {
    return this.#byKey.get(addressKey(address))?.length ?? 0;
  }

  /**
   * Takes a slot for a new inbound connection, closing another handshake
   * (through its `evict`) when the pool or the address is full.
   *
   * @param address Remote IP address.
   * @param options Whether the address is a member's, and how to close this connection later.
   * @returns The slot, or `undefined` when only members' handshakes could make room
   *   and this address is not a member's (close the connection).
   */
  admit(address: string, options: AdmitOptions): HandshakeSlot | undefined {
    const { member = false, evict } = options;
    const key = addressKey(address);
    const own = this.#byKey.get(key) ?? [];
    if (own.length >= this.#maxPerAddress) {
      this.#evict(own);
    } else if (this.#total >= this.#maxTotal || (!member && this.#nonMemberFull())) {
      const victims = this.#heaviest(key, member);
      if (victims === undefined) return undefined;
      this.#evict(victims);
    }
    const entry: Entry = { key, member, evict, silent: true, released: false };
    const list = this.#byKey.get(key);
    if (list === undefined) this.#byKey.set(key, [entry]);
    else list.push(entry);
    this.#total++;
    if (member) this.#memberTotal++;
    return {
      progressed: () => {
        entry.silent = false;
      },
      release: () => this.#release(entry),
    };
  }

  #nonMemberFull(): boolean {
    return this.#total - this.#memberTotal >= this.#maxTotal - this.#reserved;
  }

  /**
   * The handshakes of the address that should give one up: non-members
   * before members, then the most handshakes, the newcomer's own address
   * on a tie. A non-member newcomer never takes a member's slot.
   */
  #heaviest(newcomer: string, member: boolean): Entry[] | undefined {
    let best: Entry[] | undefined;
    let bestRank = -1;
    for (const [key, list] of this.#byKey) {
      const isMember = list[0]!.member;
      if (isMember && !member) continue;
      // Non-members always rank above members; within a class, more handshakes rank higher.
      const rank = (isMember ? 0 : this.#maxTotal + 1) + list.length + (key === newcomer ? 0.5 : 0);
      if (rank > bestRank) {
        best = list;
        bestRank = rank;
      }
    }
    return best;
  }

  #evict(list: Entry[]): void {
    const victim = list.find((entry) => entry.silent) ?? list[0];
    if (victim === undefined) return;
    this.#release(victim);
    victim.evict();
  }

  #release(entry: Entry): void {
    if (entry.released) return;
    entry.released = true;
    this.#total--;
    if (entry.member) this.#memberTotal--;
    const list = this.#byKey.get(entry.key);
    if (list === undefined) return;
    const at = list.indexOf(entry);
    if (at !== -1) list.splice(at, 1);
    if (list.length === 0) this.#byKey.delete(entry.key);
  }
}
