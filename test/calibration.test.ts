// SBC ranks and expected coverage against an exact conjugate-Gaussian posterior and deliberately
// over- / underconfident ones; the χ² p-value against closed forms; argument errors.
import { describe, expect, it } from 'vitest';
import { coverageFromRanks, expectedCoverage, sbc } from '../src/diagnostics/calibration.js';
import type { CalibrationPosterior } from '../src/diagnostics/calibration.js';
import { chiSquareSurvival, gammaP, gammaQ, logGamma } from '../src/special.js';
import { PhiloxStream } from '../src/random/philox.js';
import { SbiError } from '../src/errors.js';
import { NPE } from '../src/inference/npe.js';
import type { MCMCPosterior } from '../src/inference/mcmc_posterior.js';
import { getTask, simulateFromPrior } from '../src/tasks/index.js';

// θ ~ N(0, I₂), x | θ ~ N(θ, σ² I₂): θ | x ~ N(x / (1 + σ²), σ² / (1 + σ²) I₂).
const DIM = 2;
const SIGMA2 = 0.5;
const N = 1000;
const L = 199;

function priorPredictive(n: number, seed: number): { theta: Float64Array; x: Float64Array } {
  const rng = new PhiloxStream(seed, 0);
  const theta = new Float64Array(n * DIM);
  const x = new Float64Array(n * DIM);
  for (let k = 0; k < n * DIM; k++) {
    theta[k] = rng.normal();
    x[k] = theta[k]! + Math.sqrt(SIGMA2) * rng.normal();
  }
  return { theta, x };
}

/** The exact posterior with its variance multiplied by `varianceScale` (1: exact). */
function gaussianPosterior(varianceScale: number, async = false): CalibrationPosterior & { calls: number } {
  const variance = (varianceScale * SIGMA2) / (1 + SIGMA2);
  const mean = (x: Float64Array, d: number) => x[d]! / (1 + SIGMA2);
  const post = {
    calls: 0,
    sample(n: number, { x, seed }: { x: Float64Array; seed: bigint }) {
      post.calls++;
      const rng = new PhiloxStream(seed, 0);
      const out = new Float64Array(n * DIM);
      for (let k = 0; k < n * DIM; k++) out[k] = mean(x, k % DIM) + Math.sqrt(variance) * rng.normal();
      return async ? Promise.resolve({ samples: out }) : out;
    },
    logProb(theta: Float64Array, { x }: { x: Float64Array }) {
      const out = new Float64Array(theta.length / DIM);
      for (let i = 0; i < out.length; i++) {
        let ss = 0;
        for (let d = 0; d < DIM; d++) ss += (theta[i * DIM + d]! - mean(x, d)) ** 2;
        out[i] = -ss / (2 * variance) - 0.5 * DIM * Math.log(2 * Math.PI * variance);
      }
      return async ? Promise.resolve(out) : out;
    },
  };
  return post;
}

const data = priorPredictive(N, 11);
const options = { ...data, xDim: DIM, samplesPerObservation: L, seed: 3 };

describe('sbc', () => {
  it('gives uniform ranks (per dimension and HPD) for the exact posterior', async () => {
    const r = await sbc(gaussianPosterior(1), { ...options, bins: 20 });
    expect(r.ranks.length).toBe(N * DIM);
    expect(r.bins).toBe(20);
    for (const u of [...r.dimensions, r.logProb!]) {
      // Each bin count is Binomial(N, p_b): within 5 standard deviations of N p_b.
      u.histogram.forEach((count, b) => {
        const p = u.expected[b]! / N;
        expect(Math.abs(count - N * p)).toBeLessThan(5 * Math.sqrt(N * p * (1 - p)));
      });
      expect(u.histogram.reduce((s, v) => s + v, 0)).toBe(N);
      expect(u.pValue).toBeGreaterThan(1e-3);
      // rank / L has mean 1/2 and std r.uniformStd: 5 standard errors.
      expect(Math.abs(u.mean - 0.5)).toBeLessThan((5 * r.uniformStd) / Math.sqrt(N));
      expect(Math.abs(u.std / r.uniformStd - 1)).toBeLessThan(0.1);
    }
  });

  it('rejects uniformity (p < 1e-6) for over- and underconfident posteriors', async () => {
    const over = await sbc(gaussianPosterior(1 / 4), options);
    const under = await sbc(gaussianPosterior(4), options);
    for (const r of [over, under]) for (const u of [...r.dimensions, r.logProb!]) expect(u.pValue).toBeLessThan(1e-6);
    // Overconfident: ranks pile up at both ends (std above uniform), HPD ranks near L.
    for (const u of over.dimensions) expect(u.std).toBeGreaterThan(over.uniformStd);
    expect(over.logProb!.mean).toBeGreaterThan(0.6);
    for (const u of under.dimensions) expect(u.std).toBeLessThan(under.uniformStd);
    expect(under.logProb!.mean).toBeLessThan(0.4);
  });

  it('accepts MCMCPosterior (async, { samples }) as it is (checked by the typecheck)', () => {
    const fits: MCMCPosterior extends CalibrationPosterior ? true : false = true;
    expect(fits).toBe(true);
  });

  it('is deterministic for a seed, takes async { samples } posteriors and reports progress', async () => {
    const small = { ...priorPredictive(40, 5), xDim: DIM, samplesPerObservation: 9, seed: 8 };
    const progress: number[] = [];
    const a = await sbc(gaussianPosterior(1), { ...small, onProgress: (done, total) => progress.push(done / total) });
    const b = await sbc(gaussianPosterior(1, true), small);
    const c = await sbc(gaussianPosterior(1), { ...small, seed: 9 });
    expect(Array.from(b.ranks)).toEqual(Array.from(a.ranks));
    expect(Array.from(b.logProbRanks!)).toEqual(Array.from(a.logProbRanks!));
    expect(Array.from(c.ranks)).not.toEqual(Array.from(a.ranks));
    expect(progress.length).toBe(40);
    expect(progress.at(-1)).toBe(1);
  });

  it('breaks ties at random so a discrete posterior equal to the truth gives uniform ranks', async () => {
    // θ ∈ {0, 1, 2} uniform, x uninformative: the posterior is the prior; ties are the rule.
    const n = 2000;
    const rng = new PhiloxStream(21, 0);
    const theta = Float64Array.from({ length: n }, () => Math.floor(3 * rng.uniform()));
    const discrete: CalibrationPosterior = {
      sample: (m, { seed }) => {
        const s = new PhiloxStream(seed, 0);
        return Float64Array.from({ length: m }, () => Math.floor(3 * s.uniform()));
      },
    };
    const r = await sbc(discrete, { theta, x: new Float64Array(n), xDim: 1, samplesPerObservation: 9, bins: 10, seed: 1 });
    expect(r.logProb).toBeUndefined();
    expect(r.dimensions[0]!.pValue).toBeGreaterThan(1e-3);
  });

  it('stops with SbiError ABORTED when the signal aborts', async () => {
    const controller = new AbortController();
    const post = gaussianPosterior(1);
    const run = sbc(post, { ...options, signal: controller.signal, onProgress: (done) => { if (done === 3) controller.abort(); } });
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    expect(post.calls).toBe(3);
  });
});

describe('expectedCoverage', () => {
  const levels = Float64Array.from({ length: 19 }, (_, k) => (k + 1) / 20);

  it('is within 3 standard errors of α at every level for the exact posterior', async () => {
    const r = await expectedCoverage(gaussianPosterior(1), options);
    expect(Array.from(r.levels)).toEqual(Array.from(levels));
    r.coverage.forEach((c, k) => expect(Math.abs(c - levels[k]!)).toBeLessThan(3 * r.standardError[k]!));
    expect(r.conservative.every(Boolean)).toBe(true);
    expect(r.calibrationError).toBeLessThan(3 * 0.5 / Math.sqrt(N));
  });

  it('falls below α for an overconfident posterior and exceeds it for an underconfident one', async () => {
    const over = await expectedCoverage(gaussianPosterior(1 / 4), options);
    const under = await expectedCoverage(gaussianPosterior(4), options);
    over.coverage.forEach((c, k) => expect(c).toBeLessThan(levels[k]! - 3 * over.standardError[k]!));
    expect(over.conservative.some(Boolean)).toBe(false);
    under.coverage.forEach((c, k) => expect(c).toBeGreaterThan(levels[k]! + 3 * under.standardError[k]!));
    expect(under.conservative.every(Boolean)).toBe(true);
    // In 2-D the HPD region of a Gaussian is an ellipse: with variance scale s, θ is inside iff
    // χ²₂ / s < q_α = −2 log(1 − α), so coverage(α) = 1 − (1 − α)^s. 5 standard errors.
    for (const [r, s] of [[over, 1 / 4], [under, 4]] as const) {
      r.coverage.forEach((c, k) => {
        const exact = 1 - (1 - levels[k]!) ** s;
        expect(Math.abs(c - exact)).toBeLessThan(5 * Math.sqrt((exact * (1 - exact)) / N) + 1 / (L + 1));
      });
    }
  });

  it('equals coverageFromRanks on the HPD ranks of sbc with the same seed', async () => {
    const small = { ...priorPredictive(50, 2), xDim: DIM, samplesPerObservation: 19, seed: 4 };
    const s = await sbc(gaussianPosterior(1), small);
    const c = await expectedCoverage(gaussianPosterior(1), { ...small, levels: [0.5, 0.9] });
    expect(Array.from(c.logProbRanks)).toEqual(Array.from(s.logProbRanks!));
    expect(Array.from(coverageFromRanks(s.logProbRanks!, 19, [0.5, 0.9]).coverage)).toEqual(Array.from(c.coverage));
  });

  it('counts a rank exactly at the boundary fractionally (calibrated ranks give exactly α)', () => {
    // All L + 1 = 5 ranks once: the mean weight is exactly α.
    const r = coverageFromRanks(Int32Array.of(0, 1, 2, 3, 4), 4, [0.1, 0.3, 0.5]);
    expect(Array.from(r.coverage).map((c) => +c.toFixed(12))).toEqual([0.1, 0.3, 0.5]);
  });
});

describe('NPE on gaussian_linear (end to end)', () => {
  it('trains on 2000 simulations and is not grossly miscalibrated (SBC and coverage)', async () => {
    // bench/calibration_npe.ts runs the same with 300 observations next to the exact posterior.
    const task = getTask('gaussian_linear');
    const sims = await simulateFromPrior(task, 2000, { seed: 1 });
    const npe = new NPE({ prior: task.prior });
    npe.appendSimulations(sims.theta, sims.x);
    await npe.train({ seed: 1 });
    const n = 60;
    const test = await simulateFromPrior(task, n, { seed: 2 });
    const r = await sbc(npe.buildPosterior(), { theta: test.theta, x: test.x, xDim: 10, samplesPerObservation: 63, bins: 4, seed: 1 });
    const cov = coverageFromRanks(r.logProbRanks!, 63);
    // Bonferroni over 11 statistics at 1e-4; coverage within 4 binomial standard errors at α = 1/2
    // (an overconfident posterior with a quarter of the variance misses by 0.34).
    for (const u of [...r.dimensions, r.logProb!]) expect(u.pValue).toBeGreaterThan(1e-4 / 11);
    expect(cov.calibrationError).toBeLessThan(4 * Math.sqrt(0.25 / n));
  }, 120_000);
});

describe('chiSquareSurvival and the incomplete gamma functions', () => {
  const close = (a: number, b: number, rel = 1e-12) => expect(Math.abs(a - b)).toBeLessThanOrEqual(rel * Math.abs(b));

  it('matches exp(−x/2) (k = 2) and the Poisson sums for even k, far into the tail', () => {
    for (const x of [0.001, 0.5, 1, 3, 10, 50, 200, 1000]) {
      close(chiSquareSurvival(x, 2), Math.exp(-x / 2), 1e-13 * Math.max(1, x));
      for (const k of [4, 10, 40]) {
        // P(χ²_k >= x) = e^(−x/2) Σ_{j < k/2} (x/2)^j / j!
        let term = 1, sum = 1;
        for (let j = 1; j < k / 2; j++) sum += (term *= x / 2 / j);
        close(chiSquareSurvival(x, k), Math.exp(-x / 2) * sum, 1e-13 * Math.max(1, x));
      }
    }
  });

  it('matches erfc(√(x/2)) for k = 1 at tabulated values', () => {
    close(chiSquareSurvival(1, 1), 0.31731050786291410); // erfc(1/√2) = 2 (1 − Φ(1))
    close(chiSquareSurvival(4, 1), 0.04550026389635842); // 2 (1 − Φ(2))
    close(chiSquareSurvival(9, 1), 0.0026997960632601866); // 2 (1 − Φ(3))
    close(chiSquareSurvival(3.841458820694124, 1), 0.05, 1e-11); // the 95 % critical value
    close(chiSquareSurvival(0, 1), 1);
  });

  it('has P + Q = 1, log Γ at known values and Γ(a + 1) = a Γ(a)', () => {
    for (const [a, x] of [[0.3, 0.1], [2.5, 1], [2.5, 7], [50, 40], [50, 60]] as const) close(gammaP(a, x) + gammaQ(a, x), 1, 1e-14);
    close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14);
    close(logGamma(10), Math.log(362880), 1e-14);
    close(logGamma(101), 363.73937555556347, 1e-14); // log 100!
    for (const a of [0.2, 1.7, 30]) close(logGamma(a + 1) - logGamma(a), Math.log(a), 1e-12);
  });

  it('throws RangeError for negative statistics or non-positive degrees of freedom', () => {
    expect(() => chiSquareSurvival(-1, 2)).toThrow(/non-negative χ² statistic for `x` but received -1/);
    expect(() => chiSquareSurvival(1, 0)).toThrow(/positive number for `k` but received 0/);
    expect(() => chiSquareSurvival(NaN, 2)).toThrow(/finite number for `x`/);
  });
});

describe('argument checks', () => {
  const post = gaussianPosterior(1);
  const small = { theta: new Float64Array(8), x: new Float64Array(8), xDim: 2, samplesPerObservation: 5, seed: 1 };

  it('names the argument, the expectation and the value', async () => {
    await expect(sbc({} as CalibrationPosterior, small)).rejects.toThrow(/`posterior` with a sample\(n, \{ x, seed \}\) method but received object/);
    await expect(expectedCoverage({ sample: post.sample }, small)).rejects.toThrow(/`posterior` with a logProb/);
    await expect(sbc(post, { ...small, x: [1, 2] as unknown as Float64Array })).rejects.toThrow(/Float64Array or Float32Array for `x`.*received Array\(2\)/);
    await expect(sbc(post, { ...small, x: new Float64Array(7) })).rejects.toThrow(/multiple of xDim = 2 values but received 7/);
    await expect(sbc(post, { ...small, theta: new Float64Array(6) })).rejects.toThrow(/`theta` to hold one row per observation in `x` \(4 rows\)/);
    await expect(sbc(post, { ...small, samplesPerObservation: 0 })).rejects.toThrow(/positive integer <= 16777216 for `samplesPerObservation` but received 0/);
    await expect(sbc(post, { ...small, bins: 7 })).rejects.toThrow(/positive integer <= 6 for `bins` but received 7/);
    await expect(sbc(post, { ...small, bins: 1 })).rejects.toThrow(/at least 2 for `bins`/);
    await expect(sbc(post, { ...small, seed: -1 })).rejects.toThrow(/`seed`/);
    await expect(sbc({ ...post, dim: 3 } as CalibrationPosterior, small)).rejects.toThrow(/posterior's dim = 3/);
    const nan = Float64Array.of(0, 0, 0, NaN, 0, 0, 0, 0);
    await expect(sbc(post, { ...small, theta: nan })).rejects.toThrow(/finite values in `theta` but row 1, column 1 is NaN/);
    await expect(expectedCoverage(post, { ...small, levels: [0.5, 1] })).rejects.toThrow(/levels in \(0, 1\) in `levels` but index 1 is 1/);
    await expect(expectedCoverage(post, { ...small, levels: [] })).rejects.toThrow(/non-empty array of credibility levels/);
  });

  it('throws SbiError BAD_POSTERIOR when the posterior returns the wrong shape or NaN', async () => {
    const short: CalibrationPosterior = { sample: () => new Float64Array(3) };
    await expect(sbc(short, small)).rejects.toThrow(SbiError);
    await expect(sbc(short, small)).rejects.toThrow(/5 draws \(\[5, 2\].*observation 0 but received Float64Array\(3\)/);
    const nanDensity: CalibrationPosterior = { sample: post.sample, logProb: (t) => new Float64Array(t.length / 2).fill(NaN) };
    await expect(expectedCoverage(nanDensity, small)).rejects.toMatchObject({ code: 'BAD_POSTERIOR' });
    expect(() => coverageFromRanks(Int32Array.of(0, 6), 5)).toThrow(/HPD ranks in \[0, 5\] in `logProbRanks` but index 1 is 6/);
  });
});
