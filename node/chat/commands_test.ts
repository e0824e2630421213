import assert from "node:assert/strict";
import { ProtocolError } from "../../core/protocol.ts";
import { commandContext, commands, handleInput, type WebSignInOffer } from "./commands.ts";
import { EventLog } from "./event_log.ts";
import { Hub, type HubOptions } from "./hub.ts";
import { RecordingSink } from "../../tests/helpers/chat_fixtures.ts";

const OP_KEY = "SHA256:op";

function setup(options: Partial<HubOptions> = {}) {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0, ops: [OP_KEY], ...options });
  const join = (user: string, fingerprint?: string) => {
    const sink = new RecordingSink();
    const session = hub.connect(sink, { user }, {
      via: "test",
      address: "-",
      ...(fingerprint === undefined ? {} : { fingerprint }),
    });
    const run = (line: string) => {
      const ctx = commandContext(hub, session);
      return handleInput(ctx, line);
    };
    return { sink, session, run };
  };
  return { hub, join };
}

Deno.test("/help lists each command once, and not /seal, which only the terminal client sends", async () => {
  const { join } = setup();
  for (const fingerprint of [undefined, OP_KEY]) {
    const person = join(fingerprint === undefined ? "alice" : "root", fingerprint);
    await person.run("/help");
    const words = person.sink.reply("help").slice(1).map((line) => line.split(" ")[0]);
    assert.deepEqual(words, [...new Set(words)]);
    assert.ok(words.includes("/join") && !words.includes("/seal"), words.join(" "));
    assert.equal(words.includes("/kick"), fingerprint !== undefined);
  }
  // Not listed, but the terminal client's /seal still reaches it.
  assert.equal(commands.lookup("seal")?.name, "seal");
});

Deno.test("/rooms, /nodes and /banned count in the singular for one", async () => {
  const { hub, join } = setup();
  const root = join("root", OP_KEY);
  await root.run("/rooms");
  assert.equal(root.sink.reply("rooms")[0], "1 room:");
  hub.cluster = {
    members:
      () => [{ id: "n1", addr: "127.0.0.1:7946", state: "alive", incarnation: 1, connected: true }],
    lostRanges: () => [],
  };
  await root.run("/nodes");
  assert.equal(root.sink.reply("nodes")[0], "1 node:");
  await root.run("/ban mallory");
  await root.run("/banned");
  assert.equal(root.sink.reply("banned")[0], "1 ban:");
  await root.run("/join dev");
  await root.run("/rooms");
  assert.equal(root.sink.reply("rooms")[0], "2 rooms:");
});

Deno.test("/join past the limit of one room per session says 1 room", async () => {
  const { join } = setup({ maxRoomsPerSession: 1 });
  const alice = join("alice");
  await assert.rejects(
    () => alice.run("/join dev"),
    (error: unknown) =>
      error instanceof ProtocolError && error.code === "too_many_rooms" &&
      error.message.includes("you are in 1 room,"),
  );
});

Deno.test("/web: a link for an SSH session with a key, for a nick the key owns", async () => {
  const log = new EventLog({ origin: "n1" });
  const hub = new Hub({ nodeId: "n1", log, nickGuard: log.nicks, rateBurst: 0 });
  const alice = `SHA256:${"a".repeat(43)}`;
  /** An SSH session's sink: it makes links for its key. */
  class SshLikeSink extends RecordingSink implements WebSignInOffer {
    readonly asked: string[] = [];
    constructor(readonly enabled = true) {
      super();
    }
    webSignInLink(nick: string) {
      this.asked.push(nick);
      return this.enabled
        ? { url: `http://node/signin#token-for-${nick}`, ttlMs: 300_000 }
        : undefined;
    }
  }
  const web = (sink: RecordingSink, user: string, via: string, fingerprint?: string) => {
    const session = hub.connect(sink, { user }, {
      via,
      address: "-",
      ...(fingerprint === undefined ? {} : { fingerprint }),
    });
    return handleInput(commandContext(hub, session), "/web");
  };
  const refused = (run: Promise<unknown>, pattern: RegExp) =>
    assert.rejects(run, (error: ProtocolError) => {
      assert.equal(error.code, "forbidden");
      assert.match(error.message, pattern);
      return true;
    });

  const ssh = new SshLikeSink();
  await web(ssh, "alice", "ssh", alice);
  assert.deepEqual(ssh.reply("web").slice(0, 2), [
    "Open this link within 5m 0s to sign a browser in as alice:",
    "  http://node/signin#token-for-alice",
  ]);
  await refused(web(new SshLikeSink(), "guest", "ssh"), /signed in with a key/);
  // A web session with a key makes no links: only SSH knows where the person reached the node.
  await refused(web(new SshLikeSink(), "alice_web", "web", alice), /signed in with a key/);
  // A nick the key does not own: another key's.
  log.nicks.claim("carol", `SHA256:${"c".repeat(43)}`);
  const borrowed = new SshLikeSink();
  const session = hub.connect(borrowed, { user: "dave" }, {
    via: "ssh",
    address: "-",
    fingerprint: `SHA256:${"d".repeat(43)}`,
  });
  session.nick = "carol"; // as if it kept the nick from before the claim
  await refused(handleInput(commandContext(hub, session), "/web"), /Nick carol is not registered/);
  assert.deepEqual(borrowed.asked, []);
  await refused(web(new SshLikeSink(false), "bob", "ssh", `SHA256:${"b".repeat(43)}`), /no web/);
});
