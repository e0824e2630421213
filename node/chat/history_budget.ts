/**
 * One memory budget for the history a node retains, shared by every log
 * (each room's and the private log), and the order in which to evict from
 * it: the oldest event node-wide first, by hybrid clock.
 *
 * An event costs its JSON in UTF-8 ({@linkcode eventBytes}) plus a fixed
 * {@linkcode EVENT_OVERHEAD_BYTES} for the object and the indexes that hold
 * it. The budget only accounts and orders; its owner (the hub) removes the
 * event from its log. When the owner must keep the oldest event (its log is
 * down to the last few it always keeps), it parks it: a parked event is not
 * offered again until its log gains a newer event, so a node whose budget is
 * spent by such floors does no work per event beyond one heap step.
 *
 * ```ts ignore
 * budget.add(event);
 * for (let old = budget.oldestOver(); old !== undefined; old = budget.oldestOver()) {
 *   if (logOf(old).length <= keep) budget.park(old);
 *   else { logOf(old).shift(); budget.remove(old); }
 * }
 * ```
 *
 * | Method        | Cost                                   |
 * | ------------- | -------------------------------------- |
 * | add()         | O(log n)                               |
 * | remove()      | O(1) (lazy; the heap is rebuilt when half dead) |
 * | oldestOver()  | O(log n) amortised                     |
 * | park()        | O(log n)                               |
 *
 * @module
 */
import { type ChatEvent, compareEvents } from "../../core/event.ts";
import { eventBytes } from "../../core/event_size.ts";

/**
 * Bytes of memory one retained event costs beyond its JSON: the object and
 * its strings' headers, the hlc object, its entries in the hub's id index and
 * in this budget, a slot in its log. Measured by `measureEventOverhead` in
 * `tests/bench/history_budget.ts`: 227 bytes of heap per 100-character
 * message (459 B of heap, 232 B of it JSON); rounded up to 384 so that the
 * budget also covers some of V8's slack between heap and resident memory.
 */
export const EVENT_OVERHEAD_BYTES = 384;

/** Options of {@linkcode HistoryBudget}. */
export interface HistoryBudgetOptions {
  /**
   * Bytes counted per event on top of its JSON.
   * @default {@linkcode EVENT_OVERHEAD_BYTES}
   */
  overheadBytes?: number;
}

interface Entry {
  readonly event: ChatEvent;
  readonly bytes: number;
  live: boolean;
  parked: boolean;
}

function idOf(event: ChatEvent): string {
  return `${event.origin}:${event.seq}`;
}

/** The bytes of retained history and the oldest event to evict when over. */
export class HistoryBudget {
  readonly #budgetBytes: number;
  readonly #overheadBytes: number;
  readonly #entries = new Map<string, Entry>();
  /** A min-heap by {@linkcode compareEvents}; removed entries stay until popped or rebuilt. */
  #heap: Entry[] = [];
  #dead = 0;
  /** Parked entries per log (the event's `room`), oldest first. */
  readonly #parked = new Map<string, Entry[]>();
  #retainedBytes = 0;

  /**
   * @param budgetBytes The most bytes of history to retain (soft: parked
   *   events may exceed it).
   * @param options See {@linkcode HistoryBudgetOptions}.
   * @throws {RangeError} If `budgetBytes` is not a positive integer.
   */
  constructor(budgetBytes: number, options: HistoryBudgetOptions = {}) {
    const { overheadBytes = EVENT_OVERHEAD_BYTES } = options;
    if (!Number.isSafeInteger(budgetBytes) || budgetBytes < 1) {
      throw new RangeError(
        `Invalid history budget ${budgetBytes}: must be a positive number of bytes`,
      );
    }
    if (!Number.isSafeInteger(overheadBytes) || overheadBytes < 0) {
      throw new RangeError(
        `Invalid event overhead ${overheadBytes}: must be a non-negative integer`,
      );
    }
    this.#budgetBytes = budgetBytes;
    this.#overheadBytes = overheadBytes;
  }

  /** The budget in bytes. */
  get budgetBytes(): number {
    return this.#budgetBytes;
  }

  /** Bytes of the events tracked now (parked ones included). */
  get retainedBytes(): number {
    return this.#retainedBytes;
  }

  /** How many events are tracked now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The bytes one event is accounted for.
   *
   * @param event The event.
   * @returns Its JSON in UTF-8 plus the per-event overhead.
   */
  costOf(event: ChatEvent): number {
    return eventBytes(event) + this.#overheadBytes;
  }

  /**
   * Tracks a newly retained event. Its log (`event.room`) gained an event,
   * so the oldest event parked in that log (if any) may be offered again.
   *
   * @param event The event; tracking the same id twice is a no-op.
   */
  add(event: ChatEvent): void {
    const id = idOf(event);
    if (this.#entries.has(id)) return;
    const entry: Entry = { event, bytes: this.costOf(event), live: true, parked: false };
    this.#entries.set(id, entry);
    this.#retainedBytes += entry.bytes;
    this.#push(entry);
    const parked = this.#parked.get(event.room);
    const first = parked?.shift();
    if (first !== undefined) {
      first.parked = false;
      this.#push(first);
      if (parked!.length === 0) this.#parked.delete(event.room);
    }
  }

  /**
   * Stops tracking an event no longer retained (evicted by its log, by this
   * budget, or gone with its room).
   *
   * @param event The event; an untracked one is ignored.
   */
  remove(event: ChatEvent): void {
    const id = idOf(event);
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.event !== event) return;
    this.#entries.delete(id);
    this.#retainedBytes -= entry.bytes;
    entry.live = false;
    if (entry.parked) {
      const parked = this.#parked.get(event.room)!;
      parked.splice(parked.indexOf(entry), 1);
      if (parked.length === 0) this.#parked.delete(event.room);
      return;
    }
    this.#dead++;
    if (this.#dead > 64 && this.#dead * 2 > this.#heap.length) this.#rebuild();
  }

  /**
   * The oldest tracked (not parked) event while the retained bytes exceed
   * the budget. The caller then removes it ({@linkcode HistoryBudget.remove})
   * or parks it ({@linkcode HistoryBudget.park}); either way the next call
   * offers the next oldest.
   *
   * @returns The event to evict, or undefined when within budget or when
   *   every event left is parked.
   */
  oldestOver(): ChatEvent | undefined {
    if (this.#retainedBytes <= this.#budgetBytes) return undefined;
    while (this.#heap.length > 0) {
      const top = this.#heap[0]!;
      if (top.live && !top.parked) return top.event;
      this.#pop();
      this.#dead--;
    }
    return undefined;
  }

  /**
   * Keeps the event {@linkcode HistoryBudget.oldestOver} offered: its log
   * must keep it. It still counts, and is offered again once its log gains
   * a newer event.
   *
   * @param event The event just offered.
   */
  park(event: ChatEvent): void {
    const entry = this.#entries.get(idOf(event));
    if (entry === undefined || entry.parked || this.#heap[0] !== entry) return;
    this.#pop();
    entry.parked = true;
    const parked = this.#parked.get(event.room);
    if (parked === undefined) this.#parked.set(event.room, [entry]);
    else parked.push(entry);
  }

  #rebuild(): void {
    this.#heap = this.#heap.filter((entry) => entry.live && !entry.parked);
    this.#dead = 0;
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareEvents(heap[parent]!.event, entry.event) <= 0) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    this.#down(0);
  }

  #down(start: number): void {
    const heap = this.#heap;
    const entry = heap[start]!;
    let i = start;
    while (true) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length &&
          compareEvents(heap[right]!.event, heap[left]!.event) < 0
        ? right
        : left;
      if (compareEvents(heap[child]!.event, entry.event) >= 0) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = entry;
  }
}
