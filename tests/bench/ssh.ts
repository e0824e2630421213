/**
 * SSH frontend benchmark against a real node process: handshakes per second
 * (connect, key exchange, public-key login, shell, welcome), fan-out to 100
 * SSH PTY sessions in one room, and the node's resident memory per session.
 * Clients run in this process (`npm:ssh2`), so the figures include their
 * share of the crypto on the same machine.
 *
 * Run alone: `deno run -P=e2e-bench tests/bench/ssh.ts`.
 *
 * @module
 */
import { startNodeProcess } from "../helpers/node_process.ts";
import { generateKey, type SshStream, SshTestClient } from "../helpers/ssh_client.ts";
import { connect, Sender, writeLine } from "./fanout.ts";

/** Figures of {@linkcode benchSsh}. */
export interface SshBenchResult {
  /** Handshakes (connect + login + shell + welcome) per second, one at a time. */
  readonly handshakesPerSecondSerial: number;
  /** The same with 8 in flight. */
  readonly handshakesPerSecondParallel: number;
  /** SSH PTY sessions in the fan-out room. */
  readonly sessions: number;
  /** Messages sent. */
  readonly messages: number;
  /** Message deliveries to SSH sessions per second. */
  readonly deliveriesPerSecond: number;
  /** Deliveries that did not arrive (must be 0). */
  readonly lost: number;
  /** Node resident memory added per open SSH PTY session (KiB). */
  readonly rssPerSessionKiB: number;
}

const SESSIONS = 100;
const MESSAGES = 5_000;
const MARK = "\u00a4";

/** Resident memory of a process (KiB), via `ps`; NaN when `ps` is missing. */
async function rssKiB(pid: number): Promise<number> {
  try {
    const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
    return Number(new TextDecoder().decode(out.stdout).trim());
  } catch {
    return NaN;
  }
}

async function handshake(port: number, username: string, key: ReturnType<typeof generateKey>) {
  const client = await SshTestClient.connect(port, { username, key });
  const shell = await client.shell(false);
  await shell.waitFor("Welcome");
  client.end();
}

async function handshakes(port: number, total: number, inFlight: number): Promise<number> {
  const key = generateKey();
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < total) await handshake(port, `hs${next++}`, key);
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return Math.round(total / ((performance.now() - started) / 1000));
}

/** Counts message marks arriving on one session. */
function countMarks(stream: SshStream): { count: () => number } {
  let count = 0;
  stream.channel.on("data", (data: Uint8Array) => {
    for (const byte of data) if (byte === 0xa4) count++; // second byte of U+00A4
  });
  return { count: () => count };
}

/**
 * Runs the SSH benchmark.
 *
 * @returns The figures.
 */
export async function benchSsh(): Promise<SshBenchResult> {
  const dir = `./data/bench-ssh-${crypto.randomUUID().slice(0, 8)}`;
  const node = await startNodeProcess({
    id: "bench-ssh",
    ssh: true,
    args: [
      "--data",
      dir,
      "--burst",
      "0",
      "--max-queue",
      String(64 << 20),
      "--mesh-port",
      "0",
      // Many sessions from one address, a bulk sender: connection limits raised.
      "--max-conns-per-addr",
      "1000",
      "--max-bytes-per-conn",
      "0",
    ],
  });
  const port = node.sshPort!;
  const clients: SshTestClient[] = [];
  try {
    await handshakes(port, 10, 2); // warm-up: load the code paths
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Memory first, before the handshake runs leave garbage behind.
    const before = await rssKiB(node.child.pid);
    const counters: { count: () => number }[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const client = await SshTestClient.connect(port, { username: `r${i}`, key: generateKey() });
      clients.push(client);
      const pty = await client.shell({ cols: 120, rows: 40, term: "xterm-256color" });
      await pty.waitFor("> ");
      pty.write("/join bench\r");
      await pty.waitFor("Now in #bench");
      counters.push(countMarks(pty));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await rssKiB(node.child.pid);

    const conn = await connect(node.port);
    await writeLine(conn, `{"t":"hello","v":1,"user":"sender","room":"bench"}\n`);
    const sender = new Sender(conn);
    const started = performance.now();
    let batch = "";
    for (let i = 0; i < MESSAGES; i++) {
      batch += `{"t":"say","room":"bench","text":"m${i} ${MARK} ${"x".repeat(60)}"}\n`;
      if (batch.length > 32_768) {
        await sender.write(batch);
        batch = "";
      }
    }
    await sender.write(batch);
    const expected = SESSIONS * MESSAGES;
    const deadline = Date.now() + 120_000;
    const total = () => counters.reduce((sum, c) => sum + c.count(), 0);
    while (total() < expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const seconds = (performance.now() - started) / 1000;
    const received = total();
    sender.close();
    for (const client of clients.splice(0)) client.end();
    const handshakesPerSecondSerial = await handshakes(port, 200, 1);
    const handshakesPerSecondParallel = await handshakes(port, 400, 8);
    return {
      handshakesPerSecondSerial,
      handshakesPerSecondParallel,
      sessions: SESSIONS,
      messages: MESSAGES,
      deliveriesPerSecond: Math.round(received / seconds),
      lost: expected - received,
      rssPerSessionKiB: Math.round((after - before) / SESSIONS),
    };
  } finally {
    for (const client of clients) client.end();
    await node.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The figures as lines for the bench report.
 *
 * @param result From {@linkcode benchSsh}.
 * @returns Printable lines.
 */
export function formatSshResult(result: SshBenchResult): string[] {
  const fmt = (n: number) => n.toLocaleString("en-US");
  return [
    "ssh frontend (npm:ssh2 clients in the bench process, loopback)",
    `  handshakes/s (connect+login+shell), serial      ${fmt(result.handshakesPerSecondSerial)}`,
    `  handshakes/s, 8 in flight                       ${fmt(result.handshakesPerSecondParallel)}`,
    `  fan-out to ${result.sessions} PTY sessions, ${fmt(result.messages)} messages: ` +
    `${fmt(result.deliveriesPerSecond)} deliveries/s, lost ${result.lost}`,
    `  node RSS per SSH PTY session                    ${fmt(result.rssPerSessionKiB)} KiB`,
  ];
}

if (import.meta.main) {
  const result = await benchSsh();
  console.log(formatSshResult(result).join("\n"));
  console.log(JSON.stringify(result));
  if (result.lost > 0) Deno.exit(1);
}
