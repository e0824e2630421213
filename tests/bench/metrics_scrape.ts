/**
 * How long `GET /metrics` takes on a real node process, with no session
 * open and then with N idle terminal-client sessions (default 10,000; the
 * target in issue 14 is ≤ 5 ms). Each round times 200 requests one after
 * another over loopback (connection kept alive), after 20 to warm up, from
 * a process of its own: p50, p99 and max of the whole request, body read.
 * `/healthz` is timed the same way, as the floor any request pays on the
 * node as it is, and the node's own time to collect and write the text is
 * read from `meshchat_metrics_render_seconds`.
 *
 * Run alone: `deno run -P=e2e-bench tests/bench/metrics_scrape.ts [--sessions N]`;
 * JSON in `data/bench/metrics_scrape.json`.
 *
 * @module
 */
import { freePort, startNodeProcess } from "../helpers/node_process.ts";
import { sessionsWithinFileLimit, untilQuiet } from "./_node_memory.ts";
import { type IdleClient, openSessions, received } from "./idle_sessions.ts";

/** Timings of one round of requests to one path (ms). */
export interface Timings {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** One round: `/metrics`, `/healthz` for comparison, and the node's own render time. */
export interface ScrapeRound {
  /** Sessions open during the round. */
  readonly sessions: number;
  /** Bytes of one `/metrics` body. */
  readonly bodyBytes: number;
  /** `GET /metrics`, request to body read. */
  readonly metrics: Timings;
  /** `GET /healthz`: what any request costs the node as it is now. */
  readonly healthz: Timings;
  /** `meshchat_metrics_render_seconds` after the round: collecting and writing the text (ms). */
  readonly renderMs: number;
}

/** Figures of {@linkcode benchMetricsScrape}. */
export interface MetricsScrapeResult {
  /** With no session open. */
  readonly idle: ScrapeRound;
  /** With the sessions open. */
  readonly loaded: ScrapeRound;
}

const WARM_UP = 20;
const ROUNDS = 200;

/** Times `ROUNDS` GETs of `url` after `WARM_UP`; in the child process (see {@linkcode scrapeRound}). */
async function timeRequests(url: string): Promise<{ timings: Timings; body: string }> {
  let body = "";
  const times: number[] = [];
  for (let i = 0; i < WARM_UP + ROUNDS; i++) {
    const started = performance.now();
    body = await (await fetch(url)).text();
    if (i >= WARM_UP) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]! * 1000) / 1000;
  return { timings: { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) }, body };
}

/**
 * One round, timed from a process of its own: this one holds the sessions'
 * sockets, and its own event loop would add to the figures.
 */
async function scrapeRound(base: string, sessions: number): Promise<ScrapeRound> {
  const out = await new Deno.Command("deno", {
    args: ["run", "--allow-net=127.0.0.1", "tests/bench/metrics_scrape.ts", "--scrape", base],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("the scraping process failed");
  return { sessions, ...JSON.parse(new TextDecoder().decode(out.stdout)) };
}

/** The child's side of {@linkcode scrapeRound}: prints the round as JSON. */
async function scrapeFromHere(base: string): Promise<void> {
  const metrics = await timeRequests(`${base}/metrics`);
  const healthz = await timeRequests(`${base}/healthz`);
  const render = /^meshchat_metrics_render_seconds (\S+)$/m.exec(metrics.body)?.[1];
  console.log(JSON.stringify({
    bodyBytes: metrics.body.length,
    metrics: metrics.timings,
    healthz: healthz.timings,
    renderMs: Math.round(Number(render) * 1e6) / 1000,
  }));
}

/**
 * Runs the benchmark.
 *
 * @param sessions Idle sessions to open (capped by the open-file limits).
 * @returns The figures.
 */
export async function benchMetricsScrape(sessions = 10_000): Promise<MetricsScrapeResult> {
  const httpPort = freePort();
  const node = await startNodeProcess({
    id: "bench-metrics",
    args: [
      "--http-port",
      String(httpPort),
      ...["--max-conns-per-addr", String(sessions + 100), "--max-conns", String(sessions + 100)],
    ],
  });
  const base = `http://127.0.0.1:${httpPort}`;
  const clients: IdleClient[] = [];
  try {
    const idle = await scrapeRound(base, 0);
    const count = (await sessionsWithinFileLimit(node.child.pid, sessions)).sessions;
    clients.push(...await openSessions(node.port, count, "m"));
    await untilQuiet(() => received(clients));
    return { idle, loaded: await scrapeRound(base, count) };
  } finally {
    for (const client of clients) client.close();
    await node.stop();
  }
}

/**
 * The figures as lines for people.
 *
 * @param result From {@linkcode benchMetricsScrape}.
 * @returns Printable lines.
 */
export function formatMetricsScrapeResult(result: MetricsScrapeResult): string[] {
  const t = (x: Timings) => `p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms, max ${x.maxMs} ms`;
  const round = (r: ScrapeRound) => [
    `  ${r.sessions.toLocaleString("en-US")} sessions: /metrics ${t(r.metrics)} ` +
    `(${r.bodyBytes.toLocaleString("en-US")} bytes, rendered in ${r.renderMs} ms)`,
    `  ${" ".repeat(r.sessions.toLocaleString("en-US").length)}           /healthz ${t(r.healthz)}`,
  ];
  return [
    `GET /metrics and /healthz, ${ROUNDS} each in a row from another process:`,
    ...round(result.idle),
    ...round(result.loaded),
  ];
}

if (import.meta.main) {
  const flag = (name: string) => {
    const at = Deno.args.indexOf(name);
    return at < 0 ? undefined : Deno.args[at + 1];
  };
  const scrapeBase = flag("--scrape");
  if (scrapeBase !== undefined) {
    await scrapeFromHere(scrapeBase);
  } else {
    const sessions = flag("--sessions");
    const result = await benchMetricsScrape(sessions === undefined ? undefined : Number(sessions));
    console.log(formatMetricsScrapeResult(result).join("\n"));
    await Deno.mkdir("data/bench", { recursive: true });
    await Deno.writeTextFile(
      "data/bench/metrics_scrape.json",
      JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2) + "\n",
    );
  }
}
