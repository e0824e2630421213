import assert from "node:assert/strict";
import { type MsgFrame, type ServerFrame, toMsgFrame } from "../../../core/protocol.ts";
import { Hub, type SessionSink } from "../../chat/hub.ts";
import { EventLog } from "../../chat/event_log.ts";
import { nickCandidates, type SshChannel, SshChatSession } from "./ssh_session.ts";
import { VirtualTerminal } from "../../../tests/helpers/virtual_terminal.ts";
import { UserSettingsStore } from "../../store/user_settings.ts";
import { scratchDir } from "../../../tests/helpers/scratch_dir.ts";

const KEY_A = `SHA256:${"A".repeat(43)}`;
const KEY_B = `SHA256:${"B".repeat(43)}`;

/** An in-memory ssh2 channel. */
class FakeChannel implements SshChannel {
  out = "";
  writableLength = 0;
  /** When set, writes pile up as if the client stopped reading. */
  stalled = false;
  exitStatus: number | undefined;
  ended = false;
  closed = false;
  // deno-lint-ignore no-explicit-any
  readonly #listeners = new Map<string, ((data: any) => void)[]>();

  write(data: string): boolean {
    if (this.stalled) this.writableLength += new TextEncoder().encode(data).length;
    else this.out += data;
    return true;
  }
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (data: any) => void): unknown {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), listener]);
    return this;
  }
  exit(status: number): void {
    this.exitStatus = status;
  }
  end(): void {
    this.ended = true;
    this.close();
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.#listeners.get("close") ?? []) listener(undefined);
  }
  type(text: string): void {
    for (const listener of this.#listeners.get("data") ?? []) {
      listener(new TextEncoder().encode(text));
    }
  }
  eof(): void {
    for (const listener of this.#listeners.get("end") ?? []) listener(undefined);
  }
  /** Output since the last call. */
  take(): string {
    const out = this.out;
    this.out = "";
    return out;
  }
}

/** What a person connected some other way sees. */
class Observer implements SessionSink {
  readonly frames: ServerFrame[] = [];
  send(frame: ServerFrame): void {
    this.frames.push(frame);
  }
  close(): void {}
  messages(kind = "message"): MsgFrame[] {
    return this.frames.filter((f): f is MsgFrame => f.t === "msg" && f.kind === kind);
  }
}

function settle(ms = 5): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function setup(options: { rateBurst?: number; registry?: boolean } = {}) {
  const log = new EventLog({ origin: "n1" });
  const hub = new Hub({
    nodeId: "n1",
    log,
    rateBurst: options.rateBurst ?? 0,
    ...(options.registry ? { nickGuard: log.nicks } : {}),
  });
  const observer = new Observer();
  const bob = hub.connect(observer, { user: "bob" }, { via: "test", address: "test" });
  return { hub, observer, bob };
}

function open(
  hub: Hub,
  username: string,
  options: {
    pty?: boolean;
    columns?: number;
    rows?: number;
    fingerprint?: string;
    command?: string;
    noColor?: boolean;
    term?: string;
    maxQueueBytes?: number;
    history?: number;
    settings?: UserSettingsStore;
    timeZone?: string;
  } = {},
) {
  const channel = new FakeChannel();
  const chat = new SshChatSession(hub, channel, {
    username,
    fingerprint: options.fingerprint,
    address: "127.0.0.1:5000",
  }, {
    ...(options.pty === false ? {} : {
      terminal: {
        columns: options.columns ?? 80,
        ...(options.rows === undefined ? {} : { rows: options.rows }),
        term: options.term ?? "xterm",
      },
    }),
    ...(options.command === undefined ? {} : { command: options.command }),
    noColor: options.noColor ?? false,
    maxQueueBytes: options.maxQueueBytes ?? 1 << 20,
    ...(options.history === undefined ? {} : { history: options.history }),
    ...(options.settings === undefined ? {} : { settings: options.settings }),
    ...(options.timeZone === undefined ? {} : { timeZone: options.timeZone }),
    escapeWaitMs: 1,
  });
  assert.equal(chat.start(), true);
  return { channel, chat };
}

Deno.test("SshChatSession plain mode: lines in are messages or commands, plain lines out", async () => {
  const { hub, observer } = setup();
  const { channel, chat } = open(hub, "bot", { pty: false });
  await settle();
  channel.type("hello from a bot\r\n/who\nsecond ");
  channel.type("line\n");
  await settle();
  assert.deepEqual(observer.messages().map((m) => m.text), ["hello from a bot", "second line"]);
  const out = channel.take();
  assert.match(out, /^Welcome to meshchat on node n1, bot\./);
  assert.match(out, /<bot> hello from a bot\n/);
  assert.match(out, /2 in #lobby:\n {2}bob \(n1\)\n {2}bot \(n1\)\n/);
  assert.doesNotMatch(out, /[\x1b\x07\r]/, "no escape codes, bells or CRs in plain mode");
  hub.say(hub.sessions().next().value!, undefined, "hi \x1b]0;pwn\x07bot\r\u009b31m!");
  await settle();
  assert.equal(channel.take(), "<bob> hi bot!\n");
  channel.eof();
  await settle();
  assert.equal(chat.session?.open, false);
  assert.equal(channel.exitStatus, 0);
  assert.equal(channel.ended, true);
  assert.equal(observer.messages("leave").at(-1)?.from, "bot");
});

Deno.test("SshChatSession plain mode runs an exec command as its first line", async () => {
  const { hub, observer } = setup();
  const { channel } = open(hub, "cron", { pty: false, command: "backup finished" });
  channel.eof();
  await settle();
  assert.deepEqual(observer.messages().map((m) => `${m.from}: ${m.text}`), [
    "cron: backup finished",
  ]);
  assert.equal(channel.ended, true);
});

Deno.test("SshChatSession plain mode drops an overlong line and goes on", async () => {
  const { hub, observer } = setup();
  const { channel } = open(hub, "bot", { pty: false });
  channel.type("x".repeat(20_000));
  channel.type("y".repeat(100) + "\nok\n");
  await settle();
  assert.deepEqual(observer.messages().map((m) => m.text), ["ok"]);
  assert.match(channel.take(), /error: Line too long/);
});

Deno.test("SshChatSession PTY mode edits the line and prints messages above the prompt", async () => {
  const { hub, observer, bob } = setup();
  const { channel } = open(hub, "alice");
  await settle();
  const welcome = channel.take();
  assert.ok(welcome.startsWith("\x1b[?2004h"), "bracketed paste is turned on");
  assert.match(welcome, /\[#lobby\] \x1b\[38;5;\d+malice\x1b\[39m> /);
  channel.type("helo wrld");
  channel.type("\x1b[D\x1b[D\x1b[Do");
  channel.type("\x01\x1b[C\x1b[C\x1b[Cl\x05\r");
  await settle();
  assert.deepEqual(observer.messages().map((m) => m.text), ["hello world"]);
  channel.type("draft");
  await settle();
  channel.take();
  hub.say(bob, undefined, "incoming");
  await settle();
  const out = channel.take();
  // Erase the prompt row, print the message, draw the prompt and draft again.
  assert.match(
    out,
    /^\r\x1b\[J\S* ?<\x1b\[38;5;\d+mbob\x1b\[39m> incoming\r\n\r\x1b\[J\[#lobby\] .*> .*draft$/,
  );
  channel.type("\x15gone\x17\x0bsent\r");
  await settle();
  assert.equal(observer.messages().at(-1)?.text, "sent");
  channel.type("\x1b[A\x1b[A\r");
  await settle();
  assert.equal(observer.messages().at(-1)?.text, "hello world", "Up recalls history");
});

Deno.test("SshChatSession shows another user's escape sequences as harmless text", async () => {
  const { hub, bob } = setup();
  const { channel } = open(hub, "alice");
  await settle();
  channel.take();
  hub.say(bob, undefined, "a\x1b]0;pwn\x07b\x1b[2Jc\u009b31md\re\x1bPdcs\x1b\\f");
  await settle();
  const out = channel.take();
  assert.match(out, /> abcdef\r\n/);
  for (const bad of ["\x1b]", "\x1b[2J", "\u009b", "\x1bP", "pwn", "31m"]) {
    assert.ok(!out.includes(bad), `${JSON.stringify(bad)} must not reach the terminal`);
  }
});

Deno.test("SshChatSession Tab completes commands, nicks and rooms", async () => {
  const { hub } = setup();
  const { channel } = open(hub, "alice");
  await settle();
  channel.type("/whoi\t");
  await settle();
  assert.match(channel.take(), /\/whois $/);
  channel.type("b\t");
  await settle();
  assert.match(channel.take(), /\/whois bob $/);
  channel.type("\x15hi #lob\t");
  await settle();
  assert.match(channel.take(), /hi #lobby $/);
  // /seal is left out of /help, and of completion: only the terminal client sends it.
  channel.type("\x15/seal\t");
  await settle();
  const out = channel.take();
  assert.doesNotMatch(out, /\/seal /);
  assert.match(out, /\x07/);
});

Deno.test("SshChatSession turns a bracketed paste into several messages within the rate limit", async () => {
  const { hub, observer } = setup({ rateBurst: 3 });
  const { channel } = open(hub, "alice");
  await settle();
  channel.type("\x1b[200~one\r\ntwo\nthree\nfour\nfive\x1b[201~\r");
  await settle(20);
  assert.deepEqual(observer.messages().map((m) => m.text), ["one", "two", "three"]);
  assert.match(channel.take(), /Slow down: too many messages.*\(1 more line not sent\)/);
});

Deno.test("SshChatSession leaves cleanly on Ctrl-C, Ctrl-D and /quit", async () => {
  for (const keys of ["typed\x03", "\x04", "/quit bye all\r"]) {
    const { hub, observer } = setup();
    const { channel, chat } = open(hub, "alice");
    await settle();
    channel.type(keys);
    await settle();
    assert.equal(chat.session?.open, false, JSON.stringify(keys));
    const leave = observer.messages("leave").at(-1);
    assert.equal(leave?.from, "alice");
    assert.equal(channel.exitStatus, 0);
    assert.equal(channel.ended, true);
    assert.ok(channel.take().endsWith("\x1b[?2004l"), "the terminal is restored");
    assert.equal([...hub.sessions()].length, 1);
  }
});

Deno.test("SshChatSession drops a reader that stops reading", async () => {
  const { hub, observer, bob } = setup();
  const { channel, chat } = open(hub, "slow", { maxQueueBytes: 4096 });
  await settle();
  channel.stalled = true;
  for (let i = 0; i < 100 && chat.session?.open; i++) {
    hub.say(bob, undefined, `message ${i} ${"x".repeat(100)}`);
    await settle(0);
  }
  assert.equal(chat.session?.open, false);
  assert.equal(channel.closed, true);
  assert.equal(observer.messages("leave").at(-1)?.text, "too slow");
});

Deno.test("SshChatSession colours: /theme mono, /timestamp off, NO_COLOR and TERM=dumb", async () => {
  const { hub, bob } = setup();
  const { channel } = open(hub, "alice");
  await settle();
  channel.type("/theme mono\r/timestamp off\r");
  await settle();
  channel.take();
  hub.say(bob, undefined, "plain please");
  await settle();
  const out = channel.take();
  assert.match(out, /\r\x1b\[J<bob> plain please\r\n/);
  assert.doesNotMatch(out, /\x1b\[(38;5|2)/, "no colours, no dim timestamps");
  for (const options of [{ noColor: true }, { term: "dumb" }]) {
    const other = open(hub, "c", options);
    await settle();
    hub.say(bob, undefined, "again");
    await settle();
    assert.doesNotMatch(other.channel.take(), /\x1b\[38;5/);
  }
});

Deno.test("SshChatSession rings the bell on a mention", async () => {
  const { hub, bob } = setup();
  const { channel } = open(hub, "alice");
  await settle();
  hub.say(bob, undefined, "no one");
  await settle();
  assert.doesNotMatch(channel.take(), /\x07/);
  hub.say(bob, undefined, "hey alice, look");
  await settle();
  assert.match(channel.take(), /\x07/);
});

Deno.test("SshChatSession reflows on window-change and wraps long lines", async () => {
  const { hub } = setup();
  const { channel, chat } = open(hub, "alice", { columns: 20 });
  await settle();
  channel.take();
  channel.type("x".repeat(30));
  await settle();
  channel.take();
  chat.resize(10);
  await settle();
  const out = channel.take();
  assert.match(out, /\r\x1b\[J/, "redrawn");
  channel.type("\r");
  await settle();
});

Deno.test("SshChatSession leaves no stale copy of the input line after the window narrows", async () => {
  for (const reflow of [false, true]) {
    const label = reflow ? "reflowing terminal" : "truncating terminal";
    const { hub, bob } = setup();
    const { channel, chat } = open(hub, "alice", { columns: 60, rows: 12, noColor: true });
    const vt = new VirtualTerminal(60, reflow, 12);
    channel.type("/timestamp off\r");
    await settle();
    hub.say(bob, "lobby", "before");
    channel.type("x".repeat(30));
    await settle();
    vt.write(channel.take());
    const input = "[#lobby] alice> " + "x".repeat(30);
    assert.equal(vt.visible().at(-1), input, label);
    // A window-change, then a message: what the person sees.
    vt.resize(20);
    chat.resize(20, 12);
    await settle();
    hub.say(bob, "lobby", "after");
    await settle();
    vt.write(channel.take());
    const screen = vt.visible();
    assert.deepEqual(screen.slice(-5), [
      "<bob> before",
      "<bob> after",
      "[#lobby] alice> xxxx",
      "xxxxxxxxxxxxxxxxxxxx",
      "xxxxxx",
    ], label);
    assert.equal(screen.join("").replace(/[^x]/g, "").length, 30, `${label}: ${screen.join("|")}`);
    // Typing goes on where the person sees the line.
    channel.type("!");
    await settle();
    vt.write(channel.take());
    assert.deepEqual(vt.visible().slice(-1), ["xxxxxx!"], label);
  }
});

Deno.test("SshChatSession shows the last 20 messages on joining a room", async () => {
  const { hub, bob } = setup();
  hub.join(bob, "busy");
  for (let i = 0; i < 30; i++) hub.say(bob, "busy", `line ${i}`);
  const { channel } = open(hub, "alice", { pty: false });
  channel.type("/join busy\n");
  await settle();
  const out = channel.take();
  assert.doesNotMatch(out, /line 9\n/);
  assert.match(out, /Now in #busy\n<bob> line 10\n[^]*<bob> line 29\n/);
});

Deno.test("SshChatSession with history 0 shows none, on login nor on /join; 2 shows 2", async () => {
  const { hub, bob } = setup();
  hub.join(bob, "busy");
  for (let i = 0; i < 30; i++) hub.say(bob, "busy", `line ${i}`);
  hub.say(bob, "lobby", "in the lobby");
  const quiet = open(hub, "bot", { pty: false, history: 0 });
  quiet.channel.type("/join busy\n");
  await settle();
  const out = quiet.channel.take();
  assert.match(out, /Now in #lobby\n→ bot joined #lobby\nNow in #busy\n→ bot joined #busy\n$/);
  assert.equal(quiet.chat.session?.joinHistory, 0);
  const some = open(hub, "two", { pty: false, history: 2 });
  some.channel.type("/join busy\n");
  await settle();
  assert.match(
    some.channel.take(),
    /Now in #lobby\n<bob> in the lobby\n→ two joined #lobby\nNow in #busy\n<bob> line 28\n<bob> line 29\n/,
  );
});

Deno.test("SshChatSession offers a free nick when the name is registered to another key", async () => {
  const { hub } = setup({ registry: true });
  const registry = hub.log.nicks;
  const first = open(hub, "carol", { fingerprint: KEY_A, pty: false });
  assert.equal(first.chat.session?.nick, "carol");
  assert.equal(registry.ownerOf("carol"), KEY_A);
  first.chat.leave();
  const second = open(hub, "carol", { fingerprint: KEY_B, pty: false });
  assert.equal(second.chat.session?.nick, "carol2");
  await settle();
  assert.match(
    second.channel.take(),
    /Nick carol is registered to another SSH key: you are carol2/,
  );
  assert.equal(registry.ownerOf("carol2"), KEY_B);
  const guest = open(hub, "carol", { pty: false });
  assert.equal(guest.chat.session?.nick, "carol3");
  assert.equal(registry.ownerOf("carol3"), undefined, "guests own nothing");
  second.chat.leave();
  const back = open(hub, "carol", { fingerprint: KEY_B, pty: false });
  assert.equal(back.chat.session?.nick, "carol2", "a key gets a nick it owns first");
});

Deno.test("nickCandidates() makes any user name a valid nick", () => {
  assert.deepEqual(nickCandidates("alice").slice(0, 3), ["alice", "alice2", "alice3"]);
  assert.deepEqual(nickCandidates("root@evil\x1b[2J", ["mine"]).slice(0, 3), [
    "rootevil2J",
    "mine",
    "rootevil2J2",
  ]);
  assert.equal(nickCandidates("")[0], "guest");
  assert.ok(nickCandidates("a".repeat(40)).every((nick) => nick.length <= 16));
});

/** The time of #lobby's newest message, as `HH:MM` in a time zone. */
function lastLobbyTimeIn(hub: Hub, timeZone: string): string {
  const time = toMsgFrame(hub.findRoom("lobby")!.recent(1)[0]!).time;
  return new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(time);
}

Deno.test("SshChatSession restores a key's settings from the first screen and keeps its changes", async () => {
  const { hub, bob } = setup();
  hub.say(bob, undefined, "before");
  const dir = await scratchDir();
  const store = UserSettingsStore.open(`${dir}/user_settings.json`, { delayMs: 60_000 });
  store.set(KEY_A, { theme: "mono", timestamps: "on", tz: "Asia/Tokyo", ignored: ["carol"] });
  const { channel, chat } = open(hub, "keeper", { fingerprint: KEY_A, settings: store });
  await settle();
  const welcome = channel.take();
  assert.match(welcome, /Your saved settings: theme mono, timestamps on, time zone Asia\/Tokyo/);
  // Mono from the first line on: no colour codes, and the time is Tokyo's.
  assert.doesNotMatch(welcome, /\x1b\[38;5;/);
  const tokyo = lastLobbyTimeIn(hub, "Asia/Tokyo");
  assert.ok(
    welcome.includes(`${tokyo}\x1b[22m <bob> before`) || welcome.includes(`${tokyo} <bob> before`),
  );
  assert.ok(chat.session!.ignored.has("carol"));
  channel.type("/tz UTC\r/unignore carol\r");
  await settle(20);
  assert.deepEqual(store.get(KEY_A), { theme: "mono", timestamps: "on", tz: "UTC" });
  chat.leave();
  await store.flush();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SshChatSession keeps nothing for a guest, and shows times in the zone its client sent", async () => {
  const { hub, bob } = setup();
  const store = UserSettingsStore.open("./data/tmp/never-written-settings.json", {
    delayMs: 60_000,
  });
  const { channel, chat } = open(hub, "guest", {
    pty: false,
    settings: store,
    timeZone: "Asia/Tokyo",
  });
  await settle();
  channel.type("/theme mono\n/timestamp on\n");
  await settle(20);
  assert.equal(store.size, 0);
  hub.say(bob, undefined, "late");
  await settle();
  const tokyo = lastLobbyTimeIn(hub, "Asia/Tokyo");
  assert.ok(channel.take().includes(`${tokyo} <bob> late`));
  chat.leave();
});
