/**
 * Keys linked to a registered nick: besides the key that claimed it
 * (node/chat/nick_registry.ts), a person's other keys — a terminal client's,
 * another SSH key, one registered on the web — own the nick too, on every
 * frontend and node. `/keys add` links one from a session whose key owns the
 * nick, `/keys remove` unlinks it (the claiming key stays: a nick is never
 * left without a key).
 *
 * A link is an event like any other (kind `link`, room `""`, `from` the
 * nick, `text` `+SHA256:…` to link or `-SHA256:…` to unlink), replicated,
 * snapshotted and restored with the rest of the log; the event log
 * (event_log.ts) is the only writer. For each nick and key the newest event
 * (the log's total order) wins whatever order events arrive in, so every
 * node agrees. An unlink is kept (it is what says an older link lost); the
 * registry holds one event per nick and key, at most `maxLinks`, outside the
 * history budget, and at most {@linkcode MAX_LINK_EVENTS_PER_NICK} per nick:
 * past that the oldest unlink is forgotten, and so is any event for the nick
 * no newer than it (it would have lost), so linking and unlinking made-up
 * keys over and over cannot fill the registry for everyone.
 *
 * Who may link is checked where the person is (the hub: a session whose key
 * owns the nick). Like claims, links are not signed per node: a node that
 * has the cluster secret and lies could forge one (docs/security.md).
 *
 * @example
 * ```ts
 * import { EventLog } from "./event_log.ts";
 * import assert from "node:assert/strict";
 *
 * const laptop = "SHA256:" + "a".repeat(43);
 * const phone = "SHA256:" + "b".repeat(43);
 * const log = new EventLog({ origin: "n1" });
 * log.nicks.claim("ann", laptop);
 * log.append({ room: "", kind: "link", from: "ann", text: `+${phone}` });
 * assert.equal(log.nicks.owns("ANN", phone), true);
 * assert.deepEqual(log.nicks.keysOf("ann"), [laptop, phone]);
 * ```
 *
 * @module
 */
import { type ChatEvent, compareEvents } from "../../core/event.ts";
import { nickKey } from "../../core/names.ts";

/** Link events held per nick at most: four times the keys a nick may have (hub.ts). */
export const MAX_LINK_EVENTS_PER_NICK = 32;

/** The text of a `link` event for a key. */
export function linkText(action: "+" | "-", fingerprint: string): string {
  return `${action}${fingerprint}`;
}

/**
 * Linked keys by nick, derived from `link` events.
 *
 * | Operation  | Cost |
 * | ---------- | ---- |
 * | `isLinked` | O(1) |
 * | `apply`    | O(1) |
 * | `keysOf`   | O(k), k = keys ever linked to that nick and still held |
 */
export class LinkedKeys {
  /** The newest link event of each nick and key: nick key → fingerprint → event. */
  readonly #links = new Map<string, Map<string, ChatEvent>>();
  readonly #maxLinks: number;
  #size = 0;
  /** The newest unlink forgotten per nick key: events no newer than it are dropped. */
  readonly #forgotten = new Map<string, ChatEvent>();

  /**
   * @param maxLinks Link events held at most; bounds memory. @default 100000
   * @throws {RangeError} When `maxLinks` is not a positive integer.
   */
  constructor(maxLinks = 100_000) {
    if (!Number.isInteger(maxLinks) || maxLinks < 1) {
      throw new RangeError(`Invalid maxLinks ${maxLinks}: must be a positive integer`);
    }
    this.#maxLinks = maxLinks;
  }

  /**
   * Whether a key is linked to a nick now.
   *
   * @param nick Any case.
   * @param fingerprint The key.
   * @returns True when the newest event for them links it.
   */
  isLinked(nick: string, fingerprint: string): boolean {
    return this.#links.get(nickKey(nick))?.get(fingerprint)?.text.startsWith("+") ?? false;
  }

  /**
   * The keys linked to a nick now.
   *
   * @param nick Any case.
   * @returns Fingerprints, oldest link first.
   */
  keysOf(nick: string): string[] {
    const links = [...this.#links.get(nickKey(nick))?.values() ?? []]
      .filter((event) => event.text.startsWith("+"))
      .sort(compareEvents);
    return links.map((event) => event.text.slice(1));
  }

  /** Every link event held (for replication and snapshots). */
  *events(): IterableIterator<ChatEvent> {
    for (const links of this.#links.values()) yield* links.values();
  }

  /**
   * Applies a `link` event the log accepted (for the event log only): the
   * newest event of a nick and key wins; a new pair is dropped when the
   * registry is full.
   *
   * @param event A `link` event that passed core/event_rules.ts.
   * @returns The event no longer retained: the one replaced, or `event`
   *   itself when it is older or the registry is full; undefined otherwise.
   */
  apply(event: ChatEvent): ChatEvent | undefined {
    const key = nickKey(event.from);
    const fingerprint = event.text.slice(1);
    let links = this.#links.get(key);
    const current = links?.get(fingerprint);
    if (current === undefined) {
      const forgotten = this.#forgotten.get(key);
      if (forgotten !== undefined && compareEvents(event, forgotten) <= 0) return event;
      if (links !== undefined && links.size >= MAX_LINK_EVENTS_PER_NICK) {
        return this.#replaceOldestUnlink(key, links, event);
      }
      if (this.#size >= this.#maxLinks) return event;
      this.#size++;
    } else if (compareEvents(event, current) <= 0) {
      return event;
    }
    if (links === undefined) {
      links = new Map();
      this.#links.set(key, links);
    }
    links.set(fingerprint, event);
    return current;
  }

  /** A nick at its cap: the new event takes the place of its oldest unlink, if it is newer. */
  #replaceOldestUnlink(
    key: string,
    links: Map<string, ChatEvent>,
    event: ChatEvent,
  ): ChatEvent {
    let oldest: ChatEvent | undefined;
    for (const held of links.values()) {
      if (held.text.startsWith("-") && (oldest === undefined || compareEvents(held, oldest) < 0)) {
        oldest = held;
      }
    }
    if (oldest === undefined || compareEvents(event, oldest) <= 0) return event;
    links.delete(oldest.text.slice(1));
    this.#forgotten.set(key, oldest);
    links.set(event.text.slice(1), event);
    return oldest;
  }
}
