/**
 * What a person is shown on entering a room: the `welcome` frame at hello
 * and the `joined` reply to `/join`. Both carry the room's topic, its seal
 * parameters and its most recent messages, cut to what the reader's queue
 * takes (node/chat/reply_budget.ts), and are followed by a notice when
 * older history of the room is gone from this node.
 *
 * @module
 */
import { PROTOCOL_VERSION, toMsgFrame } from "../../core/protocol.ts";
import type { RoomView } from "./event_log.ts";
import { budgetOf, fitHistory } from "./reply_budget.ts";
import { olderGoneLine } from "./room.ts";
import type { SessionSink } from "./session.ts";
import type { SeenMark } from "../../core/seen_mark.ts";

/** Who the welcome greets, and where. */
export interface WelcomeDetails {
  /** This node's id. */
  readonly node: string;
  /** The person's nick. */
  readonly nick: string;
  /** The names of the rooms on this node (the list is cut to the reader's budget). */
  readonly rooms: Iterable<string>;
  /** The message of the day, `""` for none. */
  readonly motd: string;
  /**
   * Where the person stopped reading in this room, when they come back:
   * the history ends there and the rest follows as a replay
   * (node/chat/coming_back.ts). @default {the newest}
   */
  readonly upTo?: SeenMark | undefined;
}

/**
 * Sends the `welcome` frame of a new session.
 *
 * @param sink The session's sink.
 * @param room The room it starts in.
 * @param asked Most messages of history.
 * @param details See {@linkcode WelcomeDetails}.
 */
export function sendWelcome(
  sink: SessionSink,
  room: RoomView,
  asked: number,
  details: WelcomeDetails,
): void {
  const state = roomState(room, asked, details.upTo);
  sink.send(fitHistory(sink, {
    t: "welcome",
    v: PROTOCOL_VERSION,
    node: details.node,
    nick: details.nick,
    room: room.name,
    rooms: roomListFor(sink, details.rooms),
    ...state,
    ...(details.motd === "" ? {} : { motd: details.motd }),
  }));
  if (state.olderGone) noteOlderGone(sink, room.name);
}

/**
 * Sends the `joined` reply to a `/join`.
 *
 * @param sink The session's sink.
 * @param room The room joined.
 * @param asked Most messages of history.
 * @param upTo Where the person stopped reading in this room, when they come
 *   back to it: the history ends there. @default {the newest}
 */
export function sendJoined(
  sink: SessionSink,
  room: RoomView,
  asked: number,
  upTo?: SeenMark,
): void {
  const state = roomState(room, asked, upTo);
  sink.send(fitHistory(sink, { t: "joined", room: room.name, ...state }));
  if (state.olderGone) noteOlderGone(sink, room.name);
}

/** The part of `welcome` and `joined` that shows the room. */
function roomState(room: RoomView, asked: number, upTo: SeenMark | undefined) {
  const history = room.recent(asked, upTo);
  const olderGone = room.reachesGone(history.length, asked);
  return {
    topic: room.topic,
    ...(room.sealed === undefined ? {} : { sealed: room.sealed }),
    history: history.map(toMsgFrame),
    ...(olderGone ? { olderGone } : {}),
  };
}

function noteOlderGone(sink: SessionSink, room: string): void {
  sink.send({ t: "info", cmd: "history", lines: [olderGoneLine(room)] });
}

/**
 * The welcome's room list, within half the sink's reply budget: a node
 * may hold `maxRooms` rooms, and one user can leave thousands behind (one
 * line each), which as one list would outgrow a reader's queue.
 */
function roomListFor(sink: SessionSink, rooms: Iterable<string>): string[] {
  let left = budgetOf(sink) / 2;
  const names: string[] = [];
  for (const name of rooms) {
    left -= name.length + 3; // ASCII, quoted, a comma
    if (left < 0) break;
    names.push(name);
  }
  return names;
}
