/**
 * The baseline: the barest broadcast server Deno allows. A connection that
 * sends `recv\n` first is a receiver; bytes from any other connection are
 * written, unparsed, to every receiver. meshchat's fan-out is measured
 * against this in the same run.
 *
 * Usage: deno run --allow-net tests/bench/bare_broadcast.ts (prints its port)
 *
 * @module
 */

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const receivers = new Set<Deno.TcpConn>();
console.log(`listening port=${listener.addr.port}`);

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(256 * 1024);
  let first = true;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      if (first && new TextDecoder().decode(buffer.subarray(0, n)) === "recv\n") {
        receivers.add(conn);
        return;
      }
      first = false;
      const chunk = buffer.slice(0, n);
      await Promise.all(
        [...receivers].map((r) => writeAll(r, chunk).catch(() => receivers.delete(r))),
      );
    }
  } catch {
    // closed
  } finally {
    if (!receivers.has(conn)) conn.close();
  }
}

for await (const conn of listener) serve(conn);
