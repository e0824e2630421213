/**
 * Event id → chunk number for the snapshot store, in pages of consecutive
 * seqs.
 *
 * @module
 */

const PAGE_BITS = 10;
const PAGE_SIZE = 1 << PAGE_BITS;

/**
 * Event id → chunk number, in pages of 1,024 consecutive seqs per origin
 * (seqs are dense). Unlike a `Map` of 100,000 entries it never rehashes, so
 * no single insertion stalls the event loop for milliseconds.
 */
export class ChunkIndex {
  readonly #origins = new Map<string, Map<number, { slots: Int32Array; used: number }>>();

  /** The chunk of an event, 0 when none. */
  get(origin: string, seq: number): number {
    const page = this.#origins.get(origin)?.get(Math.floor(seq / PAGE_SIZE));
    return page === undefined ? 0 : page.slots[seq % PAGE_SIZE]!;
  }

  /** Sets the chunk of an event (chunk numbers start at 1). */
  set(origin: string, seq: number, chunk: number): void {
    let pages = this.#origins.get(origin);
    if (pages === undefined) {
      pages = new Map();
      this.#origins.set(origin, pages);
    }
    const pageNumber = Math.floor(seq / PAGE_SIZE);
    let page = pages.get(pageNumber);
    if (page === undefined) {
      page = { slots: new Int32Array(PAGE_SIZE), used: 0 };
      pages.set(pageNumber, page);
    }
    const slot = seq % PAGE_SIZE;
    if (page.slots[slot] === 0) page.used++;
    page.slots[slot] = chunk;
  }

  /** Forgets an event; returns the chunk it was in, 0 when none. */
  delete(origin: string, seq: number): number {
    const pages = this.#origins.get(origin);
    const pageNumber = Math.floor(seq / PAGE_SIZE);
    const page = pages?.get(pageNumber);
    if (pages === undefined || page === undefined) return 0;
    const slot = seq % PAGE_SIZE;
    const chunk = page.slots[slot]!;
    if (chunk === 0) return 0;
    page.slots[slot] = 0;
    if (--page.used === 0) {
      pages.delete(pageNumber);
      if (pages.size === 0) this.#origins.delete(origin);
    }
    return chunk;
  }
}
