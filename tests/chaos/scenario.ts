/**
 * The chaos scenario: a 3-node cluster, senders on every node at a steady
 * rate, and faults injected one after another from a seeded PRNG — kill -9
 * then restart, SIGSTOP then SIGCONT (node processes), or mesh links cut
 * then healed (in-process nodes on the memory transport; see
 * `chaos_cluster.ts` for why). At the end every node's room logs are
 * compared with what was acknowledged.
 *
 * The `large-events` variant ({@linkcode LARGE_EVENTS_SCENARIO}) sends the
 * longest lines a node accepts while a node is down, so that its catch-up
 * is megabytes and takes several mesh frames.
 *
 * @module
 */
import { RawClient } from "../helpers/raw_client.ts";
import { type ChaosCluster, type FaultKind, startChaosCluster } from "./chaos_cluster.ts";
import { chaosLine, ChaosSender } from "./chaos_sender.ts";
import { MAX_TEXT_LENGTH } from "../../core/protocol.ts";
import { seededRandom } from "../helpers/memory_network.ts";

export type { FaultKind } from "./chaos_cluster.ts";

/** Options of {@linkcode runChaos}. */
export interface ChaosOptions {
  /** PRNG seed: the same seed gives the same fault plan. @default a random one */
  seed?: number;
  /**
   * Faults to inject, in this order; when omitted, `faultCount` faults of
   * `faultKinds` drawn from the PRNG (every kind at least once, in a
   * shuffled order). Cuts and kill/stop cannot share a run.
   */
  faults?: FaultKind[];
  /** Kinds of the drawn faults. @default ["kill", "stop"] */
  faultKinds?: FaultKind[];
  /** Number of faults when `faults` is omitted. @default 6 */
  faultCount?: number;
  /** Senders per node. @default 1 */
  sendersPerNode?: number;
  /** Rooms the senders are spread over (keep each under ~450 lines: `/history` caps at 500). @default 1 */
  rooms?: number;
  /** Lines per second per sender. @default 5 */
  perSecond?: number;
  /** No fault starts later than this after the first one (ms). @default 60000 */
  faultBudgetMs?: number;
  /** Traffic before the first fault and after the last one (ms). @default 2000 */
  calmMs?: number;
  /** Longest wait for the cluster to converge after a fault or at the end (ms). @default 30000 */
  convergeWaitMs?: number;
  /** How long each fault lasts, drawn between these (ms). @default [2000, 4000] */
  faultMs?: readonly [number, number];
  /** Pad every line to this many UTF-16 code units (see `chaosLine`). @default 0 */
  lineChars?: number;
  /** Lines per room at most, all senders together (`/history` shows 500). @default 450 */
  roomLines?: number;
  /** Extra flags for every node. @default none */
  clusterArgs?: string[];
  /**
   * Replicate through a 3-server NATS JetStream cluster (`--nats`, started
   * and stopped by the run) instead of the mesh; kill/stop faults only.
   * @default false
   */
  nats?: boolean;
  /** Progress lines. @default nothing */
  log?: (line: string) => void;
}

/** What one fault did and how long the cluster took to catch up. */
export interface FaultRecord {
  kind: FaultKind;
  /** Node index the fault hit. */
  node: number;
  /** How long the fault lasted (ms). */
  durationMs: number;
  /** Time from the end of the fault until every node held every line acknowledged by then (ms). */
  catchUpMs: number;
  /** Lines acknowledged while the fault lasted (what a killed node has to catch up, at least). */
  ackedDuring: number;
  /**
   * Cuts only: lines acknowledged by the middle of the cut that the cut-off
   * node still lacked just before the heal. More than 0 shows the cut held
   * (a stopped or killed node cannot be asked).
   */
  behindAtHeal?: number;
}

/** The outcome of a chaos run. */
export interface ChaosReport {
  seed: number;
  faults: FaultRecord[];
  /** UTF-8 bytes of one line's text (all lines are about this long). */
  lineBytes: number;
  /** Lines handed to a node (at least once). */
  sent: number;
  /** Distinct lines acknowledged. */
  acked: number;
  /** Acknowledged lines present on every node. */
  delivered: number;
  /** Acknowledged lines missing on some node (must be 0). */
  lost: number;
  /** Extra copies of a line (same sender and number under another id, or an id twice) (must be 0). */
  duplicates: number;
  /** Places where a sender's lines are out of sending order in a log (must be 0). */
  orderViolations: number;
  /** Acked ids whose event is not the acknowledged line (must be 0). */
  mismatched: number;
  /** Lines refused by a node with an error frame. */
  refused: number;
  /** Sender connections lost and replaced. */
  failovers: number;
  /** Whether all nodes' logs were identical (same hash) and complete within the wait. */
  converged: boolean;
  /** Time from the end of traffic until the logs were identical and complete (ms). */
  finalConvergeMs: number;
  /** Longest of the catch-up times and the final convergence time (ms). */
  longestConvergeMs: number;
  /** Per room, the log hash of node 1 (all equal when converged). */
  hashes: Record<string, string>;
  /** Total run time (ms). */
  elapsedMs: number;
}

/** One line of a room log as a node shows it. */
interface LogLine {
  id: string;
  from: string;
  text: string;
}

const SECRET = "chaos-cluster-secret-0123456789";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The `large-events` variant: lines of {@linkcode MAX_TEXT_LENGTH} "€"
 * (12 KB each as JSON, the longest text line a node takes under its default
 * 16 KiB line limit), a node killed for 6 to 8 s at a time while they flow,
 * so the restarted node has megabytes to catch up in several frames.
 */
export const LARGE_EVENTS_SCENARIO: Readonly<ChaosOptions> = {
  faults: ["kill", "kill"],
  faultMs: [6000, 8000],
  sendersPerNode: 2,
  rooms: 3,
  perSecond: 6,
  calmMs: 2000,
  lineChars: MAX_TEXT_LENGTH,
  // Each room's `/history` is one frame of up to 200 × 12 KB.
  roomLines: 200,
  // A probe reads a whole room at once; a sender sends more than 1 MiB a minute.
  clusterArgs: ["--max-queue", String(32 << 20), "--max-bytes-per-conn", "0"],
};

/**
 * Runs the scenario and checks the outcome; never throws for a failed check
 * (see {@linkcode chaosFailures}), only for a cluster that does not start.
 *
 * @param options Seed, faults and load.
 * @returns The report.
 */
export async function runChaos(options: ChaosOptions = {}): Promise<ChaosReport> {
  const {
    seed = Math.floor(Math.random() * 2 ** 31),
    faultCount = 6,
    faultKinds = ["kill", "stop"],
    sendersPerNode = 1,
    rooms = 1,
    perSecond = 5,
    faultBudgetMs = 60_000,
    calmMs = 2000,
    convergeWaitMs = 30_000,
    faultMs = [2000, 4000],
    lineChars = 0,
    roomLines = 450,
    clusterArgs = [],
    nats = false,
    log = () => {},
  } = options;
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo));
  const plan = options.faults ?? faultPlan(faultCount, faultKinds, random);
  const began = Date.now();
  const cluster = await startChaosCluster(plan, { secret: SECRET, args: clusterArgs, nats });
  const senders: ChaosSender[] = [];
  try {
    const { size } = cluster;
    const ports = () => cluster.ports();
    await waitAlive(cluster, 15_000);
    const roomNames = Array.from({ length: rooms }, (_, r) => `chaos${r}`);
    const count = sendersPerNode * size;
    // `/history` shows 500 lines: a room's senders stop at `roomLines` in all.
    const maxLines = Math.floor(roomLines / Math.ceil(count / rooms));
    for (let k = 0; k < count; k++) {
      const node = k % size;
      senders.push(
        new ChaosSender(`s${k}n${node + 1}`, roomNames[k % rooms]!, ports, node, {
          perSecond,
          maxLines,
          lineChars,
        }),
      );
    }
    await Promise.all(senders.map((s) => s.start()));
    log(`seed ${seed}: ${senders.length} senders, ${rooms} room(s), faults ${plan.join(" ")}`);
    await sleep(calmMs);
    const faults: FaultRecord[] = [];
    const budgetEnd = Date.now() + faultBudgetMs;
    for (const kind of plan) {
      if (Date.now() > budgetEnd) {
        log(
          `fault budget of ${faultBudgetMs} ms used: ${plan.length - faults.length} faults skipped`,
        );
        break;
      }
      const node = pick(size);
      const durationMs = between(faultMs[0], faultMs[1]);
      log(`${kind} n${node + 1} for ${durationMs} ms`);
      const ackedBefore = allAcked(senders).size;
      await cluster.begin(kind, node);
      await sleep(durationMs / 2);
      // Lines acked by mid-fault had a second or more to spread: only a cut keeps them away.
      const ackedMidway = allAcked(senders);
      await sleep(durationMs / 2);
      const behindAtHeal = kind === "cut"
        ? await missingOn(ports()[node]!, roomNames, ackedMidway)
        : undefined;
      await cluster.end(kind, node);
      const healed = Date.now();
      const ackedNow = allAcked(senders);
      const ackedDuring = ackedNow.size - ackedBefore;
      const catchUp = await convergence(ports, roomNames, ackedNow, convergeWaitMs, false);
      const catchUpMs = catchUp.ok ? Date.now() - healed : Number.POSITIVE_INFINITY;
      log(
        `  ${ackedDuring} lines acked during the fault` +
          (behindAtHeal === undefined ? "" : ` (n${node + 1} lacked ${behindAtHeal} at the heal)`) +
          `; every node holds the ${ackedNow.size} lines acked so far after ${catchUpMs} ms`,
      );
      faults.push({
        kind,
        node,
        durationMs,
        catchUpMs,
        ackedDuring,
        ...(behindAtHeal === undefined ? {} : { behindAtHeal }),
      });
      await sleep(between(1000, 2000));
    }
    await sleep(calmMs);
    await Promise.all(senders.map((s) => s.stop()));
    const stopped = Date.now();
    const acked = allAcked(senders);
    const final = await convergence(ports, roomNames, acked, convergeWaitMs, true);
    const finalConvergeMs = final.ok ? Date.now() - stopped : Number.POSITIVE_INFINITY;
    log(`final convergence ${final.ok ? `after ${finalConvergeMs} ms` : "not reached"}`);
    const report = check(senders, final.logs, acked, lineChars);
    return {
      seed,
      faults,
      lineBytes: new TextEncoder().encode(chaosLine(senders[0]!.nick, 0, lineChars)).length,
      ...report,
      refused: senders.reduce((n, s) => n + s.refused.size, 0),
      failovers: senders.reduce((n, s) => n + s.failovers, 0),
      converged: final.ok,
      finalConvergeMs,
      longestConvergeMs: Math.max(finalConvergeMs, ...faults.map((f) => f.catchUpMs)),
      hashes: Object.fromEntries(
        await Promise.all(
          roomNames.map(async (room) => [room, await hashLog(final.logs[0]?.get(room) ?? [])]),
        ),
      ),
      elapsedMs: Date.now() - began,
    };
  } finally {
    await Promise.all(senders.map((s) => s.stop(0)));
    await cluster.close();
  }
}

/**
 * The checks a report fails, as sentences (empty when it passes).
 *
 * @param report A chaos report.
 * @returns The failures.
 */
export function chaosFailures(report: ChaosReport): string[] {
  const failures: string[] = [];
  if (report.lost > 0) failures.push(`${report.lost} acknowledged lines lost`);
  if (report.duplicates > 0) failures.push(`${report.duplicates} duplicates`);
  if (report.orderViolations > 0) failures.push(`${report.orderViolations} order violations`);
  if (report.mismatched > 0) failures.push(`${report.mismatched} acks naming the wrong event`);
  if (!report.converged) failures.push("logs did not converge");
  if (report.acked === 0) failures.push("nothing was acknowledged");
  return failures;
}

/**
 * The report as a table.
 *
 * @param report A chaos report.
 * @returns Printable lines.
 */
export function formatReport(report: ChaosReport): string {
  const ms = (n: number) => (Number.isFinite(n) ? `${n} ms` : "never");
  const rows: [string, string][] = [
    ["seed", String(report.seed)],
    ["faults", report.faults.map((f) => `${f.kind}:n${f.node + 1}`).join(" ")],
    ["line bytes", String(report.lineBytes)],
    ["largest backlog of a fault", backlog(report)],
    ...cutRows(report),
    ["sent", String(report.sent)],
    ["acked", String(report.acked)],
    ["delivered", String(report.delivered)],
    ["lost (must be 0)", String(report.lost)],
    ["duplicates (must be 0)", String(report.duplicates)],
    ["order violations (must be 0)", String(report.orderViolations)],
    ["refused", String(report.refused)],
    ["failovers", String(report.failovers)],
    ["longest catch-up after a fault", ms(Math.max(0, ...report.faults.map((f) => f.catchUpMs)))],
    ["final convergence", ms(report.finalConvergeMs)],
    ["longest time to converge", ms(report.longestConvergeMs)],
    ["identical logs (hash)", report.converged ? "yes" : "NO"],
    ["elapsed", ms(report.elapsedMs)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

/** For a run with cuts: how far behind the cut-off nodes were, which shows the cuts held. */
function cutRows(report: ChaosReport): [string, string][] {
  const behind = report.faults.flatMap((f) => f.behindAtHeal ?? []);
  return behind.length === 0 ? [] : [["lines a cut-off node lacked at heal", behind.join(" ")]];
}

/** The most lines acknowledged during one fault, and their size. */
function backlog(report: ChaosReport): string {
  const lines = Math.max(0, ...report.faults.map((f) => f.ackedDuring));
  const bytes = lines * report.lineBytes;
  const size = bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
  return `${lines} lines, ${size}`;
}

/** `count` faults, every kind at least once when there are enough, shuffled. */
function faultPlan(count: number, kinds: FaultKind[], random: () => number): FaultKind[] {
  const plan = Array.from({ length: count }, (_, i) => kinds[i % kinds.length]!);
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [plan[i], plan[j]] = [plan[j]!, plan[i]!];
  }
  return plan;
}

/** Waits until every node sees every node alive. */
async function waitAlive(cluster: ChaosCluster, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const probe = await RawClient.join(cluster.ports()[0]!, probeNick());
    await probe.send({ t: "cmd", line: "/nodes" });
    const info = await probe.next((f) => f.t === "info" && f.cmd === "nodes");
    probe.close();
    const states = (info.data as { state: string }[]).map((m) => m.state);
    if (states.filter((s) => s === "alive").length === cluster.size) return;
    await sleep(200);
  }
  throw new Error(`Cannot start the chaos scenario: the cluster did not form in ${waitMs} ms`);
}

function allAcked(senders: ChaosSender[]): Map<string, string> {
  const acked = new Map<string, string>();
  for (const s of senders) for (const [cid, id] of s.acked) acked.set(cid, id);
  return acked;
}

function probeNick(): string {
  return `probe${crypto.randomUUID().slice(0, 8)}`;
}

/** A room's message log as one node shows it (at most 500 lines). */
async function roomLines(port: number, room: string): Promise<LogLine[]> {
  const probe = await RawClient.join(port, probeNick(), room);
  try {
    await probe.send({ t: "cmd", line: "/history 500", room });
    const frame = await probe.next((f) => f.t === "history", 5000);
    return (frame.history as (LogLine & { kind: string })[])
      .filter((m) => m.kind === "message")
      .map(({ id, from, text }) => ({ id, from, text }));
  } finally {
    probe.close();
  }
}

/** How many acknowledged lines a node lacks in the given rooms. */
async function missingOn(
  port: number,
  rooms: string[],
  acked: Map<string, string>,
): Promise<number> {
  const logs = await Promise.all(rooms.map((room) => roomLines(port, room)));
  const ids = new Set(logs.flat().map((line) => line.id));
  return [...acked.values()].filter((id) => !ids.has(id)).length;
}

/**
 * Polls every node until each holds every acked id — and, with `identical`,
 * until all nodes' logs are the same — or the wait is over.
 */
async function convergence(
  ports: () => number[],
  rooms: string[],
  acked: Map<string, string>,
  waitMs: number,
  identical: boolean,
): Promise<{ ok: boolean; logs: Map<string, LogLine[]>[] }> {
  const deadline = Date.now() + waitMs;
  const required = [...acked.values()];
  let logs: Map<string, LogLine[]>[] = [];
  while (true) {
    try {
      logs = await Promise.all(
        ports().map(async (port) =>
          new Map(
            await Promise.all(
              rooms.map(async (room) => [room, await roomLines(port, room)] as const),
            ),
          )
        ),
      );
      const complete = logs.every((node) => {
        const ids = new Set([...node.values()].flat().map((l) => l.id));
        return required.every((id) => ids.has(id));
      });
      const same = !identical ||
        rooms.every((room) => {
          const first = JSON.stringify(logs[0]!.get(room));
          return logs.every((node) => JSON.stringify(node.get(room)) === first);
        });
      if (complete && same) return { ok: true, logs };
    } catch {
      // a node still starting or busy: poll again
    }
    if (Date.now() >= deadline) return { ok: false, logs };
    await sleep(200);
  }
}

/** Counts loss, duplicates, order and mismatches over every node's logs. */
function check(
  senders: ChaosSender[],
  logs: Map<string, LogLine[]>[],
  acked: Map<string, string>,
  lineChars: number,
): Pick<
  ChaosReport,
  "sent" | "acked" | "delivered" | "lost" | "duplicates" | "orderViolations" | "mismatched"
> {
  const nicks = new Set(senders.map((s) => s.nick));
  let lost = 0;
  let duplicates = 0;
  let orderViolations = 0;
  let mismatched = 0;
  const lostIds = new Set<string>();
  for (const node of logs) {
    const byId = new Map<string, LogLine>();
    let nodeDuplicates = 0;
    let nodeOrder = 0;
    for (const lines of node.values()) {
      const seen = new Set<string>();
      const lastSeq = new Map<string, number>();
      for (const line of lines) {
        if (byId.has(line.id)) nodeDuplicates++;
        byId.set(line.id, line);
        if (!nicks.has(line.from)) continue;
        if (seen.has(line.text)) nodeDuplicates++;
        seen.add(line.text);
        const seq = Number(line.text.split(" ")[1]);
        if ((lastSeq.get(line.from) ?? -1) >= seq) nodeOrder++;
        lastSeq.set(line.from, seq);
      }
    }
    for (const [cid, id] of acked) {
      const line = byId.get(id);
      if (line === undefined) {
        lostIds.add(id);
        continue;
      }
      const [nick, seq] = [cid.slice(0, cid.lastIndexOf("-")), cid.slice(cid.lastIndexOf("-") + 1)];
      if (line.from !== nick || line.text !== chaosLine(nick, Number(seq), lineChars)) mismatched++;
    }
    duplicates = Math.max(duplicates, nodeDuplicates);
    orderViolations = Math.max(orderViolations, nodeOrder);
  }
  if (logs.length === 0) { for (const id of acked.values()) lostIds.add(id); }
  lost = lostIds.size;
  return {
    sent: senders.reduce((n, s) => n + s.sent, 0),
    acked: acked.size,
    delivered: acked.size - lost,
    lost,
    duplicates,
    orderViolations,
    mismatched,
  };
}

async function hashLog(lines: LogLine[]): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(lines));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}
