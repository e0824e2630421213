import assert from "node:assert/strict";
import { isLateSocketError } from "./socket_reset_guard.ts";

Deno.test("isLateSocketError() takes a read reset and a peer's TLS alert, nothing else", () => {
  const reset = Object.assign(new Error("read ECONNRESET"), {
    code: "ECONNRESET",
    syscall: "read",
  });
  assert.equal(isLateSocketError(reset), true);
  assert.equal(isLateSocketError(new Error("received fatal alert: BadCertificate")), true);
  assert.equal(isLateSocketError(new Error("received fatal alert: UnknownCA")), true);
  const writeReset = Object.assign(new Error("write ECONNRESET"), {
    code: "ECONNRESET",
    syscall: "write",
  });
  assert.equal(isLateSocketError(writeReset), false);
  assert.equal(isLateSocketError(new TypeError("Cannot read properties of undefined")), false);
  assert.equal(
    isLateSocketError(new Error("received fatal alert: BadCertificate; and more")),
    false,
  );
  assert.equal(isLateSocketError(null), false);
  assert.equal(isLateSocketError("received fatal alert: BadCertificate"), false);
});
