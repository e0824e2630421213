// Copyright the meshchat authors. MIT license.
import { nodePresenceNotices } from "../../node/chat/node_presence_notice.ts";

// A node of 5,000 people dies while 2,000 people here share rooms with them.
const people = Array.from({ length: 5000 }, (_, i) => ({
  nick: `user${i}`,
  rooms: ["lobby", `room${i % 50}`],
  since: i,
}));
const oneRoom = Array.from({ length: 2000 }, () => ({
  rooms: new Set(["lobby"]),
  ignored: new Set<string>(),
}));
const threeRooms = Array.from({ length: 2000 }, (_, i) => ({
  rooms: new Set(["lobby", `room${i % 50}`, `room${(i + 1) % 50}`]),
  ignored: new Set(["user1"]),
}));

Deno.bench({
  name: "nodePresenceNotices() 5000 people gone, 2000 readers in #lobby",
  fn() {
    nodePresenceNotices(oneRoom, people, "n2", "unreachable");
  },
});

Deno.bench({
  name: "nodePresenceNotices() 5000 people gone, 2000 readers in 3 rooms each",
  fn() {
    nodePresenceNotices(threeRooms, people, "n2", "unreachable");
  },
});
