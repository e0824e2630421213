import assert from "node:assert/strict";
import { ProtocolError } from "../../core/protocol.ts";
import { Hub } from "./hub.ts";
import { NickRegistry } from "./nick_registry.ts";
import { NickRegistryFile } from "../store/nick_registry_file.ts";

const A = `SHA256:${"a".repeat(43)}`;
const B = `SHA256:${"b".repeat(43)}`;

Deno.test("NickRegistry.claim() gives a nick to the first key, any case", () => {
  const registry = new NickRegistry({ now: () => 5 });
  assert.equal(registry.claim("Alice", A), "claimed");
  assert.equal(registry.claim("ALICE", A), "owned");
  assert.equal(registry.claim("alice", B), "taken");
  assert.equal(registry.ownerOf("aLiCe"), A);
  assert.deepEqual(registry.nicksOf(A), ["Alice"]);
  assert.equal(registry.ownerOf("bob"), undefined);
});

Deno.test("NickRegistry.check() refuses other keys and keyless people, use() claims", () => {
  const registry = new NickRegistry();
  assert.equal(registry.check("alice", undefined), undefined);
  registry.use("alice", undefined);
  assert.equal(registry.ownerOf("alice"), undefined, "a guest never owns a nick");
  registry.use("alice", A);
  assert.equal(registry.check("alice", A), undefined);
  assert.match(registry.check("alice", B) ?? "", /registered to another SSH key/);
  assert.match(registry.check("Alice", undefined) ?? "", /registered to an SSH key/);
});

Deno.test("NickRegistry.claim() stops one key at its quota and a full registry", () => {
  const registry = new NickRegistry({ maxNicksPerKey: 2, maxClaims: 3 });
  assert.equal(registry.claim("a1", A), "claimed");
  assert.equal(registry.claim("a2", A), "claimed");
  assert.equal(registry.claim("a3", A), "quota");
  registry.use("a3", A);
  assert.equal(registry.ownerOf("a3"), undefined, "past its quota a key uses nicks unowned");
  assert.equal(registry.claim("b1", B), "claimed");
  assert.equal(registry.claim("b2", B), "full");
});

Deno.test("NickRegistry.merge() converges whatever order claims arrive in", () => {
  const early = { nick: "carol", fingerprint: B, since: 10 };
  const late = { nick: "Carol", fingerprint: A, since: 20 };
  const one = new NickRegistry();
  const two = new NickRegistry();
  assert.equal(one.merge(early), true);
  assert.equal(one.merge(late), false);
  assert.equal(two.merge(late), true);
  assert.equal(two.merge(early), true);
  assert.equal(one.ownerOf("carol"), B);
  assert.equal(two.ownerOf("carol"), B);
  assert.deepEqual(two.nicksOf(A), []);
  const tie = new NickRegistry();
  tie.merge({ nick: "dan", fingerprint: B, since: 1 });
  tie.merge({ nick: "dan", fingerprint: A, since: 1 });
  assert.equal(tie.ownerOf("dan"), A, "equal times go to the smaller fingerprint");
});

Deno.test("NickRegistry.onClaim() tells every change; toJSON()/fromJSON() round-trips", () => {
  const registry = new NickRegistry({ now: () => 42 });
  const seen: string[] = [];
  const stop = registry.onClaim((claim) => seen.push(`${claim.nick}=${claim.fingerprint}`));
  registry.claim("alice", A);
  registry.claim("alice", B);
  stop();
  registry.claim("bob", B);
  assert.deepEqual(seen, [`alice=${A}`]);
  const copy = NickRegistry.fromJSON(JSON.parse(JSON.stringify(registry)));
  assert.equal(copy.ownerOf("alice"), A);
  assert.equal(copy.ownerOf("bob"), B);
  assert.equal(copy.size, 2);
});

Deno.test("NickRegistry rejects malformed fingerprints and files", () => {
  const registry = new NickRegistry();
  assert.throws(() => registry.claim("alice", "MD5:xx"), TypeError);
  assert.throws(() => NickRegistry.fromJSON({ v: 2, claims: [] }), TypeError);
  assert.throws(
    () => NickRegistry.fromJSON({ v: 1, claims: [{ nick: "bad nick", fingerprint: A, since: 1 }] }),
    TypeError,
  );
  assert.throws(() => new NickRegistry({ maxClaims: 0 }), RangeError);
});

Deno.test("NickRegistryFile saves claims atomically and reads them back", async () => {
  const dir = `./data/test-nicks-${crypto.randomUUID()}`;
  const path = `${dir}/nicks.json`;
  try {
    const file = NickRegistryFile.open(path, { delayMs: 10 });
    assert.equal(file.registry.size, 0);
    file.registry.claim("alice", A);
    file.registry.claim("bob", B);
    await file.close();
    const again = NickRegistryFile.open(path);
    assert.equal(again.registry.ownerOf("alice"), A);
    assert.equal(again.registry.ownerOf("bob"), B);
    await again.close();
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    await Deno.writeTextFile(`${dir}/broken.json`, "{not json");
    assert.throws(() => NickRegistryFile.open(`${dir}/broken.json`), /Cannot read nick registry/);
    await Deno.remove(`${dir}/broken.json`);
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names, ["nicks.json"], "no temporary file is left behind");
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("Hub with a NickRegistry guard keeps registered nicks for their key", () => {
  const registry = new NickRegistry();
  const hub = new Hub({ nodeId: "n1", nickGuard: registry });
  const sink = { send() {}, close() {} };
  const keyed = hub.connect(sink, { user: "alice" }, { via: "ssh", address: "a", fingerprint: A });
  assert.equal(registry.ownerOf("alice"), A, "the first key to use a nick owns it");
  hub.disconnect(keyed);
  assert.throws(
    () => hub.connect(sink, { user: "Alice" }, { via: "tcp", address: "b" }),
    (error: ProtocolError) => error.code === "nick_taken" && /registered/.test(error.message),
  );
  const other = hub.connect(sink, { user: "bob" }, { via: "ssh", address: "c", fingerprint: B });
  assert.throws(() => hub.rename(other, "alice"), /registered to another SSH key/);
  hub.rename(other, "robert");
  assert.deepEqual(registry.nicksOf(B), ["bob", "robert"]);
  const again = hub.connect(sink, { user: "alice" }, { via: "ssh", address: "d", fingerprint: A });
  assert.equal(again.nick, "alice");
});

Deno.test("NickRegistry.merge() keeps a settled registration against a forged earlier claim from a peer", () => {
  let time = 1_000_000;
  const registry = new NickRegistry({ now: () => time, raceWindowMs: 60_000 });
  assert.equal(registry.claim("alice", A), "claimed");
  time += 60_001;
  assert.equal(registry.merge({ nick: "alice", fingerprint: B, since: 0 }), false);
  assert.equal(registry.ownerOf("alice"), A);
  // A registration restored from the file is settled at once.
  const restored = NickRegistry.fromJSON(registry.toJSON(), { now: () => time });
  assert.equal(restored.merge({ nick: "ALICE", fingerprint: B, since: 0 }), false);
  assert.equal(restored.ownerOf("alice"), A);
  // Within the window, a real race still goes to the earliest claim.
  assert.equal(registry.claim("bob", A), "claimed");
  time += 1000;
  assert.equal(registry.merge({ nick: "bob", fingerprint: B, since: 5 }), true);
  assert.equal(registry.ownerOf("bob"), B);
});

Deno.test("NickRegistry.mergeClaims() caps the claims of one peer message and skips malformed ones", () => {
  const registry = new NickRegistry({ maxClaimsPerMessage: 3, maxClaims: 4 });
  const claim = (i: number) => ({ nick: `n${i}`, fingerprint: A, since: i });
  assert.throws(() => registry.mergeClaims([0, 1, 2, 3].map(claim)), RangeError);
  assert.equal(registry.size, 0, "nothing applied from an oversized message");
  assert.throws(() => registry.mergeClaims({ claims: [] }), TypeError);
  assert.deepEqual(
    registry.mergeClaims([claim(1), { nick: "bad nick", fingerprint: A, since: 1 }, claim(2)]),
    { merged: 2, malformed: 1 },
  );
  // A full registry takes no new nick from a peer either.
  registry.mergeClaims([claim(3), claim(4)]);
  assert.deepEqual(registry.mergeClaims([{ nick: "late", fingerprint: B, since: 1 }]), {
    merged: 0,
    malformed: 0,
  });
  assert.equal(registry.size, 4);
});
