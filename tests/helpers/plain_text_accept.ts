/**
 * For a test's fake node, which speaks protocol v1 in plain text only: the
 * terminal client tries TLS first, and falls back to plain text when the
 * node answers its handshake in plain text (as a `--client-tls off` node
 * does). {@linkcode acceptPlainText} does that for the fake and hands it
 * the plain-text connection that follows.
 *
 * @module
 */
import { encodeFrame } from "../../core/ndjson.ts";

/** A plain-text connection: its bytes (the first read included) and its writer. */
export interface PlainTextConn {
  /** Bytes from the client. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the client. */
  readonly writable: WritableStream<Uint8Array>;
}

/**
 * Accepts connections until one does not start with a TLS handshake; each
 * TLS attempt before it is answered in plain text and closed.
 *
 * @param listener The fake node's listener.
 * @returns The first plain-text connection.
 * @throws {Deno.errors.BadResource} When the listener closes first.
 */
export async function acceptPlainText(listener: Deno.TcpListener): Promise<PlainTextConn> {
  // accept(), not for-await: leaving a for-await loop would close the listener, which the test owns.
  while (true) {
    const conn = await listener.accept();
    const reader = conn.readable.getReader();
    const first = await reader.read().catch(() => ({ done: true as const, value: undefined }));
    if (first.done) {
      conn.close();
      continue;
    }
    if (first.value[0] === 0x16) {
      const refusal = { t: "error", code: "bad_frame", message: "plain text only" };
      await conn.write(encodeFrame(refusal)).catch(() => {});
      reader.releaseLock();
      conn.close();
      continue;
    }
    const readable = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(first.value);
      },
      async pull(controller) {
        const next = await reader.read();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return { readable, writable: conn.writable };
  }
}
