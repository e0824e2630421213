/**
 * The flag tables in the docs are the flag definitions `--help` prints:
 * a changed flag fails here until `tests/docs/flag_tables.ts` rewrites them.
 */
import assert from "node:assert/strict";
import { CLIENT_FLAGS } from "../client/client_flags.ts";
import { NODE_FLAGS } from "../node/node_config.ts";
import { docFiles, renderFlagTables } from "./docs/flag_tables.ts";

Deno.test("the flag tables in README.md and docs/ are the ones --help is made from", () => {
  const stale = docFiles().filter((file) => {
    const text = Deno.readTextFileSync(file);
    return renderFlagTables(text) !== text;
  });
  assert.deepEqual(
    stale,
    [],
    "these differ from the flag definitions: run " +
      "deno run --allow-read=. --allow-write=README.md,docs tests/docs/flag_tables.ts",
  );
});

Deno.test("docs/operations.md lists every node flag and every cluster flag", () => {
  const text = Deno.readTextFileSync("docs/operations.md");
  assert.match(text, /^<!-- flags:node -->$/m);
  assert.match(text, /^<!-- flags:cluster -->$/m);
  for (const name of Object.keys(NODE_FLAGS)) assert.match(text, new RegExp(`\`--${name}[ \`]`));
});

Deno.test("docs/clients.md lists every terminal client flag from the table --help is made from", () => {
  const text = Deno.readTextFileSync("docs/clients.md");
  assert.match(text, /^<!-- flags:client -->$/m);
  for (const name of Object.keys(CLIENT_FLAGS)) assert.match(text, new RegExp(`\`--${name}[ \`]`));
});

Deno.test("renderFlagTables() rewrites a stale table and refuses a marker naming no flag", () => {
  const stale = "intro\n\n<!-- flags:cluster nodes -->\n| old |\n<!-- /flags -->\n";
  const fresh = renderFlagTables(stale);
  assert.match(fresh, /^\| `--nodes N` +\| `3` +\| how many nodes/m);
  assert.doesNotMatch(fresh, /\| old \|/);
  assert.equal(renderFlagTables(fresh), fresh);
  assert.throws(
    () => renderFlagTables("<!-- flags:node no-such-flag -->\n<!-- /flags -->"),
    RangeError,
  );
  assert.throws(() => renderFlagTables("<!-- flags:nobody -->\n<!-- /flags -->"), RangeError);
});
