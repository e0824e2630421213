/**
 * How a client connection is read, for the TCP port and the WebSocket
 * alike: one read at a time, its input handled before the next read (so a
 * sender faster than the node waits in its own TCP buffers, not in the
 * node's memory), the output of one read leaving in one write per reader,
 * its bytes counted against the per-minute limit, and a connection over
 * its message rate read slowly for a while.
 *
 * @module
 */
import { FLOOD_STREAK, type ProtocolConnection } from "./protocol_connection.ts";
import { holdWrites, releaseWrites } from "./write_batches.ts";

/**
 * Largest read per connection (bytes); reads grow to it when full. A read's
 * input is handled in one go, so this also bounds how long one flooding
 * connection holds the event loop before others get a turn.
 */
const MAX_READ_BYTES = 16 * 1024;

/**
 * Read size of a connection that is not sending in bulk (bytes): most of
 * its life an idle session waits in a read, holding this buffer, so it is
 * small (10,000 idle sessions: 5 MiB, not 40 at 4 KiB). A typed line fits;
 * a longer one costs a second read, which grows the buffer.
 */
export const IDLE_READ_BYTES = 512;

/** A flooding connection (see FLOOD_STREAK) is not read for this long (ms). */
const RATE_LIMITED_PAUSE_MS = 200;

/** Read size of a connection that was rate-limited recently (bytes). */
const LIMITED_READ_BYTES = 1024;

/** The read half of a connection. */
export interface ByteReader {
  /** Reads into `buffer`; resolves with the count, or `null` at end of stream. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** How {@linkcode readClient} ended. */
export interface ReadEnd {
  /** The peer sent more bytes per minute than allowed, and was dropped for it. */
  readonly flooded: boolean;
  /** The last read buffer, for whoever reads on to discard input. */
  readonly buffer: Uint8Array;
}

/**
 * Reads a client connection until it ends or the protocol closes.
 *
 * @param reader The connection.
 * @param protocol The protocol it speaks (byte and message limits).
 * @param consume Handles the bytes of one read (they are valid until it settles).
 * @param options `first`: bytes read before (handled first); `linger`: on a
 *   flood, leave the transport open (see {@linkcode ProtocolConnection.received}).
 * @returns How it ended.
 * @throws {Error} What a read or `consume` throws.
 */
export async function readClient(
  reader: ByteReader,
  protocol: ProtocolConnection,
  consume: (chunk: Uint8Array) => Promise<void>,
  options: { first?: Uint8Array | undefined; linger?: boolean } = {},
): Promise<ReadEnd> {
  let first = options.first;
  // Small while idle, grown for bulk senders, small again when they stop.
  let buffer = new Uint8Array(IDLE_READ_BYTES);
  /** Reads left at the small size after the connection was rate-limited. */
  let slowReads = 0;
  while (!protocol.closing) {
    const n = first?.length ?? await reader.read(buffer);
    if (n === null) break;
    const chunk = first ?? buffer.subarray(0, n);
    first = undefined;
    if (slowReads > 0) slowReads--;
    else if (n === buffer.length && n < MAX_READ_BYTES) buffer = new Uint8Array(MAX_READ_BYTES);
    else if (n < IDLE_READ_BYTES && buffer.length > IDLE_READ_BYTES) {
      buffer = new Uint8Array(IDLE_READ_BYTES);
    }
    if (!protocol.received(n, options.linger ?? false)) return { flooded: true, buffer };
    // The output of the whole read leaves in one write per reader.
    holdWrites();
    try {
      await consume(chunk);
    } finally {
      releaseWrites();
    }
    if (protocol.limitedStreak >= FLOOD_STREAK && !protocol.closing) {
      // Over its message rate: read no more for a while, so a flood waits
      // in the sender's TCP buffers instead of costing the node CPU.
      // Small reads meanwhile: each costs the event loop a few lines, not hundreds.
      if (buffer.length > LIMITED_READ_BYTES) buffer = new Uint8Array(LIMITED_READ_BYTES);
      slowReads = 20;
      await new Promise((resolve) => setTimeout(resolve, RATE_LIMITED_PAUSE_MS));
    }
  }
  return { flooded: false, buffer };
}
