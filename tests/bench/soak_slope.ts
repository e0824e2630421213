/**
 * The soak benchmark's verdict on one series of samples: is it flat over the
 * window, within noise?
 *
 * A least-squares line `y = a + b·t` is fitted to the samples of the window
 * (t in minutes). The series is **flat** when its fitted growth across the
 * window, `b·W` (W = window length), is not above either allowance:
 *
 * - the noise allowance, `noiseFactor × σ`, σ being the standard deviation
 *   of the residuals around the line: a rise that the sample-to-sample
 *   scatter (GC sawtooth, connections opening and closing) hides is noise;
 * - the relative allowance, `relativePerMinute × mean × W`: growth under
 *   that rate is too slow to matter over a month of restarts-free running
 *   at the scale of the measurement (2 %/min by default);
 * - the absolute allowance, `absolute` units across the window (0 by
 *   default): for a short run, where a store's journal may still be filling
 *   to its steady size.
 *
 * A falling series is always flat. Fewer than `minSamples` samples give no
 * verdict (`inconclusive`).
 *
 * @module
 */

/** One sample: minutes since the start, and the value. */
export interface Point {
  readonly t: number;
  readonly y: number;
}

/** The least-squares line and what it says. */
export interface SlopeFit {
  /** Samples in the window. */
  readonly samples: number;
  /** Window length (minutes). */
  readonly windowMinutes: number;
  /** Mean value. */
  readonly mean: number;
  /** Fitted slope (units per minute). */
  readonly slopePerMinute: number;
  /** Fitted growth across the window: slope × window (units). */
  readonly growth: number;
  /** Standard deviation of the residuals around the line (units). */
  readonly residualStdDev: number;
  /** The larger allowance the growth was compared with (units). */
  readonly allowance: number;
  /** `flat`, `growing`, or `inconclusive` (too few samples). */
  readonly verdict: "flat" | "growing" | "inconclusive";
}

/** Options of {@linkcode judgeSlope}. */
export interface SlopeOptions {
  /** Growth allowed per minute, relative to the mean. @default 0.02 */
  relativePerMinute?: number;
  /** Growth allowed in residual standard deviations. @default 2 */
  noiseFactor?: number;
  /** Growth allowed across the window whatever its length (units). @default 0 */
  absolute?: number;
  /** Fewest samples for a verdict. @default 5 */
  minSamples?: number;
}

/**
 * Fits a line to the points and judges whether the series is flat.
 *
 * @param points Samples of the window, any order.
 * @param options Allowances.
 * @returns The fit and the verdict.
 * @throws {RangeError} When an allowance is negative.
 */
export function judgeSlope(points: readonly Point[], options: SlopeOptions = {}): SlopeFit {
  const { relativePerMinute = 0.02, noiseFactor = 2, absolute = 0, minSamples = 5 } = options;
  if (relativePerMinute < 0 || noiseFactor < 0 || absolute < 0) {
    throw new RangeError(
      `Cannot judge a slope: allowances must be non-negative, got ${relativePerMinute}, ${noiseFactor} and ${absolute}`,
    );
  }
  const n = points.length;
  const meanT = points.reduce((s, p) => s + p.t, 0) / Math.max(n, 1);
  const mean = points.reduce((s, p) => s + p.y, 0) / Math.max(n, 1);
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sxx += (p.t - meanT) ** 2;
    sxy += (p.t - meanT) * (p.y - mean);
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  let sse = 0;
  for (const p of points) sse += (p.y - (mean + slope * (p.t - meanT))) ** 2;
  const residualStdDev = n > 2 ? Math.sqrt(sse / (n - 2)) : 0;
  const ts = points.map((p) => p.t);
  const windowMinutes = n === 0 ? 0 : Math.max(...ts) - Math.min(...ts);
  const growth = slope * windowMinutes;
  const allowance = Math.max(
    noiseFactor * residualStdDev,
    relativePerMinute * Math.abs(mean) * windowMinutes,
    absolute,
  );
  const verdict = n < minSamples || windowMinutes === 0
    ? "inconclusive"
    : growth <= allowance
    ? "flat"
    : "growing";
  return {
    samples: n,
    windowMinutes,
    mean,
    slopePerMinute: slope,
    growth,
    residualStdDev,
    allowance,
    verdict,
  };
}
