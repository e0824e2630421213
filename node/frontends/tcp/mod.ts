/**
 * The TCP frontend: the terminal client's port (newline-delimited JSON,
 * protocol v1). A thin adapter: it decodes frames, rate-limits and hands
 * them to the hub's command table, and writes the hub's frames through a
 * bounded per-session {@linkcode OutboundQueue}.
 *
 * @module
 */
export { ClientListener, type ClientListenerOptions } from "./client_listener.ts";
export { OutboundQueue } from "./outbound_queue.ts";
