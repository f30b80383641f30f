/**
 * Goodness-of-fit tools for the statistical tests: χ² p-values (regularised upper incomplete
 * gamma) and Kolmogorov–Smirnov statistics with critical values from the Kolmogorov distribution.
 */

/** ln Γ(a), a > 0 (Lanczos, g = 7, n = 9; relative error below 1e-14). */
export function logGamma(a: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (a < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * a)) - logGamma(1 - a);
  const z = a - 1;
  let sum = c[0];
  for (let i = 1; i < 9; i++) sum += c[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Q(a, x) = Γ(a, x) / Γ(a): series for x < a + 1, Lentz continued fraction otherwise. */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const logPrefactor = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 10_000 && Math.abs(term) > Math.abs(sum) * 1e-16; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return 1 - Math.exp(logPrefactor) * sum;
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(logPrefactor) * h;
}

/** P(χ²_df ≥ stat). */
export function chiSquarePValue(stat: number, df: number): number {
  return gammaQ(df / 2, stat / 2);
}

export interface ChiSquareResult {
  stat: number;
  df: number;
  pValue: number;
}

/**
 * Pearson's goodness-of-fit test of integer-valued samples against probabilities `pmf[k]`.
 * Categories with expected count below `minExpected` are pooled (into one tail category) so the
 * χ² approximation holds; df = categories − 1.
 */
export function chiSquareGoodnessOfFit(
  samples: ArrayLike<number>, pmf: ArrayLike<number>, minExpected = 5,
): ChiSquareResult {
  const n = samples.length;
  const counts = new Float64Array(pmf.length);
  for (let i = 0; i < n; i++) {
    const k = samples[i];
    if (!Number.isInteger(k) || k < 0 || k >= pmf.length) throw new RangeError(`sample ${i} = ${k} outside the pmf's support`);
    counts[k]++;
  }
  let stat = 0;
  let categories = 0;
  let pooledObs = 0;
  let pooledExp = 0;
  for (let k = 0; k < pmf.length; k++) {
    const expected = n * pmf[k];
    if (expected >= minExpected) {
      stat += (counts[k] - expected) ** 2 / expected;
      categories++;
    } else {
      pooledObs += counts[k];
      pooledExp += expected;
    }
  }
  if (pooledExp > 0) {
    if (pooledExp < 1e-300) {
      if (pooledObs > 0) return { stat: Infinity, df: categories, pValue: 0 };
    } else {
      stat += (pooledObs - pooledExp) ** 2 / pooledExp;
      categories++;
    }
  }
  const df = categories - 1;
  return { stat, df, pValue: chiSquarePValue(stat, df) };
}

/** Pearson's χ² test of homogeneity of two integer-valued samples (categories with < 10 total pooled). */
export function chiSquareTwoSample(a: ArrayLike<number>, b: ArrayLike<number>, categories: number): ChiSquareResult {
  const ca = new Float64Array(categories);
  const cb = new Float64Array(categories);
  for (let i = 0; i < a.length; i++) ca[a[i]]++;
  for (let i = 0; i < b.length; i++) cb[b[i]]++;
  const na = a.length;
  const nb = b.length;
  const cells: Array<[number, number]> = [];
  let poolA = 0;
  let poolB = 0;
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
    const total = oa + ob;
    const ea = (total * na) / (na + nb);
    const eb = (total * nb) / (na + nb);
    stat += (oa - ea) ** 2 / ea + (ob - eb) ** 2 / eb;
  }
  const df = cells.length - 1;
  return { stat, df, pValue: chiSquarePValue(stat, df) };
}

/** sup_x |F_n(x) − F(x)| of a sample against a continuous CDF. */
export function ksStatistic(samples: ArrayLike<number>, cdf: (x: number) => number): number {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(sorted[i]);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return d;
}

/** sup_x |F_a(x) − F_b(x)| of two samples. */
export function ksTwoSampleStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const sa = Float64Array.from(a).sort();
  const sb = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < sa.length && j < sb.length) {
    const x = Math.min(sa[i], sb[j]);
    while (i < sa.length && sa[i] <= x) i++;
    while (j < sb.length && sb[j] <= x) j++;
    d = Math.max(d, Math.abs(i / sa.length - j / sb.length));
  }
  return d;
}

/**
 * Critical value of the KS statistic at level alpha for effective sample size n (one sample: n;
 * two samples: n_a n_b / (n_a + n_b)): K_alpha / (√n + 0.12 + 0.11/√n) (Stephens 1970), with
 * K_alpha from the Kolmogorov distribution's tail P(K > k) ≈ 2 exp(−2k²) (exact to < 1e-9 for
 * alpha ≤ 0.01).
 */
export function ksCriticalValue(n: number, alpha: number): number {
  const k = Math.sqrt(-0.5 * Math.log(alpha / 2));
  const sn = Math.sqrt(n);
  return k / (sn + 0.12 + 0.11 / sn);
}

/** Mean and standard error of the mean. */
export function meanAndStandardError(values: ArrayLike<number>): { mean: number; se: number } {
  const n = values.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { mean, se: Math.sqrt(ss / (n - 1) / n) };
}
