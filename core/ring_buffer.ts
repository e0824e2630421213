// Copyright the meshchat authors. MIT license.
/**
 * A bounded, ordered ring buffer: the per-room history of events.
 *
 * @module
 */

/** The largest capacity a {@linkcode RingBuffer} accepts: 2 ** 30. */
const MAX_CAPACITY = 2 ** 30;
/** Initial size of the backing array; it doubles on demand up to capacity. */
const INITIAL_SLOTS = 16;

/**
 * A fixed-capacity ring buffer that keeps the newest items and evicts the
 * oldest when full. Items can also be inserted in sort order (for events that
 * arrive slightly out of order), and every retained item has a monotonic
 * absolute position, so a reader can resume where it left off.
 *
 * The capacity is rounded up to a power of two so that indexing is a bit mask.
 * The backing array starts small and doubles as items arrive, so a large
 * capacity costs memory only once it is used.
 *
 * Positions: the item at index `i` (0 = oldest retained) has position
 * `firstPosition + i`, where `firstPosition` counts every item evicted so far.
 * Positions never go backwards. An {@linkcode RingBuffer.insertSorted} that
 * lands before the newest item shifts the positions of the items after it by
 * one, like an insertion into an array.
 *
 * | Method                  | Average Case | Worst Case |
 * | ----------------------- | ------------ | ---------- |
 * | push()                  | O(1)         | O(n)       |
 * | insertSorted()          | O(1)         | O(n)       |
 * | at()                    | O(1)         | O(1)       |
 * | shift()                 | O(1)         | O(1)       |
 * | latest(k)               | O(k)         | O(k)       |
 * | from(position)          | O(1) + O(k)  | O(1) + O(k)|
 * | clear()                 | O(n)         | O(n)       |
 *
 * `push()` is O(n) only when the backing array doubles (amortised O(1)).
 * `insertSorted()` is O(1) when the item belongs at the end and O(k) when it
 * belongs before the k newest items.
 *
 * @typeParam T The type of the items.
 *
 * @example Keeping the newest items
 * ```ts
 * import { RingBuffer } from "./ring_buffer.ts";
 * import assert from "node:assert/strict";
 *
 * const buffer = new RingBuffer<number>(4);
 * for (let i = 1; i <= 6; i++) buffer.push(i);
 * assert.deepEqual(buffer.toArray(), [3, 4, 5, 6]);
 * assert.equal(buffer.firstPosition, 2);
 * assert.deepEqual([...buffer.from(4)], [5, 6]);
 * ```
 */
export class RingBuffer<T> {
  #slots: (T | undefined)[];
  #mask: number;
  #capacity: number;
  #head = 0;
  #length = 0;
  #evicted = 0;

  /**
   * Creates an empty ring buffer.
   *
   * @param capacity The largest number of items kept; rounded up to the next
   * power of two.
   * @throws {RangeError} If `capacity` is not an integer from 1 to 2 ** 30.
   */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
      throw new RangeError(
        `Cannot create ring buffer: capacity ${capacity} is not an integer from 1 to ${MAX_CAPACITY}`,
      );
    }
    this.#capacity = nextPowerOfTwo(capacity);
    const slots = Math.min(this.#capacity, INITIAL_SLOTS);
    this.#slots = new Array<T | undefined>(slots).fill(undefined);
    this.#mask = slots - 1;
  }

  /**
   * The largest number of items the buffer keeps (a power of two).
   *
   * @returns The capacity.
   */
  get capacity(): number {
    return this.#capacity;
  }

  /**
   * The number of items retained.
   *
   * @returns The number of items.
   */
  get length(): number {
    return this.#length;
  }

  /**
   * The position of the oldest retained item, which is also the number of
   * items evicted (or cleared) so far.
   *
   * @returns The first position.
   */
  get firstPosition(): number {
    return this.#evicted;
  }

  /**
   * The position the next pushed item will get: `firstPosition + length`.
   *
   * @returns The next position.
   */
  get nextPosition(): number {
    return this.#evicted + this.#length;
  }

  /**
   * Appends an item as the newest. When the buffer is full, the oldest item
   * is evicted and returned.
   *
   * @param item The item to append.
   * @returns The evicted item, or `undefined` if nothing was evicted.
   */
  push(item: T): T | undefined {
    if (this.#length === this.#capacity) {
      const evicted = this.#slots[this.#head] as T;
      this.#slots[this.#head] = item;
      this.#head = (this.#head + 1) & this.#mask;
      this.#evicted++;
      return evicted;
    }
    if (this.#length === this.#slots.length) this.#grow();
    this.#slots[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
    return undefined;
  }

  /**
   * Inserts an item so that the buffer stays in ascending order, walking back
   * from the newest item. Equal items keep their arrival order (the new item
   * goes after them). The buffer must already be sorted by `compare` for the
   * result to be sorted.
   *
   * When the buffer is full, the oldest item is evicted and returned; if the
   * new item would itself be the oldest, it is returned and not stored.
   *
   * @example Out-of-order arrival
   * ```ts
   * import { RingBuffer } from "./ring_buffer.ts";
   * import assert from "node:assert/strict";
   *
   * const buffer = new RingBuffer<number>(4);
   * for (const n of [10, 30, 20]) buffer.insertSorted(n, (a, b) => a - b);
   * assert.deepEqual(buffer.toArray(), [10, 20, 30]);
   * ```
   *
   * @param item The item to insert.
   * @param compare Returns a negative number if `a` sorts before `b`, a
   * positive number if after, and 0 if they are equal.
   * @returns The evicted item (possibly `item` itself), or `undefined` if
   * nothing was evicted.
   */
  insertSorted(item: T, compare: (a: T, b: T) => number): T | undefined {
    let index = this.#length;
    while (index > 0 && compare(this.#get(index - 1), item) > 0) index--;

    let evicted: T | undefined;
    if (this.#length === this.#capacity) {
      if (index === 0) return item;
      evicted = this.#get(0);
      this.#slots[this.#head] = undefined;
      this.#head = (this.#head + 1) & this.#mask;
      this.#length--;
      this.#evicted++;
      index--;
    } else if (this.#length === this.#slots.length) {
      this.#grow();
    }

    for (let i = this.#length; i > index; i--) {
      this.#slots[(this.#head + i) & this.#mask] = this.#slots[(this.#head + i - 1) & this.#mask];
    }
    this.#slots[(this.#head + index) & this.#mask] = item;
    this.#length++;
    return evicted;
  }

  /**
   * Evicts the oldest item before the buffer is full (to hold a memory
   * budget shared with other buffers). It counts as evicted: positions stay
   * monotonic and {@linkcode RingBuffer.firstPosition} grows by one.
   *
   * @returns The evicted item, or `undefined` when the buffer is empty.
   */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const evicted = this.#get(0);
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
    this.#evicted++;
    return evicted;
  }

  /**
   * Returns the item at an index: 0 is the oldest, -1 the newest.
   *
   * @param index An integer index; negative counts back from the newest.
   * @returns The item, or `undefined` if the index is out of range or not an
   * integer.
   */
  at(index: number): T | undefined {
    if (!Number.isInteger(index)) return undefined;
    const i = index < 0 ? this.#length + index : index;
    if (i < 0 || i >= this.#length) return undefined;
    return this.#get(i);
  }

  /**
   * Returns the newest `n` items, oldest first (fewer if the buffer holds
   * fewer).
   *
   * @param n How many items to return.
   * @returns A new array of at most `n` items.
   * @throws {RangeError} If `n` is not a non-negative integer.
   */
  latest(n: number): T[] {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(
        `Cannot read latest items: count ${n} is not a non-negative integer`,
      );
    }
    const count = Math.min(n, this.#length);
    const start = this.#length - count;
    const result = new Array<T>(count);
    for (let i = 0; i < count; i++) result[i] = this.#get(start + i);
    return result;
  }

  /**
   * Iterates over the retained items whose position is at least `position`,
   * oldest first. A position before {@linkcode RingBuffer.firstPosition}
   * starts at the oldest retained item (the items before it are gone); a
   * position at or after {@linkcode RingBuffer.nextPosition} yields nothing.
   *
   * The iterator reads the buffer live: items pushed while iterating are
   * yielded too, and items evicted before they are reached are skipped.
   *
   * @param position An absolute position; fractions round up.
   * @returns An iterator over the items.
   * @throws {RangeError} If `position` is NaN.
   */
  from(position: number): IterableIterator<T> {
    if (Number.isNaN(position)) {
      throw new RangeError("Cannot iterate ring buffer: position is NaN");
    }
    return this.#from(Math.ceil(position));
  }

  *#from(position: number): IterableIterator<T> {
    let next = position;
    while (true) {
      if (next < this.#evicted) next = this.#evicted;
      const index = next - this.#evicted;
      if (index >= this.#length) return;
      yield this.#get(index);
      next++;
    }
  }

  /**
   * Removes every item. Positions stay monotonic: the removed items count as
   * evicted, so {@linkcode RingBuffer.firstPosition} becomes the previous
   * {@linkcode RingBuffer.nextPosition}.
   */
  clear(): void {
    this.#slots.fill(undefined);
    this.#evicted += this.#length;
    this.#head = 0;
    this.#length = 0;
  }

  /**
   * Returns the retained items, oldest first.
   *
   * @returns A new array.
   */
  toArray(): T[] {
    return this.latest(this.#length);
  }

  /**
   * Iterates over the retained items, oldest first.
   *
   * @returns An iterator over the items.
   */
  *[Symbol.iterator](): IterableIterator<T> {
    yield* this.#from(this.#evicted);
  }

  #get(index: number): T {
    return this.#slots[(this.#head + index) & this.#mask] as T;
  }

  #grow(): void {
    const size = this.#slots.length * 2;
    const slots = new Array<T | undefined>(size).fill(undefined);
    for (let i = 0; i < this.#length; i++) slots[i] = this.#get(i);
    this.#slots = slots;
    this.#mask = size - 1;
    this.#head = 0;
  }
}

function nextPowerOfTwo(n: number): number {
  let power = 1;
  while (power < n) power *= 2;
  return power;
}
