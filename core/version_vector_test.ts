import assert from "node:assert/strict";
import { VersionVector } from "./version_vector.ts";

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
