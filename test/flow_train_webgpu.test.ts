// MAF / NSF training on the WebGPU device (src/backend/flow_train_webgpu.ts, kernels/flows/maf.wgsl's
// backward): what the agreement harness's op flow.maf_train (a few steps) does not cover — whole
// trainings against native/flow_trainer.h (same split, shuffles and batches, so the per-epoch
// losses agree to f32 rounding), NPE.train({ backend }), and bad input. Runs on llvmpipe where
// there is no GPU; skipped where WebGPU cannot start (backend_ops.test.ts fails CI in that case).
import { describe, expect, it } from 'vitest';
import { openWebGpu, type WebGpuContext } from '../src/backend/webgpu.js';
import { mafTrainStepsWebGpu, trainMafWebGpu } from '../src/backend/flow_train_webgpu.js';
import { SbiError } from '../src/errors.js';
import { MAF } from '../src/flows/maf.js';
import { NPE } from '../src/inference/npe.js';
import { stageBackends } from '../src/inference/methods.js';
import { getTask } from '../src/tasks/index.js';
import { native } from '../src/native.js';
import { createPrior } from '../src/priors.js';
import { PhiloxStream, shuffle } from '../src/random/philox.js';

const ctx: WebGpuContext | string = await openWebGpu().catch((e: Error) => e.message);
const gpu = typeof ctx === 'string' ? describe.skip : describe;

/** A gaussian_linear-like toy: θ ~ N(1, 2²) in 2-D, x = (θ1, θ2, −θ1) + 0.3 noise. */
function toy(n: number, seed: bigint): { theta: Float32Array; x: Float32Array } {
  const r = new PhiloxStream(seed, 0n);
  const theta = Float32Array.from({ length: 2 * n }, () => 2 * r.normal() + 1);
  const x = Float32Array.from({ length: 3 * n }, (_, i) => {
    const row = Math.floor(i / 3), j = i % 3;
    return (j === 2 ? -theta[2 * row]! : theta[2 * row + j]!) + 0.3 * r.normal();
  });
  return { theta, x };
}

// Measured: after 8 epochs of 11 steps the validation losses differ by ≤ 1e-6 and the parameters
// by ≤ 1.3e-7 (llvmpipe); f32 rounding in another summation order grows slowly over the steps.
const LOSS_TOL = 1e-4;

gpu(`MAF training on WebGPU${typeof ctx === 'string' ? ` (unavailable: ${ctx})` : ''}`, () => {
  const c = ctx as WebGpuContext;

  it('trains like the CPU trainer: same split and z-scoring, per-epoch losses within 1e-4, same best epoch, masked weights 0', async () => {
    const { theta, x } = toy(600, 11n);
    for (const [passes, transform] of [[2, { kind: 'affine' }], [1, { kind: 'affine' }], [2, { kind: 'rqSpline', bins: 5, bound: 3 }]] as const) {
      const maf = new MAF({ dim: 2, contextDim: 3, hidden: 20, hiddenLayers: 2, layers: 3, passes, transform }, { seed: 5, precision: 'float32' });
      const options = { seed: 42, maxEpochs: 6, batchSize: 50 };
      const epochs: number[] = [];
      const g = await trainMafWebGpu(c, maf, theta, x, { ...options, onEpoch: (e) => epochs.push(e.epoch) });
      const cpu = await native.mafTrain(maf.arch, maf.transform.kind, maf.hyper, maf.params as Float32Array, theta, x, options, undefined, undefined);
      expect(epochs).toEqual([1, 2, 3, 4, 5, 6]);
      expect(g.epochs).toBe(cpu.epochs);
      expect(g.bestEpoch).toBe(cpu.bestEpoch);
      expect(Array.from(g.thetaMean)).toEqual(Array.from(cpu.thetaMean));
      expect(Array.from(g.thetaStd)).toEqual(Array.from(cpu.thetaStd));
      expect(Array.from(g.xMean)).toEqual(Array.from(cpu.xMean));
      expect(Array.from(g.xStd)).toEqual(Array.from(cpu.xStd));
      for (let e = 0; e < cpu.epochs; e++) {
        expect(Math.abs(g.validationLoss[e]! - cpu.validationLoss[e]!), `validation loss, epoch ${e + 1}`).toBeLessThan(LOSS_TOL);
        expect(Math.abs(g.trainLoss[e]! - cpu.trainLoss[e]!), `training loss, epoch ${e + 1}`).toBeLessThan(LOSS_TOL);
      }
      expect(g.validationLoss[cpu.epochs - 1]!).toBeLessThan(g.validationLoss[0]! - 0.3); // it learns
      for (let j = 0; j < g.params.length; j++) if (!maf.mask[j]) expect(g.params[j], `masked parameter ${j}`).toBe(0);
    }
  });

  it('stops early after stopAfterEpochs without improvement and returns the best epoch\'s parameters', async () => {
    const n = 120;
    const { theta, x } = toy(n, 12n);
    const arch = { dim: 2, contextDim: 3, hidden: 8, hiddenLayers: 1, layers: 2 };
    const maf = new MAF(arch, { seed: 6, precision: 'float32' });
    // a huge learning rate overshoots: the validation loss stops improving quickly (the trajectory
    // is chaotic at this rate, so it is not compared with the CPU's)
    const g = await trainMafWebGpu(c, maf, theta, x, { seed: 3, maxEpochs: 40, stopAfterEpochs: 2, learningRate: 0.5, batchSize: 27 });
    expect(g.epochs).toBeLessThan(40);
    expect(g.epochs).toBe(g.bestEpoch + 2);
    expect(g.bestValidationLoss).toBe(Math.min(...g.validationLoss));
    // the returned parameters give the best validation loss: the split's last 12 rows (stream 0), on the CPU
    const perm = Int32Array.from({ length: n }, (_, i) => i);
    shuffle(new PhiloxStream(3, 0), perm);
    const val = perm.subarray(n - 12);
    const z = (a: Float32Array, w: number, mean: Float64Array, std: Float64Array) =>
      Float32Array.from({ length: val.length * w }, (_, i) => (a[val[Math.floor(i / w)]! * w + (i % w)]! - mean[i % w]!) / std[i % w]!);
    const trained = new MAF(arch, { seed: 6, precision: 'float32' });
    trained.params = g.params;
    const logQ = trained.logProb(z(theta, 2, g.thetaMean, g.thetaStd), z(x, 3, g.xMean, g.xStd));
    const loss = -logQ.reduce((s, v) => s + v, 0) / val.length + Math.log(g.thetaStd[0]!) + Math.log(g.thetaStd[1]!);
    expect(Math.abs(loss - g.bestValidationLoss)).toBeLessThan(1e-4);
  });

  it('NPE.train({ backend: "webgpu" }) trains maf and nsf on the device like the CPU (with an embedding: test/npe_embedding_webgpu.test.ts)', async () => {
    const { theta, x } = toy(300, 13n);
    const prior = createPrior({ kind: 'normal', loc: [1, 1], scale: [2, 2] });
    const theta64 = Float64Array.from(theta), x64 = Float64Array.from(x);
    for (const densityEstimator of ['maf', 'nsf'] as const) {
      const make = () => new NPE({ prior, densityEstimator, hidden: 16, layers: 2 }).appendSimulations(theta64, x64);
      const g = await make().train({ seed: 9, maxEpochs: 3, backend: 'webgpu' });
      const cpu = await make().train({ seed: 9, maxEpochs: 3 });
      expect(g.epochs).toBe(3);
      for (let e = 0; e < 3; e++) expect(Math.abs(g.validationLoss[e]! - cpu.validationLoss[e]!), `${densityEstimator}, epoch ${e + 1}`).toBeLessThan(LOSS_TOL);
    }
  });

  it('stageBackends: npe with a flow (with or without an embedding) or an mdn trains on webgpu', async () => {
    const task = getTask('gaussian_linear');
    expect(await stageBackends(task, 'npe', 'webgpu', 'maf')).toMatchObject({ simulate: 'webgpu', train: 'webgpu', sample: 'webgpu', notes: [] });
    for (const kind of ['maf-coupling', 'nsf', 'nsf-coupling'] as const) expect((await stageBackends(task, 'npe', 'webgpu', kind)).train, kind).toBe('webgpu');
    expect(await stageBackends(task, 'npe', 'webgpu', 'mdn')).toMatchObject({ simulate: 'webgpu', train: 'webgpu', sample: 'webgpu', notes: [] });
    expect(await stageBackends(task, 'npe', 'webgpu', 'maf', true)).toMatchObject({ simulate: 'webgpu', train: 'webgpu', sample: 'webgpu', notes: [] });
    expect((await stageBackends(task, 'npe', 'cpu', 'maf')).train).toBe('cpu');
  });

  it('rejects bad input by name and aborts with ABORTED', async () => {
    const { theta, x } = toy(50, 14n);
    const maf = new MAF({ dim: 2, contextDim: 3, hidden: 8, hiddenLayers: 1, layers: 1 }, { seed: 1, precision: 'float32' });
    await expect(trainMafWebGpu(c, maf, theta.subarray(1), x, { seed: 1 })).rejects.toThrow(/`theta` to hold whole rows of 2 values but received 99/);
    await expect(trainMafWebGpu(c, maf, theta, x.subarray(3), { seed: 1 })).rejects.toThrow(/`x` to hold 50 rows of 3 values but received 147/);
    const nan = theta.slice();
    nan[7] = NaN;
    await expect(trainMafWebGpu(c, maf, nan, x, { seed: 1 })).rejects.toThrow(/finite values in `theta` but index 7 is NaN/);
    await expect(trainMafWebGpu(c, maf, theta, x, { seed: 1, validationFraction: 0.01 })).rejects.toThrow(/at least 1 validation and 2 training rows/);
    await expect(trainMafWebGpu(c, maf, theta, x, { seed: 1, learningRate: -1 })).rejects.toThrow(/positive finite number for `learningRate` but received -1/);
    await expect(trainMafWebGpu(c, maf, theta, x, { seed: 1, batchSize: 0 })).rejects.toThrow(/`batchSize` but received 0/);
    await expect(mafTrainStepsWebGpu(c, maf, [])).rejects.toThrow(/non-empty array of batches/);
    await expect(mafTrainStepsWebGpu(c, maf, [{ theta: new Float32Array(4), x: new Float32Array(3) }])).rejects.toThrow(/`batches\[0\]\.x` to hold 2 rows of 3 values but received 3/);
    const controller = new AbortController();
    const aborted = await trainMafWebGpu(c, maf, theta, x, { seed: 1, maxEpochs: 50, onEpoch: () => controller.abort(), signal: controller.signal }).catch((e: unknown) => e);
    expect((aborted as SbiError).code).toBe('ABORTED');
  });
});
