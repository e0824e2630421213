import assert from "node:assert/strict";
import { type FlagSpec, formatFlagTable, formatHelp, parseFlags } from "./cli_flags.ts";

const SPEC = {
  data: {
    type: "string",
    default: "",
    arg: "DIR",
    defaultLabel: "./data/<id>",
    help: "data directory",
  },
  port: { type: "number", default: 8080, arg: "PORT", help: "client port | 0 picks one" },
  guests: { type: "boolean", default: true, help: "let guests in" },
  peers: { type: "string", default: "", arg: "LIST", help: "whom to join" },
} as const satisfies FlagSpec;

Deno.test("parseFlags() fills defaults and reads --name value, -name=value and --no-name", () => {
  const flags = parseFlags(SPEC, ["-port=9000", "--no-guests", "--data", "/srv", "extra"]);
  assert.deepEqual(flags, {
    data: "/srv",
    port: 9000,
    guests: false,
    peers: "",
    help: false,
    rest: ["extra"],
  });
});

Deno.test("formatHelp() shows each default, its label when it has one, and none for an empty string", () => {
  const help = formatHelp("Usage: x", SPEC);
  assert.match(help, /^ {2}--data DIR +data directory \(default \.\/data\/<id>\)$/m);
  assert.match(help, /^ {2}--port PORT +client port \| 0 picks one \(default 8080\)$/m);
  assert.match(help, /^ {2}--peers LIST +whom to join$/m);
  assert.match(help, /^ {2}-h, --help +show this help$/m);
});

Deno.test("formatHelp() wraps a long description at 100 columns, under its own column", () => {
  const help = formatHelp("Usage: x", {
    long: { type: "string", default: "", arg: "X", help: "word ".repeat(60).trim() },
  });
  const lines = help.split("\n").filter((line) => line.includes("word"));
  assert.ok(lines.length >= 3, help);
  for (const line of lines) {
    assert.ok(line.length <= 100, line);
    assert.equal(line.indexOf("word"), lines[0]!.indexOf("word"));
  }
  assert.equal(lines.join(" ").split("word").length - 1, 60);
});

Deno.test("formatFlagTable() renders the flags as a padded markdown table, escaping | and <", () => {
  assert.equal(
    formatFlagTable(SPEC),
    [
      "| flag           | default      | what it does               |",
      "| -------------- | ------------ | -------------------------- |",
      "| `--data DIR`   | ./data/\\<id> | data directory             |",
      "| `--port PORT`  | `8080`       | client port \\| 0 picks one |",
      "| `--guests`     | `on`         | let guests in              |",
      "| `--peers LIST` |              | whom to join               |",
      "| `-h`, `--help` |              | show this help             |",
    ].join("\n"),
  );
});

Deno.test("formatFlagTable() lists only the named flags, in their order, and refuses an unknown one", () => {
  assert.deepEqual(
    formatFlagTable(SPEC, { names: ["guests", "port"] }).split("\n").slice(2).map((row) =>
      row.split("|")[1]!.trim()
    ),
    ["`--guests`", "`--port PORT`"],
  );
  assert.throws(() => formatFlagTable(SPEC, { names: ["nope"] }), RangeError);
});
