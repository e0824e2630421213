import assert from "node:assert/strict";
import { commands } from "../node/chat/commands.ts";
import { isNodeCommand, NODE_COMMANDS } from "./node_commands.ts";

Deno.test("NODE_COMMANDS names exactly the node's command table", () => {
  for (const word of NODE_COMMANDS) {
    assert.ok(commands.lookup(word) !== undefined, `/${word} is not a node command`);
  }
  // Every command the node lists in /help is known to the client.
  const listed = commands.helpLines({ includeOpOnly: true }).flatMap((line) =>
    [...line.matchAll(/\/([a-z]+)/g)].map((match) => match[1]!)
  );
  assert.ok(listed.length > 20, listed.join(" "));
  for (const word of listed) {
    assert.ok(NODE_COMMANDS.has(word), `/${word} missing in NODE_COMMANDS`);
  }
});

Deno.test("isNodeCommand() takes the typed word with its slash, in any case", () => {
  assert.equal(isNodeCommand("/WHO"), true);
  assert.equal(isNodeCommand("/quit"), true);
  assert.equal(isNodeCommand("/"), false);
  assert.equal(isNodeCommand("/attack"), false);
  assert.equal(isNodeCommand("who"), false);
});
