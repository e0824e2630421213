import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import { eventBytes } from "../../core/event_size.ts";
import { HistoryBudget } from "./history_budget.ts";

function event(room: string, wall: number, text = "hello"): ChatEvent {
  return {
    origin: "n1",
    seq: wall,
    hlc: { wall, counter: 0, node: "n1" },
    room,
    kind: "message",
    from: "ann",
    text,
  };
}

Deno.test("HistoryBudget accounts each event as its JSON plus the overhead", () => {
  const budget = new HistoryBudget(10_000, { overheadBytes: 100 });
  const a = event("r", 1);
  budget.add(a);
  budget.add(a);
  assert.equal(budget.retainedBytes, eventBytes(a) + 100);
  budget.remove(a);
  assert.equal(budget.retainedBytes, 0);
  assert.equal(budget.size, 0);
});

Deno.test("HistoryBudget.oldestOver() offers the oldest event across logs only while over budget", () => {
  const cost = eventBytes(event("a", 1)) + 10;
  const budget = new HistoryBudget(cost * 3, { overheadBytes: 10 });
  const events = [event("a", 5), event("b", 2), event("a", 4), event("c", 1), event("b", 3)];
  for (const e of events) budget.add(e);
  const evicted: number[] = [];
  for (let old = budget.oldestOver(); old !== undefined; old = budget.oldestOver()) {
    evicted.push(old.hlc.wall);
    budget.remove(old);
  }
  assert.deepEqual(evicted, [1, 2]);
  assert.ok(budget.retainedBytes <= budget.budgetBytes);
});

Deno.test("HistoryBudget.park() holds an event until its log gains a newer one", () => {
  const cost = eventBytes(event("a", 1)) + 10;
  const budget = new HistoryBudget(cost, { overheadBytes: 10 });
  budget.add(event("a", 1));
  budget.add(event("b", 2));
  const first = budget.oldestOver()!;
  assert.equal(first.hlc.wall, 1);
  budget.park(first);
  const second = budget.oldestOver()!;
  assert.equal(second.hlc.wall, 2);
  budget.park(second);
  assert.equal(budget.oldestOver(), undefined, "everything left is parked");
  assert.equal(budget.retainedBytes, 2 * cost, "parked events still count");
  budget.add(event("a", 3));
  assert.equal(budget.oldestOver()?.hlc.wall, 1, "log a gained an event: its oldest is back");
});

Deno.test("HistoryBudget.remove() of a parked or already evicted event keeps the count right", () => {
  const budget = new HistoryBudget(1, { overheadBytes: 0 });
  const a = event("a", 1);
  budget.add(a);
  budget.park(budget.oldestOver()!);
  budget.remove(a);
  budget.remove(a);
  assert.equal(budget.retainedBytes, 0);
  budget.add(event("a", 2));
  assert.equal(budget.oldestOver()?.hlc.wall, 2);
});

Deno.test("HistoryBudget stays exact through many removals (the heap is rebuilt)", () => {
  const budget = new HistoryBudget(1_000_000, { overheadBytes: 0 });
  const all: ChatEvent[] = [];
  for (let i = 1; i <= 1000; i++) all.push(event(`r${i % 7}`, 1001 - i));
  for (const e of all) budget.add(e);
  for (const e of all.slice(0, 900)) budget.remove(e);
  const left = all.slice(900);
  assert.equal(budget.retainedBytes, left.reduce((sum, e) => sum + eventBytes(e), 0));
  const small = new HistoryBudget(1, { overheadBytes: 0 });
  for (const e of left) small.add(e);
  const order: number[] = [];
  for (let old = small.oldestOver(); old !== undefined; old = small.oldestOver()) {
    order.push(old.hlc.wall);
    small.remove(old);
  }
  assert.deepEqual(order, left.map((e) => e.hlc.wall).sort((x, y) => x - y));
});

Deno.test("HistoryBudget refuses a budget that is not a positive integer", () => {
  assert.throws(() => new HistoryBudget(0), RangeError);
  assert.throws(() => new HistoryBudget(1.5), RangeError);
});
