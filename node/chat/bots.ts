/**
 * Which nicks are bots: a programme speaking for a registered nick, marked
 * as such with `/bot on` by its own identity (a session whose key owns the
 * nick) or by an operator. A bot is shown as one in `/who` and `/whois`, and
 * gets no history on joining a room unless its hello asks for some.
 *
 * A mark is an event like any other (kind `bot`, room `""`, `from` the
 * nick, `text` `on` or `off`), so it is replicated, snapshotted and restored
 * with the rest of the log; the event log (event_log.ts) is the only writer
 * of this registry. The newest mark of a nick (the log's total order) wins,
 * whatever order marks arrive in, so every node agrees. An `off` mark is
 * kept (it is what says an older `on` lost); the registry holds one event
 * per nick, at most `maxMarks`, outside the history budget.
 *
 * Who may mark is checked where the person is (the hub's `/bot`): a peer is
 * an authenticated node, and a mark changes only how a nick is shown and its
 * default history, never who may use it.
 *
 * @example
 * ```ts
 * import { EventLog } from "./event_log.ts";
 * import assert from "node:assert/strict";
 *
 * const log = new EventLog({ origin: "n1" });
 * log.append({ room: "", kind: "bot", from: "DeployBot", text: "on" });
 * assert.equal(log.bots.isBot("deploybot"), true);
 * log.append({ room: "", kind: "bot", from: "deploybot", text: "off" });
 * assert.equal(log.bots.isBot("DeployBot"), false);
 * ```
 *
 * @module
 */
import { type ChatEvent, compareEvents } from "../../core/event.ts";
import { nickKey } from "../../core/names.ts";

/** The text of a `bot` event: the nick is a bot from now on, or no longer. */
export type BotMark = "on" | "off";

/** The registry as its readers see it (the event log applies marks). */
export type BotRegistryView = Pick<BotRegistry, "isBot" | "size" | "marks">;

/**
 * Bot marks by nick, derived from `bot` events.
 *
 * | Operation | Cost |
 * | --------- | ---- |
 * | `isBot`   | O(1) |
 * | `apply`   | O(1) |
 */
export class BotRegistry {
  /** The newest mark of each nick, by nick key. */
  readonly #marks = new Map<string, ChatEvent>();
  readonly #maxMarks: number;

  /**
   * Made by the event log, which owns the registry.
   *
   * @param maxMarks Nicks with a mark held at most; bounds memory. @default 100000
   * @throws {RangeError} When `maxMarks` is not a positive integer.
   */
  constructor(maxMarks = 100_000) {
    if (!Number.isInteger(maxMarks) || maxMarks < 1) {
      throw new RangeError(`Invalid maxMarks ${maxMarks}: must be a positive integer`);
    }
    this.#maxMarks = maxMarks;
  }

  /** How many nicks have a mark (on or off). */
  get size(): number {
    return this.#marks.size;
  }

  /**
   * Whether a nick is marked as a bot.
   *
   * @param nick Any case.
   * @returns True when its newest mark is `on`.
   */
  isBot(nick: string): boolean {
    return this.#marks.get(nickKey(nick))?.text === "on";
  }

  /** The mark event of every nick that has one (for replication and snapshots). */
  marks(): IterableIterator<ChatEvent> {
    return this.#marks.values();
  }

  /**
   * Applies a `bot` event the log accepted (for the event log only). The
   * newest mark of a nick wins; a new nick is dropped when the registry is
   * full.
   *
   * @param mark A `bot` event that passed core/event_rules.ts.
   * @returns The mark no longer retained: the one replaced, or `mark` itself
   *   when it is older than the nick's mark or the registry is full;
   *   undefined when nothing was dropped.
   */
  apply(mark: ChatEvent): ChatEvent | undefined {
    const key = nickKey(mark.from);
    const current = this.#marks.get(key);
    if (
      current === undefined ? this.#marks.size >= this.#maxMarks : compareEvents(mark, current) <= 0
    ) {
      return mark;
    }
    this.#marks.set(key, mark);
    return current;
  }
}
