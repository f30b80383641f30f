/**
 * Integrated autocorrelation time with Sokal's automatic windowing (A. Sokal, "Monte Carlo
 * methods in statistical mechanics: foundations and new algorithms", 1996 Cargèse lectures;
 * Madras & Sokal, J. Stat. Phys. 50, 1988):
 *   ρ(t) = Γ(t) / Γ(0),  τ_int(W) = ½ + Σ_{t=1..W} ρ(t),
 * W the smallest window with W ≥ c · τ_int(W) (c = 5 by default). With this convention the
 * variance of a chain mean of N correlated draws is 2 τ_int Var(O) / N (τ_int = ½ for
 * independent draws), and τ_int's own standard error is τ_int · √(2 (2W + 1) / N).
 */
import { checkPositiveInteger, describe } from '../validate.js';

export interface AutocorrelationResult {
  /** τ_int (½ for independent draws). */
  tau: number;
  /** Its standard error, τ_int · √(2 (2W + 1) / N). */
  tauError: number;
  /** The window W Sokal's rule chose. */
  window: number;
  /** The mean of all draws and the standard error of that mean, √(2 τ_int Var / N). */
  mean: number;
  meanError: number;
}

/**
 * τ_int of `series` [chains, steps] (row-major, chain-major): the autocovariance is averaged over
 * the chains, each centred on the mean of all draws, so independent chains of one process pool.
 */
export function integratedAutocorrelation(
  series: Float64Array, options: { chains?: number; c?: number } = {},
): AutocorrelationResult {
  if (!(series instanceof Float64Array)) throw new TypeError(`Expected a Float64Array for \`series\` but received ${describe(series)}`);
  const chains = checkPositiveInteger(options.chains ?? 1, 'chains');
  const c = options.c ?? 5;
  if (!(c > 0)) throw new RangeError(`Expected a positive window factor \`c\` but received ${describe(c)}`);
  if (series.length % chains !== 0 || series.length / chains < 2) {
    throw new RangeError(`Expected \`series\` to hold ${chains} chains of at least 2 steps but it has ${series.length} values`);
  }
  const steps = series.length / chains;
  let mean = 0;
  for (const v of series) {
    if (!Number.isFinite(v)) throw new RangeError(`Expected finite values in \`series\` but it holds ${v}`);
    mean += v;
  }
  mean /= series.length;
  const gamma = (t: number): number => {
    let s = 0;
    for (let ch = 0; ch < chains; ch++) {
      const o = ch * steps;
      for (let i = 0; i + t < steps; i++) s += (series[o + i]! - mean) * (series[o + i + t]! - mean);
    }
    return s / (chains * (steps - t));
  };
  const g0 = gamma(0);
  const n = series.length;
  if (g0 === 0) return { tau: 0.5, tauError: 0, window: 0, mean, meanError: 0 };
  let tau = 0.5;
  let window = 0;
  for (let t = 1; t < steps; t++) {
    tau += gamma(t) / g0;
    window = t;
    if (t >= c * tau) break;
  }
  // τ_int below ½ is real for anti-correlated chains (HMC's can be); it stays positive, since
  // 2 τ_int Γ(0) / N estimates a variance. A non-positive sum is noise around zero correlation.
  const tauPositive = Math.max(tau, 1 / n);
  return {
    tau: tauPositive,
    tauError: tauPositive * Math.sqrt((2 * (2 * window + 1)) / n),
    window,
    mean,
    meanError: Math.sqrt((2 * tauPositive * g0) / n),
  };
}
