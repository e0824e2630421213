// Copyright meshchat authors. All rights reserved.

import assert from "node:assert/strict";
import { SignerPins } from "./signer_pins.ts";

Deno.test("SignerPins.check() pins on first use, then trusts or flags a change", () => {
  const pins = new SignerPins();
  assert.equal(pins.check("ada", "k1"), "first_use");
  assert.equal(pins.check("ada", "k1"), "trusted");
  assert.equal(pins.check("ada", "k2"), "changed");
  assert.equal(pins.get("ada"), "k1", "a change does not replace the pin");
  assert.equal(pins.check("bob", "k2"), "first_use");
});

Deno.test("SignerPins round-trips through entries() and accepts a new key on request", () => {
  const pins = new SignerPins([["ada", "k1"]]);
  assert.equal(pins.check("ada", "k1"), "trusted");
  pins.set("ada", "k2");
  assert.equal(pins.check("ada", "k2"), "trusted");
  assert.deepEqual(new SignerPins(pins.entries()).entries(), [["ada", "k2"]]);
  assert.equal(pins.delete("ada"), true);
  assert.equal(pins.get("ada"), undefined);
});
