/**
 * What `/unread` and `/mentions` say (node/chat/coming_back.ts keeps the
 * marks they read): a header, one line per room or message, and the same
 * as data for clients. commands.ts cuts the list to the reader's queue.
 *
 * @module
 */
import { countOf } from "../../core/chat_format.ts";
import { toMsgFrame } from "../../core/protocol.ts";
import { type ComingBack, countText, type Unread } from "./coming_back.ts";
import type { Session } from "./session.ts";

/** A reply that lists things: a header, a line per item and the items as data. */
export interface ListReply<T> {
  /** The first line. */
  readonly header: string;
  /** One line per item. */
  readonly lines: string[];
  /** The items. */
  readonly data: T[];
}

/**
 * `/unread`: the rooms the person left that have messages after their mark.
 *
 * @param comingBack The marks.
 * @param session Who asks.
 * @returns The reply.
 */
export function unreadReply(comingBack: ComingBack, session: Session): ListReply<Unread> {
  if (!comingBack.remembers(session)) {
    return {
      header: "Unread counts are kept for a nick your key owns: log in with your key " +
        "(SSH, a web sign-in or the terminal client)",
      lines: [],
      data: [],
    };
  }
  const unread = comingBack.unread(session);
  return {
    header: unread.length === 0
      ? "Nothing unread in the rooms you left"
      : `Unread in ${countOf(unread.length, "room")} (/join a room to read it):`,
    lines: unread.map((u) => `  #${u.room} ${countText(u)}`),
    data: unread,
  };
}

/**
 * `/mentions`: messages that named the person since they were last seen.
 *
 * @param comingBack The marks.
 * @param session Who asks.
 * @returns The reply; its data are `msg` frames.
 */
export function mentionsReply(
  comingBack: ComingBack,
  session: Session,
): ListReply<ReturnType<typeof toMsgFrame>> {
  const frames = comingBack.mentions(session).map(toMsgFrame);
  return {
    header: frames.length === 0
      ? "Nobody mentioned you since you were last seen"
      : `${countOf(frames.length, "mention")} since you were last seen:`,
    lines: frames.map((f) =>
      f.kind === "action"
        ? `  #${f.room} * ${f.from} ${f.text}`
        : `  #${f.room} ${f.from}: ${f.text}`
    ),
    data: frames,
  };
}
