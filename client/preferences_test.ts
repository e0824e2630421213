import assert from "node:assert/strict";
import type { MsgFrame } from "../core/protocol.ts";
import { ChatView } from "./chat_view.ts";
import { Preferences } from "./preferences.ts";
import type { ClientSettings } from "./settings.ts";

const NOON_UTC = Date.UTC(2026, 11, 4, 12, 0);

function message(from = "bob"): MsgFrame {
  return { t: "msg", id: "n1:1", time: NOON_UTC, room: "", kind: "message", from, text: "hi" };
}

Deno.test("Preferences applies what was saved to the view", () => {
  const view = new ChatView({ color: true, timestamps: true });
  const prefs = new Preferences(view, {
    settings: { theme: "mono", timeZone: "Asia/Kathmandu", ignored: ["carol"] },
  });
  assert.equal(view.format(message()), "17:45 <bob> hi");
  assert.ok(prefs.isIgnored("Carol"));
  assert.ok(!prefs.isIgnored("bob"));
});

Deno.test("Preferences.run() changes the view at once and saves every choice", () => {
  const view = new ChatView({ color: true, timestamps: true });
  const saved: ClientSettings[] = [];
  const prefs = new Preferences(view, { save: (s) => void saved.push(structuredClone(s)) });
  assert.deepEqual(prefs.run("/theme mono", "alice"), [{ text: "Theme: mono" }]);
  assert.deepEqual(prefs.run("/timestamp off", "alice"), [{ text: "Timestamps: off" }]);
  assert.equal(view.format(message()), "<bob> hi");
  assert.deepEqual(prefs.run("/tz UTC", "alice"), [{ text: "Time zone: UTC" }]);
  prefs.run("/timestamps on", "alice");
  assert.equal(view.format(message()), "12:00 <bob> hi");
  assert.deepEqual(prefs.run("/ignore Carol", "alice"), [
    { text: "Ignoring Carol: /unignore Carol to see them again" },
  ]);
  assert.deepEqual(saved.at(-1), {
    theme: "mono",
    timestamps: true,
    timeZone: "UTC",
    ignored: ["carol"],
  });
  prefs.run("/tz local", "alice");
  assert.equal("timeZone" in saved.at(-1)!, false);
  assert.deepEqual(prefs.run("/unignore carol", "alice"), [{ text: "No longer ignoring carol" }]);
  assert.deepEqual(saved.at(-1)!.ignored, []);
  assert.equal(prefs.run("/join x", "alice"), undefined, "other lines are not its business");
});

Deno.test("Preferences.run() refuses bad choices with a reason and saves nothing", () => {
  const saved: ClientSettings[] = [];
  const prefs = new Preferences(new ChatView(), { save: (s) => void saved.push(s) });
  const refusals = [
    ["/theme pink", /Unknown theme "pink": use color or mono/],
    ["/timestamp maybe", /Invalid choice "maybe": use on or off/],
    ["/tz Mars/Base", /Unknown time zone "Mars\/Base"/],
    ["/ignore alice", /You cannot ignore yourself/],
    ["/ignore bad!nick", /Invalid nick/],
    ["/unignore bob", /You do not ignore "bob"/],
  ] as const;
  for (const [line, reason] of refusals) {
    const [shown] = prefs.run(line, "ALICE") ?? [];
    assert.equal(shown?.error, true, line);
    assert.match(shown?.text ?? "", reason);
  }
  assert.equal(saved.length, 0);
});

Deno.test("Preferences: /theme color where colours cannot show is saved but says so", () => {
  const view = new ChatView({ color: false });
  const prefs = new Preferences(view, { colorAvailable: false });
  assert.match(prefs.run("/theme color", "a")?.[0]?.text ?? "", /saved; not shown here/);
  assert.equal(view.color, false);
});
