/**
 * How many bytes an event takes on the mesh, and the most it may take.
 *
 * Replication sends events as UTF-8 JSON in frames of at most 1 MiB. A batch
 * is cut by these byte counts, and every event is bounded by
 * {@linkcode MAX_EVENT_BYTES} where it enters (the hub for local input, the
 * replicator for a peer's), so one event always fits a frame with room to
 * spare and catch-up always makes progress.
 *
 * @module
 */
import type { ChatEvent } from "./event.ts";

/**
 * The most UTF-8 bytes one event may take as JSON. Well above what a client
 * can make (a 4,000-character line is at most about 24 KiB as JSON, a sealed
 * envelope about 24 KiB) and well below a mesh frame (1 MiB), so that any
 * accepted event fits a frame beside the wrapper of a batch.
 */
export const MAX_EVENT_BYTES = 64 * 1024;

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * The length of a string in UTF-8, without encoding it. A lone surrogate
 * counts 3 bytes, as `TextEncoder` writes U+FFFD for it.
 *
 * @param text Any string.
 * @returns Its UTF-8 byte length.
 */
export function utf8Length(text: string): number {
  // Most text is ASCII: one native scan instead of a loop in JavaScript.
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/**
 * The bytes an event takes on the mesh: its JSON in UTF-8.
 *
 * @param event The event.
 * @returns `JSON.stringify(event)` in UTF-8 bytes.
 */
export function eventBytes(event: ChatEvent): number {
  return utf8Length(JSON.stringify(event));
}
