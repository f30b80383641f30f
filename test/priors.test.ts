import { afterEach, describe, expect, it } from 'vitest';
import { createPrior, type Prior, type PriorSpec } from '../src/priors.js';
import { sample } from '../src/random.js';
import { native } from '../src/native.js';
import { runtimeInfo, setIsa, type IsaPath } from '../src/runtime.js';
import { column, expectKs, expectMoments, gammaP, MOMENT_SE, normalCdf } from './helpers/statistics.js';

const N = 100_000;
const SEED = 424242;

function expectSameBits(a: Float64Array, b: Float64Array): void {
  expect(a.length).toBe(b.length);
  expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);
}

/** Dense inverse by Gauss–Jordan with partial pivoting (test-side reference, independent of src/linalg). */
function inverse(a: number[][]): number[][] {
  const d = a.length;
  const m = a.map((row, i) => [...row, ...row.map((_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    const pivot = m[c][c];
    for (let k = 0; k < 2 * d; k++) m[c][k] /= pivot;
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = m[r][c];
      for (let k = 0; k < 2 * d; k++) m[r][k] -= f * m[c][k];
    }
  }
  return m.map((row) => row.slice(d));
}

function logDet(a: number[][]): number {
  // Via the Cholesky factor of a symmetric positive definite matrix.
  const d = a.length, L = a.map(() => new Array<number>(d).fill(0));
  let s = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let v = a[i][j];
      for (let k = 0; k < j; k++) v -= L[i][k] * L[j][k];
      L[i][j] = i === j ? Math.sqrt(v) : v / L[j][j];
    }
    s += 2 * Math.log(L[i][i]);
  }
  return s;
}

function maxRelativeDifference(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(a[i])));
  return m;
}

/** Sample mean and covariance of [n, d] draws within MOMENT_SE standard errors of (loc, Σ). */
function expectGaussianMoments(x: Float64Array, loc: number[], cov: number[][]): void {
  const d = loc.length, n = x.length / d;
  const m = loc.map((_, j) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i * d + j];
    return s / n;
  });
  for (let j = 0; j < d; j++) {
    expect(Math.abs(m[j] - loc[j]), `mean ${j}`).toBeLessThan(MOMENT_SE * Math.sqrt(cov[j][j] / n));
    for (let k = 0; k <= j; k++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += (x[i * d + j] - m[j]) * (x[i * d + k] - m[k]);
      // Var(s_jk) = (Σ_jj Σ_kk + Σ_jk²) / n for Gaussian data.
      const se = Math.sqrt((cov[j][j] * cov[k][k] + cov[j][k] ** 2) / n);
      expect(Math.abs(s / (n - 1) - cov[j][k]), `covariance (${j}, ${k})`).toBeLessThan(MOMENT_SE * se);
    }
  }
}

/** Mean of log p over the prior's own draws within MOMENT_SE standard errors of −entropy. */
function expectMeanLogProb(prior: Prior, x: Float64Array, negEntropy: number, varLogProb: number): void {
  const lp = prior.logProb(x);
  let s = 0;
  for (const v of lp) s += v;
  const se = Math.sqrt(varLogProb / lp.length);
  expect(Math.abs(s / lp.length - negEntropy), `E[log p] ${s / lp.length} vs ${negEntropy}`).toBeLessThan(MOMENT_SE * se);
}

describe('boxUniform', () => {
  for (const [lo, hi, d] of [[-1, 1, 2], [-3, 3, 5], [-10, 10, 2]]) {
    it(`[${lo}, ${hi}]^${d}: draws lie in the box with uniform moments and KS per dimension`, () => {
      const prior = createPrior({ kind: 'boxUniform', low: new Array(d).fill(lo), high: new Array(d).fill(hi) });
      expect(prior.dim).toBe(d);
      const x = prior.sample(N, { seed: SEED });
      expect(prior.inSupport(x).every((v) => v === 1)).toBe(true);
      for (let j = 0; j < d; j++) {
        const c = column(x, d, j);
        expectMoments(c, { mean: (lo + hi) / 2, variance: (hi - lo) ** 2 / 12, excessKurtosis: -1.2 });
        expectKs(c, (v) => (v - lo) / (hi - lo));
      }
    });
  }

  it('logProb is −Σ log(high − low) on the closed box and −Infinity outside; inSupport agrees', () => {
    const prior = createPrior({ kind: 'boxUniform', low: [-1, 0], high: [1, 4] });
    const theta = Float64Array.of(0, 2, -1, 4, 1.0000001, 2, 0, -1e-12, NaN, 1, 0, Infinity);
    const inside = Math.log(1 / 8);
    expect(Array.from(prior.logProb(theta))).toEqual([inside, inside, -Infinity, -Infinity, -Infinity, -Infinity]);
    expect(Array.from(prior.inSupport(theta))).toEqual([1, 1, 0, 0, 0, 0]);
  });
});

describe('normal', () => {
  it('moments and KS per dimension; logProb matches the closed form', () => {
    const loc = [0.5, -2], scale = [1.5, 0.1];
    const prior = createPrior({ kind: 'normal', loc, scale });
    const x = prior.sample(N, { seed: SEED });
    for (let j = 0; j < 2; j++) {
      const c = column(x, 2, j);
      expectMoments(c, { mean: loc[j], variance: scale[j] ** 2, excessKurtosis: 0 });
      expectKs(c, (v) => normalCdf((v - loc[j]) / scale[j]));
    }
    const theta = Float64Array.of(1, -2.05, -3, 0);
    const lp = prior.logProb(theta);
    for (let r = 0; r < 2; r++) {
      let want = 0;
      for (let j = 0; j < 2; j++) {
        const z = (theta[r * 2 + j] - loc[j]) / scale[j];
        want += -0.5 * z * z - Math.log(scale[j] * Math.sqrt(2 * Math.PI));
      }
      expect(lp[r]).toBeCloseTo(want, 12);
    }
    expect(Array.from(prior.inSupport(Float64Array.of(1e300, -1e300, NaN, 0)))).toEqual([1, 0]);
  });
});

describe('logNormal', () => {
  const cases: Array<[string, number[], number[]]> = [
    ['sir', [Math.log(0.4), Math.log(0.125)], [0.5, 0.2]],
    ['lotka_volterra', [-0.125, -3, -0.125, -3], [0.5, 0.5, 0.5, 0.5]],
  ];
  for (const [task, loc, scale] of cases) {
    it(`${task} prior: log θ passes KS against N(loc, scale²), θ has log-normal moments, E[log p] = −entropy`, () => {
      const d = loc.length;
      const prior = createPrior({ kind: 'logNormal', loc, scale });
      const x = prior.sample(N, { seed: SEED });
      expect(prior.inSupport(x).every((v) => v === 1)).toBe(true);
      for (let j = 0; j < d; j++) {
        const c = column(x, d, j);
        expectKs(c, (v) => normalCdf((Math.log(v) - loc[j]) / scale[j]));
        const w = Math.exp(scale[j] ** 2);
        expectMoments(c, {
          mean: Math.exp(loc[j] + scale[j] ** 2 / 2),
          variance: (w - 1) * Math.exp(2 * loc[j] + scale[j] ** 2),
          excessKurtosis: w ** 4 + 2 * w ** 3 + 3 * w ** 2 - 6,
        });
      }
      // log p = Σ [−½ z² − log σ − log √(2π) − (μ + σ z)]: mean −Σ(½ log(2πe σ²) + μ), variance Σ(½ + σ²).
      const negEntropy = -loc.reduce((s, m, j) => s + 0.5 * Math.log(2 * Math.PI * Math.E * scale[j] ** 2) + m, 0);
      expectMeanLogProb(prior, x, negEntropy, scale.reduce((s, v) => s + 0.5 + v * v, 0));
    });
  }

  it('logProb matches the closed form; θ ≤ 0 is outside the support', () => {
    const prior = createPrior({ kind: 'logNormal', loc: [0.2], scale: [0.7] });
    const t = 1.9;
    const z = (Math.log(t) - 0.2) / 0.7;
    expect(prior.logProb(Float64Array.of(t))[0]).toBeCloseTo(-0.5 * z * z - Math.log(0.7 * t * Math.sqrt(2 * Math.PI)), 12);
    expect(Array.from(prior.logProb(Float64Array.of(0, -1)))).toEqual([-Infinity, -Infinity]);
    expect(Array.from(prior.inSupport(Float64Array.of(0, -1, 1e-300)))).toEqual([0, 0, 1]);
  });
});

/** sbibm bernoulli_glm prior precision: diag 0.5 for the offset, FᵀF for the filter, F = D² + diag(√(i/9)). */
function bernoulliGlmPrecision(): number[][] {
  const M = 9;
  const D: number[][] = Array.from({ length: M }, (_, i) => Array.from({ length: M }, (_, j) => (i === j ? 1 : i === j + 1 ? -1 : 0)));
  const F = D.map((row, i) => row.map((_, j) => D[i].reduce((s: number, v, k) => s + v * D[k][j], 0) + (i === j ? Math.sqrt(i / M) : 0)));
  const P = Array.from({ length: M + 1 }, () => new Array<number>(M + 1).fill(0));
  P[0][0] = 0.5;
  for (let i = 0; i < M; i++) for (let j = 0; j < M; j++) P[i + 1][j + 1] = F.reduce((s, row) => s + row[i] * row[j], 0);
  return P;
}

describe('multivariateNormal', () => {
  it('gaussian_linear: precision inverse(0.1·I) in 10-D gives N(0, 0.1·I)', () => {
    const d = 10;
    const precision = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 / 0.1 : 0)));
    const prior = createPrior({ kind: 'multivariateNormal', loc: new Array(d).fill(0), precision: precision.flat() });
    const x = prior.sample(N, { seed: SEED });
    const cov = precision.map((row) => row.map((v) => (v === 0 ? 0 : 1 / v)));
    expectGaussianMoments(x, new Array(d).fill(0), cov);
    for (const j of [0, 4, 9]) expectKs(column(x, d, j), (v) => normalCdf(v / Math.sqrt(0.1)));
  });

  it('bernoulli_glm: draws have covariance P⁻¹, squared Mahalanobis distances follow χ²(10), E[log p] = −entropy', () => {
    const P = bernoulliGlmPrecision(), d = P.length;
    const prior = createPrior({ kind: 'multivariateNormal', loc: new Array(d).fill(0), precision: P.flat() });
    const x = prior.sample(N, { seed: SEED });
    expectGaussianMoments(x, new Array(d).fill(0), inverse(P));
    const r2 = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      let s = 0;
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) s += x[i * d + a] * P[a][b] * x[i * d + b];
      r2[i] = s;
    }
    expectKs(r2, (v) => gammaP(d / 2, v / 2));
    // log p = −½ r² − ½ log|Σ| − d log √(2π): mean −(d/2) log(2πe) + ½ log|P|, variance d/2.
    expectMeanLogProb(prior, x, -0.5 * d * Math.log(2 * Math.PI * Math.E) + 0.5 * logDet(P), d / 2);
  });

  const loc = [1, -1, 0.25];
  const cov = [
    [1.0, 0.4, -0.2],
    [0.4, 2.0, 0.3],
    [-0.2, 0.3, 0.6],
  ];

  it('covariance and precision forms give the same logProb and (to round-off) the same draws', () => {
    const a = createPrior({ kind: 'multivariateNormal', loc, covariance: cov.flat() });
    const b = createPrior({ kind: 'multivariateNormal', loc, precision: inverse(cov).flat() });
    const xa = a.sample(5000, { seed: 3 }), xb = b.sample(5000, { seed: 3 });
    expect(maxRelativeDifference(xa, xb)).toBeLessThan(1e-12);
    expect(maxRelativeDifference(a.logProb(xa), b.logProb(xa))).toBeLessThan(1e-12);
  });

  it('logProb matches the closed form −½(θ−μ)ᵀΣ⁻¹(θ−μ) − ½ log|2πΣ|', () => {
    const prior = createPrior({ kind: 'multivariateNormal', loc, covariance: cov.flat() });
    const inv = inverse(cov);
    const theta = Float64Array.of(0.3, 0.2, -1, 5, -4, 2);
    const lp = prior.logProb(theta);
    for (let r = 0; r < 2; r++) {
      const z = loc.map((m, j) => theta[r * 3 + j] - m);
      let q = 0;
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) q += z[a] * inv[a][b] * z[b];
      expect(lp[r]).toBeCloseTo(-0.5 * q - 0.5 * (3 * Math.log(2 * Math.PI) + logDet(cov)), 11);
    }
  });

  it('draws equal random.sample of the same multivariate normal (same seed and streams)', () => {
    const prior = createPrior({ kind: 'multivariateNormal', loc, covariance: cov.flat() });
    const viaRandom = sample({ kind: 'multivariateNormal', loc, covariance: cov.flat() }, 1000, { seed: 9, streamOffset: 17 });
    expectSameBits(prior.sample(1000, { seed: 9, streamOffset: 17 }), viaRandom);
  });
});

describe('densities integrate to 1', () => {
  /** Composite Simpson rule of exp(logProb) over [a, b] with m (even) intervals, for a 1-D prior. */
  function integrate1d(prior: Prior, a: number, b: number, m: number): number {
    const h = (b - a) / m;
    const grid = Float64Array.from({ length: m + 1 }, (_, i) => a + i * h);
    const lp = prior.logProb(grid);
    let s = 0;
    for (let i = 0; i <= m; i++) s += Math.exp(lp[i]) * (i === 0 || i === m ? 1 : i % 2 === 1 ? 4 : 2);
    return (s * h) / 3;
  }

  it('1-D normal, logNormal and multivariateNormal (Simpson quadrature, error < 1e-8)', () => {
    expect(integrate1d(createPrior({ kind: 'normal', loc: [2], scale: [0.3] }), 2 - 12 * 0.3, 2 + 12 * 0.3, 4000)).toBeCloseTo(1, 8);
    expect(integrate1d(createPrior({ kind: 'logNormal', loc: [Math.log(0.4)], scale: [0.5] }), 0, 0.4 * Math.exp(6), 200_000)).toBeCloseTo(1, 8);
    expect(integrate1d(createPrior({ kind: 'multivariateNormal', loc: [-1], covariance: [4] }), -25, 23, 4000)).toBeCloseTo(1, 8);
  });

  it('1-D boxUniform (density is 1/(high − low) on the box, 0 beyond it)', () => {
    const prior = createPrior({ kind: 'boxUniform', low: [-3], high: [3] });
    // Midpoint rule over [−4, 4]: cells straddle no edge, so the sum is exact up to round-off.
    const m = 8000, h = 8 / m;
    const lp = prior.logProb(Float64Array.from({ length: m }, (_, i) => -4 + (i + 0.5) * h));
    expect(lp.reduce((s, v) => s + Math.exp(v) * h, 0)).toBeCloseTo(1, 10);
  });

  it('a correlated 2-D multivariateNormal (grid quadrature, error < 1e-6)', () => {
    const prior = createPrior({ kind: 'multivariateNormal', loc: [0.5, -1], covariance: [1, 0.8, 0.8, 2] });
    const m = 500, a = 10, h = (2 * a) / m;
    const theta = new Float64Array(2 * m * m);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        theta[2 * (i * m + j)] = 0.5 - a + (i + 0.5) * h;
        theta[2 * (i * m + j) + 1] = -1 - a + (j + 0.5) * h;
      }
    }
    expect(prior.logProb(theta).reduce((s, v) => s + Math.exp(v), 0) * h * h).toBeCloseTo(1, 6);
  });
});

describe('product', () => {
  const parts: PriorSpec[] = [
    { kind: 'boxUniform', low: [-1, 0], high: [1, 5] },
    { kind: 'normal', loc: [3], scale: [0.5] },
    { kind: 'multivariateNormal', loc: [0, 0], covariance: [1, 0.5, 0.5, 1] },
    { kind: 'logNormal', loc: [0], scale: [0.25] },
  ];
  const spec: PriorSpec = { kind: 'product', parts };

  it('concatenates the parts: marginals of each block, no correlation across blocks', () => {
    const prior = createPrior(spec);
    expect(prior.dim).toBe(6);
    const x = prior.sample(N, { seed: SEED });
    expectKs(column(x, 6, 1), (v) => v / 5);
    expectKs(column(x, 6, 2), (v) => normalCdf((v - 3) / 0.5));
    expectKs(column(x, 6, 4), normalCdf);
    expectKs(column(x, 6, 5), (v) => normalCdf(Math.log(v) / 0.25));
    // Independent blocks: sample correlation of columns from different parts is O(1/√n).
    for (const [a, b] of [[0, 2], [1, 3], [2, 4], [4, 5], [0, 5]]) {
      const ca = column(x, 6, a), cb = column(x, 6, b);
      const ma = ca.reduce((s, v) => s + v, 0) / N, mb = cb.reduce((s, v) => s + v, 0) / N;
      let sab = 0, saa = 0, sbb = 0;
      for (let i = 0; i < N; i++) {
        sab += (ca[i] - ma) * (cb[i] - mb);
        saa += (ca[i] - ma) ** 2;
        sbb += (cb[i] - mb) ** 2;
      }
      expect(Math.abs(sab / Math.sqrt(saa * sbb)), `correlation of columns ${a} and ${b}`).toBeLessThan(MOMENT_SE / Math.sqrt(N));
    }
  });

  it('logProb is the sum of the parts’ logProb and inSupport their conjunction', () => {
    const prior = createPrior(spec);
    const singles = parts.map((p) => createPrior(p));
    const theta = Float64Array.of(
      0.5, 2, 3.1, 0.2, -0.4, 1.3,
      0.5, 6, 3.1, 0.2, -0.4, 1.3,  // second coordinate outside [0, 5]
      0.5, 2, 3.1, 0.2, -0.4, -1,   // log-normal coordinate negative
    );
    const lp = prior.logProb(theta), support = prior.inSupport(theta);
    for (let r = 0; r < 3; r++) {
      let want = 0, inside = 1, o = 0;
      for (const s of singles) {
        const block = theta.slice(r * 6 + o, r * 6 + o + s.dim);
        want += s.logProb(block)[0];
        inside &= s.inSupport(block)[0];
        o += s.dim;
      }
      if (want === -Infinity) expect(lp[r]).toBe(-Infinity);
      else expect(lp[r]).toBeCloseTo(want, 12);
      expect(support[r]).toBe(inside);
    }
    expect(Array.from(support)).toEqual([1, 0, 0]);
  });

  it('nested products flatten: product(product(a, b), c, d) draws what product(a, b, c, d) draws', () => {
    const nested = createPrior({ kind: 'product', parts: [{ kind: 'product', parts: parts.slice(0, 2) }, ...parts.slice(2)] });
    expectSameBits(nested.sample(500, { seed: 4 }), createPrior(spec).sample(500, { seed: 4 }));
  });
});

describe('seeding contract and invariance', () => {
  afterEach(() => setIsa('auto'));
  const specs: PriorSpec[] = [
    { kind: 'boxUniform', low: [-3, -3, -3], high: [3, 3, 3] },
    { kind: 'logNormal', loc: [Math.log(0.4), Math.log(0.125)], scale: [0.5, 0.2] },
    {
      kind: 'product',
      parts: [
        { kind: 'normal', loc: [0], scale: [1] },
        { kind: 'multivariateNormal', loc: [1, 2, 3], precision: [2, 0.5, 0, 0.5, 2, 0.5, 0, 0.5, 2] },
        { kind: 'boxUniform', low: [0], high: [1] },
      ],
    },
  ];

  it('row i depends only on (seed, streamOffset + i): rows [0, n) equal rows [0, k) and [k, n) drawn apart', () => {
    for (const spec of specs) {
      const prior = createPrior(spec), d = prior.dim, n = 1000, k = 613;
      const whole = prior.sample(n, { seed: 77, streamOffset: 5n });
      expectSameBits(whole.subarray(0, k * d), prior.sample(k, { seed: 77, streamOffset: 5 }));
      expectSameBits(whole.subarray(k * d), prior.sample(n - k, { seed: 77n, streamOffset: 5 + k }));
    }
  });

  it('a 1-D boxUniform row is the uniform draw of random.sample with the same seed and stream', () => {
    const prior = createPrior({ kind: 'boxUniform', low: [-2], high: [5] });
    expectSameBits(prior.sample(300, { seed: 12, streamOffset: 40 }), sample({ kind: 'uniform', low: -2, high: 5 }, 300, { seed: 12, streamOffset: 40 }));
  });

  it('gives identical output for 1 and 2 threads and on every instruction-set path this CPU supports', () => {
    const detected = runtimeInfo().detectedIsa;
    const order: IsaPath[] = ['scalar', 'avx2', 'avx512'];
    for (const spec of specs) {
      const prior = createPrior(spec);
      setIsa('scalar');
      const reference = prior.sample(20_000, { seed: 5, threads: 1 });
      for (const path of order.slice(0, order.indexOf(detected) + 1)) {
        setIsa(path);
        expectSameBits(prior.sample(20_000, { seed: 5, threads: 1 }), reference);
        expectSameBits(prior.sample(20_000, { seed: 5, threads: 2 }), reference);
      }
    }
  });
});

describe('validation', () => {
  const bad: Array<[string, unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['mismatched low/high dims', { kind: 'boxUniform', low: [0, 0], high: [1] }, RangeError, /`high` to have 2 elements/],
    ['low >= high', { kind: 'boxUniform', low: [0, 2], high: [1, 2] }, RangeError, /`low\[1\]` < `high\[1\]`/],
    ['an infinite width', { kind: 'boxUniform', low: [-1e308], high: [1e308] }, RangeError, /finite width/],
    ['NaN low', { kind: 'boxUniform', low: [NaN], high: [1] }, RangeError, /`low`/],
    ['empty box', { kind: 'boxUniform', low: [], high: [] }, RangeError, /`low`/],
    ['negative scale', { kind: 'normal', loc: [0, 0], scale: [1, -3] }, RangeError, /positive number for `scale\[1\]` but received -3/],
    ['zero log-normal scale', { kind: 'logNormal', loc: [0], scale: [0] }, RangeError, /`scale\[0\]`/],
    ['loc/scale dims', { kind: 'logNormal', loc: [0, 1], scale: [1] }, RangeError, /`scale` to have 2 elements/],
    ['string loc', { kind: 'normal', loc: ['0'], scale: [1] }, TypeError, /`loc`/],
    ['covariance and precision', { kind: 'multivariateNormal', loc: [0], covariance: [1], precision: [1] }, TypeError, /exactly one of/],
    ['neither covariance nor precision', { kind: 'multivariateNormal', loc: [0] }, TypeError, /exactly one of/],
    ['covariance of the wrong size', { kind: 'multivariateNormal', loc: [0, 0], covariance: [1, 0, 0, 1, 0] }, RangeError, /`covariance` to have 4 elements/],
    ['asymmetric covariance', { kind: 'multivariateNormal', loc: [0, 0], covariance: [1, 0.3, 0.1, 1] }, RangeError, /symmetric/],
    ['indefinite covariance', { kind: 'multivariateNormal', loc: [0, 0], covariance: [1, 2, 2, 1] }, RangeError, /positive definite/],
    ['singular precision', { kind: 'multivariateNormal', loc: [0, 0], precision: [1, 1, 1, 1] }, RangeError, /`precision` to be positive definite/],
    ['bad part inside a product', { kind: 'product', parts: [{ kind: 'normal', loc: [0], scale: [1] }, { kind: 'normal', loc: [0], scale: [-1] }] }, RangeError, /`parts\[1\]\.scale\[0\]`/],
    ['empty product', { kind: 'product', parts: [] }, RangeError, /`parts`/],
    ['unknown kind', { kind: 'dirichlet', alpha: [1] }, RangeError, /Unknown prior kind "dirichlet"/],
    ['null spec', null, TypeError, /spec/],
  ];
  for (const [what, spec, cls, message] of bad) {
    it(`createPrior throws ${cls.name} for ${what}`, () => {
      expect(() => createPrior(spec as PriorSpec)).toThrow(cls);
      expect(() => createPrior(spec as PriorSpec)).toThrow(message);
    });
  }

  const prior = createPrior({ kind: 'normal', loc: [0, 0], scale: [1, 1] });
  it('logProb and inSupport throw for θ that is not a Float64Array of whole rows', () => {
    expect(() => prior.logProb(Float64Array.of(1, 2, 3))).toThrow(RangeError);
    expect(() => prior.inSupport([1, 2] as unknown as Float64Array)).toThrow(TypeError);
    expect(prior.logProb(new Float64Array(0)).length).toBe(0);
  });

  it('sample throws naming `n`, `seed`, `streamOffset` and `threads`', () => {
    expect(() => prior.sample(-1, { seed: 1 })).toThrow(/`n`/);
    expect(() => prior.sample(2.5, { seed: 1 })).toThrow(/`n`/);
    expect(() => prior.sample(1, { seed: -1 })).toThrow(/`seed`/);
    expect(() => prior.sample(1, { seed: 1, streamOffset: -2 })).toThrow(/`streamOffset`/);
    expect(() => prior.sample(1, { seed: 1, threads: 0 })).toThrow(/`threads`/);
    expect(prior.sample(0, { seed: 1 }).length).toBe(0);
  });

  it('native samplePrior re-checks the program (kinds, bounds, scales) before drawing', () => {
    const out = new Float64Array(2);
    const call = (parts: number[], params: number[]) =>
      native.samplePrior(Int32Array.from(parts), Float64Array.from(params), 1, 1, 0, out);
    expect(() => call([7, 2, 0], [0, 0, 1, 1])).toThrow(/unknown kind/);
    expect(() => call([1, 2, 0], [0, 0, 1])).toThrow(/reads params/);
    expect(() => call([1, 2, -1], [0, 0, 1, 1])).toThrow(/reads params/);
    expect(() => call([1, 2, 0], [0, 0, 1, -1])).toThrow(/positive scale/);
    expect(() => call([0, 2, 0], [0, 0, 1, 0])).toThrow(/low < high/);
    expect(() => call([3, 1, 0], [0, 0])).toThrow(/positive scale/);
    expect(() => call([1, 2, 0], [0, NaN, 1, 1])).toThrow(/not finite/);
    expect(() => call([1, 2], [0, 0, 1, 1])).toThrow(/triples/);
    expect(() => call([1, 1, 0], [0, 1])).toThrow(/`out`/);
  });
});
