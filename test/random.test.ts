import { afterEach, describe, expect, it } from 'vitest';
import { philox4x32, sample, sampleAsync, eventSize, type Distribution } from '../src/random.js';
import { native } from '../src/native.js';
import { runtimeInfo, setIsa, type IsaPath } from '../src/runtime.js';
import { SbiError } from '../src/errors.js';
import {
  betaI,
  binomialLogPmf,
  expectChiSquare,
  expectKs,
  expectMoments,
  gammaP,
  MOMENT_SE,
  normalCdf,
  poissonLogPmf,
  studentTCdf,
} from './helpers/statistics.js';

const N = 100_000;
const SEED = 20240611;

function draw(distribution: Distribution, n = N, seed = SEED): Float64Array {
  return sample(distribution, n, { seed });
}

function expectSameBits(a: Float64Array, b: Float64Array): void {
  expect(a.length).toBe(b.length);
  expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);
}

/** Every sample satisfies `pred` (one assertion, naming the first offender). */
function expectAll(x: ArrayLike<number>, pred: (v: number) => boolean, what: string): void {
  let bad = -1;
  for (let i = 0; i < x.length && bad < 0; i++) if (!pred(x[i])) bad = i;
  expect(bad, bad < 0 ? '' : `sample ${bad} = ${x[bad]} is not ${what}`).toBe(-1);
}

/** Fraction of samples satisfying `pred` within MOMENT_SE binomial standard errors of `p`. */
function expectFraction(x: ArrayLike<number>, pred: (v: number) => boolean, p: number): void {
  let k = 0;
  for (let i = 0; i < x.length; i++) if (pred(x[i])) k++;
  const se = Math.sqrt((p * (1 - p)) / x.length);
  expect(Math.abs(k / x.length - p), `fraction ${k / x.length} vs ${p} (SE ${se})`).toBeLessThan(MOMENT_SE * se);
}

describe('continuous samplers match their distributions', () => {
  it('uniform(low, high): moments and KS', () => {
    const [a, b] = [-2, 3];
    const x = draw({ kind: 'uniform', low: a, high: b });
    expectAll(x, (v) => v > a && v < b, 'in (low, high)');
    expectMoments(x, { mean: (a + b) / 2, variance: (b - a) ** 2 / 12, excessKurtosis: -1.2 });
    expectKs(x, (v) => (v - a) / (b - a));
  });

  it('normal(loc, scale): moments and KS', () => {
    const x = draw({ kind: 'normal', loc: 1.5, scale: 2 });
    expectMoments(x, { mean: 1.5, variance: 4, excessKurtosis: 0 });
    expectKs(x, (v) => normalCdf((v - 1.5) / 2));
  });

  it('exponential(rate): moments and KS', () => {
    const rate = 2.5;
    const x = draw({ kind: 'exponential', rate });
    expectMoments(x, { mean: 1 / rate, variance: 1 / rate ** 2, excessKurtosis: 6 });
    expectKs(x, (v) => -Math.expm1(-rate * v));
  });

  for (const [shape, rate] of [[0.05, 1], [0.3, 2], [1, 1], [4.5, 0.5], [1000, 3]]) {
    it(`gamma(shape ${shape}, rate ${rate}): moments and KS`, () => {
      const x = draw({ kind: 'gamma', shape, rate });
      expectAll(x, (v) => v >= 0, 'non-negative');
      expectMoments(x, { mean: shape / rate, variance: shape / rate ** 2, excessKurtosis: 6 / shape });
      expectKs(x, (v) => gammaP(shape, rate * v));
    });
  }

  for (const [a, b] of [[2, 5], [0.5, 0.5], [0.2, 3], [40, 0.7]]) {
    it(`beta(${a}, ${b}): moments and KS`, () => {
      const x = draw({ kind: 'beta', alpha: a, beta: b });
      const s = a + b;
      const exk = (6 * ((a - b) ** 2 * (s + 1) - a * b * (s + 2))) / (a * b * (s + 2) * (s + 3));
      expectMoments(x, { mean: a / s, variance: (a * b) / (s * s * (s + 1)), excessKurtosis: exk });
      expectKs(x, (v) => betaI(v, a, b));
    });
  }

  it('beta with both shapes far below 1 stays in [0, 1] (no 0/0) with the right tail masses', () => {
    const a = 0.002;
    const x = draw({ kind: 'beta', alpha: a, beta: a });
    expectAll(x, (v) => v >= 0 && v <= 1, 'in [0, 1]');
    expectFraction(x, (v) => v < 0.5, 0.5);
    expectFraction(x, (v) => v < 1e-100, betaI(1e-100, a, a));
  });

  it('logNormal(loc, scale): moments and KS', () => {
    const [mu, s] = [0.3, 0.5];
    const x = draw({ kind: 'logNormal', loc: mu, scale: s });
    const w = Math.exp(s * s);
    expectMoments(x, {
      mean: Math.exp(mu + (s * s) / 2),
      variance: (w - 1) * Math.exp(2 * mu + s * s),
      excessKurtosis: w ** 4 + 2 * w ** 3 + 3 * w ** 2 - 6,
    });
    expectKs(x, (v) => normalCdf((Math.log(v) - mu) / s));
  });

  it('studentT(df): moments (df = 10) and KS (df = 0.5, 1, 3, 10)', () => {
    const x10 = draw({ kind: 'studentT', df: 10 });
    expectMoments(x10, { mean: 0, variance: 10 / 8, excessKurtosis: 1 });
    expectKs(x10, (v) => studentTCdf(v, 10));
    for (const df of [0.5, 1, 3]) {
      const x = draw({ kind: 'studentT', df }, 50_000, SEED + 2 * df);
      expectKs(x, (v) => studentTCdf(v, df));
    }
  });
});

describe('discrete samplers match their pmfs (χ² against the exact pmf)', () => {
  const binomialCases: Array<[number, number, string]> = [
    [20, 0.2, 'inversion'],
    [30, 0.9, 'inversion of the flipped p'],
    [1e12, 1e-12, 'inversion with a huge n and n·p = 1'],
    [100, 0.3, 'BTRS'],
    [50, 0.8, 'BTRS of the flipped p at n·q = 10'],
    [1e9, 0.3, 'BTRS with n = 1e9'],
    [1e9, 0.75, 'BTRS with n = 1e9, flipped'],
  ];
  // A million samples where the rejection samplers' squeezes matter most: a squeeze off by 4%
  // distorts the pmf by ~1e-3, which χ² on 1e5 samples cannot see but on 1e6 does.
  const samplesFor = (mean: number) => (mean >= 1e5 ? 1_000_000 : N);
  for (const [n, p, path] of binomialCases) {
    it(`binomial(${n}, ${p}) (${path}): moments and χ²`, () => {
      const x = draw({ kind: 'binomial', trials: n, p }, samplesFor(n * p));
      const q = 1 - p, v = n * p * q;
      expectMoments(x, { mean: n * p, variance: v, excessKurtosis: (1 - 6 * p * q) / v });
      const sd = Math.sqrt(v);
      const lo = Math.max(0, Math.floor(n * p - 12 * sd - 12)), hi = Math.min(n, Math.ceil(n * p + 12 * sd + 12));
      expectChiSquare(x, (k) => binomialLogPmf(k, n, p), lo, hi);
    });
  }

  it('binomial with n near 2^50: moments and KS against the normal limit (tolerance from the skewness)', () => {
    const n = 2 ** 50 + 12345, p = 0.35;
    const x = draw({ kind: 'binomial', trials: n, p });
    expectAll(x, Number.isInteger, 'an integer');
    const mu = n * p, v = n * p * (1 - p), sd = Math.sqrt(v);
    expectMoments(x, { mean: mu, variance: v, excessKurtosis: (1 - 6 * p * (1 - p)) / v });
    // Edgeworth: |F(k) − Φ((k + ½ − μ)/σ)| ≤ |γ| φ(0)/6 + O(1/σ²), γ = (1 − 2p)/σ; allow 10× that.
    const tolerance = 10 * ((Math.abs(1 - 2 * p) / sd) * 0.4 / 6 + 1 / v);
    expectKs(x, (k) => normalCdf((k + 0.5 - mu) / sd), tolerance);
  });

  it('binomial edge cases: trials 0, p 0 and p 1 are degenerate', () => {
    expect(Array.from(draw({ kind: 'binomial', trials: 0, p: 0.5 }, 100))).toEqual(new Array(100).fill(0));
    expect(Array.from(draw({ kind: 'binomial', trials: 7, p: 0 }, 100))).toEqual(new Array(100).fill(0));
    expect(Array.from(draw({ kind: 'binomial', trials: 7, p: 1 }, 100))).toEqual(new Array(100).fill(7));
  });

  for (const [lambda, path] of [[0.5, 'inversion'], [3, 'inversion'], [9.99, 'inversion'], [10, 'PTRS'], [55.5, 'PTRS'], [1e6, 'PTRS']] as const) {
    it(`poisson(${lambda}) (${path}): moments and χ²`, () => {
      const x = draw({ kind: 'poisson', rate: lambda }, samplesFor(lambda));
      expectMoments(x, { mean: lambda, variance: lambda, excessKurtosis: 1 / lambda });
      const sd = Math.sqrt(lambda);
      expectChiSquare(x, (k) => poissonLogPmf(k, lambda), Math.max(0, Math.floor(lambda - 12 * sd)), Math.ceil(lambda + 12 * sd + 12));
    });
  }

  it('poisson(1e12): moments and KS against the normal limit (tolerance from the skewness)', () => {
    const lambda = 1e12;
    const x = draw({ kind: 'poisson', rate: lambda });
    const sd = Math.sqrt(lambda);
    expectMoments(x, { mean: lambda, variance: lambda, excessKurtosis: 1 / lambda });
    const tolerance = 10 * ((1 / sd) * 0.4 / 6 + 1 / lambda);
    expectKs(x, (k) => normalCdf((k + 0.5 - lambda) / sd), tolerance);
  });

  it('poisson(0) is always 0', () => {
    expect(Array.from(draw({ kind: 'poisson', rate: 0 }, 50))).toEqual(new Array(50).fill(0));
  });

  it('categorical(weights): χ² against the normalised weights; zero weights are never drawn', () => {
    const weights = [0.1, 0, 2.5, 1, 0.4, 0];
    const total = weights.reduce((s, w) => s + w, 0);
    const x = draw({ kind: 'categorical', weights });
    expectAll(x, (v) => weights[v] > 0, 'an index of positive weight');
    const positive = [0, 2, 3, 4];
    const probs = weights.map((w) => w / total);
    const mu = probs.reduce((s, p, i) => s + p * i, 0);
    const m2 = probs.reduce((s, p, i) => s + p * (i - mu) ** 2, 0);
    const m4 = probs.reduce((s, p, i) => s + p * (i - mu) ** 4, 0);
    expectMoments(x, { mean: mu, variance: m2, excessKurtosis: m4 / (m2 * m2) - 3 });
    expectChiSquare(x, (k) => (positive.includes(k) ? Math.log(probs[k]) : -Infinity), 0, 5);
  });
});

describe('multivariateNormal', () => {
  const loc = [1, -2, 0.5];
  const cov = [
    [2.0, 0.6, -0.3],
    [0.6, 1.0, 0.2],
    [-0.3, 0.2, 0.5],
  ];

  it('sample mean and covariance agree with loc and Σ; Mahalanobis distances follow χ²(d)', () => {
    const n = 100_000, d = 3;
    const x = sample({ kind: 'multivariateNormal', loc, covariance: cov.flat() }, n, { seed: SEED });
    expect(x.length).toBe(n * d);
    const m = [0, 1, 2].map((j) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += x[i * d + j];
      return s / n;
    });
    for (let j = 0; j < d; j++) {
      const se = Math.sqrt(cov[j][j] / n);
      expect(Math.abs(m[j] - loc[j]), `mean ${j}`).toBeLessThan(MOMENT_SE * se);
      for (let k = 0; k <= j; k++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += (x[i * d + j] - m[j]) * (x[i * d + k] - m[k]);
        const c = s / (n - 1);
        // Var(s_jk) = (Σ_jj Σ_kk + Σ_jk²) / n for Gaussian data.
        const seC = Math.sqrt((cov[j][j] * cov[k][k] + cov[j][k] ** 2) / n);
        expect(Math.abs(c - cov[j][k]), `covariance (${j}, ${k})`).toBeLessThan(MOMENT_SE * seC);
      }
    }
    const inv = invert3(cov);
    const r2 = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const z = [0, 1, 2].map((j) => x[i * d + j] - loc[j]);
      let s = 0;
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) s += z[a] * inv[a][b] * z[b];
      r2[i] = s;
    }
    expectKs(r2, (v) => gammaP(d / 2, v / 2));
  });

  it('covariance, precision and scaleTril forms give the same draws (to round-off)', () => {
    const n = 2000;
    const a = sample({ kind: 'multivariateNormal', loc, covariance: cov.flat() }, n, { seed: 7 });
    const b = sample({ kind: 'multivariateNormal', loc, precision: invert3(cov).flat() }, n, { seed: 7 });
    const L = cholesky3(cov);
    const c = sample({ kind: 'multivariateNormal', loc, scaleTril: L.flat() }, n, { seed: 7 });
    let worst = 0;
    for (let i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(a[i])), Math.abs(a[i] - c[i]) / (1 + Math.abs(a[i])));
    }
    expect(worst).toBeLessThan(1e-12);
    expect(eventSize({ kind: 'multivariateNormal', loc, covariance: cov.flat() })).toBe(3);
  });
});

function invert3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
}

function cholesky3(m: number[][]): number[][] {
  const l00 = Math.sqrt(m[0][0]);
  const l10 = m[1][0] / l00, l20 = m[2][0] / l00;
  const l11 = Math.sqrt(m[1][1] - l10 * l10);
  const l21 = (m[2][1] - l20 * l10) / l11;
  const l22 = Math.sqrt(m[2][2] - l20 * l20 - l21 * l21);
  return [[l00, 0, 0], [l10, l11, 0], [l20, l21, l22]];
}

// One distribution of each kind (and each sampler path) for the invariance contracts.
const EVERY_SAMPLER: Distribution[] = [
  { kind: 'uniform', low: -1, high: 2 },
  { kind: 'normal', loc: 0, scale: 1 },
  { kind: 'exponential', rate: 1 },
  { kind: 'gamma', shape: 0.4, rate: 1 },
  { kind: 'gamma', shape: 3, rate: 1 },
  { kind: 'beta', alpha: 0.3, beta: 2 },
  { kind: 'binomial', trials: 20, p: 0.1 },
  { kind: 'binomial', trials: 1e9, p: 0.6 },
  { kind: 'poisson', rate: 4 },
  { kind: 'poisson', rate: 400 },
  { kind: 'logNormal', loc: 0, scale: 1 },
  { kind: 'categorical', weights: [1, 2, 3] },
  { kind: 'studentT', df: 4 },
  { kind: 'multivariateNormal', loc: [0, 1], covariance: [1, 0.5, 0.5, 2] },
];

describe('seeding contract: output depends only on (seed, streamOffset + i)', () => {
  afterEach(() => setIsa('auto'));

  it('sample i of uniform(0, 1) is the 53-bit uniform from Philox block 0 of stream streamOffset + i', () => {
    const seed = 0x1234_5678_9abcn, offset = 2n ** 33n + 5n;
    const u = sample({ kind: 'uniform', low: 0, high: 1 }, 4, { seed, streamOffset: offset });
    for (let i = 0; i < 4; i++) {
      const stream = offset + BigInt(i);
      const w = philox4x32(
        [0, 0, Number(stream & 0xffffffffn), Number(stream >> 32n)],
        [Number(seed & 0xffffffffn), Number(seed >> 32n)],
      );
      const bits = ((BigInt(w[0]) << 32n) | BigInt(w[1])) >> 11n;
      expect(u[i]).toBe((Number(bits) + 0.5) * 2 ** -53);
    }
  });

  it('gives identical output for 1 and 2 threads', () => {
    for (const dist of EVERY_SAMPLER) {
      const one = sample(dist, 30_000, { seed: 3, threads: 1 });
      const two = sample(dist, 30_000, { seed: 3, threads: 2 });
      expectSameBits(one, two);
    }
  });

  it('gives identical output on every instruction-set path this CPU supports', () => {
    const detected = runtimeInfo().detectedIsa;
    const order: IsaPath[] = ['scalar', 'avx2', 'avx512'];
    const paths = order.slice(0, order.indexOf(detected) + 1);
    for (const dist of EVERY_SAMPLER) {
      setIsa('scalar');
      const reference = sample(dist, 5000, { seed: 11 });
      for (const path of paths.slice(1)) {
        setIsa(path);
        expect(runtimeInfo().activeIsa).toBe(path);
        expectSameBits(sample(dist, 5000, { seed: 11 }), reference);
      }
    }
    setIsa('auto');
    expect(runtimeInfo().activeIsa).toBe(detected);
  });

  it('splitting rows [0, n) into [0, k) and [k, n) with streamOffset k gives the same rows', () => {
    const n = 1000, k = 377;
    for (const dist of EVERY_SAMPLER) {
      const d = eventSize(dist);
      const whole = sample(dist, n, { seed: 5, streamOffset: 100 });
      const head = sample(dist, k, { seed: 5, streamOffset: 100 });
      const tail = sample(dist, n - k, { seed: 5, streamOffset: 100 + k });
      expectSameBits(whole.subarray(0, k * d), head);
      expectSameBits(whole.subarray(k * d), tail);
    }
  });

  it('treats a number seed and the equal bigint seed alike, and different seeds differently', () => {
    const dist: Distribution = { kind: 'normal', loc: 0, scale: 1 };
    expectSameBits(sample(dist, 100, { seed: 99 }), sample(dist, 100, { seed: 99n }));
    const a = sample(dist, 100, { seed: 99 }), b = sample(dist, 100, { seed: 100 });
    expect(a.some((v, i) => v !== b[i])).toBe(true);
    const top = sample(dist, 100, { seed: 2n ** 64n - 1n, streamOffset: 2n ** 64n - 50n });
    expectAll(top, Number.isFinite, 'finite');
  });
});

describe('sampleAsync', () => {
  it('resolves to the same samples as sample, reporting progress up to n', async () => {
    for (const dist of EVERY_SAMPLER) {
      const sync = sample(dist, 20_000, { seed: 8, streamOffset: 3 });
      const progress: Array<[number, number]> = [];
      const result = await sampleAsync(dist, 20_000, {
        seed: 8, streamOffset: 3, onProgress: (done, total) => progress.push([done, total]),
      });
      expectSameBits(result, sync);
      // Progress events arrive before the promise settles; the last one reports every row.
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.every(([done, total], i) => total === 20_000 && done > 0 && (i === 0 || done >= progress[i - 1][0]))).toBe(true);
      expect(progress[progress.length - 1][0]).toBe(20_000);
    }
  });

  it('rejects with SbiError code ABORTED when the signal aborts', async () => {
    const controller = new AbortController();
    const pending = sampleAsync({ kind: 'gamma', shape: 2, rate: 1 }, 5_000_000, { seed: 1, signal: controller.signal });
    controller.abort();
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SbiError);
    expect((error as SbiError).code).toBe('ABORTED');
  });

  it('rejects with SbiError code ABORTED if the signal was aborted before the call', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(sampleAsync({ kind: 'normal', loc: 0, scale: 1 }, 10, { seed: 1, signal: controller.signal }))
      .rejects.toMatchObject({ name: 'SbiError', code: 'ABORTED' });
  });
});

describe('argument validation', () => {
  const bad: Array<[string, unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['negative rate', { kind: 'exponential', rate: -3 }, RangeError, /positive number for `rate` but received -3/],
    ['NaN scale', { kind: 'normal', loc: 0, scale: NaN }, RangeError, /`scale`.*NaN/],
    ['infinite loc', { kind: 'normal', loc: Infinity, scale: 1 }, RangeError, /`loc`/],
    ['string shape', { kind: 'gamma', shape: '2', rate: 1 }, TypeError, /`shape`/],
    ['zero gamma rate', { kind: 'gamma', shape: 2, rate: 0 }, RangeError, /`rate`/],
    ['NaN beta', { kind: 'beta', alpha: 1, beta: NaN }, RangeError, /`beta`/],
    ['low >= high', { kind: 'uniform', low: 1, high: 1 }, RangeError, /`low` < `high`/],
    ['infinite width', { kind: 'uniform', low: -1e308, high: 1e308 }, RangeError, /finite width/],
    ['fractional trials', { kind: 'binomial', trials: 2.5, p: 0.5 }, RangeError, /`trials`/],
    ['unsafe trials', { kind: 'binomial', trials: 2 ** 60, p: 0.5 }, RangeError, /`trials`/],
    ['p above 1', { kind: 'binomial', trials: 5, p: 1.2 }, RangeError, /probability.*`p`/],
    ['NaN p', { kind: 'binomial', trials: 5, p: NaN }, RangeError, /`p`/],
    ['negative poisson rate', { kind: 'poisson', rate: -1 }, RangeError, /`rate`/],
    ['huge poisson rate', { kind: 'poisson', rate: 1e16 }, RangeError, /`rate`/],
    ['NaN poisson rate', { kind: 'poisson', rate: NaN }, RangeError, /`rate`/],
    ['zero df', { kind: 'studentT', df: 0 }, RangeError, /`df`/],
    ['negative weight', { kind: 'categorical', weights: [1, -1] }, RangeError, /`weights`/],
    ['all-zero weights', { kind: 'categorical', weights: [0, 0] }, RangeError, /`weights`/],
    ['empty weights', { kind: 'categorical', weights: [] }, RangeError, /`weights`/],
    ['weights not an array', { kind: 'categorical', weights: 3 }, TypeError, /`weights`/],
    ['non-symmetric covariance', { kind: 'multivariateNormal', loc: [0, 0], covariance: [1, 0.5, 0.2, 1] }, RangeError, /`covariance` to be symmetric/],
    ['indefinite covariance', { kind: 'multivariateNormal', loc: [0, 0], covariance: [1, 2, 2, 1] }, RangeError, /`covariance` to be positive definite/],
    ['indefinite precision', { kind: 'multivariateNormal', loc: [0, 0], precision: [1, 0, 0, -1] }, RangeError, /`precision` to be positive definite/],
    ['wrong covariance size', { kind: 'multivariateNormal', loc: [0, 0], covariance: [1, 0, 0] }, RangeError, /`covariance` to have 4 elements/],
    ['covariance and precision', { kind: 'multivariateNormal', loc: [0], covariance: [1], precision: [1] }, TypeError, /exactly one of/],
    ['no covariance', { kind: 'multivariateNormal', loc: [0] }, TypeError, /exactly one of/],
    ['upper scaleTril', { kind: 'multivariateNormal', loc: [0, 0], scaleTril: [1, 1, 0, 1] }, RangeError, /lower-triangular/],
    ['unknown kind', { kind: 'zipf', s: 2 }, RangeError, /Unknown distribution kind "zipf"/],
    ['not an object', null, TypeError, /`distribution`/],
  ];
  for (const [what, dist, cls, message] of bad) {
    it(`throws ${cls.name} for a ${what}`, () => {
      expect(() => sample(dist as Distribution, 10, { seed: 1 })).toThrow(cls);
      expect(() => sample(dist as Distribution, 10, { seed: 1 })).toThrow(message);
    });
  }

  const ok: Distribution = { kind: 'normal', loc: 0, scale: 1 };
  it('throws RangeError naming `n` if n is negative or fractional, TypeError if not a number', () => {
    expect(() => sample(ok, -1, { seed: 1 })).toThrow(/`n`/);
    expect(() => sample(ok, 1.5, { seed: 1 })).toThrow(RangeError);
    expect(() => sample(ok, NaN, { seed: 1 })).toThrow(RangeError);
    expect(() => sample(ok, '10' as unknown as number, { seed: 1 })).toThrow(TypeError);
    expect(sample(ok, 0, { seed: 1 }).length).toBe(0);
  });

  it('throws naming `seed`, `streamOffset` and `threads` for bad options', () => {
    expect(() => sample(ok, 1, { seed: -1 })).toThrow(/`seed`/);
    expect(() => sample(ok, 1, { seed: 2n ** 64n })).toThrow(/`seed`/);
    expect(() => sample(ok, 1, { seed: 1, streamOffset: 0.5 })).toThrow(/`streamOffset`/);
    expect(() => sample(ok, 1, { seed: 1, threads: 0 })).toThrow(/`threads`/);
    expect(() => sample(ok, 1, undefined as unknown as { seed: number })).toThrow(TypeError);
  });

  it('rejects bad arguments to sampleAsync before starting work', async () => {
    await expect(sampleAsync({ kind: 'poisson', rate: NaN }, 10, { seed: 1 })).rejects.toThrow(RangeError);
    await expect(sampleAsync(ok, 10, { seed: 1, onProgress: 5 as unknown as () => void })).rejects.toThrow(/`onProgress`/);
  });

  it('native sample re-checks parameters itself (NaN, negative, wrong count) instead of looping', () => {
    const out = new Float64Array(4);
    expect(() => native.sample('poisson', Float64Array.of(NaN), 4, 1, 0, out)).toThrow(RangeError);
    expect(() => native.sample('gamma', Float64Array.of(-1, 1), 4, 1, 0, out)).toThrow(RangeError);
    expect(() => native.sample('binomial', Float64Array.of(10.5, 0.5), 4, 1, 0, out)).toThrow(RangeError);
    expect(() => native.sample('categorical', Float64Array.of(0, 0), 4, 1, 0, out)).toThrow(RangeError);
    expect(() => native.sample('normal', Float64Array.of(0, 1), 5, 1, 0, out)).toThrow(/`out`/);
  });
});

describe('philox4x32', () => {
  it('matches the Random123 known-answer vector and processes several blocks', () => {
    const out = philox4x32(
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0, 0, 0, 0],
      [0xa4093822, 0x299f31d0],
    );
    expect(Array.from(out.subarray(0, 4))).toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
    expect(Array.from(philox4x32([0, 0, 0, 0], [0, 0]))).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  });

  it('throws RangeError for words outside [0, 2^32) or a counter that is not whole blocks', () => {
    expect(() => philox4x32([0, 0, 0], [0, 0])).toThrow(/`counter`/);
    expect(() => philox4x32([0, 0, 0, -1], [0, 0])).toThrow(/`counter`/);
    expect(() => philox4x32([0, 0, 0, 0], [0, 2 ** 32])).toThrow(/`key`/);
    expect(() => philox4x32([0, 0, 0, 0], [0])).toThrow(/`key`/);
  });
});
