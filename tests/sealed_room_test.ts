/**
 * Sealed rooms end to end: the hub's rules (in process), the client's key
 * handling, and real node and client processes, whose every byte on the wire
 * and on disk is scanned for the plaintext.
 */
import assert from "node:assert/strict";
import {
  newSealParams,
  RoomKey,
  SealedRoom,
  type SealParams,
  validateSealParams,
} from "../core/crypto/mod.ts";
import { encodeFrame } from "../core/ndjson.ts";
import { type MsgFrame, parseClientFrame, ProtocolError } from "../core/protocol.ts";
import { commandContext, handleInput, handleSealed } from "../node/chat/commands.ts";
import { Hub } from "../node/chat/hub.ts";
import type { Opening } from "../client/sealed_rooms.ts";
import { SealedRooms } from "../client/sealed_rooms.ts";
import { ChatView } from "../client/chat_view.ts";
import { startNodeProcess } from "./helpers/node_process.ts";
import { acceptPlainText } from "./helpers/plain_text_accept.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { ClientProcess, RecordingProxy } from "./helpers/client_process.ts";
import { concatBytes } from "../core/bytes.ts";
import { RecordingSink } from "./helpers/chat_fixtures.ts";

// ---------------------------------------------------------------------------
// In process: the hub's rules

function setup(nodeId = "n1") {
  const hub = new Hub({ nodeId, rateBurst: 0, historySize: 64 });
  const join = (user: string, room?: string) => {
    const sink = new RecordingSink();
    const session = hub.connect(sink, room ? { user, room } : { user }, {
      via: "test",
      address: "-",
    });
    const ctx = (roomName?: string) => commandContext(hub, session, roomName);
    return {
      sink,
      session,
      run: (line: string, roomName?: string) => handleInput(ctx(roomName), line),
      sealed: (envelope: string, roomName?: string) =>
        handleSealed(ctx(roomName), envelope, "message"),
    };
  };
  return { hub, join };
}

/** A room key without Argon2id, for tests of everything around it. */
const testKey = RoomKey.fromBytes(new Uint8Array(32).fill(7));

/** Valid parameters at the floor (the cheapest a client accepts). */
const params: SealParams = newSealParams();

async function rejects(promise: Promise<unknown> | (() => unknown), code: string) {
  await assert.rejects(
    async () => typeof promise === "function" ? await promise() : await promise,
    (error: unknown) => error instanceof ProtocolError && error.code === code,
  );
}

Deno.test("Hub.seal() seals a room: plain text is refused, envelopes are stored opaque", async () => {
  const { hub, join } = setup();
  const alice = join("alice", "vault");
  await alice.run(`/seal ${JSON.stringify(params)}`);
  assert.deepEqual(hub.findRoom("vault")?.sealed, params);
  assert.ok(
    alice.sink.frames.some((f) => f.t === "sealed" && f.room === "vault"),
    "members are told the room's seal parameters",
  );
  await rejects(alice.run("the plaintext"), "room_sealed");
  await rejects(alice.run("/me waves in the clear"), "room_sealed");

  const envelope = await new SealedRoom("vault", testKey).seal({
    sender: "alice",
    text: "the plaintext",
    time: 1,
  });
  const event = alice.sealed(envelope);
  assert.equal(event.text, "");
  assert.equal(event.sealed, envelope);
  const echoed = alice.sink.msgs("vault").at(-1);
  assert.equal(echoed?.sealed, envelope);
  assert.equal(echoed?.text, "");
  assert.ok(![...hub.events()].some((e) => JSON.stringify(e).includes("the plaintext")));
});

Deno.test("Hub.seal() refuses weak parameters, a second seal, the lobby and a busy room", async () => {
  const { hub, join } = setup();
  const alice = join("alice", "vault");
  const weak = { ...params, m: 8 };
  await rejects(alice.run(`/seal ${JSON.stringify(weak)}`), "bad_args");
  await rejects(alice.run(`/seal ${JSON.stringify({ ...params, t: 99 })}`), "bad_args");
  await rejects(alice.run("/seal not json"), "bad_args");
  await rejects(alice.run("/seal"), "bad_args");
  assert.equal(hub.findRoom("vault")?.sealed, undefined);

  await rejects(alice.run(`/seal ${JSON.stringify(params)}`, "lobby"), "not_in_room");
  const bob = join("bob");
  await rejects(bob.run(`/seal ${JSON.stringify(params)}`), "forbidden"); // the lobby
  await bob.run("/join vault");
  await rejects(alice.run(`/seal ${JSON.stringify(params)}`), "forbidden"); // not alone
  await bob.run("/leave vault");

  await alice.run(`/seal ${JSON.stringify(params)}`);
  await alice.run(`/seal ${JSON.stringify(params)}`); // same again: nothing changes
  assert.equal([...hub.events()].filter((e) => e.kind === "seal").length, 1);
  await rejects(alice.run(`/seal ${JSON.stringify(newSealParams())}`), "already_sealed");
});

Deno.test("welcome and joined frames carry a sealed room's parameters", async () => {
  const { join } = setup();
  const alice = join("alice", "vault");
  await alice.run(`/seal ${JSON.stringify(params)}`);
  const bob = join("bob", "vault");
  const welcome = bob.sink.frames[0];
  assert.equal(welcome?.t, "welcome");
  assert.deepEqual(welcome.t === "welcome" && welcome.sealed, params);
  await bob.run("/join lobby");
  await bob.run("/join vault");
  const joined = bob.sink.frames.filter((f) => f.t === "joined");
  assert.equal(joined[0]?.t === "joined" && joined[0].sealed, undefined);
  assert.deepEqual(joined[1]?.t === "joined" && joined[1].sealed, params);
});

Deno.test("Hub.saySealed() refuses unsealed rooms and envelopes for another room or sender", async () => {
  const { join } = setup();
  const alice = join("alice", "vault");
  const forVault = new SealedRoom("vault", testKey);
  await rejects(
    async () => alice.sealed(await forVault.seal({ sender: "alice", text: "x", time: 1 })),
    "not_sealed",
  );
  await alice.run(`/seal ${JSON.stringify(params)}`);
  await rejects(
    async () => alice.sealed(await forVault.seal({ sender: "bob", text: "x", time: 1 })),
    "bad_envelope",
  );
  const forOther = new SealedRoom("other", testKey);
  await rejects(
    async () => alice.sealed(await forOther.seal({ sender: "alice", text: "x", time: 1 })),
    "bad_envelope",
  );
  await rejects(() => alice.sealed("AAAA"), "bad_envelope");
});

Deno.test("The first seal in hybrid-clock order wins on every node, whatever the arrival order", async () => {
  const a = setup("na");
  const b = setup("nb");
  const alice = a.join("alice", "vault");
  const bob = b.join("bob", "vault");
  const first = newSealParams();
  const second = newSealParams();
  await alice.run(`/seal ${JSON.stringify(first)}`);
  await new Promise((resolve) => setTimeout(resolve, 5));
  await bob.run(`/seal ${JSON.stringify(second)}`);
  const sealA = [...a.hub.events()].find((e) => e.kind === "seal")!;
  const sealB = [...b.hub.events()].find((e) => e.kind === "seal")!;
  a.hub.log.apply(sealB);
  b.hub.log.apply(sealA);
  assert.deepEqual(a.hub.findRoom("vault")?.sealed, first);
  assert.deepEqual(b.hub.findRoom("vault")?.sealed, first);
  // Bob's node switched: its members were told the parameters that won.
  const told = bob.sink.frames.filter((f) => f.t === "sealed");
  assert.deepEqual(told.map((f) => f.t === "sealed" && f.params), [second, first]);
});

Deno.test("parseClientFrame() checks sealed say frames and carries cmd line ids", () => {
  const envelope = "AQEF" + "A".repeat(100);
  assert.deepEqual(parseClientFrame({ t: "say", sealed: envelope, room: "vault", cid: "c1" }), {
    t: "say",
    text: "",
    sealed: envelope,
    room: "vault",
    cid: "c1",
  });
  assert.deepEqual(parseClientFrame({ t: "say", sealed: envelope, kind: "action" }), {
    t: "say",
    text: "",
    sealed: envelope,
    kind: "action",
  });
  const code = (value: unknown) => {
    try {
      parseClientFrame(value);
    } catch (error) {
      return (error as ProtocolError).code;
    }
    return "accepted";
  };
  assert.equal(code({ t: "say", sealed: envelope, text: "leak" }), "bad_frame");
  assert.equal(code({ t: "say", sealed: "not base64url!" }), "bad_envelope");
  assert.equal(code({ t: "say", sealed: "A".repeat(24 * 1024 + 1) }), "bad_frame");
  assert.equal(code({ t: "say", text: "hi", kind: "action" }), "bad_frame");
  assert.equal(code({ t: "say", sealed: envelope, kind: "topic" }), "bad_frame");
  assert.deepEqual(parseClientFrame({ t: "cmd", line: "/who", cid: "c9" }), {
    t: "cmd",
    line: "/who",
    cid: "c9",
  });
});

// ---------------------------------------------------------------------------
// In process: the client's sealed rooms

function msg(fields: Partial<MsgFrame> & { id: string; sealed: string }): MsgFrame {
  return { t: "msg", time: 0, room: "vault", kind: "message", from: "alice", text: "", ...fields };
}

Deno.test("SealedRooms derives a room key once per room per session and only from room metadata", async () => {
  const derived: SealParams[] = [];
  const asked: string[] = [];
  const rooms = new SealedRooms({
    passphrase: ({ room, purpose }) => {
      asked.push(`${room}:${purpose}`);
      return Promise.resolve("correct horse battery");
    },
    derive: (_passphrase, p) => {
      derived.push(p);
      return Promise.resolve(testKey);
    },
  });
  assert.equal(rooms.isSealed("vault"), false);
  assert.deepEqual(rooms.update("vault", params), { kind: "sealed", changed: false });
  assert.deepEqual(rooms.update("vault", JSON.parse(JSON.stringify(params))), {
    kind: "unchanged",
  });
  const sender = new SealedRoom("vault", testKey);
  const bodies = await Promise.all(
    ["one", "two", "three"].map((text) => sender.seal({ sender: "alice", text, time: 1 })),
  );
  const openings = await Promise.all(
    bodies.map((sealed, i) => rooms.open(msg({ id: `n1:${i + 1}`, sealed }))),
  );
  assert.deepEqual(openings.map((o) => o.ok && o.text), ["one", "two", "three"]);
  await rooms.seal("vault", "bob", "reply", 2);
  assert.equal(derived.length, 1, "one derivation for the room, not one per message");
  assert.deepEqual(asked, ["vault:join"]);
  assert.equal(rooms.status("vault"), "open");

  // A node never downgrades a room the client knows as sealed.
  assert.deepEqual(rooms.update("vault", undefined), { kind: "downgrade" });
  assert.equal(rooms.isSealed("vault"), true);

  // Parameters below the floor are refused before any work, and the room stays closed.
  const refused = rooms.update("cheap", { ...params, m: 1024 });
  assert.equal(refused.kind, "refused");
  assert.equal(rooms.isSealed("cheap"), true);
  await assert.rejects(() => rooms.seal("cheap", "bob", "secret", 3), /below the minimum/);
  assert.equal(rooms.update("huge", { ...params, m: 4 * 1048576 }).kind, "refused");
  assert.equal(derived.length, 1);
});

Deno.test("SealedRooms shows what cannot be opened, once, and never throws", async () => {
  const wrongKey = RoomKey.fromBytes(new Uint8Array(32).fill(9));
  const rooms = new SealedRooms({
    passphrase: () => Promise.resolve("wrong passphrase here"),
    derive: () => Promise.resolve(wrongKey),
  });
  rooms.update("vault", params);
  const sealed = await new SealedRoom("vault", testKey).seal({
    sender: "alice",
    text: "hidden",
    time: 1,
  });
  const frame = msg({ id: "n1:1", sealed });
  const opening = await rooms.open(frame);
  assert.deepEqual(opening, { ok: false, reason: "wrong passphrase" });
  assert.equal(await rooms.open(frame), opening, "history shows the same result again");
  const garbage = await rooms.open(msg({ id: "n1:2", sealed: "AAAA" }));
  assert.equal(garbage.ok, false);
  const view = new ChatView({ color: false, timestamps: false });
  assert.equal(
    view.formatSealed(frame, opening),
    "#vault [cannot open sealed message from alice: wrong passphrase]",
  );

  // A member posing as another: the node says alice, the envelope says bob.
  const right = new SealedRooms({
    passphrase: () => Promise.resolve("x"),
    derive: () => Promise.resolve(testKey),
  });
  right.update("vault", params);
  const posing = await new SealedRoom("vault", testKey).seal({
    sender: "bob",
    text: "hi",
    time: 1,
  });
  const opened: Opening = await right.open(msg({ id: "n1:3", sealed: posing }));
  assert.equal(opened.ok, false);
  assert.match(!opened.ok ? opened.reason : "", /sealed by bob, delivered as from alice/);
});

// ---------------------------------------------------------------------------
// Real processes

const PLAINTEXTS = ["the eagle lands at midnight", "copy that bravo seven", "waves a red flag"];

/**
 * The real client in line mode, reading only the key files in `readable`
 * (the key derivation Worker reads no file), killed after a minute at most.
 */
function sealedClient(args: string[], readable: string[]): ClientProcess {
  const permissions = [
    "-P=client",
    ...(readable.length > 0 ? [`--allow-read=${readable.join(",")}`] : []),
  ];
  return new ClientProcess(args, { permissions, killAfterMs: 60_000 });
}

/** Whether `needle` occurs in `haystack`, as raw bytes. */
function containsBytes(haystack: Uint8Array, needle: string): boolean {
  const bytes = new TextEncoder().encode(needle);
  outer: for (let i = 0; i + bytes.length <= haystack.length; i++) {
    for (let j = 0; j < bytes.length; j++) {
      if (haystack[i + j] !== bytes[j]) continue outer;
    }
    return true;
  }
  return false;
}

async function filesUnder(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      for (const [p, b] of await filesUnder(path)) out.set(p, b);
    } else if (entry.isFile) {
      out.set(path, await Deno.readFile(path));
    }
  }
  return out;
}

/** A raw observer that keeps every byte the node sends it. */
async function rawObserver(port: number, user: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const received: Uint8Array[] = [];
  const reading = (async () => {
    const buffer = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        received.push(buffer.slice(0, n));
      }
    } catch {
      // closed
    }
  })();
  const write = async (frame: unknown) => {
    const bytes = encodeFrame(frame);
    let offset = 0;
    while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
  };
  await write({ t: "hello", v: 1, user });
  return {
    write,
    text: () => new TextDecoder().decode(concatBytes(...received)),
    bytes: () => concatBytes(...received),
    async close() {
      try {
        conn.close();
      } catch {
        // already closed
      }
      await reading;
    },
  };
}

Deno.test({
  name:
    "Real clients talk in a sealed room; the node's wire bytes and KV file never hold the plaintext",
  async fn() {
    const dataDir = `./data/test-sealed-${crypto.randomUUID().slice(0, 8)}`;
    const keyFile = `${dataDir}-keys/room.key`;
    const wrongKeyFile = `${dataDir}-keys/wrong.key`;
    await Deno.mkdir(`${dataDir}-keys`, { recursive: true });
    await Deno.writeTextFile(keyFile, "correct horse battery staple\n");
    await Deno.writeTextFile(wrongKeyFile, "incorrect donkey battery staple\n");
    const node = await startNodeProcess({
      id: "sealed",
      args: [
        "--data",
        dataDir,
        "--snapshot-interval",
        "1",
        "--ssh-port",
        "0",
        "--mesh-port",
        "0",
        // Plain text on the client port: the proxy reads the bytes as the node reads them.
        "--client-tls",
        "off",
      ],
    });
    const proxy = new RecordingProxy(node.port);
    const server = ["-server", `127.0.0.1:${proxy.port}`];
    const clients: ClientProcess[] = [];
    let observer: Awaited<ReturnType<typeof rawObserver>> | undefined;
    try {
      // Alice seals a new room from the real client, in line mode with a key file.
      const alice = sealedClient(
        [...server, "-user", "alice", "-key-file", keyFile],
        [keyFile],
      );
      clients.push(alice);
      await alice.waitFor(/Connected to node/);
      await alice.line("/join vault");
      await alice.line("/seal");
      await alice.waitFor(/#vault is sealed\./);

      // A raw observer in the room sees only envelopes.
      observer = await rawObserver(node.port, "observer");
      await observer.write({ t: "cmd", line: "/join vault", cid: "j" });

      await new Promise((resolve) => setTimeout(resolve, 300));
      await alice.line(PLAINTEXTS[0]!);
      await alice.waitFor(/<alice✓> the eagle lands at midnight/);

      // Bob joins with the same passphrase: history and live messages open.
      const bob = sealedClient(
        [...server, "-user", "bob", "-room", "vault", "-key-file", keyFile],
        [keyFile],
      );
      clients.push(bob);
      await bob.waitFor(/<alice✓> the eagle lands at midnight/);
      await bob.line(PLAINTEXTS[1]!);
      await bob.line(`/me ${PLAINTEXTS[2]}`);
      await alice.waitFor(/<bob✓> copy that bravo seven/);
      await alice.waitFor(/\* bob✓ waves a red flag/);

      // Eve has the wrong passphrase: she sees that messages cannot be opened.
      const eve = sealedClient(
        [...server, "-user", "eve", "-room", "vault", "-key-file", wrongKeyFile],
        [wrongKeyFile],
      );
      clients.push(eve);
      await eve.waitFor(/\[cannot open sealed message from bob: wrong passphrase\b/);
      assert.match(eve.stdout, /\[cannot open sealed message from alice: wrong passphrase\b/);

      for (const client of clients) assert.equal(await client.end(), 0, client.stderr);
      assert.doesNotMatch(eve.stdout, /eagle|bravo|red flag/);
      assert.match(bob.stdout, /Now in #vault \(sealed: end-to-end encrypted\)/);

      // The observer got the envelopes, never the text.
      const seen = observer.text();
      const envelopes = [...seen.matchAll(/"sealed":"([A-Za-z0-9_-]+)"/g)].map((m) => m[1]!);
      assert.ok(envelopes.length >= 3, `observer saw envelopes:\n${seen}`);
      assert.match(seen, /"kind":"seal"/);
      const observed = observer.bytes();
      await observer.close();
      observer = undefined;
      await proxy.close();
      const status = await node.stop();
      assert.equal(status.code, 0, node.log());

      const toNode = proxy.sentBytes();
      const fromNode = proxy.receivedBytes();
      assert.ok(containsBytes(toNode, '"sealed":"'), "the clients sent envelopes");
      const files = await filesUnder(dataDir);
      const kv = concatBytes(...[...files].filter(([p]) => /\.kv/.test(p)).map(([, b]) => b));
      assert.ok(kv.length > 0, `a KV snapshot exists in ${dataDir}: ${[...files.keys()]}`);
      assert.ok(
        envelopes.some((envelope) => containsBytes(kv, envelope)),
        "the scan can see stored events: the envelopes are in the KV file",
      );
      for (const plaintext of PLAINTEXTS) {
        for (
          const [name, bytes] of [
            ["bytes the node received", toNode],
            ["bytes the node sent", fromNode],
            ["bytes the observer received", observed],
            ...[...files].map(([path, b]) => [`file ${path}`, b] as const),
          ] as const
        ) {
          assert.ok(!containsBytes(bytes, plaintext), `"${plaintext}" found in ${name}`);
        }
        assert.ok(!node.log().includes(plaintext), `"${plaintext}" found in the node's log`);
      }
    } finally {
      for (const client of clients) client.kill();
      await observer?.close();
      await proxy.close().catch(() => {});
      await node.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      await Deno.remove(`${dataDir}-keys`, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("A real node refuses plain text in a sealed room and seal parameters below the floor", async () => {
  const dataDir = `./data/test-sealed2-${crypto.randomUUID().slice(0, 8)}`;
  const node = await startNodeProcess({
    id: "sealed2",
    args: ["--ssh-port", "0", "--mesh-port", "0", "--data", dataDir],
  });
  try {
    const alice = await RawClient.join(node.port, "alice", "vault");
    await alice.send({ t: "cmd", line: `/seal ${JSON.stringify({ ...params, m: 8 })}`, cid: "s0" });
    const weak = await alice.next((f) => f.t === "error" && f.cid === "s0");
    assert.equal(weak.code, "bad_args");
    assert.match(String(weak.message), /memory 8 KiB is below the minimum 65536 KiB/);

    const envelope = await new SealedRoom("vault", testKey).seal({
      sender: "alice",
      text: "sealed text",
      time: 1,
    });
    await alice.send({ t: "say", sealed: envelope, cid: "e0" });
    assert.equal((await alice.next((f) => f.cid === "e0")).code, "not_sealed");

    await alice.send({ t: "cmd", line: `/seal ${JSON.stringify(params)}`, cid: "s1" });
    await alice.next((f) => f.t === "ack" && f.cid === "s1");
    const sealedFrame = alice.frames.find((f) => f.t === "sealed");
    assert.deepEqual(validateSealParams(sealedFrame?.params), params);

    await alice.send({ t: "say", text: "plain words", cid: "p1" });
    assert.equal((await alice.next((f) => f.cid === "p1")).code, "room_sealed");
    await alice.send({ t: "say", sealed: envelope, cid: "e1" });
    const ack = await alice.next((f) => f.cid === "e1");
    assert.equal(ack.t, "ack");
    const echoed = alice.frames.find((f) => f.t === "msg" && f.sealed === envelope);
    assert.equal(echoed?.text, "");

    const bob = await RawClient.join(node.port, "bob", "vault");
    const welcome = bob.frames.find((f) => f.t === "welcome");
    assert.deepEqual(welcome?.sealed, params);
    alice.close();
    bob.close();
  } finally {
    await node.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("The real client refuses a room whose seal parameters are below the floor, and sends nothing there", async () => {
  // A fake node that claims the room is sealed with weak parameters.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: string[] = [];
  const serving = (async () => {
    const conn = await acceptPlainText(listener);
    const lines = conn.readable.pipeThrough(new TextDecoderStream());
    const writer = conn.writable.getWriter();
    let first = true;
    for await (const chunk of lines) {
      received.push(chunk);
      if (first) {
        first = false;
        await writer.write(encodeFrame({
          t: "welcome",
          v: 1,
          node: "fake",
          nick: "alice",
          room: "vault",
          rooms: ["vault"],
          topic: "",
          sealed: { ...params, m: 8, t: 1 },
          history: [],
        }));
      }
      if (chunk.includes('"/quit"')) {
        await writer.write(encodeFrame({ t: "bye", reason: "quit" }));
        await writer.close().catch(() => {});
        break;
      }
    }
  })();
  try {
    const client = sealedClient(
      ["-server", `127.0.0.1:${listener.addr.port}`, "-user", "alice", "-room", "vault"],
      [],
    );
    await client.waitFor(/Connected to node fake/);
    await client.line("top secret line");
    const code = await client.end();
    assert.equal(code, 0, client.stderr);
    assert.match(client.stderr, /#vault is sealed with parameters this client refuses/);
    assert.match(client.stderr, /memory 8 KiB is below the minimum/);
    assert.match(client.stderr, /Cannot send to sealed #vault/);
    assert.ok(!received.join("").includes("top secret"), received.join(""));
  } finally {
    listener.close();
    await serving.catch(() => {});
  }
});
