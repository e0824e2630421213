/**
 * The flag tables in the docs, made from the flag definitions `--help`
 * prints, so the two cannot say different things. A table sits between
 * marker comments; the opening one names the command and, optionally, which
 * of its flags to list:
 *
 * ```md
 * <!-- flags:node -->
 * (every node flag: written by this script)
 * <!-- /flags -->
 *
 * <!-- flags:node data snapshot-interval reset-data -->
 * (those three)
 * <!-- /flags -->
 * ```
 *
 * Run it after changing a flag (`tests/docs_flags_test.ts` fails until then):
 *
 * ```sh
 * deno run --allow-read=. --allow-write=README.md,docs tests/docs/flag_tables.ts
 * ```
 *
 * @module
 */
import { CLIENT_FLAGS } from "../../client/client_flags.ts";
import { type FlagSpec, formatFlagTable } from "../../core/cli_flags.ts";
import { CLUSTER_FLAGS } from "../../node/local_cluster.ts";
import { NODE_FLAGS } from "../../node/node_config.ts";

/** The commands whose flags docs may list, by the name their marker uses. */
export const FLAG_SOURCES: Readonly<Record<string, FlagSpec>> = {
  node: NODE_FLAGS,
  cluster: CLUSTER_FLAGS,
  client: CLIENT_FLAGS,
};

/** The files that may hold flag tables (and whose links `tests/docs_links_test.ts` checks). */
export function docFiles(): string[] {
  const docs = [...Deno.readDirSync("docs")]
    .filter((entry) => entry.isFile && entry.name.endsWith(".md"))
    .map((entry) => `docs/${entry.name}`)
    .sort();
  return ["README.md", ...docs];
}

const BLOCK = /<!-- flags:([a-z-]+)((?: [a-z-]+)*) -->\n[\s\S]*?<!-- \/flags -->/g;

/**
 * Rewrites every flag block of a markdown text from the flag definitions.
 *
 * @param markdown The text of one doc.
 * @returns The text with each block's table made afresh (the same text when nothing changed).
 * @throws {RangeError} For a marker naming an unknown command or flag.
 */
export function renderFlagTables(markdown: string): string {
  return markdown.replace(BLOCK, (_block, source: string, names: string) => {
    const spec = Object.hasOwn(FLAG_SOURCES, source) ? FLAG_SOURCES[source] : undefined;
    if (spec === undefined) throw new RangeError(`Cannot render flags:${source}: no such command`);
    const listed = names.trim() === "" ? undefined : names.trim().split(" ");
    const table = formatFlagTable(spec, listed === undefined ? {} : { names: listed });
    return `<!-- flags:${source}${names} -->\n\n${table}\n\n<!-- /flags -->`;
  });
}

if (import.meta.main) {
  for (const file of docFiles()) {
    const before = Deno.readTextFileSync(file);
    const after = renderFlagTables(before);
    if (after !== before) {
      Deno.writeTextFileSync(file, after);
      console.log(`rewrote the flag tables of ${file}`);
    }
  }
}
