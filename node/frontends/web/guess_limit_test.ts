import assert from "node:assert/strict";
import { ConnectionLimits } from "../connection_limits.ts";
import { GuessLimit } from "./guess_limit.ts";
import { apiAnswer } from "./json_api.ts";

Deno.test("GuessLimit answers 429 with Retry-After once an address has sent too many wrong secrets", async () => {
  let now = 0;
  const limits = new ConnectionLimits({ maxOffences: 3, coolOffMs: 2500, now: () => now });
  const guesses = new GuessLimit(limits);
  for (let i = 0; i < 2; i++) guesses.wrong("192.0.2.1");
  guesses.admit("192.0.2.1");
  guesses.wrong("192.0.2.1");
  const refused = await apiAnswer(() => {
    guesses.admit("192.0.2.1");
    return new Response();
  });
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get("retry-after"), "3");
  assert.match((await refused.json()).error, /Too many wrong .* try again in 3 s/);
  guesses.admit("198.51.100.2"); // another address
  assert.equal(limits.isRefused("192.0.2.1"), true); // the other frontends refuse it too
  now = 2500;
  guesses.admit("192.0.2.1");
});
