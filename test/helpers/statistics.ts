/**
 * Reference distribution functions and goodness-of-fit tests for the statistical tests.
 * Everything here is independent of the native code: special functions from their series /
 * continued fractions, exact pmfs, KS and χ² tests with critical values derived from n and α,
 * sample moments with their standard errors.
 */
import { expect } from 'vitest';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

// log Γ and the regularised incomplete gamma functions are the library's own (src/special.ts,
// checked against closed forms in test/calibration.test.ts).
export { logGamma, gammaP, gammaQ } from '../../src/special.js';
import { logGamma, gammaQ } from '../../src/special.js';

const EPS = 1e-15;
const MAX_ITER = 100_000;

/** Regularised incomplete beta I_x(a, b). */
export function betaI(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const logFront = a * Math.log(x) + b * Math.log1p(-x) - (logGamma(a) + logGamma(b) - logGamma(a + b));
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(logFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1, d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < MAX_ITER; m++) {
    const m2 = 2 * m;
    // Even step.
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    // Odd step.
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/** Φ(z), accurate in both tails (erfc through Q(1/2, z²/2)). */
export function normalCdf(z: number): number {
  const tail = 0.5 * gammaQ(0.5, 0.5 * z * z);
  return z < 0 ? tail : 1 - tail;
}

/** z with Φ(z) = p, by bisection on Φ (to full double precision; only used for critical values). */
export function normalQuantile(p: number): number {
  if (p < 0.5) return -normalQuantile(1 - p);
  let lo = 0, hi = 40;
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return hi;
}

export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * betaI(df / (df + t * t), 0.5 * df, 0.5);
  return t < 0 ? tail : 1 - tail;
}

/** Loader's (2000) stirlerr: log n! − [(n + ½) log n − n + log √(2π)]. */
function stirlingError(n: number): number {
  if (n < 15) return logGamma(n + 1) - ((n + 0.5) * Math.log(n) - n + LOG_SQRT_2PI);
  const n2 = n * n;
  return (1 / 12 - (1 / 360 - (1 / 1260 - 1 / (1680 * n2)) / n2) / n2) / n;
}

/** x log(x / m) + m − x, without cancellation when x ≈ m. */
function devianceTerm(x: number, m: number): number {
  if (Math.abs(x - m) < 0.1 * (x + m)) {
    const v = (x - m) / (x + m);
    let s = (x - m) * v, term = 2 * x * v;
    for (let j = 1; j < 1000; j++) {
      term *= v * v;
      const next = s + term / (2 * j + 1);
      if (next === s) break;
      s = next;
    }
    return s;
  }
  return x * Math.log(x / m) + m - x;
}

/** log P(X = k), X ~ Binomial(n, p), accurate for any n (saddle-point form). */
export function binomialLogPmf(k: number, n: number, p: number): number {
  if (k < 0 || k > n) return -Infinity;
  if (p === 0) return k === 0 ? 0 : -Infinity;
  if (p === 1) return k === n ? 0 : -Infinity;
  if (k === 0) return n * Math.log1p(-p);
  if (k === n) return n * Math.log(p);
  return (
    stirlingError(n) - stirlingError(k) - stirlingError(n - k) -
    devianceTerm(k, n * p) - devianceTerm(n - k, n * (1 - p)) +
    0.5 * Math.log(n / (2 * Math.PI * k * (n - k)))
  );
}

/** log P(X = k), X ~ Poisson(λ). */
export function poissonLogPmf(k: number, lambda: number): number {
  if (k < 0) return -Infinity;
  if (k === 0) return -lambda;
  return -stirlingError(k) - devianceTerm(k, lambda) - 0.5 * Math.log(2 * Math.PI * k);
}

// ---------------------------------------------------------------------------------------------
// Tests

/** Significance level of every goodness-of-fit test. */
export const ALPHA = 1e-4;
/** Moment checks allow this many standard errors (two-sided p ≈ 6e-7). */
export const MOMENT_SE = 5;

/**
 * KS critical value at level α for effective sample size n (one sample: n; two samples of sizes
 * n_a, n_b: n_a n_b / (n_a + n_b)): K_α / (√n + 0.12 + 0.11/√n) (Stephens 1970), with K_α from the
 * Kolmogorov distribution's tail P(K > k) ≈ 2 exp(−2k²) (exact to < 1e-9 for α ≤ 0.01).
 */
export function ksCritical(n: number, alpha = ALPHA): number {
  const c = Math.sqrt(-0.5 * Math.log(alpha / 2));
  const sn = Math.sqrt(n);
  return c / (sn + 0.12 + 0.11 / sn);
}

/** sup |F_n − F| for a continuous CDF F. */
export function ksStatistic(samples: ArrayLike<number>, cdf: (x: number) => number): number {
  const x = Float64Array.from(samples).sort();
  const n = x.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(x[i]);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return d;
}

/** sup |F_a − F_b| of two samples (ties: both empirical CDFs step at once). */
export function ksTwoSampleStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0, j = 0, d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

export function expectKs(samples: ArrayLike<number>, cdf: (x: number) => number, tolerance = 0): void {
  const d = ksStatistic(samples, cdf);
  const critical = ksCritical(samples.length) + tolerance;
  expect(d, `KS statistic ${d} vs critical ${critical}`).toBeLessThan(critical);
}

/** P(χ²_df ≥ stat). */
export function chiSquarePValue(stat: number, df: number): number {
  return gammaQ(0.5 * df, 0.5 * stat);
}

/** Upper α-quantile of χ²(df): the x with Q(df/2, x/2) = α, by bisection. */
export function chiSquareCritical(df: number, alpha = ALPHA): number {
  let lo = 0, hi = df + 20 * Math.sqrt(2 * df) + 100;
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (chiSquarePValue(mid, df) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}

export interface ChiSquareResult {
  stat: number;
  df: number;
  pValue: number;
}

function chiSquareResult(stat: number, df: number): ChiSquareResult {
  return { stat, df, pValue: chiSquarePValue(stat, df) };
}

/**
 * Pearson χ² goodness of fit of integer-valued samples to a pmf supported (up to negligible mass)
 * on [lo, hi]: adjacent values are pooled left to right until each cell expects at least
 * `minExpected` samples (by default max(5, n/100), so at most ~100 cells: many tiny cells would
 * dilute the power against smooth distortions), the first and last cells also take everything
 * below lo / above hi.
 */
export function chiSquareGoodnessOfFit(
  samples: ArrayLike<number>, logPmf: (k: number) => number, lo: number, hi: number,
  minExpected = Math.max(5, samples.length / 100),
): ChiSquareResult {
  const n = samples.length;
  const counts = new Float64Array(hi - lo + 1);
  for (let i = 0; i < n; i++) {
    const v = samples[i];
    if (!Number.isInteger(v)) throw new RangeError(`sample ${i} = ${v} is not an integer`);
    counts[Math.min(hi, Math.max(lo, v)) - lo] += 1;
  }
  const cells: Array<{ observed: number; expected: number }> = [];
  let observed = 0, expected = 0;
  for (let k = lo; k <= hi; k++) {
    observed += counts[k - lo];
    expected += n * Math.exp(logPmf(k));
    if (expected >= minExpected) {
      cells.push({ observed, expected });
      observed = 0;
      expected = 0;
    }
  }
  if (cells.length === 0) throw new Error(`chiSquareGoodnessOfFit: no cell reaches an expected count of ${minExpected}`);
  cells[cells.length - 1].observed += observed;
  cells[cells.length - 1].expected += expected;
  let stat = 0;
  for (const c of cells) stat += ((c.observed - c.expected) ** 2) / c.expected;
  return chiSquareResult(stat, Math.max(1, cells.length - 1));
}

/** The χ² goodness-of-fit test (chiSquareGoodnessOfFit) passes at level ALPHA. */
export function expectChiSquare(samples: ArrayLike<number>, logPmf: (k: number) => number, lo: number, hi: number): void {
  const { stat, df } = chiSquareGoodnessOfFit(samples, logPmf, lo, hi);
  const critical = chiSquareCritical(df);
  expect(stat, `χ² = ${stat} with ${df} degrees of freedom vs critical ${critical}`).toBeLessThan(critical);
}

/** Pearson's χ² test of homogeneity of two samples with values in [0, categories) (categories with < 10 in all pooled). */
export function chiSquareTwoSample(a: ArrayLike<number>, b: ArrayLike<number>, categories: number): ChiSquareResult {
  const ca = new Float64Array(categories);
  const cb = new Float64Array(categories);
  for (let i = 0; i < a.length; i++) ca[a[i]]++;
  for (let i = 0; i < b.length; i++) cb[b[i]]++;
  const na = a.length, nb = b.length;
  const cells: Array<[number, number]> = [];
  let poolA = 0, poolB = 0;
  for (let k = 0; k < categories; k++) {
    if (ca[k] + cb[k] >= 10) cells.push([ca[k], cb[k]]);
    else {
      poolA += ca[k];
      poolB += cb[k];
    }
  }
  if (poolA + poolB > 0) cells.push([poolA, poolB]);
  let stat = 0;
  for (const [oa, ob] of cells) {
    const ea = ((oa + ob) * na) / (na + nb);
    const eb = ((oa + ob) * nb) / (na + nb);
    stat += (oa - ea) ** 2 / ea + (ob - eb) ** 2 / eb;
  }
  return chiSquareResult(stat, cells.length - 1);
}

// ---------------------------------------------------------------------------------------------
// Moments

/** Column j of a row-major [n, d] matrix. */
export function column(a: ArrayLike<number>, d: number, j: number): Float64Array {
  const out = new Float64Array(Math.floor(a.length / d));
  for (let i = 0; i < out.length; i++) out[i] = a[i * d + j];
  return out;
}

export function mean(x: ArrayLike<number>, stride = 1, offset = 0): number {
  let s = 0, n = 0;
  for (let i = offset; i < x.length; i += stride, n++) s += x[i];
  return s / n;
}

export function variance(x: ArrayLike<number>, stride = 1, offset = 0): number {
  const m = mean(x, stride, offset);
  let s = 0, n = 0;
  for (let i = offset; i < x.length; i += stride, n++) s += (x[i] - m) ** 2;
  return s / (n - 1);
}

/**
 * Sample mean and variance within MOMENT_SE standard errors of the truth. The standard errors
 * come from the distribution: SE(mean) = σ/√n, SE(s²) = σ² √((κ − 1 + 2/(n − 1)) / n) with
 * κ = 3 + excess kurtosis.
 */
export function expectMoments(
  x: ArrayLike<number>,
  truth: { mean: number; variance: number; excessKurtosis: number },
  stride = 1,
  offset = 0,
): void {
  const n = Math.floor((x.length - offset + stride - 1) / stride);
  const m = mean(x, stride, offset);
  const v = variance(x, stride, offset);
  const seMean = Math.sqrt(truth.variance / n);
  const kurtosis = 3 + truth.excessKurtosis;
  const seVar = truth.variance * Math.sqrt((kurtosis - 1 + 2 / (n - 1)) / n);
  expect(Math.abs(m - truth.mean), `mean ${m} vs ${truth.mean} (SE ${seMean})`).toBeLessThan(MOMENT_SE * seMean);
  expect(Math.abs(v - truth.variance), `variance ${v} vs ${truth.variance} (SE ${seVar})`).toBeLessThan(MOMENT_SE * seVar);
}

/** Sample mean and its standard error s/√n. */
export function meanAndStandardError(x: ArrayLike<number>): { mean: number; se: number } {
  return { mean: mean(x), se: Math.sqrt(variance(x) / x.length) };
}

export interface Moments {
  n: number;
  mean: Float64Array;
  /** Standard error of each mean. */
  meanSe: Float64Array;
  /** Covariance [k, k] of the k chosen columns (only the diagonal when `diagonalOnly`). */
  cov: Float64Array;
  /** Standard error of each covariance entry: sd of (x_p − x̄_p)(x_q − x̄_q) / √n. */
  covSe: Float64Array;
}

/** Sample means and covariances of the columns `cols` of a [n, d] matrix, with standard errors. */
export function moments(a: ArrayLike<number>, d: number, cols: number[], diagonalOnly = false): Moments {
  const n = a.length / d;
  const k = cols.length;
  const mean = new Float64Array(k);
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) mean[c] += a[i * d + cols[c]];
  for (let c = 0; c < k; c++) mean[c] /= n;
  const cov = new Float64Array(k * k);
  const covSq = new Float64Array(k * k);
  const r = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) r[c] = a[i * d + cols[c]] - mean[c];
    for (let p = 0; p < k; p++) {
      for (let q = diagonalOnly ? p : 0; q < (diagonalOnly ? p + 1 : k); q++) {
        const v = r[p] * r[q];
        cov[p * k + q] += v;
        covSq[p * k + q] += v * v;
      }
    }
  }
  const covSe = new Float64Array(k * k);
  const meanSe = new Float64Array(k);
  for (let e = 0; e < k * k; e++) {
    cov[e] /= n;
    covSe[e] = Math.sqrt(Math.max(covSq[e] / n - cov[e] * cov[e], 0) / n);
  }
  for (let c = 0; c < k; c++) meanSe[c] = Math.sqrt(cov[c * k + c] / n);
  return { n, mean, meanSe, cov, covSe };
}
