/**
 * A small metrics registry that writes the Prometheus text exposition format
 * (version 0.0.4): `# HELP` and `# TYPE` lines, then one line per sample,
 * label values escaped. Pure: no clock, no I/O.
 *
 * Two kinds of metric, because most figures of a node are kept elsewhere:
 *
 * - **collected** counters and gauges are read when the text is rendered,
 *   from a function the owner passes in (a hub's counters, the sessions
 *   open now): nothing is updated on the hot path;
 * - **histograms** are pushed to: the owner calls `observe` when a thing
 *   happens (an event-loop delay sample, a snapshot written).
 *
 * ```ts
 * import { MetricsRegistry } from "./metrics.ts";
 * const registry = new MetricsRegistry();
 * let sent = 0;
 * registry.counter("app_sent_total", "Things sent.", () => [{ value: sent }]);
 * const delay = registry.histogram("app_delay_seconds", "Delay.", [0.01, 0.1, 1]);
 * delay.observe(0.05);
 * registry.render(); // "# HELP app_sent_total Things sent.\n# TYPE app_sent_total counter\n..."
 * ```
 *
 * @module
 */

/** The `Content-Type` of {@linkcode MetricsRegistry.render}'s text. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Label names to values of one sample. */
export type Labels = Readonly<Record<string, string>>;

/** One value of a collected metric. */
export interface Sample {
  /** Its labels. @default none */
  readonly labels?: Labels;
  /** The value. */
  readonly value: number;
}

/** Reads a collected metric's samples when the registry renders. */
export type Collect = () => Iterable<Sample>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A histogram with fixed buckets and no labels: {@linkcode MetricsRegistry.histogram}. */
export class Histogram {
  /** Upper bounds of the buckets, ascending (the `+Inf` bucket is implicit). */
  readonly buckets: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  /** @param buckets Finite upper bounds, strictly ascending. */
  constructor(buckets: readonly number[]) {
    if (buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new RangeError(
        `Invalid histogram buckets ${buckets.join(",")}: use finite bounds in ascending order`,
      );
    }
    this.buckets = [...buckets];
    this.#counts = buckets.map(() => 0);
  }

  /**
   * Counts one observation in the first bucket whose bound is at least `value`.
   *
   * @param value The observed value (NaN is ignored).
   */
  observe(value: number): void {
    if (Number.isNaN(value)) return;
    this.#sum += value;
    this.#count++;
    const bucket = this.buckets.findIndex((bound) => value <= bound);
    if (bucket >= 0) this.#counts[bucket]!++;
  }

  /** Observations so far. */
  get count(): number {
    return this.#count;
  }

  /** Sum of the observations so far. */
  get sum(): number {
    return this.#sum;
  }

  /** `_bucket` (cumulative), `_sum` and `_count` lines of metric `name`. */
  lines(name: string): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    this.buckets.forEach((bound, i) => {
      cumulative += this.#counts[i]!;
      lines.push(`${name}_bucket{le="${formatValue(bound)}"} ${cumulative}`);
    });
    lines.push(`${name}_bucket{le="+Inf"} ${this.#count}`);
    lines.push(`${name}_sum ${formatValue(this.#sum)}`);
    lines.push(`${name}_count ${this.#count}`);
    return lines;
  }
}

type Family =
  | { name: string; help: string; type: "counter" | "gauge"; collect: Collect }
  | { name: string; help: string; type: "histogram"; histogram: Histogram };

/** Metrics by name, rendered in the order they were registered. */
export class MetricsRegistry {
  readonly #families: Family[] = [];
  readonly #names = new Set<string>();

  /**
   * Registers a counter read at render time: a count that only grows while
   * the process runs.
   *
   * @param name Ends in `_total`.
   * @param help One line saying what it counts.
   * @param collect Its samples now.
   * @throws {TypeError} When the name is taken, malformed or lacks `_total`.
   */
  counter(name: string, help: string, collect: Collect): void {
    if (!name.endsWith("_total")) {
      throw new TypeError(`Invalid counter name ${name}: a counter's name ends in _total`);
    }
    this.#add({ name, help, type: "counter", collect });
  }

  /**
   * Registers a gauge read at render time: a value that goes up and down.
   *
   * @param name The metric's name.
   * @param help One line saying what it measures.
   * @param collect Its samples now.
   * @throws {TypeError} When the name is taken or malformed.
   */
  gauge(name: string, help: string, collect: Collect): void {
    this.#add({ name, help, type: "gauge", collect });
  }

  /**
   * Registers a histogram the owner observes values into.
   *
   * @param name The metric's name (its lines add `_bucket`, `_sum`, `_count`).
   * @param help One line saying what it measures.
   * @param buckets Finite upper bounds, ascending.
   * @returns The histogram.
   * @throws {TypeError} When the name is taken or malformed.
   * @throws {RangeError} When the buckets are not ascending.
   */
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    const histogram = new Histogram(buckets);
    this.#add({ name, help, type: "histogram", histogram });
    return histogram;
  }

  /**
   * Every metric in the text exposition format, collected now.
   *
   * @returns The text, ending in a newline.
   * @throws {TypeError} When a collected sample has a malformed label name.
   */
  render(): string {
    const lines: string[] = [];
    for (const family of this.#families) {
      lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
      lines.push(`# TYPE ${family.name} ${family.type}`);
      if (family.type === "histogram") {
        lines.push(...family.histogram.lines(family.name));
        continue;
      }
      for (const sample of family.collect()) {
        lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
      }
    }
    return lines.join("\n") + "\n";
  }

  #add(family: Family): void {
    if (!METRIC_NAME.test(family.name)) {
      throw new TypeError(`Invalid metric name ${JSON.stringify(family.name)}`);
    }
    if (this.#names.has(family.name)) {
      throw new TypeError(`Cannot register metric ${family.name}: the name is taken`);
    }
    this.#names.add(family.name);
    this.#families.push(family);
  }
}

/**
 * A sample value as the format writes it: `+Inf`, `-Inf`, `NaN` or a number.
 *
 * @param value The value.
 * @returns Its text.
 */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return Number.isNaN(value) ? "NaN" : String(value);
}

/**
 * A label value escaped for the format: backslash, double quote and line feed.
 *
 * @param value The raw value.
 * @returns The escaped value (without quotes).
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

function formatLabels(labels: Labels | undefined): string {
  if (labels === undefined) return "";
  const pairs = Object.entries(labels).map(([name, value]) => {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) {
      throw new TypeError(`Invalid label name ${JSON.stringify(name)}`);
    }
    return `${name}="${escapeLabelValue(value)}"`;
  });
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}
