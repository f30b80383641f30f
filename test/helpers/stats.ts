/**
 * Statistics for the simulator tests: two-sample Kolmogorov–Smirnov with its asymptotic
 * critical value, normal quantiles, moment comparisons with standard errors estimated from
 * the samples, and a few exact CDFs.
 */

/** Column j of a row-major [n, d] matrix. */
export function column(a: ArrayLike<number>, d: number, j: number): Float64Array {
  const n = a.length / d;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = a[i * d + j];
  return out;
}

/** Two-sample KS statistic sup |F_a − F_b| (ties handled: both steps are taken at once). */
export function ksStatistic(a: Float64Array, b: Float64Array): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/** Critical value of the two-sample KS statistic at level alpha (asymptotic, conservative with ties). */
export function ksCritical(alpha: number, n: number, m: number): number {
  return Math.sqrt(-0.5 * Math.log(alpha / 2)) * Math.sqrt((n + m) / (n * m));
}

/** One-sample KS statistic of `a` against a continuous CDF. */
export function ksOneSample(a: Float64Array, cdf: (v: number) => number): number {
  const x = Float64Array.from(a).sort();
  const n = x.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(x[i]);
    d = Math.max(d, f - i / n, (i + 1) / n - f);
  }
  return d;
}

/** One-sample KS critical value at level alpha (asymptotic). */
export function ksCriticalOneSample(alpha: number, n: number): number {
  return Math.sqrt(-0.5 * Math.log(alpha / 2)) / Math.sqrt(n);
}

/** erfc(x), relative error < 1.2e-7 (Chebyshev fit of Numerical Recipes, 3rd ed., §6.2). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Standard normal CDF. */
export const normalCdf = (z: number) => 0.5 * erfc(-z / Math.SQRT2);

/** z with P(|N(0,1)| > z) = alpha (bisection on erfc). */
export function twoSidedZ(alpha: number): number {
  let lo = 0;
  let hi = 40;
  for (let k = 0; k < 200; k++) {
    const mid = 0.5 * (lo + hi);
    if (erfc(mid / Math.SQRT2) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** CDF of χ² with an even number k of degrees of freedom: 1 − e^(−y/2) Σ_{j<k/2} (y/2)^j / j!. */
export function chiSquareCdfEven(y: number, k: number): number {
  if (y <= 0) return 0;
  const h = y / 2;
  let term = 1;
  let sum = 1;
  for (let j = 1; j < k / 2; j++) {
    term *= h / j;
    sum += term;
  }
  return 1 - Math.exp(-h) * sum;
}

export interface Moments {
  n: number;
  mean: Float64Array;
  /** Standard error of each mean. */
  meanSe: Float64Array;
  /** Covariance [d, d] (or only the diagonal when `diagonalOnly`). */
  cov: Float64Array;
  /** Standard error of each covariance entry: sd of (x_i − x̄_i)(x_j − x̄_j) / √n. */
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
