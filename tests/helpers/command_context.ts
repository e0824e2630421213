/**
 * The command context a frontend builds, for tests that run commands on a
 * hub directly: replies go to the session's sink as `info` frames.
 *
 * @module
 */
import type { CommandContext } from "../../node/chat/commands.ts";
import type { Hub, Session, SessionSink } from "../../node/chat/hub.ts";

/**
 * A command context whose replies go to `sink`.
 *
 * @param hub The hub.
 * @param session Who runs the command.
 * @param sink Where replies go (usually the session's own sink).
 * @param room The room the line was typed in, or undefined for the current one.
 * @returns The context.
 */
export function commandContext(
  hub: Hub,
  session: Session,
  sink: SessionSink,
  room?: string,
): CommandContext {
  return {
    hub,
    session,
    room,
    reply: (cmd, lines, data) => sink.send({ t: "info", cmd, lines, data }),
  };
}
