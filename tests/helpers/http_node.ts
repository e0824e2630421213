/**
 * A node process with its HTTP port on, and what tests ask of that port:
 * JSON from `/healthz` and `/readyz`, `/metrics` parsed into numbers, and
 * `promtool check metrics` (Debian package `prometheus`).
 *
 * @module
 */
import {
  freePort,
  type NodeProcess,
  type StartNodeOptions,
  startNodeProcess,
} from "./node_process.ts";

/** A node process and the base URL of its HTTP port. */
export interface HttpNode {
  /** The process. */
  readonly node: NodeProcess;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
}

/**
 * Starts a node with `--http-port` on a free loopback port (unless `args` names one).
 *
 * @param options As {@linkcode startNodeProcess}.
 * @returns The node and its URL.
 */
export async function startHttpNode(options: StartNodeOptions = {}): Promise<HttpNode> {
  const args = options.args ?? [];
  const at = args.indexOf("--http-port");
  const port = at >= 0 ? Number(args[at + 1]) : freePort();
  const node = await startNodeProcess({
    ...options,
    args: at >= 0 ? args : [...args, "--http-port", String(port)],
  });
  return { node, url: `http://127.0.0.1:${port}` };
}

/**
 * Fetches a URL and parses its JSON body.
 *
 * @param url The URL.
 * @returns The HTTP status and the body.
 */
export async function getJson(
  url: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

/** Samples of a `/metrics` text: `name{labels}` (as written) → value. */
export type Scrape = Map<string, number>;

/**
 * Parses the sample lines of the Prometheus text format (comments skipped).
 *
 * @param text A `/metrics` body.
 * @returns Each sample's name with its labels as written, and its value.
 */
export function parseMetrics(text: string): Scrape {
  const samples: Scrape = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/**
 * Fetches and parses `/metrics`.
 *
 * @param url The node's base URL.
 * @returns Its text and samples.
 * @throws {Error} When the answer is not 200.
 */
export async function scrape(url: string): Promise<{ text: string; samples: Scrape }> {
  const response = await fetch(`${url}/metrics`);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url}/metrics: ${response.status} ${text}`);
  return { text, samples: parseMetrics(text) };
}

/**
 * Runs `promtool check metrics` on a `/metrics` text.
 *
 * @param text The text.
 * @returns Its exit code and what it printed (nothing when the text is clean).
 */
export async function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, output: decode(stdout) + decode(stderr) };
}
