// The mixture density network on the WebGPU device (src/backend/mdn_webgpu.ts,
// mdn_train_webgpu.ts, kernels/flows/mdn.wgsl): what the agreement harness's ops flow.mdn_log_prob /
// flow.mdn_sample / flow.mdn_train (fixed inputs, a few steps) do not cover — whole trainings
// against native/mdn_trainer.h (same split, initialisation, shuffles and batches, so the per-epoch
// losses agree to f32 rounding), NPE with an MDN trained and sampled on the device, and bad input.
// Runs on llvmpipe where there is no GPU; skipped where WebGPU cannot start (backend_ops.test.ts
// fails CI in that case).
import { describe, expect, it } from 'vitest';
import { openWebGpu, type WebGpuContext } from '../src/backend/webgpu.js';
import { mdnLogProbWebGpu, mdnSampleWebGpu } from '../src/backend/mdn_webgpu.js';
import { mdnInitialParams, mdnTrainStepsWebGpu, trainMdnWebGpu } from '../src/backend/mdn_train_webgpu.js';
import { SbiError } from '../src/errors.js';
import { MDN } from '../src/flows/mdn.js';
import { NPE } from '../src/inference/npe.js';
import { runMethod } from '../src/inference/methods.js';
import { getTask, referenceObservation } from '../src/tasks/index.js';
import { native } from '../src/native.js';
import { createPrior } from '../src/priors.js';
import { PhiloxStream } from '../src/random/philox.js';

const ctx: WebGpuContext | string = await openWebGpu().catch((e: Error) => e.message);
const gpu = typeof ctx === 'string' ? describe.skip : describe;

/** A gaussian_linear-like toy: θ ~ N(1, 2²) in 2-D, x = (θ1, θ2, −θ1) + 0.3 noise (double, as the trainers take it). */
function toy(n: number, seed: bigint): { theta: Float64Array; x: Float64Array } {
  const r = new PhiloxStream(seed, 0n);
  const theta = Float64Array.from({ length: 2 * n }, () => 2 * r.normal() + 1);
  const x = Float64Array.from({ length: 3 * n }, (_, i) => {
    const row = Math.floor(i / 3), j = i % 3;
    return (j === 2 ? -theta[2 * row]! : theta[2 * row + j]!) + 0.3 * r.normal();
  });
  return { theta, x };
}

// Measured on llvmpipe: over 8 epochs of 11 steps the losses differ by ≤ 3e-7 and the parameters
// by ≤ 3.3e-7; f32 rounding in another summation order grows slowly over the steps.
const LOSS_TOL = 1e-4;

gpu(`MDN on WebGPU${typeof ctx === 'string' ? ` (unavailable: ${ctx})` : ''}`, () => {
  const c = ctx as WebGpuContext;

  it('trains like the CPU trainer: same split, initialisation and z-scoring, per-epoch losses within 1e-4, same best epoch', async () => {
    const { theta, x } = toy(600, 11n);
    const mdn = new MDN({ dim: 2, contextDim: 3, components: 3, hidden: 20, hiddenLayers: 2 });
    const options = { seed: 5n, maxEpochs: 8, batchSize: 50, learningRate: 1e-3 };
    const cpu = await native.mdnTrain(mdn.arch, theta, x, options, undefined, undefined);
    const epochs: number[] = [];
    const g = await trainMdnWebGpu(c, mdn, theta, x, { ...options, onEpoch: (e) => epochs.push(e.epoch) });
    expect(epochs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(g.epochs).toBe(cpu.epochs);
    expect(g.bestEpoch).toBe(cpu.bestEpoch);
    for (let e = 0; e < cpu.epochs; e++) {
      expect(Math.abs(g.trainLoss[e]! - cpu.trainLoss[e]!), `train, epoch ${e + 1}`).toBeLessThan(LOSS_TOL);
      expect(Math.abs(g.validationLoss[e]! - cpu.validationLoss[e]!), `validation, epoch ${e + 1}`).toBeLessThan(LOSS_TOL);
    }
    expect(Array.from(g.thetaMean)).toEqual(Array.from(cpu.thetaMean)); // z-scoring statistics in double: identical
    expect(Array.from(g.xStd)).toEqual(Array.from(cpu.xStd));
    let worst = 0;
    for (let j = 0; j < cpu.params.length; j++) worst = Math.max(worst, Math.abs(g.params[j]! - cpu.params[j]!));
    expect(worst).toBeLessThan(1e-4);
    // The initialisation alone: zero epochs are not allowed, so compare one step of learning rate ~0.
    const still = await native.mdnTrain(mdn.arch, theta, x, { ...options, maxEpochs: 1, learningRate: 1e-30 }, undefined, undefined);
    expect(Array.from(mdnInitialParams(mdn, options.seed))).toEqual(Array.from(still.params));
  });

  it('NPE with an MDN trains on webgpu like the cpu, and its posterior draws on webgpu match the cpu draws', async () => {
    const { theta, x } = toy(300, 13n);
    const prior = createPrior({ kind: 'normal', loc: [1, 1], scale: [2, 2] });
    const make = () => new NPE({ prior, densityEstimator: 'mdn', hidden: 16, components: 3 }).appendSimulations(theta, x);
    const g = make(), cpu = make();
    const gs = await g.train({ seed: 9, maxEpochs: 3, backend: 'webgpu' });
    const cs = await cpu.train({ seed: 9, maxEpochs: 3 });
    for (let e = 0; e < 3; e++) expect(Math.abs(gs.validationLoss[e]! - cs.validationLoss[e]!), `epoch ${e + 1}`).toBeLessThan(LOSS_TOL);
    const xo = [1, 0.5, -1];
    const post = cpu.buildPosterior();
    const want = post.sample(500, { x: xo, seed: 3 });
    const got = await post.sampleAsync(500, { x: xo, seed: 3, backend: 'webgpu' });
    expect(got.length).toBe(want.length);
    let apart = 0;
    for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i]! - want[i]!) <= 2e-3 + 1e-4 * Math.abs(want[i]!))) apart++;
    expect(apart).toBe(0);
  });

  it('runMethod with an MDN on webgpu: npe and nle simulate, train and sample on the device, as the stage report says', async () => {
    const task = getTask('two_moons');
    const x = referenceObservation('two_moons', 1);
    for (const method of ['npe', 'nle'] as const) {
      const r = await runMethod(task, {
        method, budget: 300, x, samples: 40, seed: 2, densityEstimator: 'mdn', maxEpochs: 2, backend: 'webgpu', mcmc: { chains: 4, warmup: 2, thin: 1 },
      });
      expect(r.backends, method).toEqual({ simulate: 'webgpu', train: 'webgpu', sample: 'webgpu', notes: [] });
      expect(r.samples.length).toBe(80);
      expect(r.samples.every(Number.isFinite)).toBe(true);
    }
  }, 120_000);

  it('log q and draws take one context for all rows or one per row, like the cpu', async () => {
    const mdn = new MDN({ dim: 3, contextDim: 2, components: 4, hidden: 12 });
    const r = new PhiloxStream(3n, 0n);
    mdn.params = Float32Array.from({ length: mdn.paramCount }, () => 0.2 * r.normal());
    const y = Float32Array.from({ length: 3 * 70 }, () => r.normal());
    const shared = Float32Array.of(0.3, -1.2);
    const a = await mdnLogProbWebGpu(c, mdn, y, shared), b = mdn.logProb(y, shared);
    for (let i = 0; i < 70; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(2e-3 + 1e-5 * Math.abs(b[i]!));
    const perRow = Float32Array.from({ length: 2 * 70 }, (_, k) => shared[k % 2]!);
    expect(Array.from(await mdnLogProbWebGpu(c, mdn, y, perRow))).toEqual(Array.from(a));
    expect(Array.from(await mdnSampleWebGpu(c, mdn, perRow, 70, 8))).toEqual(Array.from(await mdnSampleWebGpu(c, mdn, shared, 70, 8)));
  });

  it('rejects bad input by name and aborts with ABORTED', async () => {
    const mdn = new MDN({ dim: 2, contextDim: 3, components: 2, hidden: 8 });
    const { theta, x } = toy(60, 14n);
    await expect(mdnLogProbWebGpu(c, mdn, new Float32Array(5), new Float32Array(3))).rejects.toThrow(/`y` to hold a positive multiple of 2 values \(\[N, 2\]\) but received 5/);
    await expect(mdnLogProbWebGpu(c, mdn, new Float32Array(4), new Float32Array(5))).rejects.toThrow(/`context` to hold 3 values \(one row for all\) or 6 \(one per row\) but received 5/);
    await expect(mdnSampleWebGpu(c, mdn, new Float32Array(3), 0, 1)).rejects.toThrow(/integer in \[1, 2\^22\] for `n` but received 0/);
    await expect(trainMdnWebGpu(c, mdn, Float32Array.from(theta) as never, x, { seed: 1 })).rejects.toThrow(/Expected a Float64Array for `y`/);
    await expect(trainMdnWebGpu(c, mdn, theta, x.subarray(3), { seed: 1 })).rejects.toThrow(/`context` to hold 60 rows of 3 values but received 177/);
    const nan = theta.slice();
    nan[7] = NaN;
    await expect(trainMdnWebGpu(c, mdn, nan, x, { seed: 1 })).rejects.toThrow(/finite values in `y` but index 7 is NaN/);
    await expect(trainMdnWebGpu(c, mdn, theta, x, { seed: 1, validationFraction: 0.01 })).rejects.toThrow(/at least one validation and one training row/);
    await expect(mdnTrainStepsWebGpu(c, mdn, [])).rejects.toThrow(/non-empty array of batches/);
    await expect(mdnTrainStepsWebGpu(c, mdn, [{ y: new Float32Array(4), context: new Float32Array(3) }])).rejects.toThrow(/`batches\[0\]\.context` to hold 2 rows of 3 values but received 3/);
    const controller = new AbortController();
    const aborted = await trainMdnWebGpu(c, mdn, theta, x, { seed: 1, maxEpochs: 50, onEpoch: () => controller.abort(), signal: controller.signal }).catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(SbiError);
    expect((aborted as SbiError).code).toBe('ABORTED');
  });
});
