// The vectorised slice sampler and the MCMC diagnostics, on targets with known answers.
import { describe, expect, it } from 'vitest';
import { sliceSample, initChains, type BatchLogDensity } from '../src/inference/mcmc.js';
import { effectiveSampleSize, splitRhat } from '../src/diagnostics/mcmc.js';
import { getTask, referenceObservation, referencePosteriorSamples } from '../src/tasks/index.js';
import { SbiError } from '../src/errors.js';
import { Rng } from './oracles/rng.js';

// Correlated 2-D Gaussian: σ = (1, 2), ρ = 0.8, mean (1, −2).
const MU = [1, -2];
const SD = [1, 2];
const RHO = 0.8;
const gaussian2d: BatchLogDensity = (theta, rows) => {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const a = (theta[2 * i]! - MU[0]!) / SD[0]!;
    const b = (theta[2 * i + 1]! - MU[1]!) / SD[1]!;
    out[i] = -(a * a - 2 * RHO * a * b + b * b) / (2 * (1 - RHO * RHO));
  }
  return out;
};

function columnStats(samples: Float64Array, dim: number, j: number) {
  const n = samples.length / dim;
  let m = 0;
  for (let i = 0; i < n; i++) m += samples[i * dim + j]! / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (samples[i * dim + j]! - m) ** 2 / (n - 1);
  return { mean: m, variance: v };
}

describe('sliceSample', () => {
  it('samples a correlated Gaussian: means, variances and correlation within ESS-based errors', async () => {
    const chains = 16;
    const init = new Float64Array(chains * 2);
    const res = await sliceSample(gaussian2d, 2, { chains, samples: 16_000, warmup: 100, init, seed: 3 });
    expect(res.samples.length).toBe(32_000);
    for (let j = 0; j < 2; j++) {
      expect(res.rhat[j]!).toBeLessThan(1.02);
      expect(res.ess[j]!).toBeGreaterThan(1500);
      const { mean, variance } = columnStats(res.samples, 2, j);
      const ess = res.ess[j]!;
      expect(Math.abs(mean - MU[j]!)).toBeLessThan(5 * SD[j]! / Math.sqrt(ess));
      expect(Math.abs(variance / SD[j]! ** 2 - 1)).toBeLessThan(5 * Math.sqrt(2 / ess));
    }
    const s0 = columnStats(res.samples, 2, 0);
    const s1 = columnStats(res.samples, 2, 1);
    let cov = 0;
    const n = res.samples.length / 2;
    for (let i = 0; i < n; i++) cov += (res.samples[2 * i]! - s0.mean) * (res.samples[2 * i + 1]! - s1.mean) / (n - 1);
    const corr = cov / Math.sqrt(s0.variance * s1.variance);
    expect(Math.abs(corr - RHO)).toBeLessThan(5 * (1 - RHO * RHO) / Math.sqrt(Math.min(...res.ess)));
  });

  it('evaluates every chain of a step in one batched call, and is reproducible for a seed', async () => {
    const chains = 8;
    let calls = 0;
    let maxRows = 0;
    const counting: BatchLogDensity = (theta, rows) => {
      calls++;
      maxRows = Math.max(maxRows, rows);
      return gaussian2d(theta, rows);
    };
    const init = new Float64Array(chains * 2);
    const a = await sliceSample(counting, 2, { chains, samples: 400, warmup: 10, init, seed: 9 });
    expect(maxRows).toBe(chains);
    expect(a.densityEvaluations / calls).toBeGreaterThan(2); // batches, not single points
    const b = await sliceSample(gaussian2d, 2, { chains, samples: 400, warmup: 10, init, seed: 9 });
    expect(Array.from(b.samples)).toEqual(Array.from(a.samples));
    const c = await sliceSample(gaussian2d, 2, { chains, samples: 400, warmup: 10, init, seed: 10 });
    expect(Array.from(c.samples)).not.toEqual(Array.from(a.samples));
  });

  it('respects a bounded support (uniform on a box)', async () => {
    const box: BatchLogDensity = (theta, rows) => {
      const out = new Float64Array(rows);
      for (let i = 0; i < rows; i++) out[i] = Math.abs(theta[i]!) <= 1 ? 0 : -Infinity;
      return out;
    };
    const res = await sliceSample(box, 1, { chains: 8, samples: 8000, warmup: 20, init: new Float64Array(8), seed: 1 });
    expect(res.samples.every((v) => Math.abs(v) <= 1)).toBe(true);
    const { mean, variance } = columnStats(res.samples, 1, 0);
    expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(1 / 3 / res.ess[0]!));
    expect(Math.abs(variance - 1 / 3)).toBeLessThan(0.05);
  });

  it('recovers the analytic gaussian_linear posterior from the task likelihood, like the sbibm reference', async () => {
    // prior N(0, 0.1 I), x | θ ~ N(θ, 0.1 I)  =>  θ | x ~ N(x / 2, 0.05 I)
    const task = getTask('gaussian_linear');
    const xo = referenceObservation('gaussian_linear', 1);
    const logLik = task.definition.logLikelihood!;
    const dim = 10;
    const logPost: BatchLogDensity = (theta, rows) => {
      const xs = new Float64Array(rows * dim);
      for (let i = 0; i < rows; i++) xs.set(xo, i * dim);
      const ll = logLik(theta, xs);
      const lp = task.prior.logProb(theta);
      return ll.map((v, i) => v + lp[i]!);
    };
    const chains = 20;
    const init = await initChains(task.prior, logPost, chains, { seed: 4, method: 'sir' });
    const res = await sliceSample(logPost, dim, { chains, samples: 4000, warmup: 50, init, seed: 5 });
    const ref = referencePosteriorSamples('gaussian_linear', 1);
    for (let j = 0; j < dim; j++) {
      const { mean, variance } = columnStats(res.samples, dim, j);
      expect(Math.abs(mean - xo[j]! / 2)).toBeLessThan(5 * Math.sqrt(0.05 / res.ess[j]!));
      expect(Math.abs(variance / 0.05 - 1)).toBeLessThan(5 * Math.sqrt(2 / res.ess[j]!));
      const refStats = columnStats(ref.samples, dim, j);
      expect(Math.abs(refStats.mean - xo[j]! / 2)).toBeLessThan(5 * Math.sqrt(0.05 / ref.n));
    }
  });

  it('throws SbiError for a start outside the support, NaN densities and aborts; RangeError for bad options', async () => {
    const base = { chains: 2, samples: 10, warmup: 1, seed: 1 };
    const bounded: BatchLogDensity = (t, rows) => Float64Array.from({ length: rows }, (_, i) => (t[i]! > 0 ? 0 : -Infinity));
    await expect(sliceSample(bounded, 1, { ...base, init: Float64Array.of(1, -1) })).rejects.toMatchObject({ code: 'BAD_INIT' });
    const nan: BatchLogDensity = (_t, rows) => new Float64Array(rows).fill(NaN);
    await expect(sliceSample(nan, 1, { ...base, init: new Float64Array(2) })).rejects.toMatchObject({ code: 'NAN_LOG_DENSITY' });
    await expect(sliceSample(gaussian2d, 2, { ...base, init: new Float64Array(4), signal: AbortSignal.abort() })).rejects.toBeInstanceOf(SbiError);
    await expect(sliceSample(gaussian2d, 2, { ...base, init: new Float64Array(3) })).rejects.toThrow(RangeError);
    await expect(sliceSample(gaussian2d, 2, { ...base, chains: 0, init: new Float64Array(0) })).rejects.toThrow(/`chains`/);
    await expect(sliceSample(gaussian2d, 2, { ...base, init: new Float64Array(4), width: -1 })).rejects.toThrow(/width/);
  });
});

describe('MCMC diagnostics', () => {
  const rng = new Rng(7);
  const normal = () => rng.normal();

  it('gives ESS ≈ n for independent draws and ≈ n(1−φ)/(1+φ) for an AR(1) chain', () => {
    const chains = 4;
    const draws = 5000;
    const iid = new Float64Array(chains * draws).map(() => normal());
    const essIid = effectiveSampleSize({ values: iid, chains, draws, dim: 1 })[0]!;
    expect(essIid / (chains * draws)).toBeGreaterThan(0.85);
    expect(essIid / (chains * draws)).toBeLessThan(1.15);
    const phi = 0.9;
    const ar = new Float64Array(chains * draws);
    for (let c = 0; c < chains; c++) {
      let v = normal() / Math.sqrt(1 - phi * phi);
      for (let t = 0; t < draws; t++) {
        v = phi * v + normal();
        ar[c * draws + t] = v;
      }
    }
    const essAr = effectiveSampleSize({ values: ar, chains, draws, dim: 1 })[0]!;
    const expected = (chains * draws * (1 - phi)) / (1 + phi);
    expect(essAr / expected).toBeGreaterThan(0.75);
    expect(essAr / expected).toBeLessThan(1.33);
  });

  it('gives R-hat ≈ 1 for mixed chains and > 1.1 for chains stuck at different places', () => {
    const chains = 4;
    const draws = 2000;
    const mixed = new Float64Array(chains * draws).map(() => normal());
    expect(splitRhat({ values: mixed, chains, draws, dim: 1 })[0]!).toBeLessThan(1.01);
    const stuck = mixed.map((v, i) => v + Math.floor(i / draws));
    expect(splitRhat({ values: stuck, chains, draws, dim: 1 })[0]!).toBeGreaterThan(1.1);
  });
});
