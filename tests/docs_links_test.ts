/**
 * Every relative link in README.md and docs/*.md leads somewhere: the file
 * exists and, for `file.md#anchor` or `#anchor`, the target has a heading
 * with that anchor (GitHub's rule: lower case, punctuation dropped, spaces
 * to hyphens, `-1`, `-2` for repeats). Links inside code are not links.
 */
import assert from "node:assert/strict";
import { dirname, join, normalize } from "node:path";
import { docFiles } from "./docs/flag_tables.ts";

/** The text outside fenced code blocks and inline code spans. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's anchor for a heading's text. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, "")
    .replaceAll(" ", "-");
}

/** Every anchor a markdown text's headings get, repeats numbered as GitHub numbers them. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
  for (const [, text] of withoutFences.matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const base = slug(text!.replaceAll("`", ""));
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    found.add(count === 0 ? base : `${base}-${count}`);
  }
  return found;
}

/** The relative link targets of a markdown text (`path`, `path#anchor`, `#anchor`). */
function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)(?: "[^"]*")?\)/g)]
    .map((match) => match[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/**
 * What is wrong with the relative links of one file.
 *
 * @param file The file's path from the repository root.
 * @param markdown Its text.
 * @param read Reads another file's text, or returns undefined when it does not exist.
 * @returns One line per broken link.
 */
function brokenLinks(
  file: string,
  markdown: string,
  read: (path: string) => string | undefined,
): string[] {
  const problems: string[] = [];
  for (const target of relativeLinks(markdown)) {
    const [path, anchor] = target.split("#", 2) as [string, string | undefined];
    const resolved = path === "" ? file : normalize(join(dirname(file), decodeURI(path)));
    const text = path === "" ? markdown : read(resolved);
    if (text === undefined) {
      problems.push(`${file}: ${target}: no file ${resolved}`);
    } else if (anchor !== undefined && resolved.endsWith(".md") && !anchors(text).has(anchor)) {
      problems.push(`${file}: ${target}: no heading with anchor #${anchor} in ${resolved}`);
    }
  }
  return problems;
}

function readIfFile(path: string): string | undefined {
  try {
    return Deno.statSync(path).isDirectory ? "" : Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

Deno.test("anchors() gives GitHub's anchors: punctuation dropped, spaces to hyphens, repeats numbered", () => {
  const doc = [
    "# Security model",
    "## Node ↔ node: what a peer is trusted with",
    "## Protocol (client protocol v1 additions)",
    "```sh",
    "# not a heading",
    "```",
    "## `/seal` rooms",
    "## Notes",
    "## Notes",
  ].join("\n");
  assert.deepEqual([...anchors(doc)], [
    "security-model",
    "node--node-what-a-peer-is-trusted-with",
    "protocol-client-protocol-v1-additions",
    "seal-rooms",
    "notes",
    "notes-1",
  ]);
});

Deno.test("brokenLinks() names a missing file and a missing anchor, and skips links in code", () => {
  const files: Record<string, string> = { "docs/a.md": "# Alpha\n## Known part\n" };
  const doc = [
    "# Here",
    "[ok](a.md#known-part) [ok too](#here) [web](https://example.com/x.md#nowhere)",
    "[gone](b.md) [wrong anchor](a.md#unknown) [here wrong](#there)",
    "`[in code](c.md)`",
    "```md",
    "[in a block](d.md)",
    "```",
  ].join("\n");
  assert.deepEqual(brokenLinks("docs/here.md", doc, (path) => files[path]), [
    "docs/here.md: b.md: no file docs/b.md",
    "docs/here.md: a.md#unknown: no heading with anchor #unknown in docs/a.md",
    "docs/here.md: #there: no heading with anchor #there in docs/here.md",
  ]);
});

Deno.test("every relative link and anchor in README.md and docs/*.md resolves", () => {
  const files = docFiles();
  assert.ok(files.includes("docs/operations.md"), files.join(" "));
  const texts = files.map((file) => [file, Deno.readTextFileSync(file)] as const);
  // The check must have links to check: an extractor that found none would pass anything.
  const linkCount = texts.reduce((sum, [, text]) => sum + relativeLinks(text).length, 0);
  assert.ok(linkCount >= 30, `only ${linkCount} relative links found`);
  const problems = texts.flatMap(([file, text]) => brokenLinks(file, text, readIfFile));
  assert.deepEqual(problems, []);
});

Deno.test("README.md stays a user's page: at most 300 lines, linking every doc", () => {
  const readme = Deno.readTextFileSync("README.md");
  assert.ok(readme.split("\n").length <= 300, "README.md is over 300 lines: move detail to docs/");
  const linked = new Set(relativeLinks(readme).map((target) => target.split("#")[0]));
  const unlinked = docFiles().filter((file) => file !== "README.md" && !linked.has(file));
  assert.deepEqual(unlinked, []);
});
