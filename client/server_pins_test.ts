import assert from "node:assert/strict";
import { pinKey, PINS_FILE, ServerPins } from "./server_pins.ts";
import { scratchDir } from "../tests/helpers/scratch_dir.ts";

const FP_A = `SHA256:${"A".repeat(43)}`;
const FP_B = `SHA256:${"B".repeat(43)}`;

Deno.test("pinKey() writes an address one way: host in lower case, IPv6 in brackets", () => {
  assert.equal(pinKey("LocalHost:8080"), "localhost:8080");
  assert.equal(pinKey(" 127.0.0.1:08080 "), "127.0.0.1:8080");
  assert.equal(pinKey("[::1]:8080"), "[::1]:8080");
  assert.notEqual(pinKey("localhost:8080"), pinKey("127.0.0.1:8080"), "names are not resolved");
});

Deno.test("ServerPins keeps pins in a 0600 file, one line per address, and reads them back with their line", async () => {
  const dir = await scratchDir();
  try {
    const { pins, warning } = ServerPins.open(dir);
    assert.equal(warning, undefined);
    assert.equal(pins.get("localhost:8080"), undefined);
    assert.deepEqual(pins.pin("LOCALHOST:8080", FP_A), { saved: true });
    assert.deepEqual(pins.pin("localhost:8081", FP_B), { saved: true });
    assert.throws(() => pins.pin("localhost:8080", FP_B), /pinned already/);
    const path = `${dir}/${PINS_FILE}`;
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const text = await Deno.readTextFile(path);
    assert.match(text, /^# meshchat: /);
    assert.match(text, new RegExp(`^localhost:8080 ${FP_A.replace("+", "\\+")}$`, "m"));
    // A hand-edited file: comments, junk and a second line for an address are kept, not used.
    await Deno.writeTextFile(
      path,
      `${text}not a pin\n127.0.0.1:9 SHA256:short\nlocalhost:8080 ${FP_B}\n`,
    );
    const reread = ServerPins.open(dir).pins;
    assert.deepEqual(reread.get("localhost:8080"), { fingerprint: FP_A, line: 2 });
    assert.deepEqual(reread.get("localhost:8081"), { fingerprint: FP_B, line: 3 });
    assert.equal(reread.get("127.0.0.1:9"), undefined);
    reread.pin("[::1]:8080", FP_A);
    const after = await Deno.readTextFile(path);
    assert.ok(after.startsWith(`${text}not a pin\n`), "appending changes nothing before");
    assert.deepEqual(ServerPins.open(dir).pins.get("[::1]:8080"), { fingerprint: FP_A, line: 7 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ServerPins.memory() pins for the session and says why it did not save", () => {
  const pins = ServerPins.memory();
  assert.deepEqual(pins.pin("localhost:8080", FP_A), {
    saved: false,
    reason: "no settings directory",
  });
  assert.deepEqual(pins.get("localhost:8080"), { fingerprint: FP_A, line: undefined });
});
