/**
 * The live-port fuzzer: a real node process with its mesh on, two control
 * clients chatting throughout, and a bounded number of connections throwing
 * random and mutated-valid bytes at its client port, its mesh port and its
 * WebSocket (`/ws` on the HTTP port: handshakes, then masked frames) (seeded,
 * with random chunking, pauses and early closes). Reports what the control
 * clients saw and the node's memory, for the caller to assert on.
 *
 * @module
 */
import { encodeMeshHandshake, MeshHandshakeType } from "../../core/mesh_crypto.ts";
import { freePort, type NodeProcess, startNodeProcess } from "../helpers/node_process.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { concatBytes, writeAll } from "../../core/bytes.ts";
import { seededRandom } from "../helpers/memory_network.ts";
import { clientFrame, handshake } from "../helpers/ws_client.ts";

/** Options of {@linkcode fuzzLivePorts}. */
export interface LiveFuzzOptions {
  /** PRNG seed; print it with any failure. @default 1 */
  seed?: number;
  /** Connections thrown at each port. @default 300 */
  connectionsPerPort?: number;
  /** Connections open at once (below the node's per-address limit of 20). @default 8 */
  concurrency?: number;
  /** Stop throwing after this long even if connections are left (ms). @default 15000 */
  budgetMs?: number;
}

/** What {@linkcode fuzzLivePorts} observed. */
export interface LiveFuzzResult {
  /** The seed used. */
  readonly seed: number;
  /** Connections made, per port. */
  readonly connections: { readonly client: number; readonly mesh: number; readonly ws: number };
  /** Bytes written, over both ports. */
  readonly bytesSent: number;
  /** Connections the node refused or reset before we closed them. */
  readonly refused: number;
  /** Control messages delivered during the fuzzing / sent. */
  readonly control: { readonly sent: number; readonly delivered: number };
  /** Worst control-message latency during the fuzzing (ms). */
  readonly worstLatencyMs: number;
  /** Control-message latency after the fuzzing (ms). */
  readonly afterLatencyMs: number;
  /** Node RSS before and after (KiB); NaN when `ps` is missing. */
  readonly rssKiB: { readonly before: number; readonly after: number };
  /** Whether the node process was still running at the end. */
  readonly alive: boolean;
  /** Time spent fuzzing (ms). */
  readonly elapsedMs: number;
  /** The node's log, for a failure message. */
  readonly log: string;
}

const encoder = new TextEncoder();

/**
 * Resident memory of a process (KiB), via `ps`.
 *
 * @param pid Process id.
 * @returns RSS in KiB, or NaN when `ps` is missing or fails.
 */
export async function rssKiB(pid: number): Promise<number> {
  try {
    const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
    return out.success ? Number(new TextDecoder().decode(out.stdout).trim()) : NaN;
  } catch {
    return NaN;
  }
}

function framed(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** Payload generators; `rand` picks the details. */
class Payloads {
  readonly #rand: () => number;

  constructor(rand: () => number) {
    this.#rand = rand;
  }

  int(n: number): number {
    return Math.floor(this.#rand() * n);
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Bit flips, overwrites, truncation and splices of valid bytes. */
  mutate(valid: Uint8Array): Uint8Array {
    let out: Uint8Array = Uint8Array.from(valid);
    for (let n = 1 + this.int(4); n > 0; n--) {
      const at = this.int(out.length + 1);
      switch (this.int(4)) {
        case 0:
          if (at < out.length) out[at] = out[at]! ^ (1 << this.int(8));
          break;
        case 1:
          if (at < out.length) out[at] = this.int(256);
          break;
        case 2:
          out = out.slice(0, Math.max(at, 1));
          break;
        default: {
          const extra = this.pick([
            this.bytes(1 + this.int(8)),
            new Uint8Array([0xff, 0xfe]),
            encoder.encode("\n"),
          ]);
          out = concatBytes(...[out.subarray(0, at), extra, out.subarray(at)]);
        }
      }
    }
    return out;
  }

  clientFrames(): Uint8Array {
    const nick = `fz${this.int(1e6)}`;
    const frames = [
      {
        t: "hello",
        v: 1,
        user: nick,
        room: this.pick(["fuzz", "lobby", "__proto__", "x".repeat(70)]),
      },
      {
        t: "say",
        text: this.pick(["hi", "\x1b]0;x\x07", "é".repeat(100), ""]),
        cid: String(this.int(1e9)),
      },
      {
        t: "cmd",
        line: this.pick(["/join fz", "/nick q", "/who", "/me waves", "/seal", "/topic \x9b"]),
      },
      { t: "ping" },
      { t: "say", sealed: "AQEH" + "A".repeat(this.int(200)) },
    ];
    const lines = Array.from(
      { length: 1 + this.int(5) },
      (_, i) => i === 0 ? frames[0]! : this.pick(frames),
    );
    return encoder.encode(lines.map((f) => JSON.stringify(f) + "\n").join(""));
  }

  /** Something to throw at the client port. */
  client(): Uint8Array {
    switch (this.int(8)) {
      case 0:
        return this.bytes(this.int(4096));
      case 1:
        return this.mutate(this.clientFrames());
      case 2: // a valid session, then garbage
        return concatBytes(...[this.clientFrames(), this.bytes(this.int(512))]);
      case 3: // deep nesting or huge numbers
        return encoder.encode(
          this.pick(["[".repeat(10_000), '{"t":"hello","v":' + "9".repeat(5000) + ',"user":"x"}']) +
            "\n",
        );
      case 4: // a line far over the limit
        return concatBytes(...[
          encoder.encode('{"t":"say","text":"'),
          new Uint8Array(40_000 + this.int(40_000)).fill(0x61),
        ]);
      case 5: // invalid UTF-8 inside strings
        return concatBytes(...[
          encoder.encode('{"t":"hello","v":1,"user":"'),
          this.bytes(16),
          encoder.encode('"}\n'),
        ]);
      case 6: { // a TLS handshake record (the port sniffs 0x16) with a random, often cut, body
        const body = this.bytes(this.int(600));
        const declared = this.int(2) === 0 ? body.length : this.int(0x4000);
        return concatBytes(...[
          new Uint8Array([0x16, 0x03, this.int(4), declared >> 8, declared & 0xff, 0x01]),
          body,
        ]);
      }
      default:
        return this.clientFrames();
    }
  }

  /** Something to throw at the WebSocket: a handshake (mostly valid), then frames. */
  webSocket(port: number): Uint8Array {
    const headers = this.pick<Record<string, string>>([
      {},
      {},
      {},
      { Origin: `http://127.0.0.1:${port}` },
      { Origin: "https://evil.example" },
      { "Sec-WebSocket-Version": "8" },
    ]);
    const request = handshake(port, headers);
    const opening = this.int(8) === 0 ? this.mutate(request) : request;
    const frames: Uint8Array[] = [];
    for (let n = 1 + this.int(6); n > 0; n--) {
      const lines = new TextDecoder().decode(this.clientFrames()).split("\n");
      switch (this.int(8)) {
        case 0: // random bytes where a frame should be
          frames.push(this.bytes(this.int(512)));
          break;
        case 1: // a mutated frame (its header or its masked payload)
          frames.push(this.mutate(clientFrame(lines[0]!)));
          break;
        case 2: // binary, ping, close with a random body, or a reserved opcode
          frames.push(clientFrame(this.bytes(this.int(64)), this.pick([2, 8, 9, 10, 3, 0xb])));
          break;
        case 3: // a text message in fragments, maybe never finished
          frames.push(clientFrame(lines[0]!.slice(0, 5), 1, false));
          if (this.int(2) === 0) frames.push(clientFrame(lines[0]!.slice(5), 0, true));
          break;
        case 4: // invalid UTF-8 in a text frame
          frames.push(
            clientFrame(concatBytes(encoder.encode('{"t":"say","text":"'), this.bytes(8))),
          );
          break;
        case 5: // a message over the size limit
          frames.push(clientFrame("x".repeat(20_000 + this.int(50_000))));
          break;
        case 6: // a length header that promises far more than comes
          frames.push(new Uint8Array([0x81, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4]));
          break;
        default: // valid frames, one JSON frame per message
          for (const line of lines) if (line !== "") frames.push(clientFrame(line));
      }
    }
    return concatBytes(opening, ...frames);
  }

  /** Something to throw at the mesh port. */
  mesh(): Uint8Array {
    const init = framed(encodeMeshHandshake(MeshHandshakeType.init, this.bytes(48)));
    const proof = framed(encodeMeshHandshake(MeshHandshakeType.initiatorProof, this.bytes(32)));
    switch (this.int(6)) {
      case 0:
        return this.bytes(this.int(2048));
      case 1:
        return this.mutate(concatBytes(...[init, proof]));
      case 2: // a plausible handshake, then a forged record
        return concatBytes(...[init, proof, framed(this.bytes(17 + this.int(200)))]);
      case 3: // a huge length prefix
        return concatBytes(...[new Uint8Array([0, 0xff, 0xff, 0xff]), this.bytes(this.int(64))]);
      case 4: // another protocol or version
        return this.pick([
          encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
          framed(encodeMeshHandshake(MeshHandshakeType.init, this.bytes(48), 2)),
          encoder.encode('{"t":"hello","v":1,"user":"x"}\n'),
        ]);
      default:
        return init;
    }
  }
}

/** One fuzz connection: write in random chunks, maybe pause, maybe close early, drain a little. */
async function throwBytes(
  port: number,
  payload: Uint8Array,
  p: Payloads,
): Promise<{ sent: number; refused: boolean }> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return { sent: 0, refused: true };
  }
  let sent = 0;
  let refused = false;
  const drained = (async () => {
    const buffer = new Uint8Array(16_384);
    try {
      while ((await conn.read(buffer)) !== null) {
        // Discard what the node answers.
      }
    } catch {
      // reset, or closed by us
    }
  })();
  try {
    const closeAt = p.int(4) === 0 ? p.int(payload.length + 1) : payload.length;
    let at = 0;
    while (at < closeAt) {
      const size = Math.min(closeAt - at, 1 + p.int(p.int(2) === 0 ? 16 : 8192));
      await writeAll(conn, payload.subarray(at, at + size));
      at += size;
      sent += size;
      if (p.int(8) === 0) await new Promise((r) => setTimeout(r, p.int(20)));
    }
    // Linger a moment for an answer (or a close) unless closing abruptly.
    if (p.int(3) !== 0) {
      await Promise.race([drained, new Promise((r) => setTimeout(r, 20 + p.int(80)))]);
    }
  } catch {
    refused = true;
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  await drained;
  return { sent, refused };
}

/** Sends one control message and waits until the other client has it. */
async function roundTrip(from: RawClient, to: RawClient, text: string): Promise<number> {
  const started = performance.now();
  await from.send({ t: "say", text });
  await to.next((f) => f.t === "msg" && f.text === text, 10_000);
  return performance.now() - started;
}

/**
 * Starts a node with its mesh on, runs the control chat and the fuzz
 * connections, stops the node, and reports.
 *
 * @param options Seed and bounds.
 * @returns What was observed.
 */
export async function fuzzLivePorts(options: LiveFuzzOptions = {}): Promise<LiveFuzzResult> {
  const { seed = 1, connectionsPerPort = 300, concurrency = 8, budgetMs = 15_000 } = options;
  const meshPort = freePort();
  const httpPort = freePort();
  const node: NodeProcess = await startNodeProcess({
    id: "fuzz1",
    args: [
      ...["--mesh-port", String(meshPort), "--cluster-secret", "fuzz-secret-0123456789"],
      ...["--http-port", String(httpPort)],
    ],
  });
  let alive = true;
  node.exited.then(() => alive = false);
  const alice = await RawClient.join(node.port, "alice", "control");
  const bob = await RawClient.join(node.port, "bob", "control");
  try {
    await roundTrip(alice, bob, "warm-up");
    const before = await rssKiB(node.child.pid);

    let stop = false;
    let controlSent = 0;
    let delivered = 0;
    let worst = 0;
    const control = (async () => {
      while (!stop) {
        const ms = await roundTrip(alice, bob, `control ${controlSent++}`);
        delivered++;
        worst = Math.max(worst, ms);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();

    const rand = seededRandom(seed);
    const p = new Payloads(rand);
    const jobs: ("client" | "mesh" | "ws")[] = [];
    for (let i = 0; i < connectionsPerPort; i++) jobs.push("client", "mesh", "ws");
    const counts = { client: 0, mesh: 0, ws: 0 };
    const ports = { client: node.port, mesh: meshPort, ws: httpPort };
    let bytesSent = 0;
    let refused = 0;
    const started = performance.now();
    const worker = async () => {
      while (jobs.length > 0 && performance.now() - started < budgetMs && alive) {
        const target = jobs.shift()!;
        counts[target]++;
        const payload = target === "client"
          ? p.client()
          : target === "mesh"
          ? p.mesh()
          : p.webSocket(httpPort);
        const result = await throwBytes(ports[target], payload, p);
        bytesSent += result.sent;
        if (result.refused) refused++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const elapsedMs = performance.now() - started;
    stop = true;
    await control;
    const afterLatencyMs = await roundTrip(bob, alice, "after the storm");
    const after = await rssKiB(node.child.pid);
    return {
      seed,
      connections: counts,
      bytesSent,
      refused,
      control: { sent: controlSent, delivered },
      worstLatencyMs: Math.round(worst),
      afterLatencyMs: Math.round(afterLatencyMs),
      rssKiB: { before, after },
      alive,
      elapsedMs: Math.round(elapsedMs),
      log: node.log(),
    };
  } finally {
    alice.close();
    bob.close();
    await node.stop();
  }
}
