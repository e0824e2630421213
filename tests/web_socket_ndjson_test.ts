/**
 * Batched WebSocket output (subprotocol `meshchat.ndjson`) on a real node
 * process: a burst reaches a batched client in fewer messages than frames,
 * and as exactly the frames a TCP client and a plain WebSocket client get.
 * The slow-reader drop with batching is in tests/web_socket_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { freePort, startNodeProcess } from "./helpers/node_process.ts";
import { NDJSON_PROTOCOL } from "../node/frontends/web/ws_frontend.ts";

/** How long a test waits for expected frames before it fails (ms). */
const WAIT_MS = 10_000;

/** A WebSocket client that keeps every message as it came, and the frames in them. */
class MessageRecorder {
  /** Each text message, as received. */
  readonly messages: string[] = [];
  readonly #socket: WebSocket;
  #wake: (() => void) | undefined;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      this.messages.push(String(event.data));
      this.#wake?.();
    };
  }

  /** Opens a WebSocket offering `protocols`, says hello, and waits for the welcome. */
  static async join(url: string, protocols: string[], user: string, room: string) {
    const recorder = new MessageRecorder(new WebSocket(url, protocols));
    await new Promise<void>((resolve, reject) => {
      recorder.#socket.onopen = () => resolve();
      recorder.#socket.onerror = (event) => reject(new Error((event as ErrorEvent).message));
    });
    recorder.#socket.send(JSON.stringify({ t: "hello", v: 1, user, room }));
    await recorder.until((frames) => frames.some((f) => f.t === "welcome"));
    return recorder;
  }

  /** The subprotocol the node chose. */
  get protocol(): string {
    return this.#socket.protocol;
  }

  /** Every frame so far: each message split into its NDJSON lines. */
  get frames(): Frame[] {
    return this.messages.flatMap((message) =>
      message.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Frame)
    );
  }

  /** Waits until the frames so far satisfy `done`. */
  async until(done: (frames: Frame[]) => boolean): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!done(this.frames)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out; last messages: ${this.messages.slice(-3)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  close(): void {
    this.#socket.close();
  }
}

Deno.test("a WebSocket client that offers meshchat.ndjson gets a burst in fewer messages, frame for frame as TCP and plain WebSocket clients", async () => {
  const httpPort = freePort();
  const node = await startNodeProcess({
    id: "wsndjson",
    args: ["--http-port", String(httpPort), "--burst", "0"],
  });
  const url = `ws://127.0.0.1:${httpPort}/ws`;
  const room = "burst";
  const batched = await MessageRecorder.join(url, [NDJSON_PROTOCOL], "batty", room);
  const alsoOffered = await MessageRecorder.join(url, ["chat.other", NDJSON_PROTOCOL], "oli", room);
  const plain = await MessageRecorder.join(url, [], "plato", room);
  const tcp = await RawClient.join(node.port, "tess", room);
  const talker = await RawClient.join(node.port, "talker", room);
  try {
    assert.equal(batched.protocol, NDJSON_PROTOCOL);
    assert.equal(alsoOffered.protocol, NDJSON_PROTOCOL);
    assert.equal(plain.protocol, "");

    const count = 60;
    let burst = "";
    for (let i = 0; i < count; i++) {
      burst += JSON.stringify({ t: "say", room, text: `burst ${i} ${"é".repeat(i)}` }) + "\n";
    }
    await talker.sendRaw(burst); // one write: the node reads it in one or a few reads

    const ofBurst = (frames: Frame[]) =>
      frames.filter((f) => f.t === "msg" && String(f.text).startsWith("burst "));
    const all = (frames: Frame[]) => ofBurst(frames).length === count;
    await Promise.all([batched.until(all), alsoOffered.until(all), plain.until(all)]);
    const tcpFrames: Frame[] = [];
    while (tcpFrames.length < count) {
      tcpFrames.push(await tcp.next((f) => f.t === "msg" && String(f.text).startsWith("burst ")));
    }

    assert.deepEqual(ofBurst(batched.frames), tcpFrames);
    assert.deepEqual(ofBurst(alsoOffered.frames), tcpFrames);
    assert.deepEqual(ofBurst(plain.frames), tcpFrames);
    assert.deepEqual(
      tcpFrames.map((f) => f.text),
      Array.from({ length: count }, (_, i) => `burst ${i} ${"é".repeat(i)}`),
    );
    // Batched: several frames in a message, each ending in a newline; plain: one per message.
    assert.ok(batched.messages.some((m) => m.split("\n").length > 2), "no message held 2 frames");
    assert.ok(batched.messages.every((m) => m.endsWith("\n")));
    assert.ok(batched.messages.length < batched.frames.length);
    assert.ok(plain.messages.every((m) => !m.includes("\n")));
    assert.equal(plain.messages.length, plain.frames.length);
  } finally {
    for (const client of [batched, alsoOffered, plain, tcp, talker]) client.close();
    const status = await node.stop();
    assert.equal(status.code, 0, node.log());
  }
});
