/**
 * Replies that fit the reader. Every frontend drops a session whose output
 * queue overflows (a slow reader must not hold memory), so a reply the
 * person asked for — `/history 500`, the welcome's recent messages, a long
 * member list — must never be one frame bigger than the queue accepts. A
 * sink says how many bytes one reply may take now
 * ({@linkcode SessionSink.replyBudget}); these helpers keep what fits,
 * measured as the frame's JSON, the biggest form any frontend writes.
 *
 * @module
 */
import type { MsgFrame, ServerFrame } from "../../core/protocol.ts";
import type { CommandContext } from "./commands.ts";
import type { SessionSink } from "./session.ts";

/**
 * Share of the output queue one reply may fill; the rest stays free for the
 * live messages that arrive while the reader takes it in.
 */
export const REPLY_SHARE = 0.5;

/**
 * Bytes a reply may take on a queue of `maxBytes` holding `queuedBytes`.
 *
 * @param maxBytes The queue's limit.
 * @param queuedBytes What it holds now.
 * @returns The budget, never negative.
 */
export function replyBudgetOf(maxBytes: number, queuedBytes: number): number {
  return Math.max(0, Math.floor(maxBytes * REPLY_SHARE) - queuedBytes);
}

/**
 * The budget of a sink, or `Infinity` for one that does not say (tests).
 *
 * @param sink The session's sink.
 * @returns Bytes one reply may take now.
 */
export function budgetOf(sink: SessionSink): number {
  return sink.replyBudget?.() ?? Infinity;
}

/**
 * Bytes of text as UTF-8, without encoding it.
 *
 * @param text Any string (a lone surrogate counts 3, as the encoder writes U+FFFD).
 * @returns The length in bytes.
 */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      bytes += 1;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a pair: 4 bytes for its 2 units
        bytes += 2;
        continue;
      }
    }
    bytes += 2; // 3 bytes for 1 unit
  }
  return bytes;
}

/**
 * Bytes of a value written as a JSON frame line.
 *
 * @param value Any JSON value.
 * @returns The length of its JSON in UTF-8, plus the newline.
 */
export function frameLength(value: unknown): number {
  return utf8Length(JSON.stringify(value) ?? "") + 1;
}

/**
 * The newest messages of `history` (oldest first) whose frames fit in
 * `budget` bytes together with `overhead`.
 *
 * @param history Messages, oldest first.
 * @param budget Bytes the whole reply may take.
 * @param overhead Bytes of the rest of the reply (the frame around the list).
 * @returns The newest that fit, oldest first (maybe none).
 */
export function newestThatFit(
  history: readonly MsgFrame[],
  budget: number,
  overhead: number,
): MsgFrame[] {
  if (budget === Infinity) return [...history];
  let left = budget - overhead;
  let start = history.length;
  while (start > 0) {
    // Each entry costs its JSON and a comma.
    const cost = frameLength(history[start - 1]);
    if (cost > left) break;
    left -= cost;
    start--;
  }
  return history.slice(start);
}

/**
 * The first items of a list whose lines (and data) fit in `budget` bytes.
 *
 * @param lines Lines of the list, one per item.
 * @param data The list as data, one entry per item.
 * @param budget Bytes the whole reply may take.
 * @param overhead Bytes of the rest of the reply.
 * @returns How many items fit.
 */
export function itemsThatFit(
  lines: readonly string[],
  data: readonly unknown[],
  budget: number,
  overhead: number,
): number {
  if (budget === Infinity) return lines.length;
  let left = budget - overhead;
  for (let i = 0; i < lines.length; i++) {
    left -= frameLength(lines[i]) + frameLength(data[i]);
    if (left < 0) return i;
  }
  return lines.length;
}

/**
 * A frame with a `history` list (welcome, joined, history) cut to the newest
 * messages that fit the sink's budget.
 *
 * @example
 * ```ts ignore
 * sink.send(fitHistory(sink, { t: "history", room, history: recent }));
 * ```
 *
 * @param sink Where the frame goes.
 * @param frame The frame with every message.
 * @param reserve Bytes to keep free for what follows (a note).
 * @returns The frame, with fewer messages when they do not all fit.
 */
export function fitHistory<F extends ServerFrame & { readonly history: readonly MsgFrame[] }>(
  sink: SessionSink,
  frame: F,
  reserve = 0,
): F {
  const budget = budgetOf(sink) - reserve;
  if (budget === Infinity) return frame;
  // newestThatFit charges each entry a separator; inside one list the first needs none.
  const overhead = frameLength({ ...frame, history: [] }) - 1;
  const history = newestThatFit(frame.history, budget, overhead);
  return history.length === frame.history.length ? frame : { ...frame, history };
}

/** Bytes kept free, when a reply is cut, for the note that says so. */
export const NOTE_RESERVE = 512;

/**
 * Replies to a command with a header and a list, cut to what fits the
 * reader's output queue, with a last line saying how many were left out.
 *
 * @param ctx The command's context: its session's sink and its reply.
 * @param command The command replying.
 * @param header The first line.
 * @param lines The list, one line per item.
 * @param data The list as data, one entry per item.
 * @param trailer Lines after the list, always shown.
 */
export function replyList(
  ctx: Pick<CommandContext, "session" | "reply">,
  command: string,
  header: string,
  lines: readonly string[],
  data: readonly unknown[],
  trailer: readonly string[] = [],
): void {
  const budget = budgetOf(ctx.session.sink) - NOTE_RESERVE;
  const overhead = frameLength({ t: "info", cmd: command, lines: [header, ...trailer], data: [] });
  const fit = itemsThatFit(lines, data, budget, overhead);
  if (fit === lines.length) {
    ctx.reply(command, [header, ...lines, ...trailer], data);
    return;
  }
  ctx.reply(
    command,
    [header, ...lines.slice(0, fit), `  … and ${lines.length - fit} more, not shown`, ...trailer],
    data.slice(0, fit),
  );
}
