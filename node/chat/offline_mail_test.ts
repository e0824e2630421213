import assert from "node:assert/strict";
import type { ChatEvent } from "../../core/event.ts";
import { EventLog } from "./event_log.ts";
import { OfflineMail } from "./offline_mail.ts";

let seq = 0;

function mail(to: string, wall: number): ChatEvent {
  seq++;
  return {
    origin: "n1",
    seq,
    hlc: { wall, counter: 0, node: "n1" },
    room: "",
    kind: "private",
    from: "bob",
    to,
    text: `m${wall}`,
  };
}

Deno.test("OfflineMail keeps each recipient's newest messages in order, the oldest going first", () => {
  const box = new OfflineMail({ maxPerRecipient: 2 });
  const [late, early, middle] = [mail("ann", 30), mail("ANN", 10), mail("ann", 20)];
  assert.equal(box.apply(late), undefined);
  assert.equal(box.apply(early), undefined);
  assert.deepEqual(box.to("Ann").map((e) => e.text), ["m10", "m30"]);
  assert.equal(box.apply(middle), early);
  assert.deepEqual(box.to("ann").map((e) => e.text), ["m20", "m30"]);
  assert.equal(box.apply(mail("ann", 5))?.text, "m5", "older than a full box: not kept");
  assert.deepEqual(box.to("bob"), []);
});

Deno.test("OfflineMail drops the message held longest when it holds its total", () => {
  const box = new OfflineMail({ maxTotal: 2 });
  const first = mail("ann", 10);
  box.apply(first);
  box.apply(mail("bob", 20));
  assert.equal(box.apply(mail("cat", 5)), first, "the first held goes, not the oldest stamp");
  assert.deepEqual(box.to("ann"), []);
  assert.equal(box.size, 2);
  assert.deepEqual([...box.events()].map((e) => e.to).sort(), ["bob", "cat"]);
});

Deno.test("EventLog keeps messages to owned nicks and seen marks whatever the history budget", () => {
  const log = new EventLog({ origin: "n1", historyBudgetBytes: 8_000 });
  log.nicks.claim("ann", "SHA256:" + "a".repeat(43));
  const kept = log.append({ room: "", kind: "private", from: "bob", text: "for ann", to: "ann" });
  const lost = log.append({ room: "", kind: "private", from: "bob", text: "for cat", to: "cat" });
  const mark = log.append({ room: "lobby", kind: "seen", from: "ann", text: "1:0:n1:1" });
  for (let i = 0; i < 200; i++) {
    log.append({ room: "lobby", kind: "message", from: "bob", text: `line ${i}` });
    log.append({ room: "", kind: "private", from: "bob", text: `p${i}`, to: "dan" });
  }
  assert.equal(log.get("n1", lost.seq), undefined, "the private log went by the budget");
  assert.equal(log.get("n1", kept.seq), kept);
  assert.equal(log.get("n1", mark.seq), mark);
  assert.deepEqual(log.mail.to("ann"), [kept]);
  assert.deepEqual(log.privateHistory("ann", 5), [kept]);
  assert.equal(log.seen.markOf("ann", "lobby")?.seq, 1);
  assert.equal(log.rooms.get("lobby")!.log.toArray().some((e) => e.kind === "seen"), false);
});
