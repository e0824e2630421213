/**
 * The one input path of every frontend. A frontend turns bytes into lines
 * (framing, login, its own limits) and hands each line of a hub session to
 * {@linkcode handleLine}: the line runs on the shared command table, command
 * output goes to the session's sink as `info` frames, and a refusal goes
 * there as an `error` frame made by {@linkcode errorFrame}, the one mapping
 * from errors to what a person is shown. The frontend then only renders
 * frames: TCP encodes them, SSH draws `error: …` lines, the next frontend
 * does its own. What it gets back says what happened, for transport
 * concerns such as acknowledgements and flood pacing.
 *
 * A new frontend needs three calls:
 *
 * ```ts
 * const session = hub.connect(sink, { user }, { via: "web", address });
 * // for each line the person sends:
 * const outcome = await handleLine(session, line, { hub, logger });
 * // when the connection ends:
 * hub.disconnect(session, "connection closed");
 * ```
 *
 * and a sink (`SessionSink`, node/chat/session.ts) that only enqueues: when
 * its queue overflows it reports the session to `hub.dropSlowReader`.
 *
 * @module
 */
import type { ChatEvent } from "../../core/event.ts";
import { countOf } from "../../core/chat_format.ts";
import { ProtocolError, type ServerFrame } from "../../core/protocol.ts";
import { commandContext, handleInput, handleSealed } from "../chat/commands.ts";
import type { Hub } from "../chat/hub.ts";
import type { Session } from "../chat/session.ts";
import type { Logger } from "../logger.ts";

/** An `error` frame: what a person is told when a line or frame is refused. */
export type ErrorFrame = Extract<ServerFrame, { t: "error" }>;

/** A line a client sealed for a sealed room: an envelope the node cannot read. */
export interface SealedLine {
  /** The sealed envelope (base64url). */
  readonly sealed: string;
  /** `action` for a sealed `/me`. */
  readonly kind: "message" | "action";
}

/** What {@linkcode handleLine} runs: a typed line (text or `/command`), or a sealed one. */
export type InputLine = string | SealedLine;

/** What a line runs with, besides the session. */
export interface LineContext {
  /** The hub the session is in. */
  readonly hub: Hub;
  /** Where an unexpected failure is logged (the person is told only `server_error`). */
  readonly logger: Logger;
  /** The room the client named for the line. @default the session's current room */
  readonly room?: string | undefined;
  /**
   * The client's id for the line: a message resent with an id the cluster
   * already accepted is not posted twice, and an `error` frame carries it.
   * @default none
   */
  readonly cid?: string | undefined;
  /**
   * Lines the frontend holds behind this one (a pasted block): when this one
   * is rate-limited, the frontend drops them and the error says how many.
   * @default 0
   */
  readonly pendingLines?: number;
}

/** How a line ended: run (with the event it made, if a message), or refused. */
export type LineOutcome =
  | {
    readonly ok: true;
    /** The chat event when the line was a message; undefined for a command. */
    readonly event: ChatEvent | undefined;
  }
  | {
    readonly ok: false;
    /** The `error` frame the session's sink was sent. */
    readonly error: ErrorFrame;
  };

/**
 * Runs one line of a session: a message for a room, a `/command`, or a
 * sealed envelope. Command output and refusals go to the session's sink
 * (`info` and `error` frames); nothing is thrown for what the person did.
 *
 * @param session The hub session that sent the line (open).
 * @param line The line as typed (`//text` sends `/text`), or a sealed one.
 * @param context The hub, the logger, and the line's room and id.
 * @returns The outcome.
 */
export async function handleLine(
  session: Session,
  line: InputLine,
  context: LineContext,
): Promise<LineOutcome> {
  const { hub, logger, room, cid, pendingLines = 0 } = context;
  const ctx = commandContext(hub, session, room);
  try {
    const event = typeof line === "string"
      ? await handleInput(ctx, line, cid)
      : handleSealed(ctx, line.sealed, line.kind, cid);
    return { ok: true, event };
  } catch (error) {
    let frame = errorFrame(error, { logger, address: session.origin.address, cid });
    if (frame.code === "rate_limited" && pendingLines > 0) {
      frame = {
        ...frame,
        message: `${frame.message} (${countOf(pendingLines, "more line")} not sent)`,
      };
    }
    session.sink.send(frame);
    hub.counters.lineRefused(frame.code);
    return { ok: false, error: frame };
  }
}

/** Options of {@linkcode errorFrame}. */
export interface ErrorFrameOptions {
  /** Where an unexpected error is logged. */
  readonly logger: Logger;
  /** The connection's remote `host:port`, for the log. */
  readonly address: string;
  /** The client's id for the refused line, echoed in the frame. @default none */
  readonly cid?: string | undefined;
}

/**
 * The one mapping from an error to what a person is shown: a
 * {@linkcode ProtocolError} keeps its stable code and readable message;
 * anything else is a bug, logged here and shown as `server_error` without
 * details.
 *
 * @param error What was thrown while handling a line or frame.
 * @param options Logger, address and the line's id.
 * @returns The `error` frame to send.
 */
export function errorFrame(error: unknown, options: ErrorFrameOptions): ErrorFrame {
  const { logger, address, cid } = options;
  const withCid = cid === undefined ? {} : { cid };
  if (error instanceof ProtocolError) {
    return { t: "error", code: error.code, message: error.message, ...withCid };
  }
  logger.error("request failed", { addr: address, error: String(error) });
  return {
    t: "error",
    code: "server_error",
    message: "Internal error: request not processed",
    ...withCid,
  };
}
