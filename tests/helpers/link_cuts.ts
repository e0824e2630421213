// Copyright the meshchat authors. MIT license.
/**
 * Which links between named endpoints are cut, per direction: the partition
 * bookkeeping shared by the test networks (`memory_network.ts`,
 * `memory_transport.ts`), which decide what a cut does to their links.
 *
 * @module
 */

/** Cut links between named endpoints, each direction on its own. */
export class LinkCuts {
  readonly #cuts = new Set<string>();

  /**
   * Cuts `a` → `b`, and `b` → `a` unless `oneWay`.
   *
   * @param a One endpoint.
   * @param b The other.
   * @param options `oneWay`: cut only `a` → `b`.
   */
  cut(a: string, b: string, options: { oneWay?: boolean } = {}): void {
    this.#cuts.add(cutKey(a, b));
    if (!options.oneWay) this.#cuts.add(cutKey(b, a));
  }

  /**
   * Undoes {@linkcode LinkCuts.cut}.
   *
   * @param a One endpoint.
   * @param b The other.
   * @param options `oneWay`: heal only `a` → `b`.
   */
  heal(a: string, b: string, options: { oneWay?: boolean } = {}): void {
    this.#cuts.delete(cutKey(a, b));
    if (!options.oneWay) this.#cuts.delete(cutKey(b, a));
  }

  /**
   * Cuts every pair of endpoints in different groups, both ways.
   *
   * @param groups The sides of the partition.
   */
  partition(groups: readonly (readonly string[])[]): void {
    for (const [i, group] of groups.entries()) {
      for (const other of groups.slice(i + 1)) {
        for (const a of group) for (const b of other) this.cut(a, b);
      }
    }
  }

  /** Heals every cut. */
  healAll(): void {
    this.#cuts.clear();
  }

  /**
   * Whether `from` → `to` is cut.
   *
   * @param from The sender.
   * @param to The receiver.
   * @returns True while cut.
   */
  blocks(from: string, to: string): boolean {
    return this.#cuts.has(cutKey(from, to));
  }

  /**
   * Whether either direction between `a` and `b` is cut.
   *
   * @param a One endpoint.
   * @param b The other.
   * @returns True while either direction is cut.
   */
  separates(a: string, b: string): boolean {
    return this.blocks(a, b) || this.blocks(b, a);
  }
}

function cutKey(from: string, to: string): string {
  return `${from}\u0000>${to}`;
}
