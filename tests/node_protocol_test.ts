/**
 * One real node process, real TCP clients: chat behaviour and every bad
 * input of the foundation issue. After each bad input a control pair of
 * clients proves the node still serves everyone else.
 */
import assert from "node:assert/strict";
import { type Frame, RawClient } from "./helpers/raw_client.ts";
import { type NodeProcess, startNodeProcess } from "./helpers/node_process.ts";
import { floodUntilSlowReaderLeaves } from "./helpers/slow_reader_flood.ts";

const isMsg = (kind: string, text?: string) => (f: Frame) =>
  f.t === "msg" && f.kind === kind && (text === undefined || f.text === text);

async function assertStillServing(node: NodeProcess): Promise<void> {
  const tag = crypto.randomUUID().slice(0, 8);
  const a = await RawClient.join(node.port, `ctl-a-${tag}`, "control");
  const b = await RawClient.join(node.port, `ctl-b-${tag}`, "control");
  await a.send({ t: "say", room: "control", text: `ping ${tag}`, cid: "1" });
  await b.next(isMsg("message", `ping ${tag}`));
  a.close();
  b.close();
}

Deno.test("a node serves chat over protocol v1 and survives every bad input", async (t) => {
  const node = await startNodeProcess({
    id: "proto",
    // Rate limits off (bulk input below); one address opens 1,000 connections.
    args: [
      "--burst",
      "0",
      "--max-bytes-per-conn",
      "0",
      "--max-queue",
      "65536",
      "--max-conns-per-addr",
      "2000",
    ],
  });
  try {
    await t.step(
      "two clients exchange messages in a room, sender included, with an ack",
      async () => {
        const alice = await RawClient.join(node.port, "alice", "general");
        const bob = await RawClient.join(node.port, "bob", "general");
        await alice.send({ t: "say", room: "general", text: "hello bob", cid: "a1" });
        const echo = await alice.next(isMsg("message", "hello bob"));
        const ack = await alice.next((f) => f.t === "ack" && f.cid === "a1");
        const seen = await bob.next(isMsg("message", "hello bob"));
        assert.equal(seen.from, "alice");
        assert.equal(seen.id, ack.id);
        assert.equal(echo.id, ack.id);
        await bob.send({ t: "say", text: "/me waves" });
        assert.equal((await alice.next(isMsg("action"))).text, "waves");
        alice.close();
        bob.close();
        await alice.ended;
      },
    );

    await t.step("a joining client gets the room's recent history in its welcome", async () => {
      const writer = await RawClient.join(node.port, "writer", "hist");
      for (let i = 0; i < 60; i++) {
        await writer.send({ t: "say", room: "hist", text: `line ${i}`, cid: `${i}` });
      }
      await writer.next((f) => f.t === "ack" && f.cid === "59");
      const reader = await RawClient.connect(node.port);
      await reader.send({ t: "hello", v: 1, user: "reader", room: "hist" });
      const welcome = await reader.next((f) => f.t === "welcome");
      const history = welcome.history as Frame[];
      assert.equal(history.length, 50);
      assert.equal(history[0]!.text, "line 10");
      assert.equal(history.at(-1)!.text, "line 59");
      await reader.send({ t: "cmd", line: "/history 5" });
      const more = await reader.next((f) => f.t === "history");
      assert.deepEqual((more.history as Frame[]).map((f) => f.text), [
        "line 55",
        "line 56",
        "line 57",
        "line 58",
        "line 59",
      ]);
      writer.close();
      reader.close();
    });

    await t.step(
      "a client that says hello with history 0 gets none, in its welcome nor on /join",
      async () => {
        const bot = await RawClient.connect(node.port);
        for (const history of [-1, 501, 2.5, "0"]) {
          await bot.send({ t: "hello", v: 1, user: "bot", room: "hist", history });
          assert.match(
            String((await bot.error("bad_frame")).message),
            /"history" must be an integer from 0 to 500/,
          );
        }
        await bot.send({ t: "hello", v: 1, user: "bot", room: "lobby", history: 0 });
        const welcome = await bot.next((f) => f.t === "welcome");
        assert.deepEqual(welcome.history, []);
        await bot.send({ t: "cmd", line: "/join hist" });
        const joined = await bot.next((f) => f.t === "joined");
        assert.deepEqual(joined.history, []);
        // Asked for, history still comes.
        await bot.send({ t: "cmd", line: "/history 2" });
        const asked = await bot.next((f) => f.t === "history");
        assert.deepEqual((asked.history as Frame[]).map((f) => f.text), ["line 58", "line 59"]);
        const few = await RawClient.connect(node.port);
        await few.send({ t: "hello", v: 1, user: "few", room: "hist", history: 3 });
        const three = await few.next((f) => f.t === "welcome");
        assert.deepEqual((three.history as Frame[]).map((f) => f.text), [
          "line 57",
          "line 58",
          "line 59",
        ]);
        bot.close();
        few.close();
      },
    );

    await t.step(
      "/who lists the room, /msg reaches only its recipient, /topic and /rooms work",
      async () => {
        const carol = await RawClient.join(node.port, "carol", "ops");
        const dave = await RawClient.join(node.port, "dave", "ops");
        const eve = await RawClient.join(node.port, "eve", "ops");
        await carol.send({ t: "cmd", line: "/who" });
        const who = await carol.next((f) => f.t === "info" && f.cmd === "who");
        assert.deepEqual((who.data as { nick: string }[]).map((m) => m.nick), [
          "carol",
          "dave",
          "eve",
        ]);
        await carol.send({ t: "cmd", line: "/msg dave secret plan" });
        const pm = await dave.next(isMsg("private"));
        assert.equal(pm.text, "secret plan");
        assert.equal(pm.to, "dave");
        await carol.next(isMsg("private"));
        await carol.send({ t: "cmd", line: "/msg nobody hi" });
        await carol.error("no_such_user");
        await dave.send({ t: "cmd", line: "/topic plans for today" });
        await eve.next(isMsg("topic", "plans for today"));
        await eve.send({ t: "cmd", line: "/rooms" });
        const rooms = await eve.next((f) => f.t === "info" && f.cmd === "rooms");
        assert.ok(
          (rooms.data as { room: string; topic: string }[]).some((r) =>
            r.room === "ops" && r.topic === "plans for today"
          ),
        );
        await eve.send({ t: "say", text: "/history 50" });
        const history = await eve.next((f) => f.t === "history");
        assert.ok(
          !(history.history as Frame[]).some((f) => f.kind === "private"),
          "private messages stay out of room history",
        );
        assert.ok(!eve.frames.some((f) => f.t === "msg" && f.kind === "private"));
        await dave.send({ t: "cmd", line: "/away lunch" });
        await carol.next(isMsg("away", "lunch"));
        await dave.send({ t: "cmd", line: "/join kitchen" });
        const joined = await dave.next((f) => f.t === "joined");
        assert.equal(joined.room, "kitchen");
        await dave.send({ t: "cmd", line: "/leave kitchen" });
        assert.equal((await dave.next((f) => f.t === "left")).current, "ops");
        await dave.send({ t: "cmd", line: "/quit see you" });
        assert.equal((await carol.next(isMsg("leave"))).text, "see you");
        await dave.ended;
        for (const c of [carol, eve]) c.close();
      },
    );

    await t.step(
      "nick collisions: taken, equal ignoring case, invalid; /nick follows the same rules",
      async () => {
        const first = await RawClient.join(node.port, "nora");
        const second = await RawClient.connect(node.port);
        await second.send({ t: "hello", v: 1, user: "nora" });
        assert.match(String((await second.error("nick_taken")).message), /nora is taken/);
        await second.send({ t: "hello", v: 1, user: "NORA" });
        await second.error("nick_taken");
        await second.send({ t: "hello", v: 1, user: "bad nick!" });
        await second.error("nick_invalid");
        await second.send({ t: "hello", v: 1, user: "x".repeat(17) });
        await second.error("nick_invalid");
        await second.send({ t: "hello", v: 1, user: "nora2" });
        await second.next((f) => f.t === "welcome");
        await second.send({ t: "cmd", line: "/nick Nora" });
        await second.error("nick_taken");
        await first.send({ t: "cmd", line: "/nick NORA" });
        assert.equal((await first.next((f) => f.t === "nick")).nick, "NORA");
        await second.send({ t: "cmd", line: "/nick nora_" });
        await first.next(isMsg("nick", "nora_"));
        first.close();
        second.close();
      },
    );

    await t.step(
      "protocol mistakes get error frames with stable codes and the connection stays usable",
      async () => {
        const c = await RawClient.connect(node.port);
        await c.send({ t: "say", room: "lobby", text: "too early", cid: "x" });
        assert.equal((await c.error("no_hello")).cid, "x");
        await c.sendRaw("{not json}\n");
        await c.error("bad_json");
        await c.send({ t: "launch" });
        await c.error("unknown_type");
        await c.send([1, 2, 3]);
        await c.error("bad_frame");
        await c.send({ t: "hello", v: "1", user: "zed" });
        await c.error("bad_frame");
        await c.send({ t: "hello", v: 1 });
        await c.error("bad_frame");
        await c.send({ t: "hello", v: 2, user: "zed" });
        await c.error("version");
        await c.send({ t: "hello", v: 1, user: "zed" });
        await c.next((f) => f.t === "welcome");
        await c.send({ t: "hello", v: 1, user: "zed" });
        await c.error("already_hello");
        await c.send({ t: "say", text: 42 });
        await c.error("bad_frame");
        await c.send({ t: "say", text: "   " });
        await c.error("empty_message");
        await c.send({ t: "say", text: "x".repeat(4001) });
        await c.error("text_too_long");
        await c.send({ t: "say", room: "elsewhere", text: "hi" });
        await c.error("not_in_room");
        await c.send({ t: "say", room: "../etc", text: "hi" });
        await c.error("room_invalid");
        await c.send({ t: "cmd", line: "/frobnicate" });
        await c.error("unknown_command");
        await c.send({ t: "cmd", line: "/history many" });
        await c.error("bad_args");
        await c.send({ t: "ping" });
        await c.next((f) => f.t === "pong");
        c.close();
        await assertStillServing(node);
      },
    );

    await t.step("__proto__ keys are ignored, not merged", async () => {
      const c = await RawClient.join(node.port, "proto1");
      await c.sendRaw(
        '{"t":"say","text":"safe","__proto__":{"room":"admin","cid":"evil"},"cid":"p1"}\n',
      );
      const ack = await c.next((f) => f.t === "ack");
      assert.equal(ack.cid, "p1");
      await c.sendRaw('{"__proto__":{"t":"ping"}}\n');
      await c.error("bad_frame");
      c.close();
      await assertStillServing(node);
    });

    await t.step(
      "invalid UTF-8 is refused, and a character split across two reads is fine",
      async () => {
        const c = await RawClient.join(node.port, "utf8");
        await c.sendRaw(
          new Uint8Array([
            ...new TextEncoder().encode('{"t":"say","text":"'),
            0xff,
            0xfe,
            ...new TextEncoder().encode('"}\n'),
          ]),
        );
        await c.error("bad_utf8");
        const line = new TextEncoder().encode(
          '{"t":"say","text":"caf\u00e9 \u{1F600}","cid":"u1"}\n',
        );
        const cut = line.indexOf(0xc3) + 1;
        await c.sendRaw(line.subarray(0, cut));
        await new Promise((r) => setTimeout(r, 50));
        await c.sendRaw(line.subarray(cut));
        const msg = await c.next(isMsg("message"));
        assert.equal(msg.text, "caf\u00e9 \u{1F600}");
        c.close();
      },
    );

    await t.step(
      "a 10 MB line without a newline gets one error and the connection recovers",
      async () => {
        const c = await RawClient.join(node.port, "bigline");
        const chunk = new Uint8Array(1 << 20).fill(0x61);
        for (let i = 0; i < 10; i++) await c.sendRaw(chunk);
        await c.error("line_too_long");
        await c.sendRaw('\n{"t":"say","text":"after","cid":"b1"}\n');
        await c.next((f) => f.t === "ack" && f.cid === "b1");
        assert.equal(c.frames.filter((f) => f.t === "error").length, 1);
        c.close();
        await assertStillServing(node);
      },
    );

    await t.step("100,000 nested brackets are refused without harm", async () => {
      const c = await RawClient.join(node.port, "nested");
      await c.sendRaw("[".repeat(100_000) + "]".repeat(100_000) + "\n");
      await c.error("line_too_long");
      await c.sendRaw("[".repeat(5000) + "]".repeat(5000) + "\n");
      await c.error("bad_frame");
      c.close();
      await assertStillServing(node);
    });

    await t.step("escape sequences from another person arrive as harmless text", async () => {
      const mallory = await RawClient.join(node.port, "mallory", "esc");
      const victim = await RawClient.join(node.port, "victim", "esc");
      const attacks = [
        "\x1b]0;pwn\x07title",
        "\x1b[2Jclear",
        "\u009b31mred",
        "fine\ralice: fake",
        "bidi\u202Eevil",
        "zero\u200Bwidth",
      ];
      for (const [i, text] of attacks.entries()) {
        await mallory.send({ t: "say", room: "esc", text, cid: `e${i}` });
      }
      const texts: string[] = [];
      for (let i = 0; i < attacks.length; i++) {
        texts.push(String((await victim.next(isMsg("message"))).text));
      }
      assert.deepEqual(texts, [
        "title",
        "clear",
        "red",
        "finealice: fake",
        "bidievil",
        "zerowidth",
      ]);
      for (const text of texts) {
        assert.doesNotMatch(text, /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u200b]/);
      }
      await mallory.send({ t: "say", room: "esc", text: "\x1b[2J\x07", cid: "empty" });
      assert.equal((await mallory.error("empty_message")).cid, "empty");
      mallory.close();
      victim.close();
    });

    await t.step(
      "a client that never reads is dropped once its queue is full; the room goes on",
      async () => {
        const sleeper = await RawClient.connect(node.port);
        // Say hello and then never read: a raw connection the test does not drain.
        const raw = await Deno.connect({ hostname: "127.0.0.1", port: node.port });
        await raw.write(
          new TextEncoder().encode('{"t":"hello","v":1,"user":"sleeper","room":"flood"}\n'),
        );
        sleeper.close();
        const talker = await RawClient.join(node.port, "talker", "flood");
        const listener = await RawClient.join(node.port, "listener", "flood");
        const sent = await floodUntilSlowReaderLeaves({
          room: "flood",
          talker,
          listeners: [listener],
          sleeper: "sleeper",
        });
        assert.equal(
          listener.frames.filter((f) => f.t === "msg" && f.kind === "message").length,
          sent,
        );
        raw.close();
        talker.close();
        listener.close();
      },
    );

    await t.step(
      "1,000 connections opened and dropped at once leave the node serving",
      async () => {
        const conns = await Promise.all(
          Array.from(
            { length: 1000 },
            () => Deno.connect({ hostname: "127.0.0.1", port: node.port }),
          ),
        );
        await Promise.all(
          conns.map((conn, i) =>
            i % 2 === 0
              ? conn.write(new TextEncoder().encode(`{"t":"hello","v":1,"user":"mass${i}"}\n`))
              : 0
          ),
        );
        for (const conn of conns) {
          conn.close();
        }
        await assertStillServing(node);
      },
    );
  } finally {
    const status = await node.stop("SIGTERM");
    assert.equal(status.code, 0, node.log());
  }
});
