import assert from "node:assert/strict";
import { clockTime } from "../core/chat_format.ts";
import type { MsgFrame } from "../core/protocol.ts";
import { ChatView } from "./chat_view.ts";
import type { Opening } from "./sealed_rooms.ts";

const SENT = Date.UTC(2026, 10, 20, 14, 3);

function event(time: number): MsgFrame {
  return {
    t: "msg",
    id: "n1:1",
    time,
    room: "vault",
    kind: "message",
    from: "alice",
    text: "",
    sealed: "x",
  };
}

function opened(stale: boolean): Opening {
  return {
    ok: true,
    text: "hi",
    verified: !stale,
    trust: stale ? "unpinned" : "first_use",
    sentAt: SENT,
    stale,
  };
}

Deno.test("ChatView.formatSealed() stamps an opened message with the time sealed inside it", () => {
  const view = new ChatView({ color: false });
  view.show({ t: "joined", room: "vault", topic: "", history: [] });
  const nodeTime = SENT + 3 * 60_000;
  assert.equal(view.formatSealed(event(nodeTime), opened(false)), `${clockTime(SENT)} <alice✓> hi`);
});

Deno.test("ChatView.formatSealed() flags a message sealed long before the node's time", () => {
  const view = new ChatView({ color: false, timestamps: false });
  view.show({ t: "joined", room: "vault", topic: "", history: [] });
  assert.equal(
    view.formatSealed(event(SENT + 3 * 86_400_000 + 5_000), opened(true)),
    "<alice> hi [sealed 2026-11-20 14:03 UTC, 3 days before the node's time: possibly replayed]",
  );
  assert.match(
    view.formatSealed(event(SENT - 2 * 3_600_000), opened(true)),
    /2 hours after the node's time: possibly replayed\]$/,
  );
});
