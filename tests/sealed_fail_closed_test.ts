/**
 * Sealed rooms never fail open. Each test performs one attack or failure on
 * real node processes and the real client (as a process, or its ChatClient
 * in process when the failure has to be injected) and checks that nothing
 * typed for a sealed room reached a node in plain text.
 */
import assert from "node:assert/strict";
import {
  deriveRoomKey,
  newSealParams,
  readEnvelopeHeader,
  RoomKey,
  SealedRoom,
  SenderIdentity,
  validateSealParams,
} from "../core/crypto/mod.ts";
import { encodeFrame } from "../core/ndjson.ts";
import { ChatClient } from "../client/chat_client.ts";
import { ChatView } from "../client/chat_view.ts";
import { SealedRooms } from "../client/sealed_rooms.ts";
import { ClientProcess, RecordingProxy } from "./helpers/client_process.ts";
import { startNodeProcess } from "./helpers/node_process.ts";
import { acceptPlainText } from "./helpers/plain_text_accept.ts";
import { RawClient } from "./helpers/raw_client.ts";

const PASSPHRASE = "correct horse battery staple";

/** A room key without Argon2id, for tests of everything around it. */
const testKey = RoomKey.fromBytes(new Uint8Array(32).fill(7));

/** An in-process ChatClient through a proxy, printing into an array. */
async function startClient(port: number, user: string, room: string, sealed: SealedRooms) {
  const printed: string[] = [];
  const client = await ChatClient.start({
    servers: [`127.0.0.1:${port}`],
    user,
    room,
    view: new ChatView({ color: false, timestamps: false }),
    print: (lines) => printed.push(...lines.map((line) => line.text)),
    sealed,
  });
  return { client, printed };
}

Deno.test("client/main.ts seals a room without read permission: the Argon2id worker loads from no file", async () => {
  const node = await startNodeProcess({ id: "jworker" });
  let alice: ClientProcess | undefined;
  try {
    // What `deno run client/main.ts` may use once the person allowed the network:
    // no file access at all (a prompt for it cannot be answered in raw mode).
    alice = new ClientProcess(
      ["-server", `127.0.0.1:${node.port}`, "-user", "alice"],
      {
        permissions: ["--no-prompt", "--allow-net=127.0.0.1", "--allow-env=MESHCHAT_ROOM_KEY"],
        env: { MESHCHAT_ROOM_KEY: PASSPHRASE },
      },
    );
    await alice.waitFor(/Connected to node/);
    await alice.line("/join vault");
    await alice.line("/seal");
    await alice.waitFor(/#vault is sealed\./);
    const observer = await RawClient.join(node.port, "observer", "vault");
    await alice.line("the eagle lands at midnight");
    const msg = await observer.next((f) => f.t === "msg" && f.from === "alice");
    assert.equal(typeof msg.sealed, "string");
    assert.equal(msg.text, "");
    assert.equal(await alice.end(), 0, alice.stderr);
    assert.doesNotMatch(alice.stderr, /read access/);
    observer.close();
  } finally {
    alice?.kill();
    await node.stop();
  }
});

Deno.test("A /seal whose room key cannot be made keeps the room closed until the person decides", async () => {
  // Plain text on the client port: the proxy reads the bytes as the node reads them.
  const node = await startNodeProcess({ id: "jfail", args: ["--client-tls", "off"] });
  const proxy = new RecordingProxy(node.port);
  const derivation = Promise.withResolvers<RoomKey>();
  const outcomes = [
    () => derivation.promise,
    () => Promise.resolve(testKey),
    () => Promise.reject(new Error("out of memory")),
  ];
  const sealed = new SealedRooms({
    passphrase: () => Promise.resolve(PASSPHRASE),
    derive: () => outcomes.shift()!(),
  });
  // The interactive client's set-up: no fail-closed option of any kind.
  const { client, printed } = await startClient(proxy.port, "alice", "vault", sealed);
  try {
    const sealing = client.send("/seal");
    // Typed while the key is being made: held, not sent.
    const typedEarly = client.send("first secret line");
    derivation.reject(new Error('Requires read access to "argon2_worker.ts"'));
    await sealing;
    await typedEarly;
    await client.send("second secret line");
    await client.send("/me waves a secret flag");
    assert.doesNotMatch(proxy.sent(), /secret/, "nothing typed for #vault reached the node");
    assert.ok(
      printed.some((line) => /Not sent.*#vault.*\/plain/.test(line)),
      printed.join("\n"),
    );
    assert.equal(sealed.status("vault"), "locked");

    // The person tries again: the room is sealed, and lines go out sealed.
    await client.send("/seal");
    assert.equal(sealed.status("vault"), "open", printed.join("\n"));
    await client.send("third secret line");
    assert.doesNotMatch(proxy.sent(), /secret/);
    assert.match(proxy.sent(), /"sealed":"/);

    // In another room the person decides to talk unsealed: only then does plain text go out.
    await client.send("/join den");
    await client.send("/seal");
    await client.send("still a secret");
    await client.send("/plain");
    await client.send("now in the open");
    assert.doesNotMatch(proxy.sent(), /still a secret/);
    assert.match(proxy.sent(), /now in the open/);
  } finally {
    await client.quit();
    await proxy.close();
    await node.stop();
  }
});

Deno.test("In a sealed room, /-lines that name no command and /quit MESSAGE never reach the node in plain text", async () => {
  // Plain text on the client port: the proxy reads the bytes as the node reads them.
  const node = await startNodeProcess({ id: "jcmd", args: ["--client-tls", "off"] });
  const proxy = new RecordingProxy(node.port);
  const sealed = new SealedRooms({
    passphrase: () => Promise.resolve(PASSPHRASE),
    derive: () => Promise.resolve(testKey),
  });
  const { client, printed } = await startClient(proxy.port, "alice", "vault", sealed);
  let observer: RawClient | undefined;
  try {
    await client.send("/seal");
    assert.equal(sealed.status("vault"), "open");
    observer = await RawClient.join(node.port, "observer", "vault");
    await client.send("/attack at dawn");
    await client.send("/ the vault code is 1234");
    await client.send("/who");
    assert.ok(
      printed.some((line) => /Not sent.*\/attack.*#vault/.test(line)),
      printed.join("\n"),
    );
    await client.send("/quit meet me at the safehouse");
    await client.closed;
    const leave = await observer.next((f) => f.t === "msg" && f.kind === "leave");
    assert.doesNotMatch(String(leave.text), /safehouse/);
    const sent = proxy.sent();
    for (const secret of ["attack at dawn", "vault code", "safehouse"]) {
      assert.ok(!sent.includes(secret), `"${secret}" reached the node:\n${sent}`);
    }
    assert.match(sent, /"\/who"/, "known commands still go to the node");
  } finally {
    observer?.close();
    await client.quit();
    await proxy.close();
    await node.stop();
  }
});

Deno.test("A wrong passphrase is reported as soon as the key is made, and nothing is sealed under it", async () => {
  const node = await startNodeProcess({ id: "jwrong" });
  const sealedAlice = new SealedRooms({ passphrase: () => Promise.resolve(PASSPHRASE) });
  const { client: alice } = await startClient(node.port, "alice", "vault", sealedAlice);
  let eve: ClientProcess | undefined;
  let observer: RawClient | undefined;
  try {
    await alice.send("/seal");
    assert.equal(sealedAlice.status("vault"), "open");
    observer = await RawClient.join(node.port, "observer", "vault");
    // The room has no message yet: the passphrase is checked against the seal itself.
    eve = new ClientProcess(
      ["-server", `127.0.0.1:${node.port}`, "-user", "eve", "-room", "vault"],
      { env: { MESHCHAT_ROOM_KEY: "incorrect donkey battery staple" } },
    );
    await eve.waitFor(/Wrong passphrase for #vault/, "stderr");
    await eve.line("eve writes under the wrong key");
    await eve.end();
    assert.match(eve.stderr, /Cannot send to sealed #vault: wrong passphrase/);
    await observer.send({ t: "cmd", line: "/who", cid: "w" });
    await observer.next((f) => f.t === "ack" && f.cid === "w");
    assert.ok(
      !observer.frames.some((f) => f.t === "msg" && f.from === "eve" && f.sealed !== undefined),
      "no envelope sealed under the wrong key was sent",
    );
  } finally {
    eve?.kill();
    observer?.close();
    await alice.quit();
    await node.stop();
  }
});

Deno.test("An envelope a node replays days later shows its sealed time, is flagged and pins no key", async () => {
  const params = newSealParams();
  const key = await deriveRoomKey(PASSPHRASE, params);
  const room = new SealedRoom("vault", key, { identity: await SenderIdentity.generate() });
  const sealedAt = Date.UTC(2026, 10, 20, 14, 3);
  const replayAt = sealedAt + 3 * 86_400_000;
  const old = await room.seal({ sender: "alice", text: "the meeting is at noon", time: sealedAt });
  const fresh = await room.seal({ sender: "alice", text: "fresh words", time: replayAt });
  // The seal as a client made it (with its key check, when the format has one).
  const published = { ...params, check: key.id };
  const msg = (id: string, time: number, sealed: string) => ({
    t: "msg",
    id,
    time,
    room: "vault",
    kind: "message",
    from: "alice",
    text: "",
    sealed,
  });
  // A hostile node: it replays an old envelope as a new event.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await acceptPlainText(listener);
    const writer = conn.writable.getWriter();
    let first = true;
    for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) {
      if (first) {
        first = false;
        await writer.write(encodeFrame({
          t: "welcome",
          v: 1,
          node: "fake",
          nick: "bob",
          room: "vault",
          rooms: ["vault"],
          topic: "",
          sealed: published,
          history: [msg("fake:7", replayAt, old), msg("fake:8", replayAt + 2_000, fresh)],
        }));
      }
      if (chunk.includes('"/quit"')) {
        await writer.write(encodeFrame({ t: "bye", reason: "quit" }));
        await writer.close().catch(() => {});
        break;
      }
    }
  })();
  const bob = new ClientProcess(
    ["-server", `127.0.0.1:${listener.addr.port}`, "-user", "bob", "-room", "vault"],
    { env: { MESHCHAT_ROOM_KEY: PASSPHRASE } },
  );
  try {
    await bob.waitFor(/fresh words/);
    assert.equal(await bob.end(), 0, bob.stderr);
    const replayed = bob.stdout.split("\n").find((line) => line.includes("the meeting is at noon"));
    assert.ok(replayed, bob.stdout);
    assert.match(replayed, /sealed 2026-11-20 14:03 UTC/);
    assert.match(replayed, /possibly replayed/);
    assert.match(replayed, /<alice> /, "no ✓: a replayed envelope pins no key");
    // The fresh message is not flagged and pins alice's key on first use.
    assert.match(bob.stdout, /^<alice✓> fresh words$/m);
  } finally {
    bob.kill();
    listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("The key check in a room's seal is the key id every envelope already shows", async () => {
  const sealed = new SealedRooms({
    passphrase: () => Promise.resolve(PASSPHRASE),
    derive: () => Promise.resolve(testKey),
  });
  const prepared = await sealed.prepareSeal("vault");
  assert.ok("params" in prepared);
  const params = validateSealParams(JSON.parse(JSON.stringify(prepared.params)));
  const envelope = await new SealedRoom("vault", testKey).seal({
    sender: "alice",
    text: "hi",
    time: 1,
  });
  // An offline guesser learns from the seal exactly what one envelope tells:
  // the same 8 bytes, testable only at Argon2id's cost per guess.
  assert.equal((params as { check?: string }).check, readEnvelopeHeader(envelope).keyId);

  // A member with another passphrase is told at once, and cannot send.
  const wrong = new SealedRooms({
    passphrase: () => Promise.resolve("another passphrase"),
    derive: () => Promise.resolve(RoomKey.fromBytes(new Uint8Array(32).fill(9))),
  });
  wrong.update("vault", params);
  assert.equal(await wrong.key("vault"), undefined);
  assert.equal(wrong.status("vault"), "wrong");
  assert.match(wrong.missing("vault") ?? "", /wrong passphrase/);
  await assert.rejects(() => wrong.seal("vault", "eve", "x", 1), /wrong passphrase/);
});

Deno.test("SealedRooms takes its own /seal back from a node too old to keep the key check", async () => {
  const sealed = new SealedRooms({
    passphrase: () => Promise.resolve(PASSPHRASE),
    derive: () => Promise.resolve(testKey),
  });
  const prepared = await sealed.prepareSeal("vault");
  assert.ok("params" in prepared);
  const { check: _check, ...stripped } = prepared.params;
  assert.deepEqual(sealed.update("vault", stripped), { kind: "sealed", changed: false });
  assert.equal(sealed.status("vault"), "open", "no second passphrase prompt, key kept");
});

Deno.test("In a room sealed without a key check, its messages tell a wrong passphrase, and a stray one does not", async () => {
  const params = newSealParams(); // as sealed before the key check existed
  const otherKey = RoomKey.fromBytes(new Uint8Array(32).fill(9));
  const frame = async (id: string, key: RoomKey) => ({
    t: "msg" as const,
    id,
    time: 1,
    room: "vault",
    kind: "message" as const,
    from: "alice",
    text: "",
    sealed: await new SealedRoom("vault", key).seal({ sender: "alice", text: "hi", time: 1 }),
  });
  const wrong = new SealedRooms({
    passphrase: () => Promise.resolve("another passphrase"),
    derive: () => Promise.resolve(otherKey),
  });
  wrong.update("vault", params);
  await wrong.key("vault");
  assert.equal(wrong.status("vault"), "open", "nothing to check against yet");
  assert.equal((await wrong.open(await frame("n1:1", testKey))).ok, false);
  assert.equal(wrong.status("vault"), "wrong");
  await assert.rejects(() => wrong.seal("vault", "eve", "x", 1), /wrong passphrase/);

  const right = new SealedRooms({
    passphrase: () => Promise.resolve(PASSPHRASE),
    derive: () => Promise.resolve(testKey),
  });
  right.update("vault", params);
  assert.equal((await right.open(await frame("n1:1", testKey))).ok, true);
  assert.equal((await right.open(await frame("n1:2", otherKey))).ok, false);
  assert.equal(right.status("vault"), "open", "another member's mistake is not ours");
});
