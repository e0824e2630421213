/**
 * What one event-loop wake-up costs a process that does nothing else: a
 * bare reader (Deno, and Node for comparison) takes one 200-byte message
 * per millisecond on loopback TCP, and its CPU time is divided by the reads.
 * Paced traffic makes every node of a cluster wake once per message, so this
 * floor, times the nodes a message wakes, is what a paced cluster pays
 * before any chat work (see docs/benchmarks.md). Linux only: it reads
 * /proc, which Deno grants only with -A.
 *
 * ```sh
 * deno run -A tests/bench/wakeup_cost.ts
 * ```
 *
 * @module
 */

const MESSAGES = 3000;
const PAYLOAD = new TextEncoder().encode("x".repeat(200));

const DENO_READER = `
const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(l.addr.port);
const conn = await l.accept();
const buf = new Uint8Array(65536);
let reads = 0;
while ((await conn.read(buf)) !== null) reads++;
console.log(reads);`;

const NODE_READER = `
const net = require("node:net");
let reads = 0;
const server = net.createServer((s) => {
  s.on("data", () => reads++);
  s.on("end", () => { console.log(reads); server.close(); });
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));`;

/** CPU ms (user + system) of a process so far. */
function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
}

/** One reader's CPU per read under a paced sender. */
async function measure(runtime: "deno" | "node"): Promise<{ reads: number; usPerRead: number }> {
  const args = runtime === "deno" ? ["eval", "--quiet", DENO_READER] : ["-e", NODE_READER];
  const child = new Deno.Command(runtime, { args, stdout: "piped", stderr: "inherit" }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`${runtime} reader did not start`);
    text += value;
  }
  const port = Number(text.trim().split("\n")[0]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  await new Promise((resolve) => setTimeout(resolve, 300)); // past start-up work
  const before = cpuMs(child.pid);
  const start = performance.now();
  for (let i = 0; i < MESSAGES; i++) {
    await conn.write(PAYLOAD);
    // Paced at one message per millisecond on average, without drifting.
    const due = start + i + 1 - performance.now();
    if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
  }
  const after = cpuMs(child.pid);
  conn.close();
  while (!/\n\d+\n/.test(text)) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
  }
  await child.status;
  const reads = Number(text.trim().split("\n")[1]);
  return { reads, usPerRead: Math.round((after - before) * 1000 / reads) };
}

if (import.meta.main) {
  const deno = await measure("deno");
  const node = await measure("node");
  console.log(
    `one wake-up per 200-byte message, ${MESSAGES} messages at 1,000/s:\n` +
      `  Deno reader: ${deno.usPerRead} µs CPU per read (${deno.reads} reads)\n` +
      `  Node reader: ${node.usPerRead} µs CPU per read (${node.reads} reads)`,
  );
  await Deno.mkdir("data/bench", { recursive: true });
  await Deno.writeTextFile(
    "data/bench/wakeup_cost.json",
    JSON.stringify({ messages: MESSAGES, deno, node }, null, 2),
  );
}
