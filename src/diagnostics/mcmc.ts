/**
 * Convergence diagnostics for MCMC output held as [chains, draws, dim] (chain-major).
 *
 * - Split-R̂ (Gelman, Carlin, Stern, Dunson, Vehtari, Rubin, "Bayesian Data Analysis", 3rd ed.,
 *   §11.4): each chain is split in halves; R̂ = sqrt(((n−1)/n · W + B/n) / W).
 * - Effective sample size (BDA3 §11.5): ρ̂_t = 1 − (W − mean_c autocov_c(t)) / var⁺, summed with
 *   Geyer's initial positive sequence (pairs ρ̂_{2k} + ρ̂_{2k+1} kept while positive and made
 *   monotone); ESS = m·n / (1 + 2 Σ ρ̂_t).
 */

export interface ChainDraws {
  /** [chains, draws, dim] chain-major */
  values: Float64Array;
  chains: number;
  draws: number;
  dim: number;
}

function column(d: ChainDraws, c: number, j: number, start: number, end: number): Float64Array {
  const out = new Float64Array(end - start);
  for (let t = start; t < end; t++) out[t - start] = d.values[(c * d.draws + t) * d.dim + j]!;
  return out;
}

function meanOf(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

function varianceOf(a: Float64Array, mean: number): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - mean) ** 2;
  return s / (a.length - 1);
}

/** Split-R̂ per dimension. Needs at least 4 draws per chain. */
export function splitRhat(d: ChainDraws): Float64Array {
  const half = Math.floor(d.draws / 2);
  if (half < 2) throw new RangeError(`Expected at least 4 draws per chain for R-hat but received ${d.draws}`);
  const out = new Float64Array(d.dim);
  for (let j = 0; j < d.dim; j++) {
    const means: number[] = [];
    const vars: number[] = [];
    for (let c = 0; c < d.chains; c++) {
      for (const [s, e] of [[0, half], [d.draws - half, d.draws]] as const) {
        const x = column(d, c, j, s, e);
        const m = meanOf(x);
        means.push(m);
        vars.push(varianceOf(x, m));
      }
    }
    const W = vars.reduce((a, b) => a + b, 0) / vars.length;
    const grand = means.reduce((a, b) => a + b, 0) / means.length;
    const B = (half * means.reduce((a, m) => a + (m - grand) ** 2, 0)) / (means.length - 1);
    const varPlus = ((half - 1) / half) * W + B / half;
    out[j] = W > 0 ? Math.sqrt(varPlus / W) : 1;
  }
  return out;
}

/** Autocovariance of one series at lags 0..maxLag (biased, divides by n). */
function autocovariance(x: Float64Array, maxLag: number): Float64Array {
  const n = x.length;
  const m = meanOf(x);
  const out = new Float64Array(maxLag + 1);
  for (let t = 0; t <= maxLag; t++) {
    let s = 0;
    for (let i = 0; i + t < n; i++) s += (x[i]! - m) * (x[i + t]! - m);
    out[t] = s / n;
  }
  return out;
}

/** Effective sample size per dimension, over all chains together. */
export function effectiveSampleSize(d: ChainDraws): Float64Array {
  const n = d.draws;
  if (n < 4) throw new RangeError(`Expected at least 4 draws per chain for the ESS but received ${n}`);
  const maxLag = Math.min(n - 1, 1000);
  const out = new Float64Array(d.dim);
  for (let j = 0; j < d.dim; j++) {
    const acov: Float64Array[] = [];
    const means: number[] = [];
    const vars: number[] = [];
    for (let c = 0; c < d.chains; c++) {
      const x = column(d, c, j, 0, n);
      const m = meanOf(x);
      means.push(m);
      vars.push(varianceOf(x, m));
      acov.push(autocovariance(x, maxLag));
    }
    const W = vars.reduce((a, b) => a + b, 0) / vars.length;
    const grand = means.reduce((a, b) => a + b, 0) / means.length;
    const B = d.chains > 1 ? (n * means.reduce((a, m) => a + (m - grand) ** 2, 0)) / (d.chains - 1) : 0;
    const varPlus = ((n - 1) / n) * W + B / n;
    if (!(varPlus > 0)) {
      out[j] = d.chains * n;
      continue;
    }
    const rho = (t: number) => {
      let s = 0;
      for (let c = 0; c < d.chains; c++) s += acov[c]![t]!;
      return 1 - (W - s / d.chains) / varPlus;
    };
    // Geyer's initial positive and monotone sequence over pairs of lags.
    let sum = 0;
    let prevPair = Infinity;
    for (let k = 0; 2 * k + 1 <= maxLag; k++) {
      let pair = rho(2 * k) + rho(2 * k + 1);
      if (pair <= 0) break;
      pair = Math.min(pair, prevPair);
      prevPair = pair;
      sum += pair;
    }
    // Σ_{t≥0} over pairs counts ρ_0 = 1 once: τ = −1 + 2 Σ pairs.
    const tau = Math.max(-1 + 2 * sum, 1 / Math.log10(d.chains * n));
    out[j] = (d.chains * n) / tau;
  }
  return out;
}
