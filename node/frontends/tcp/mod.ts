/**
 * The TCP frontend: the terminal client's port (newline-delimited JSON,
 * protocol v1). A thin adapter: it decodes frames, hands their lines to the
 * one input path (node/frontends/handle_line.ts), and writes the hub's
 * frames through a bounded per-session {@linkcode OutboundQueue}.
 *
 * @module
 */
export { ClientListener, type ClientListenerOptions } from "./client_listener.ts";
export { OutboundQueue } from "./outbound_queue.ts";
