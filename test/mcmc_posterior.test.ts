// MCMCPosterior on a conjugate Gaussian model with a closed-form posterior.
import { describe, expect, it } from 'vitest';
import { MCMCPosterior, type PotentialFunction } from '../src/inference/mcmc_posterior.js';
import { createPrior } from '../src/priors.js';

// θ ~ N(0, I_2) restricted by nothing; x | θ ~ N(θ, s² I_2): posterior N(x / (1 + s²), s² / (1 + s²) I).
const S2 = 0.25;
const gaussianLikelihood: PotentialFunction = (theta, rows, x) => {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let q = 0;
    for (let d = 0; d < 2; d++) q += (x[d]! - theta[2 * i + d]!) ** 2;
    out[i] = -q / (2 * S2);
  }
  return out;
};

describe('MCMCPosterior', () => {
  const prior = createPrior({ kind: 'normal', loc: [0, 0], scale: [1, 1] });
  const posterior = new MCMCPosterior(prior, 2, gaussianLikelihood);

  it('samples the conjugate Gaussian posterior: mean and variance within ESS-based errors', async () => {
    const x = [1.5, -0.5];
    const res = await posterior.sample(4000, { x, seed: 7, chains: 40, warmup: 50, thin: 2 });
    expect(res.samples.length).toBe(8000);
    const sd = Math.sqrt(S2 / (1 + S2));
    for (let d = 0; d < 2; d++) {
      let m = 0;
      for (let i = 0; i < 4000; i++) m += res.samples[2 * i + d]! / 4000;
      let v = 0;
      for (let i = 0; i < 4000; i++) v += (res.samples[2 * i + d]! - m) ** 2 / 3999;
      const ess = res.ess[d]!;
      expect(ess).toBeGreaterThan(500);
      expect(res.rhat[d]!).toBeLessThan(1.05);
      expect(Math.abs(m - x[d]! / (1 + S2))).toBeLessThan(5 * sd / Math.sqrt(ess));
      expect(Math.abs(v / sd ** 2 - 1)).toBeLessThan(5 * Math.sqrt(2 / ess));
    }
  });

  it('is deterministic for a seed', async () => {
    const a = await posterior.sample(100, { x: [0, 0], seed: 3, chains: 10, warmup: 5 });
    const b = await posterior.sample(100, { x: [0, 0], seed: 3, chains: 10, warmup: 5 });
    expect(Buffer.from(a.samples.buffer).equals(Buffer.from(b.samples.buffer))).toBe(true);
  });

  it('logProb is log prior + potential, −Infinity outside a bounded prior', async () => {
    const lp = await posterior.logProb(Float64Array.of(0.5, 0.5), { x: [0, 0] });
    const expected = prior.logProb(Float64Array.of(0.5, 0.5))[0]! - 0.5 / (2 * S2);
    expect(lp[0]).toBeCloseTo(expected, 12);
    const box = new MCMCPosterior(createPrior({ kind: 'boxUniform', low: [0, 0], high: [1, 1] }), 2, gaussianLikelihood);
    const out = await box.logProb(Float64Array.of(0.5, 0.5, 2, 0.5), { x: [0, 0] });
    expect(Number.isFinite(out[0]!)).toBe(true);
    expect(out[1]).toBe(-Infinity);
  });

  it('names bad arguments', async () => {
    await expect(posterior.sample(10, { x: [1], seed: 1 })).rejects.toThrow(/Expected 2 values in `x`/);
    await expect(posterior.sample(10, { x: [1, Number.NaN], seed: 1 })).rejects.toThrow(/x/);
    await expect(posterior.sample(0, { x: [1, 1], seed: 1 })).rejects.toThrow(/n/);
    await expect(posterior.sample(10, { x: [1, 1], seed: 1, init: 'bad' as never })).rejects.toThrow(/init/);
    await expect(posterior.logProb(new Float64Array(3), { x: [1, 1] })).rejects.toThrow(/theta/);
  });
});
