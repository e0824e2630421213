import assert from "node:assert/strict";
import { epochOf, VersionVector } from "./version_vector.ts";

Deno.test("VersionVector.merge() raises contiguous seqs and absorbs what lies beyond", () => {
  const vector = new VersionVector();
  for (const seq of [7, 8, 12]) vector.add("n1", seq);
  vector.add("n2", 1);
  vector.merge({ n1: 6, n2: 0, n3: 4 });
  assert.equal(vector.contiguous("n1"), 8);
  assert.ok(vector.has("n1", 12));
  assert.ok(!vector.has("n1", 9));
  assert.equal(vector.contiguous("n2"), 1);
  assert.equal(vector.contiguous("n3"), 4);
  assert.equal(vector.add("n3", 3), false);
  assert.equal(vector.add("n1", 9), true);
  assert.throws(() => vector.merge({ n1: -1 }), RangeError);
});

Deno.test("VersionVector.retireBelow() drops a node's older origins and keeps them as duplicates", () => {
  const vector = new VersionVector();
  for (const origin of ["n1", "n1.1", "n1.2", "n2.5", "n10.1"]) vector.add(origin, 1);
  vector.add("n1.1", 2);
  const dropped = vector.retireBelow("n1", 2);
  assert.deepEqual([...dropped], [["n1", 1], ["n1.1", 2]]);
  assert.deepEqual(vector.origins(), ["n1.2", "n2.5", "n10.1"]);
  assert.deepEqual(vector.retiredJSON(), { n1: 2 });
  // A late copy of an old event is a duplicate, whatever its seq.
  assert.ok(vector.has("n1.1", 900));
  assert.equal(vector.add("n1", 3), false);
  assert.deepEqual(vector.origins(), ["n1.2", "n2.5", "n10.1"], "not recreated");
  // The current origin and other nodes are untouched; a lower watermark changes nothing.
  assert.equal(vector.add("n1.2", 2), true);
  assert.ok(!vector.has("n10", 1));
  assert.equal(vector.retireBelow("n1", 1).size, 0);
  assert.deepEqual(vector.retiredJSON(), { n1: 2 });
  assert.throws(() => vector.retireBelow("n1", -1), RangeError);
});

Deno.test("epochOf() reads the boot epoch of an origin", () => {
  assert.equal(epochOf("n1"), 0);
  assert.equal(epochOf("n1.7"), 7);
  assert.equal(epochOf("n1.1764806400"), 1764806400);
  assert.ok(Number.isNaN(epochOf("n1.x")));
  assert.ok(Number.isNaN(epochOf("n1.07")));
});
