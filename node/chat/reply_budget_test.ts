import assert from "node:assert/strict";
import fc from "fast-check";
import type { MsgFrame, ServerFrame } from "../../core/protocol.ts";
import { type CommandContext, handleInput } from "./commands.ts";
import { Hub, type SessionSink } from "./hub.ts";
import {
  fitHistory,
  frameLength,
  itemsThatFit,
  newestThatFit,
  replyBudgetOf,
  utf8Length,
} from "./reply_budget.ts";

/** Records frames and offers a fixed reply budget. */
class BudgetSink implements SessionSink {
  readonly frames: ServerFrame[] = [];
  constructor(readonly budget: number) {}
  send(frame: ServerFrame): void {
    this.frames.push(frame);
  }
  close(): void {}
  replyBudget(): number {
    return this.budget;
  }
}

function msg(i: number, text: string): MsgFrame {
  return { t: "msg", id: `n1-${i}`, time: i, room: "lobby", kind: "message", from: "a", text };
}

Deno.test("utf8Length() agrees with TextEncoder", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 50 }), (text) => {
      assert.equal(utf8Length(text), new TextEncoder().encode(text).length);
    }),
    { numRuns: 300 },
  );
  assert.equal(utf8Length("a\ud83d"), 4); // a lone surrogate is written as U+FFFD
});

Deno.test("replyBudgetOf() leaves half the queue for live messages", () => {
  assert.equal(replyBudgetOf(65536, 0), 32768);
  assert.equal(replyBudgetOf(65536, 32000), 768);
  assert.equal(replyBudgetOf(65536, 60000), 0);
});

Deno.test("newestThatFit() keeps the newest messages that fit, oldest first", () => {
  const history = [0, 1, 2, 3, 4].map((i) => msg(i, "x".repeat(100)));
  const one = frameLength(history[0]);
  assert.deepEqual(newestThatFit(history, 3 * one + 10, 10).map((m) => m.id), [
    "n1-2",
    "n1-3",
    "n1-4",
  ]);
  assert.deepEqual(newestThatFit(history, one - 1, 0), []);
  assert.equal(newestThatFit(history, Infinity, 0).length, 5);
});

Deno.test("fitHistory() makes a frame whose JSON fits the sink's budget", () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: "grapheme", maxLength: 300 }), { maxLength: 40 }),
      fc.integer({ min: 0, max: 20_000 }),
      (texts, budget) => {
        const sink = new BudgetSink(budget);
        const frame = fitHistory(sink, {
          t: "history",
          room: "lobby",
          history: texts.map((text, i) => msg(i, text)),
        });
        const bytes = new TextEncoder().encode(JSON.stringify(frame)).length + 1;
        if (frame.history.length > 0) assert.ok(bytes <= budget, `${bytes} > ${budget}`);
        // Nothing left out that would have fit.
        const next = texts.length - frame.history.length - 1;
        if (next >= 0) assert.ok(bytes + frameLength(msg(next, texts[next]!)) > budget);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("itemsThatFit() counts the list items whose lines and data fit", () => {
  const lines = ["  a", "  b", "  c"];
  const data = [{ n: "a" }, { n: "b" }, { n: "c" }];
  const each = frameLength(lines[0]) + frameLength(data[0]);
  assert.equal(itemsThatFit(lines, data, 2 * each + 5, 5), 2);
  assert.equal(itemsThatFit(lines, data, Infinity, 0), 3);
  assert.equal(itemsThatFit(lines, data, 0, 0), 0);
});

Deno.test("/who of a huge room is cut to the reader's budget, saying how many more", async () => {
  const hub = new Hub({ nodeId: "n1", rateBurst: 0 });
  for (let i = 0; i < 300; i++) {
    hub.connect(new BudgetSink(Infinity), { user: `u${i}` }, {
      via: "test",
      address: "-",
    });
  }
  const sink = new BudgetSink(4096);
  const session = hub.connect(sink, { user: "asker" }, { via: "test", address: "-" });
  let reply: { lines: readonly string[]; data: unknown } | undefined;
  const ctx: CommandContext = {
    hub,
    session,
    room: undefined,
    reply: (_cmd, lines, data) => (reply = { lines, data }),
  };
  await handleInput(ctx, "/who");
  assert.ok(reply !== undefined);
  assert.ok(frameLength({ t: "info", cmd: "who", ...reply }) <= 4096);
  assert.equal(reply.lines[0], "301 in #lobby:");
  assert.match(reply.lines.at(-1)!, /^ {2}… and \d+ more, not shown$/);
  const shown = reply.lines.length - 2;
  assert.equal((reply.data as unknown[]).length, shown);
  assert.equal(Number(/\d+/.exec(reply.lines.at(-1)!)![0]) + shown, 301);
});
