import assert from "node:assert/strict";
import { SignInTokens } from "./signin_tokens.ts";

const alice = { fingerprint: `SHA256:${"a".repeat(43)}`, nick: "alice" };
const bob = { fingerprint: `SHA256:${"b".repeat(43)}`, nick: "bob" };

Deno.test("sign-in tokens: 256-bit, used once, then a credential until it expires or is revoked", () => {
  let now = 0;
  const tokens = new SignInTokens({ now: () => now, credentialTtlMs: 1000 });
  const token = tokens.issue(alice);
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  const credential = tokens.exchange(token)!;
  assert.deepEqual(credential.identity, alice);
  assert.notEqual(credential.value, token);
  assert.equal(tokens.exchange(token), undefined);
  assert.deepEqual(tokens.identityOf(credential.value), alice);
  now = 999;
  assert.deepEqual(tokens.identityOf(credential.value), alice);
  now = 1000;
  assert.equal(tokens.identityOf(credential.value), undefined);
  const second = tokens.exchange(tokens.issue(alice))!;
  tokens.revoke(second.value);
  assert.equal(tokens.identityOf(second.value), undefined);
});

Deno.test("sign-in tokens: a key keeps its newest few; the oldest go past the caps", () => {
  const tokens = new SignInTokens({ maxTokensPerKey: 2, maxTokens: 3, maxCredentials: 1 });
  const [first, second, third] = [tokens.issue(alice), tokens.issue(alice), tokens.issue(alice)];
  assert.equal(tokens.exchange(first), undefined); // replaced by the third
  const bobs = tokens.issue(bob);
  const other = tokens.issue(bob); // the cap of 3: the oldest (alice's second) goes
  assert.equal(tokens.exchange(second), undefined);
  const kept = tokens.exchange(third)!;
  assert.deepEqual(kept.identity, alice);
  // One credential at most: bob's sign-in signs alice's browser out.
  const bobsCredential = tokens.exchange(bobs)!;
  assert.equal(tokens.identityOf(kept.value), undefined);
  assert.deepEqual(tokens.identityOf(bobsCredential.value), bob);
  assert.ok(tokens.exchange(other));
});
