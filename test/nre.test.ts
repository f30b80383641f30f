// NRE (src/inference/nre.ts): losses (kernels/nn/ratio_loss.h), the residual classifier
// (kernels/nn/resnet.h), the native training loop (native/trainer.h, native/ratio_trainer.h).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BNRE, NRE, NRE_A, NRE_B, NRE_C, SNRE } from '../src/inference/nre.js';
import type { NREVariant } from '../src/inference/nre.js';
import { c2st } from '../src/diagnostics/c2st.js';
import { SbiError } from '../src/errors.js';
import { native } from '../src/native.js';
import { createPrior } from '../src/priors.js';
import { PhiloxStream } from '../src/random/philox.js';
import { getTask, referenceObservation, referencePosteriorSamples, simulateFromPrior } from '../src/tasks/index.js';

const softplus = (z: number) => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const lse = (a: number[]) => {
  const m = Math.max(...a);
  return m + Math.log(a.reduce((s, v) => s + Math.exp(v - m), 0));
};

/** The losses written out directly from the papers' formulas (see ratio_loss.h). */
function referenceLoss(variant: NREVariant, n: number, K: number, gamma: number, lambda: number, z: Float64Array): number {
  let sum = 0;
  if (variant === 'a' || variant === 'bnre') {
    let bj = 0;
    let bm = 0;
    for (let i = 0; i < n; i++) {
      sum += softplus(-z[2 * i]!) + softplus(z[2 * i + 1]!);
      bj += sigmoid(z[2 * i]!);
      bm += sigmoid(z[2 * i + 1]!);
    }
    const balance = bj / n + bm / n - 1;
    return sum / (2 * n) + (variant === 'bnre' ? lambda * balance * balance : 0);
  }
  if (variant === 'b') {
    for (let i = 0; i < n; i++) {
      const row = Array.from(z.subarray(i * K, (i + 1) * K));
      sum += lse(row) - row[0]!;
    }
    return sum / n;
  }
  const lg = Math.log(gamma);
  const lk = Math.log(K);
  for (let i = 0; i < n; i++) {
    const joint = Array.from(z.subarray(2 * K * i, 2 * K * i + K));
    const marginal = Array.from(z.subarray(2 * K * i + K, 2 * K * (i + 1)));
    const lpm = lk - lse([...marginal.map((v) => lg + v), lk]);
    const lpj = lg + joint[0]! - lse([...joint.map((v) => lg + v), lk]);
    sum += (lpm + gamma * lpj) / (1 + gamma);
  }
  return -sum / n;
}

const toyPrior = () => createPrior({ kind: 'normal', loc: [0], scale: [2] });
/** θ ~ N(0, 2²), x = (θ + N(0, 0.5²), θ + N(0, 0.5²)) */
function toySimulations(n: number, seed: number): { theta: Float64Array; x: Float64Array } {
  const rng = new PhiloxStream(seed, 0);
  const theta = new Float64Array(n);
  const x = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    theta[i] = 2 * rng.normal();
    x[2 * i] = theta[i]! + 0.5 * rng.normal();
    x[2 * i + 1] = theta[i]! + 0.5 * rng.normal();
  }
  return { theta, x };
}
const small = { hidden: 16, blocks: 1 } as const;
function toyNre(variant: NREVariant, n = 600, seed = 1): NRE {
  const nre = new NRE({ prior: toyPrior(), variant, ...small });
  const { theta, x } = toySimulations(n, seed);
  nre.appendSimulations(theta, x);
  return nre;
}

describe('NRE losses', () => {
  const cases: { variant: NREVariant; K: number; gamma: number; lambda: number }[] = [
    { variant: 'a', K: 2, gamma: 1, lambda: 0 },
    { variant: 'bnre', K: 2, gamma: 1, lambda: 100 },
    { variant: 'b', K: 4, gamma: 1, lambda: 0 },
    { variant: 'c', K: 3, gamma: 1, lambda: 0 },
    { variant: 'c', K: 2, gamma: 0.3, lambda: 0 },
  ];
  for (const { variant, K, gamma, lambda } of cases) {
    it(`${variant} (K ${K}, γ ${gamma}, λ ${lambda}): value matches the formula, gradient matches central differences (double)`, () => {
      const n = 3;
      const perRow = variant === 'b' ? K : variant === 'c' ? 2 * K : 2;
      const rng = new PhiloxStream(11, 0);
      const z = Float64Array.from({ length: n * perRow }, () => 2 * rng.normal());
      const grad = new Float64Array(z.length);
      const loss = native.nreLoss(variant, n, K, gamma, lambda, z, grad);
      expect(Math.abs(loss - referenceLoss(variant, n, K, gamma, lambda, z))).toBeLessThan(1e-12 * Math.max(1, Math.abs(loss)));
      const h = 1e-5;
      for (let k = 0; k < z.length; k++) {
        const zp = z.slice();
        const zm = z.slice();
        zp[k]! += h;
        zm[k]! -= h;
        const fd = (native.nreLoss(variant, n, K, gamma, lambda, zp) - native.nreLoss(variant, n, K, gamma, lambda, zm)) / (2 * h);
        // Central differences: O(h²) truncation, O(ε/h) rounding.
        expect(Math.abs(fd - grad[k]!), `logit ${k}`).toBeLessThan(1e-8 * Math.max(1, lambda));
      }
      // The float instantiation agrees to float precision.
      const lf = native.nreLoss(variant, n, K, gamma, lambda, Float32Array.from(z));
      expect(Math.abs(lf - loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(loss)));
    });
  }

  it('residual classifier: parameter gradient matches central differences (double)', () => {
    const [inDim, H, blocks, n] = [3, 4, 2, 5];
    const P = H * (inDim + 1) + blocks * 2 * H * (H + 1) + H + 1;
    const rng = new PhiloxStream(12, 0);
    const params = Float64Array.from({ length: P }, () => 0.6 * rng.normal());
    const x = Float64Array.from({ length: n * inDim }, () => rng.normal());
    const dy = Float64Array.from({ length: n }, () => rng.normal());
    const arch = Int32Array.of(inDim, H, blocks);
    const y = new Float64Array(n);
    const grads = new Float64Array(P);
    native.nreNetForward(arch, n, params, x, y, dy, grads);
    const objective = (p: Float64Array) => {
      const out = new Float64Array(n);
      native.nreNetForward(arch, n, p, x, out);
      return out.reduce((s, v, i) => s + v * dy[i]!, 0);
    };
    const h = 1e-6;
    for (let j = 0; j < P; j++) {
      const pp = params.slice();
      const pm = params.slice();
      pp[j]! += h;
      pm[j]! -= h;
      const fd = (objective(pp) - objective(pm)) / (2 * h);
      expect(Math.abs(fd - grads[j]!), `parameter ${j}`).toBeLessThan(1e-7);
    }
  });

  it('throws RangeError for an unknown variant, bad classes, gamma or lambda', () => {
    const z = new Float64Array(4);
    expect(() => native.nreLoss('d' as never, 2, 2, 1, 0, z)).toThrow(/"a", "b", "c", "bnre" for `variant`/);
    expect(() => native.nreLoss('b', 2, 1, 1, 0, z)).toThrow(/`classes` in \[2, 64\]/);
    expect(() => native.nreLoss('c', 1, 2, 0, 0, z)).toThrow(/positive `gamma`/);
    expect(() => native.nreLoss('bnre', 2, 2, 1, -1, z)).toThrow(/non-negative `lambda`/);
    expect(() => native.nreLoss('a', 2, 2, 1, 0, new Float64Array(3))).toThrow(RangeError);
  });
});

describe('NRE training', () => {
  it('decreases the validation loss, keeps the best epoch and stops 20 epochs after it', async () => {
    const nre = toyNre('a');
    const events: number[] = [];
    const s = await nre.train({ seed: 1, learningRate: 5e-3, onEpoch: (e) => events.push(e.validationLoss) });
    expect(s.epochs).toBe(s.bestEpoch + 20);
    expect(Float64Array.from(events)).toEqual(s.validationLoss);
    expect(s.bestValidationLoss).toBe(Math.min(...s.validationLoss));
    // BCE of a guessing classifier is log 2 = 0.693; this x pins θ down (posterior sd 0.35 vs prior 2).
    expect(s.validationLoss[0]!).toBeGreaterThan(0.45);
    expect(s.bestValidationLoss).toBeLessThan(0.4);
  });

  for (const variant of ['a', 'b', 'c', 'bnre'] as const) {
    it(`${variant}: deterministic for a seed, same bits with 1 and 2 threads`, async () => {
      const run = async (seed: number, threads: number) => {
        const nre = toyNre(variant, 500);
        const s = await nre.train({ seed, maxEpochs: 3, threads });
        const theta = Float64Array.from({ length: 50 }, (_, i) => -3 + 0.12 * i);
        return { s, lr: nre.estimator.logRatio(theta, 50, Float64Array.of(0.5, 0.7), threads) };
      };
      const a = await run(3, 1);
      const b = await run(3, 2);
      const c = await run(4, 2);
      expect(b.s.validationLoss).toEqual(a.s.validationLoss);
      expect(b.s.trainLoss).toEqual(a.s.trainLoss);
      expect(b.lr).toEqual(a.lr);
      expect(c.s.validationLoss).not.toEqual(a.s.validationLoss);
    });
  }

  it('rejects with SbiError ABORTED when the signal aborts (during training or before)', async () => {
    const nre = toyNre('b');
    const controller = new AbortController();
    let epochs = 0;
    const p = nre.train({ seed: 1, maxEpochs: 10000, signal: controller.signal, onEpoch: () => { if (++epochs === 2) controller.abort(); } });
    await expect(p).rejects.toMatchObject({ name: 'SbiError', code: 'ABORTED' });
    expect(epochs).toBeLessThan(200); // far short of maxEpochs; events arrive asynchronously (test/npe.test.ts)
    await expect(nre.train({ seed: 1, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(() => nre.buildPosterior()).toThrow(SbiError);
    expect(() => nre.buildPosterior()).toThrow(/not trained/);
  });

  it('excludes simulations with non-finite x, reports them and never trains on them', async () => {
    const { theta, x } = toySimulations(300, 2);
    const xBad = x.slice();
    xBad[2 * 3] = NaN;
    xBad[2 * 299 + 1] = Infinity;
    const withBad = new NRE({ prior: toyPrior(), variant: 'a', ...small });
    expect(withBad.appendSimulations(theta, xBad).lastAppend).toEqual({ added: 298, excluded: 2 });
    const keep = Array.from({ length: 300 }, (_, i) => i).filter((i) => i !== 3 && i !== 299);
    const clean = new NRE({ prior: toyPrior(), variant: 'a', ...small });
    clean.appendSimulations(Float64Array.from(keep, (i) => theta[i]!), Float64Array.from(keep.flatMap((i) => [x[2 * i]!, x[2 * i + 1]!])));
    const a = await withBad.train({ seed: 5, maxEpochs: 3 });
    const b = await clean.train({ seed: 5, maxEpochs: 3 });
    expect(a.excludedSimulations).toBe(2);
    expect(a.simulations).toBe(298);
    expect(a.validationLoss).toEqual(b.validationLoss);
  });

  it('validates its inputs with actionable messages', async () => {
    expect(() => new NRE({ prior: toyPrior(), variant: 'd' as never })).toThrow(/"a", "b", "c" or "bnre"/);
    expect(() => new NRE({} as never)).toThrow(TypeError);
    expect(() => new NRE_B({ prior: toyPrior(), numAtoms: 1 })).toThrow(/at least 2 for `numAtoms`/);
    expect(() => new NRE_C({ prior: toyPrior(), gamma: -1 })).toThrow(/gamma/);
    expect(() => new BNRE({ prior: toyPrior(), regularizationStrength: -1 })).toThrow(/non-negative number for `regularizationStrength`/);
    expect(new NRE_A({ prior: toyPrior() }).variant).toBe('a');
    expect(new NRE({ prior: toyPrior() }).variant).toBe('b');
    const nre = new NRE({ prior: toyPrior() });
    expect(() => nre.appendSimulations(Float64Array.of(1, 2), Float64Array.of(1, 2, 3))).toThrow(/n · xDim values with n = 2/);
    expect(() => nre.appendSimulations(Float64Array.of(NaN), Float64Array.of(1))).toThrow(/finite values in `theta`/);
    await expect(nre.train({ seed: 1 })).rejects.toMatchObject({ code: 'NO_SIMULATIONS' });
    const b = toyNre('b', 100);
    await expect(b.train({ seed: 1, batchSize: 5 })).rejects.toThrow(/`batchSize` of at least 10/);
    const tiny = toyNre('c', 30);
    await expect(tiny.train({ seed: 1 })).rejects.toThrow(/at least 6 validation and training rows/);
    expect(() => native.nreLogRatio(Int32Array.of(1, 2, 16, 1), new Float32Array(10), Float64Array.of(0), Float64Array.of(1),
      Float64Array.of(0, 0), Float64Array.of(1, 1), Float64Array.of(0), Float64Array.of(0), new Float64Array(1))).toThrow(/`params`/);
  });
});

describe('NRE posterior and files', () => {
  it('save / load round trip gives the same log-ratios and posterior samples bit for bit', async () => {
    const nre = toyNre('c', 400);
    await nre.train({ seed: 6, maxEpochs: 5 });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nre-')), 'model.sbi');
    nre.save(file);
    const loaded = NRE.load(file);
    expect(loaded.kind).toBe('NRE/c');
    expect(loaded.summary.validationLoss).toEqual(nre.summary.validationLoss);
    const theta = Float64Array.from({ length: 40 }, (_, i) => -4 + 0.2 * i);
    const xs = Float64Array.from({ length: 80 }, (_, i) => Math.sin(i));
    expect(loaded.estimator.logRatio(theta, 40, xs)).toEqual(nre.estimator.logRatio(theta, 40, xs));
    const opts = { x: [0.5, 0.4], seed: 2, chains: 10, warmup: 10, thin: 1 };
    expect((await loaded.buildPosterior().sample(50, opts)).samples).toEqual((await nre.buildPosterior().sample(50, opts)).samples);
    // One observation broadcast to all rows equals the same observation repeated per row.
    const rep = Float64Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? 0.5 : 0.4));
    expect(nre.estimator.logRatio(theta, 40, Float64Array.of(0.5, 0.4))).toEqual(nre.estimator.logRatio(theta, 40, rep));
    const bytes = nre.encode();
    bytes[bytes.length - 9]! ^= 1;
    expect(() => NRE.decode(bytes)).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL_FILE' }));
    expect(() => NRE.fromModelFile({ ...nre.toModelFile(), kind: 'NPE/maf' })).toThrow(expect.objectContaining({ code: 'WRONG_MODEL_KIND' }));
  });

  it('gaussian_linear (10-D): 1 000 simulations of NRE-B reach C2ST < 0.75 against the reference posterior', async () => {
    const task = getTask('gaussian_linear');
    const sims = await simulateFromPrior(task, 1000, { seed: 1 });
    const nre = new NRE_B({ prior: task.prior });
    nre.appendSimulations(sims.theta, sims.x);
    await nre.train({ seed: 2 });
    const xo = referenceObservation('gaussian_linear', 1);
    const n = 400;
    const draws = await nre.buildPosterior().sample(n, { x: xo, seed: 3, chains: 50, warmup: 50, thin: 2 });
    const ref = referencePosteriorSamples('gaussian_linear', 1);
    // 2 folds instead of sbibm's 5 keep this test short. Measured with these seeds: 0.661 (NRE-A
    // on the same budget: 0.754; the prior in place of the posterior scores ≈ 1). One standard
    // error of an accuracy over 800 points is ≈ 0.017: the bound leaves 5.
    const acc = await c2st(draws.samples, ref.samples.subarray(0, n * ref.dim), ref.dim, { seed: 1, folds: 2 });
    expect(acc).toBeLessThan(0.75);
  });

  it('SNRE: round 1 from the prior, round 2 from the posterior at x_o, trained on both', async () => {
    const simulator = (theta: Float64Array, rows: number, seed: bigint) => {
      const rng = new PhiloxStream(seed, 0);
      return Float64Array.from({ length: 2 * rows }, (_, k) => theta[k >> 1]! + 0.5 * rng.normal());
    };
    const seen: Float64Array[] = [];
    const snre = new SNRE({ prior: toyPrior(), variant: 'a', ...small, simulator: (t, r, s) => { seen.push(t.slice()); return simulator(t, r, s); } });
    const xo = [3, 3];
    const result = await snre.run({
      rounds: 2, simulationsPerRound: 300, x: xo, seed: 1, train: { maxEpochs: 30, learningRate: 5e-3 },
      mcmc: { chains: 20, warmup: 20, thin: 1 },
    });
    expect(result.rounds.map((r) => r.round)).toEqual([1, 2]);
    expect(result.rounds[1]!.training.simulations).toBe(600);
    const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
    // Prior draws centre on 0 (s.e. 2/√300 = 0.12); the posterior at x_o = 3 is N(2.91, 0.35²).
    expect(Math.abs(mean(seen[0]!))).toBeLessThan(0.6);
    expect(Math.abs(mean(seen[1]!) - 2.91)).toBeLessThan(0.6);
    await expect(snre.run({ rounds: 0, simulationsPerRound: 10, x: xo, seed: 1 })).rejects.toThrow(/`rounds`/);
    expect(() => new SNRE({ prior: toyPrior() } as never)).toThrow(/simulator/);
    expect(result.posterior.dim).toBe(1);
  });
});
