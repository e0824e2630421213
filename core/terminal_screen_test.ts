import assert from "node:assert/strict";
import { VirtualTerminal } from "../tests/helpers/virtual_terminal.ts";
import { TerminalScreen, type TerminalScreenOptions } from "./terminal_screen.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

/** A screen drawn on a virtual terminal, with colours off unless asked. */
function setup(options: Partial<TerminalScreenOptions> = {}, reflow = false) {
  const columns = options.columns ?? 40;
  const rows = options.rows ?? 10;
  const vt = new VirtualTerminal(columns, reflow, rows);
  let notices = 0;
  const screen = new TerminalScreen({
    color: () => false,
    ...options,
    columns,
    rows,
    onOutput: () => notices++,
  });
  screen.start("> ");
  /** Writes what the screen has waiting to the virtual terminal, and returns it. */
  const draw = () => {
    const out = screen.takeOutput();
    vt.write(out.replace(/\x1b\[\?2004[hl]|\x07/g, ""));
    return out;
  };
  draw();
  return { screen, vt, draw, notices: () => notices };
}

Deno.test("TerminalScreen prints lines above the line being typed, which stays whole", () => {
  const { screen, vt, draw } = setup();
  assert.deepEqual(screen.feed(bytes("draft")), []);
  draw();
  screen.print([{ text: "<bob> one" }]);
  screen.print([{ text: "<bob> two" }, { text: "<bob> three" }]);
  const out = draw();
  // Three lines printed before the output was taken cost one redraw of the input.
  assert.equal(out.split("> draft").length - 1, 1, JSON.stringify(out));
  assert.deepEqual(vt.visible().slice(-4), ["<bob> one", "<bob> two", "<bob> three", "> draft"]);
});

Deno.test("TerminalScreen.feed() gives submitted lines and quits, not blank lines", () => {
  const { screen } = setup();
  assert.deepEqual(screen.feed(bytes("hi\r   \r")), [{ type: "line", line: "hi" }]);
  assert.deepEqual(screen.feed(bytes("\x1b[200~one\ntwo\x1b[201~\r")), [
    { type: "line", line: "one" },
    { type: "line", line: "two" },
  ]);
  assert.deepEqual(screen.feed(bytes("typed\x03")), [{ type: "quit" }]);
  assert.deepEqual(screen.feed(bytes("\x04")), [{ type: "quit" }]);
});

Deno.test("TerminalScreen.feed() decodes a character split between reads", () => {
  const { screen } = setup();
  const e = bytes("é\r");
  assert.deepEqual(screen.feed(e.subarray(0, 1)), []);
  assert.deepEqual(screen.feed(e.subarray(1)), [{ type: "line", line: "é" }]);
});

Deno.test("TerminalScreen holds a lone ESC until flushEscape(), then drops it", () => {
  const { screen } = setup();
  screen.feed(bytes("\x1b"));
  assert.equal(screen.escapePending, true);
  screen.flushEscape();
  assert.equal(screen.escapePending, false);
  assert.deepEqual(screen.feed(bytes("a\r")), [{ type: "line", line: "a" }]);
});

Deno.test("TerminalScreen rings the bell for a line that asks and a key that cannot apply", () => {
  const { screen, draw } = setup();
  screen.print([{ text: "no one" }]);
  assert.doesNotMatch(draw(), /\x07/);
  screen.print([{ text: "hey you", bell: true }]);
  assert.match(draw(), /\x07$/);
  screen.feed(bytes("\t")); // no completion
  assert.match(draw(), /\x07/);
});

Deno.test("TerminalScreen shows Tab candidates above the line", () => {
  const { screen, vt, draw } = setup({ complete: () => ["alice", "alan"] });
  screen.feed(bytes("a\t"));
  draw();
  assert.deepEqual(vt.visible().slice(-2), ["alice  alan", "> al"]);
});

Deno.test("TerminalScreen paints error lines red only while colours are on", () => {
  let color = true;
  const { screen, draw } = setup({ color: () => color });
  screen.print([{ text: "error: no", error: true }]);
  assert.match(draw(), /\x1b\[31merror: no\x1b\[39m/);
  color = false;
  screen.print([{ text: "error: no", error: true }]);
  assert.doesNotMatch(draw(), /\x1b\[31m/);
});

Deno.test("TerminalScreen says when output waits, and not for a change that draws nothing", () => {
  const { screen, notices } = setup();
  const before = notices();
  screen.setPrompt("> ");
  screen.feed(bytes("\x1b[D")); // Left at the start of the line: nothing moves
  assert.equal(notices(), before);
  screen.setPrompt("$ ");
  assert.equal(notices(), before + 1);
  assert.equal(screen.takeOutput(), "\r\x1b[J$ ");
  assert.equal(screen.takeOutput(), "");
});

for (const reflow of [false, true]) {
  const label = reflow ? "reflowing terminal" : "truncating terminal";
  Deno.test(`TerminalScreen repaints after a resize, no stale input line (${label})`, () => {
    const { screen, vt, draw } = setup({ columns: 60, rows: 8 }, reflow);
    screen.print([{ text: "before" }]);
    screen.feed(bytes("x".repeat(30)));
    draw();
    vt.resize(20);
    screen.resize(20);
    screen.print([{ text: "after" }]);
    draw();
    assert.deepEqual(vt.visible().slice(-4), [
      "before",
      "after",
      "> " + "x".repeat(18),
      "x".repeat(12),
    ]);
    assert.equal(vt.visible().join("").replace(/[^x]/g, "").length, 30, label);
    screen.resize(20, 8);
    assert.equal(screen.takeOutput(), "", "the same size again draws nothing");
  });
}

Deno.test("TerminalScreen repaints from its newest 200 lines, at most 32 KiB of them", () => {
  const screen = new TerminalScreen({ columns: 1000, rows: 1000, color: () => false });
  screen.start("> ");
  let width = 1000;
  /** Numbers of the lines a repaint after a resize draws. */
  const repainted = () => {
    screen.takeOutput();
    screen.resize(width === 1000 ? --width : ++width);
    return [...screen.takeOutput().matchAll(/line (\d+)\b/g)].map((m) => Number(m[1]));
  };
  const lines = (from: number, count: number, length: number) =>
    Array.from({ length: count }, (_, i) => ({ text: `line ${from + i} `.padEnd(length, "x") }));
  screen.print(lines(0, 150, 20));
  screen.print(lines(150, 150, 20));
  assert.deepEqual(repainted(), Array.from({ length: 200 }, (_, i) => 100 + i));
  // Lines of 4,000 characters: 8 fit in 32 KiB.
  screen.print(lines(300, 20, 4000));
  assert.deepEqual(repainted(), [312, 313, 314, 315, 316, 317, 318, 319]);
  // A line longer than the bound is kept while it is the newest.
  screen.print(lines(320, 1, 40_000));
  assert.deepEqual(repainted(), [320]);
  screen.print(lines(321, 1, 20));
  assert.deepEqual(repainted(), [321]);
});

Deno.test("TerminalScreen.askSecret() echoes nothing and gives the line being typed back", async () => {
  const { screen, vt, draw } = setup();
  screen.feed(bytes("draft"));
  draw();
  const asked = screen.askSecret("Passphrase: ");
  await Promise.resolve();
  draw();
  assert.equal(vt.visible().at(-1), "Passphrase:");
  assert.deepEqual(screen.feed(bytes("hunter2")), []);
  screen.print([{ text: "<bob> meanwhile" }]);
  const shown = draw();
  assert.doesNotMatch(shown, /hunter/);
  assert.deepEqual(vt.visible().slice(-2), ["<bob> meanwhile", "Passphrase:"]);
  screen.feed(bytes("\r"));
  assert.equal(await asked, "hunter2");
  draw();
  assert.equal(vt.visible().at(-1), "> draft");
});

Deno.test("TerminalScreen.askSecret() is cancelled by Esc, and cancelSecrets() ends the queue", async () => {
  const { screen } = setup();
  const first = screen.askSecret("First: ");
  const second = screen.askSecret("Second: ");
  await Promise.resolve();
  screen.feed(bytes("abc\x1b"));
  screen.flushEscape();
  assert.equal(await first, undefined);
  screen.cancelSecrets();
  assert.equal(await second, undefined);
  assert.equal(await screen.askSecret("Third: "), undefined);
});

Deno.test("TerminalScreen.end() writes what waits, erases the input and shows nothing after", () => {
  const { screen } = setup();
  screen.feed(bytes("draft"));
  screen.print([{ text: "last words" }]);
  const out = screen.end();
  assert.match(out, /last words\r\n[^]*> draft\r\x1b\[J\x1b\[\?2004l$/);
  screen.print([{ text: "too late" }]);
  assert.equal(screen.takeOutput(), "");
  assert.equal(screen.end(), "");
});
