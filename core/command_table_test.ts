// Copyright the meshchat authors. MIT license.
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Command, CommandTable, unescapeSlash, UnknownCommandError } from "./command_table.ts";

/** What a fake session saw: the commands it ran, with their args. */
type Ctx = { ran: string[] };

function command(name: string, extra: Partial<Command<Ctx>> = {}): Command<Ctx> {
  return {
    name,
    help: `${name} help`,
    run: (ctx, args) => void ctx.ran.push(`${name}:${args}`),
    ...extra,
  };
}

function chatTable(): CommandTable<Ctx> {
  return new CommandTable<Ctx>()
    .register(command("help", { help: "list the commands", aliases: ["h"] }))
    .register(command("msg", { args: "NICK TEXT", help: "send a private message", aliases: ["m"] }))
    .register(command("who", { args: "[ROOM]", help: "list who is in a room" }))
    .register(
      command("kick", { args: "NICK", help: "remove someone from the room", opOnly: true }),
    )
    .register(command("nick", { args: "NAME", help: "change your nick", aliases: ["name", "n"] }));
}

Deno.test("CommandTable.parse() splits a command line into command and trimmed args", async () => {
  const table = chatTable();
  const parsed = table.parse("/who lobby");
  assert.ok(parsed);
  assert.equal(parsed.command.name, "who");
  assert.equal(parsed.args, "lobby");
  assert.equal(table.parse("/msg   bob   hello  there  ")?.args, "bob   hello  there");
  assert.equal(table.parse("/who")?.args, "");
  assert.equal(table.parse("/who\tlobby")?.args, "lobby");
  const ctx: Ctx = { ran: [] };
  await parsed.command.run(ctx, parsed.args);
  assert.deepEqual(ctx.ran, ["who:lobby"]);
});

Deno.test("CommandTable.parse() accepts aliases and any case", () => {
  const table = chatTable();
  assert.equal(table.parse("/m bob hi")?.command.name, "msg");
  assert.equal(table.parse("/MSG bob hi")?.command.name, "msg");
  assert.equal(table.parse("/Name alice")?.command.name, "nick");
});

Deno.test("CommandTable.parse() returns undefined for lines that are not commands", () => {
  const table = chatTable();
  for (const line of ["hello", "", " /who", "//who", "//", "a/b", "https://example.com"]) {
    assert.equal(table.parse(line), undefined, line);
  }
});

Deno.test("CommandTable.parse() throws UnknownCommandError for an unknown command", () => {
  const table = chatTable();
  assert.throws(() => table.parse("/nosuch arg"), (error: unknown) => {
    assert.ok(error instanceof UnknownCommandError);
    assert.ok(error instanceof Error);
    assert.equal(error.name, "UnknownCommandError");
    assert.equal(error.word, "nosuch");
    assert.equal(error.message, 'Unknown command "/nosuch": type /help for the list');
    return true;
  });
  assert.throws(() => table.parse("/"), { name: "UnknownCommandError", word: "" });
  assert.throws(() => table.parse("/ who"), { name: "UnknownCommandError", word: "" });
  assert.throws(() => table.parse("/home/user/file"), { word: "home/user/file" });
});

Deno.test("UnknownCommandError quotes a hostile command word safely", () => {
  const error = new UnknownCommandError("\x1b[2Jx\u202e" + "y".repeat(100));
  assert.ok(!error.message.includes("\x1b"));
  assert.ok(!error.message.includes("\u202e"));
  assert.ok(error.message.length < 100);
});

Deno.test("unescapeSlash() removes the escaping slash of a // line only", () => {
  assert.equal(unescapeSlash("//shrug"), "/shrug");
  assert.equal(unescapeSlash("///x"), "//x");
  assert.equal(unescapeSlash("/who"), "/who");
  assert.equal(unescapeSlash("hello"), "hello");
  assert.equal(unescapeSlash(""), "");
});

Deno.test("CommandTable.lookup() finds commands by name or alias regardless of case", () => {
  const table = chatTable();
  assert.equal(table.lookup("nick")?.name, "nick");
  assert.equal(table.lookup("N")?.name, "nick");
  assert.equal(table.lookup("nope"), undefined);
  assert.equal(table.lookup(""), undefined);
});

Deno.test("CommandTable.register() rejects a duplicate name or alias", () => {
  const table = chatTable();
  assert.throws(() => table.register(command("msg")), {
    name: "TypeError",
    message: "Cannot register command /msg: /msg is already taken",
  });
  assert.throws(() => table.register(command("pm", { aliases: ["m"] })), TypeError);
  assert.throws(() => table.register(command("me", { aliases: ["me"] })), TypeError);
  assert.throws(() => table.register(command("x", { aliases: ["y", "y"] })), TypeError);
  // A failed registration leaves no trace.
  assert.equal(table.lookup("pm"), undefined);
  assert.equal(table.lookup("x"), undefined);
  assert.equal([...table].length, 5);
});

Deno.test("CommandTable.register() rejects names that are not lowercase a-z", () => {
  const table = new CommandTable<Ctx>();
  for (const name of ["", "Msg", "m2", "my-cmd", "/msg", "é"]) {
    assert.throws(() => table.register(command(name)), TypeError, name);
  }
  assert.throws(() => table.register(command("ok", { aliases: ["Bad"] })), TypeError);
  assert.throws(
    () => table.register(command("ok", { aliases: "o" as unknown as string[] })),
    TypeError,
  );
  assert.throws(
    () => table.register({ name: "ok", help: "x" } as unknown as Command<Ctx>),
    TypeError,
  );
  assert.equal([...table].length, 0);
});

Deno.test("CommandTable.helpLines() lists commands aligned, with aliases, without op-only ones", () => {
  assert.deepEqual(chatTable().helpLines(), [
    "/help            list the commands (alias: /h)",
    "/msg NICK TEXT   send a private message (alias: /m)",
    "/who [ROOM]      list who is in a room",
    "/nick NAME       change your nick (aliases: /name, /n)",
  ]);
});

Deno.test("CommandTable.helpLines() includes op-only commands when asked", () => {
  const table = new CommandTable<Ctx>()
    .register(command("msg", { args: "NICK TEXT", help: "send a private message", aliases: ["m"] }))
    .register(command("kick", { args: "NICK", help: "remove someone", opOnly: true }));
  assert.deepEqual(table.helpLines(), ["/msg NICK TEXT   send a private message (alias: /m)"]);
  assert.deepEqual(table.helpLines({ includeOpOnly: true }), [
    "/msg NICK TEXT   send a private message (alias: /m)",
    "/kick NICK       remove someone (operators only)",
  ]);
  assert.deepEqual(new CommandTable<Ctx>().helpLines(), []);
});

Deno.test("CommandTable.helpLines() leaves hidden commands out, and they still run", () => {
  const table = new CommandTable<Ctx>()
    .register(command("seal", { args: "PARAMS", help: "sent by the client", hidden: true }))
    .register(command("who", { args: "[ROOM]", help: "list who is in a room" }));
  // The usage column is as wide as the shown commands need, not the hidden ones.
  assert.deepEqual(table.helpLines({ includeOpOnly: true }), [
    "/who [ROOM]   list who is in a room",
  ]);
  assert.equal(table.parse("/seal {}")?.command.name, "seal");
  assert.deepEqual([...table].map((c) => c.name), ["seal", "who"]);
});

Deno.test("CommandTable iterates over each command once, in registration order", () => {
  assert.deepEqual([...chatTable()].map((c) => c.name), ["help", "msg", "who", "kick", "nick"]);
});

const wordArb = fc.string({ unit: fc.constantFrom(..."abcdefghij"), minLength: 1, maxLength: 6 });

Deno.test("CommandTable.parse() finds every registered word and trims any args", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(wordArb, { minLength: 1, maxLength: 10 }),
      fc.nat(),
      fc.string({ maxLength: 30 }),
      fc.constantFrom(" ", "\t", "  "),
      (words, pick, rest, gap) => {
        const table = new CommandTable<Ctx>();
        for (const word of words) table.register(command(word));
        const word = words[pick % words.length]!;
        const line = `/${word.toUpperCase()}${gap}${rest}`;
        const parsed = table.parse(line);
        assert.equal(parsed?.command.name, word);
        assert.equal(parsed?.args, rest.trim());
        assert.equal(table.parse(`/${line}`), undefined);
        assert.equal(unescapeSlash(`/${line}`), line);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("CommandTable.parse() never returns a command for a line without a single leading slash", () => {
  const table = chatTable();
  fc.assert(
    fc.property(fc.string({ maxLength: 30 }), (text) => {
      fc.pre(!text.startsWith("/") || text.startsWith("//"));
      assert.equal(table.parse(text), undefined);
    }),
    { numRuns: 500 },
  );
});

Deno.test("CommandTable.parse() either finds a command or throws UnknownCommandError", () => {
  const table = chatTable();
  fc.assert(
    fc.property(fc.string({ maxLength: 20 }), (text) => {
      const line = `/${text}`;
      fc.pre(!line.startsWith("//"));
      try {
        const parsed = table.parse(line);
        assert.ok(parsed);
        assert.equal(parsed.command, table.lookup(line.slice(1).split(/\s/)[0]!));
      } catch (error) {
        assert.ok(error instanceof UnknownCommandError);
        assert.equal(`/${error.word}`, line.split(/\s/)[0]);
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test("CommandTable.helpLines() aligns the help column on every line", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(wordArb, { minLength: 1, maxLength: 8 }),
      fc.array(fc.string({ unit: fc.constantFrom("A", "B", "[", "]", " "), maxLength: 12 }), {
        maxLength: 8,
      }),
      (words, argsList) => {
        const table = new CommandTable<Ctx>();
        words.forEach((word, i) => table.register(command(word, { args: argsList[i] })));
        const lines = table.helpLines();
        assert.equal(lines.length, words.length);
        const columns = lines.map((line, i) => line.indexOf(`   ${words[i]} help`) + 3);
        assert.ok(columns.every((c) => c === columns[0] && c > 0), JSON.stringify(lines));
      },
    ),
    { numRuns: 300 },
  );
});
