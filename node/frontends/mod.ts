/**
 * The frontends: thin adapters between one transport and the hub. Each
 * keeps only its transport (framing, login, limits of its own, drawing
 * frames); no frontend implements chat behaviour of its own.
 *
 * The seam every frontend uses (handle_line.ts, node/chat/session.ts):
 *
 * - `hub.connect(sink, hello, origin)` at login, `hub.disconnect(session)`
 *   when the connection ends;
 * - {@linkcode handleLine} for each line a person sends: commands, text
 *   and sealed envelopes run on the one command table;
 * - {@linkcode errorFrame}: the one mapping from an error to the `error`
 *   frame a person is shown;
 * - a `SessionSink` that only enqueues; when its queue overflows it calls
 *   `hub.dropSlowReader`.
 *
 * Beside them, {@linkcode ConnectionLimits} (connection_limits.ts):
 * connections per address and in total, shared by the listeners; and
 * {@linkcode ProtocolConnection} (protocol_connection.ts): client protocol
 * v1 without its transport — hello, acks, the limits of a connection, the
 * slow-reader drop — shared by the TCP port and the WebSocket; its key
 * login ({@linkcode KeyLogin}, key_login.ts: a `hello` with a key, the
 * node's challenge and the signed answer) is shared with them.
 *
 * The frontends themselves, one folder each:
 *
 * - `tcp/`: the terminal client's port (NDJSON, protocol v1);
 * - `ssh/`: any SSH client (npm:ssh2), a full-screen line editor or plain
 *   line mode;
 * - `web/`: the HTTP port: health, metrics, and the browser's WebSocket.
 *
 * @module
 */
export {
  type ErrorFrame,
  errorFrame,
  type ErrorFrameOptions,
  handleLine,
  type InputLine,
  type LineContext,
  type LineOutcome,
  type SealedLine,
} from "./handle_line.ts";
export {
  type Admission,
  ConnectionLimits,
  type ConnectionLimitsOptions,
} from "./connection_limits.ts";
export {
  encodedOncePerFrame,
  FLOOD_STREAK,
  type FrameOutput,
  ProtocolConnection,
  type ProtocolConnectionInit,
  type ProtocolOptions,
  protocolOptions,
  startIdleSweep,
} from "./protocol_connection.ts";
