/**
 * Private messages kept for their recipient: every `private` event to a nick
 * a key owns lives here rather than in the private log, outside the history
 * budget, so that one sent while its recipient was away is still held when
 * they log in again, on whichever node (the hub delivers those after the
 * recipient's private `seen` mark: node/chat/coming_back.ts). The event
 * log (event_log.ts) is its only writer.
 *
 * Bounded two ways: `maxPerRecipient` per recipient and `maxTotal` in all.
 * When a box is full, the oldest message of the sender who has the most in
 * it goes: one sender flooding a box pushes out their own messages, not
 * everyone else's. When the whole is full, the one held longest goes,
 * delivered or not.
 *
 * ```ts ignore
 * const mail = new OfflineMail();
 * mail.apply(privateEvent); // the event dropped to make space, if any
 * mail.to("bob"); // bob's kept messages, oldest first
 * ```
 *
 * @module
 */
import { type ChatEvent, compareEvents, eventId } from "../../core/event.ts";
import { nickKey } from "../../core/names.ts";

/** Default of {@linkcode OfflineMailOptions.maxPerRecipient}. */
export const MAIL_PER_RECIPIENT = 100;

/** Default of {@linkcode OfflineMailOptions.maxTotal}. */
export const MAIL_TOTAL = 20_000;

/** Limits of {@linkcode OfflineMail}. */
export interface OfflineMailOptions {
  /** Messages kept per recipient. @default {@linkcode MAIL_PER_RECIPIENT} */
  maxPerRecipient?: number;
  /** Messages kept in all. @default {@linkcode MAIL_TOTAL} */
  maxTotal?: number;
}

/** The oldest message in a box of the sender who has the most messages in it. */
function oldestOfHeaviest(box: readonly ChatEvent[]): ChatEvent {
  const counts = new Map<string, number>();
  for (const event of box) {
    counts.set(nickKey(event.from), (counts.get(nickKey(event.from)) ?? 0) + 1);
  }
  const most = Math.max(...counts.values());
  return box.find((event) => counts.get(nickKey(event.from)) === most)!;
}

/** The mail as its readers see it (only the log applies). */
export type OfflineMailView = Pick<OfflineMail, "size" | "to" | "events">;

/**
 * Private messages to owned nicks, per recipient (see the module doc).
 *
 * | Operation | Cost |
 * | --------- | ---- |
 * | `apply`   | O(p), p = messages held for that recipient |
 * | `to`      | O(p) |
 */
export class OfflineMail {
  /** Messages by recipient nick key, oldest first. */
  readonly #boxes = new Map<string, ChatEvent[]>();
  /** Recipient key by event id, in the order held: the first goes when full. */
  readonly #held = new Map<string, string>();
  readonly #maxPerRecipient: number;
  readonly #maxTotal: number;

  /**
   * @param options Limits.
   * @throws {RangeError} When a limit is not a positive integer.
   */
  constructor(options: OfflineMailOptions = {}) {
    const { maxPerRecipient = MAIL_PER_RECIPIENT, maxTotal = MAIL_TOTAL } = options;
    for (const [name, value] of [["maxPerRecipient", maxPerRecipient], ["maxTotal", maxTotal]]) {
      if (!Number.isInteger(value) || (value as number) < 1) {
        throw new RangeError(`Invalid ${name} ${value}: must be a positive integer`);
      }
    }
    this.#maxPerRecipient = maxPerRecipient;
    this.#maxTotal = maxTotal;
  }

  /** How many messages are held. */
  get size(): number {
    return this.#held.size;
  }

  /**
   * The messages held for a recipient.
   *
   * @param nick Any case.
   * @returns Oldest first.
   */
  to(nick: string): readonly ChatEvent[] {
    return this.#boxes.get(nickKey(nick)) ?? [];
  }

  /** Every message held (for replication and snapshots). */
  *events(): IterableIterator<ChatEvent> {
    for (const box of this.#boxes.values()) yield* box;
  }

  /**
   * Keeps a `private` event the log accepted (for the event log only).
   *
   * @param event A `private` event with a recipient.
   * @returns The event dropped to stay within the limits (possibly `event`
   *   itself, older than a full box), or undefined.
   */
  apply(event: ChatEvent): ChatEvent | undefined {
    const key = nickKey(event.to ?? "");
    let box = this.#boxes.get(key);
    if (box === undefined) {
      box = [];
      this.#boxes.set(key, box);
    }
    let at = box.length;
    while (at > 0 && compareEvents(box[at - 1]!, event) > 0) at--;
    box.splice(at, 0, event);
    this.#held.set(eventId(event), key);
    if (box.length > this.#maxPerRecipient) return this.#drop(key, oldestOfHeaviest(box));
    if (this.#held.size > this.#maxTotal) {
      const [id, owner] = this.#held.entries().next().value!;
      return this.#drop(owner, this.#boxes.get(owner)!.find((e) => eventId(e) === id)!);
    }
    return undefined;
  }

  #drop(key: string, event: ChatEvent): ChatEvent {
    const box = this.#boxes.get(key)!;
    box.splice(box.indexOf(event), 1);
    if (box.length === 0) this.#boxes.delete(key);
    this.#held.delete(eventId(event));
    return event;
  }
}
