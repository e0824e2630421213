/**
 * Connection accounting shared by the frontends (client port and SSH port):
 * how many connections each address has open and how many there are in
 * total, and which addresses broke a limit often enough to be refused for a
 * while. Frontends ask {@linkcode ConnectionLimits.admit} at accept time,
 * release the slot when the connection ends, and report every offence
 * (a flood, a missed hello deadline, one connection too many, a wrong web
 * sign-in token or key-upload challenge) with {@linkcode ConnectionLimits.offend}.
 *
 * Addresses are counted with {@linkcode addressKey}: IPv4 as is, IPv6 per
 * /64. Memory is bounded: at most `maxTrackedAddresses` offenders are
 * remembered, the least recently offending forgotten first.
 *
 * @module
 */
import { addressKey } from "../../core/address_key.ts";

/** Options of {@linkcode ConnectionLimits}. */
export interface ConnectionLimitsOptions {
  /** Connections one address may have open at once. @default 20 */
  maxPerAddress?: number;
  /** Connections open at once over all addresses. @default 10000 */
  maxTotal?: number;
  /** Offences within `offenceWindowMs` that get an address refused. @default 5 */
  maxOffences?: number;
  /** Window in which offences are counted (ms). @default 60000 */
  offenceWindowMs?: number;
  /** How long a repeat offender is refused (ms). @default 60000 */
  coolOffMs?: number;
  /** Offending addresses remembered at most (least recent forgotten). @default 10000 */
  maxTrackedAddresses?: number;
  /** Clock (ms). @default Date.now */
  now?: () => number;
}

/** Why a connection is not admitted: an `error` frame's code and message. */
export interface Refusal {
  /**
   * `too_many_connections` (this address), `server_full` (all addresses),
   * `refused` (a repeat offender cooling off).
   */
  readonly code: "too_many_connections" | "server_full" | "refused";
  /** Readable reason, told to the peer before the connection is closed. */
  readonly message: string;
}

/** The outcome of {@linkcode ConnectionLimits.admit}. */
export type Admission =
  | { readonly ok: true; readonly release: () => void }
  | { readonly ok: false; readonly refusal: Refusal };

interface OffenceRecord {
  /** Times of recent offences, oldest first (at most `maxOffences`). */
  times: number[];
  /** Refused until this time (0 = not refused). */
  until: number;
}

/**
 * Per-address and total connection counts, and repeat-offender refusal.
 *
 * @example
 * ```ts
 * import { ConnectionLimits } from "./connection_limits.ts";
 * import assert from "node:assert/strict";
 *
 * const limits = new ConnectionLimits({ maxPerAddress: 1, now: () => 0 });
 * const first = limits.admit("192.0.2.1");
 * assert.equal(first.ok, true);
 * const second = limits.admit("192.0.2.1");
 * assert.equal(second.ok ? "" : second.refusal.code, "too_many_connections");
 * if (first.ok) first.release();
 * assert.equal(limits.admit("192.0.2.1").ok, true);
 * ```
 */
export class ConnectionLimits {
  readonly #maxPerAddress: number;
  readonly #maxTotal: number;
  readonly #maxOffences: number;
  readonly #offenceWindowMs: number;
  readonly #coolOffMs: number;
  readonly #maxTracked: number;
  readonly #now: () => number;
  readonly #open = new Map<string, number>();
  readonly #offenders = new Map<string, OffenceRecord>();
  readonly #refusals = new Map<Refusal["code"], number>();
  #offences = 0;
  #total = 0;

  /**
   * @param options Limits and clock.
   * @throws {RangeError} When a limit is not a positive whole number.
   */
  constructor(options: ConnectionLimitsOptions = {}) {
    const {
      maxPerAddress = 20,
      maxTotal = 10_000,
      maxOffences = 5,
      offenceWindowMs = 60_000,
      coolOffMs = 60_000,
      maxTrackedAddresses = 10_000,
      now = Date.now,
    } = options;
    for (
      const [name, value] of Object.entries({
        maxPerAddress,
        maxTotal,
        maxOffences,
        maxTrackedAddresses,
      })
    ) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(
          `Invalid connection limit: ${name} ${value} must be a whole number >= 1`,
        );
      }
    }
    if (!(offenceWindowMs > 0) || !(coolOffMs > 0)) {
      throw new RangeError(
        `Invalid connection limit: offence window ${offenceWindowMs} ms and cool-off ${coolOffMs} ms must be above 0`,
      );
    }
    this.#maxPerAddress = maxPerAddress;
    this.#maxTotal = maxTotal;
    this.#maxOffences = maxOffences;
    this.#offenceWindowMs = offenceWindowMs;
    this.#coolOffMs = coolOffMs;
    this.#maxTracked = maxTrackedAddresses;
    this.#now = now;
  }

  /** Connections open over all addresses. */
  get total(): number {
    return this.#total;
  }

  /** Connections refused so far, by refusal code (for `/metrics`). */
  get refusals(): ReadonlyMap<Refusal["code"], number> {
    return this.#refusals;
  }

  /** Offences counted so far, over all addresses (for `/metrics`). */
  get offences(): number {
    return this.#offences;
  }

  /**
   * Connections open from an address.
   *
   * @param address Remote IP address.
   * @returns The count.
   */
  openFrom(address: string): number {
    return this.#open.get(addressKey(address)) ?? 0;
  }

  /**
   * Takes a slot for a new connection, or says why not. Going over the
   * per-address limit counts as an offence.
   *
   * @param address Remote IP address.
   * @returns `ok` with a `release` to call once when the connection ends
   *   (later calls do nothing), or the refusal to tell the peer.
   */
  admit(address: string): Admission {
    const key = addressKey(address);
    const now = this.#now();
    const record = this.#offenders.get(key);
    if (record !== undefined && record.until > now) {
      const seconds = Math.ceil((record.until - now) / 1000);
      return this.#refuse(
        "refused",
        `Refused: too many violations from ${key}, try again in ${seconds} s`,
      );
    }
    const open = this.#open.get(key) ?? 0;
    if (open >= this.#maxPerAddress) {
      this.offend(address);
      return this.#refuse(
        "too_many_connections",
        `Refused: ${key} already has ${open} connections (limit ${this.#maxPerAddress})`,
      );
    }
    if (this.#total >= this.#maxTotal) {
      return this.#refuse(
        "server_full",
        `Refused: the server is full (${this.#total} connections), try again later`,
      );
    }
    this.#open.set(key, open + 1);
    this.#total++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        const left = (this.#open.get(key) ?? 1) - 1;
        if (left > 0) this.#open.set(key, left);
        else this.#open.delete(key);
      },
    };
  }

  /**
   * Counts one offence; the address is refused for the cool-off period once
   * it has `maxOffences` within the window.
   *
   * @param address Remote IP address.
   * @returns Whether the address is now refused.
   */
  offend(address: string): boolean {
    this.#offences++;
    const key = addressKey(address);
    const now = this.#now();
    let record = this.#offenders.get(key);
    if (record === undefined) {
      if (this.#offenders.size >= this.#maxTracked) {
        // Maps iterate in insertion order: forget the least recently offending.
        const oldest = this.#offenders.keys().next().value;
        if (oldest !== undefined) this.#offenders.delete(oldest);
      }
      record = { times: [], until: 0 };
    } else {
      this.#offenders.delete(key);
    }
    this.#offenders.set(key, record);
    if (record.until > now) return true;
    record.times = record.times.filter((t) => now - t < this.#offenceWindowMs);
    record.times.push(now);
    if (record.times.length >= this.#maxOffences) {
      record.times = [];
      record.until = now + this.#coolOffMs;
      return true;
    }
    return false;
  }

  #refuse(code: Refusal["code"], message: string): Admission {
    this.#refusals.set(code, (this.#refusals.get(code) ?? 0) + 1);
    return refuse(code, message);
  }

  /**
   * Whether an address is cooling off now.
   *
   * @param address Remote IP address.
   * @returns `true` while it is refused.
   */
  isRefused(address: string): boolean {
    return this.refusedForMs(address) > 0;
  }

  /**
   * How long an address is still refused, for a `Retry-After`.
   *
   * @param address Remote IP address.
   * @returns Milliseconds until its cool-off ends; 0 when it is not refused.
   */
  refusedForMs(address: string): number {
    const record = this.#offenders.get(addressKey(address));
    return record === undefined ? 0 : Math.max(0, record.until - this.#now());
  }
}

function refuse(code: Refusal["code"], message: string): Admission {
  return { ok: false, refusal: { code, message } };
}
