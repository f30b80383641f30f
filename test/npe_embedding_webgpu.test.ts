// NPE with an embedding network on the WebGPU device (op flow.maf_embedding_train:
// kernels/flows/maf_embedding.wgsl around dense.wgsl's MLP and maf.wgsl's flow): whole trainings
// against native/flow_trainer.h with an embedding (same split, z-scoring, initialisation and
// batches, so the per-epoch losses agree to f32 rounding), NPE.train({ backend: 'webgpu' }) on
// slcp_distractors (100-dim x), sampling with the embedding on the device, and bad input. The
// CPU's embedding gradient has its finite-difference check in test/npe_embedding.test.ts; the
// device's steps are compared with the CPU's in the agreement harness (test/backend_ops.test.ts).
// Runs on llvmpipe where there is no GPU; skipped where WebGPU cannot start.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../src/csv.js';
import { openWebGpu, type WebGpuContext } from '../src/backend/webgpu.js';
import { trainMafWebGpu } from '../src/backend/flow_train_webgpu.js';
import { MAF } from '../src/flows/maf.js';
import { EmbeddingNet } from '../src/inference/embedding.js';
import { NPE } from '../src/inference/npe.js';
import { stageBackends } from '../src/inference/methods.js';
import { native } from '../src/native.js';
import { createPrior } from '../src/priors.js';
import { PhiloxStream } from '../src/random/philox.js';
import { getTask } from '../src/tasks/index.js';

const ctx: WebGpuContext | string = await openWebGpu().catch((e: Error) => e.message);
const gpu = typeof ctx === 'string' ? describe.skip : describe;

/** θ ~ N(0, 1) in 2-D; x [n, 2 + noise]: θ + 0.3 N(0, 1), then `noise` columns of pure N(0, 1). */
function toy(n: number, noise: number, seed: bigint): { theta: Float32Array; x: Float32Array } {
  const r = new PhiloxStream(seed, 0n);
  const W = 2 + noise;
  const theta = Float32Array.from({ length: 2 * n }, () => r.normal());
  const x = new Float32Array(n * W);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < W; j++) x[i * W + j] = j < 2 ? theta[2 * i + j]! + 0.3 * r.normal() : r.normal();
  }
  return { theta, x };
}

// Measured on llvmpipe (see docs/backends.md): the per-epoch losses within 4e-6 of the CPU's and
// the parameters within 3e-7 over 6 epochs of 11 steps; f32 rounding in another summation order
// grows slowly over the steps.
const LOSS_TOL = 1e-4;

gpu(`NPE embedding networks on WebGPU${typeof ctx === 'string' ? ` (unavailable: ${ctx})` : ''}`, () => {
  const c = ctx as WebGpuContext;

  it('trains a MAF / NSF with its embedding like the CPU trainer: same z-scoring, per-epoch losses within 1e-4, same best epoch', async () => {
    const { theta, x } = toy(600, 38, 21n); // x: 40 columns
    const cases = [[2, { kind: 'affine' }, [40, 32, 32, 4]], [1, { kind: 'rqSpline', bins: 5, bound: 3 }, [40, 4]]] as const;
    for (const [passes, transform, sizes] of cases) {
      const maf = new MAF({ dim: 2, contextDim: 4, hidden: 20, hiddenLayers: 2, layers: 3, passes, transform }, { seed: 5, precision: 'float32' });
      const embedding = EmbeddingNet.init([...sizes], 77n);
      const options = { seed: 42, maxEpochs: 6, batchSize: 50, learningRate: 2e-3 };
      const epochs: number[] = [];
      const g = await trainMafWebGpu(c, maf, theta, x, { ...options, embedding, onEpoch: (e) => epochs.push(e.epoch) });
      const cpu = await native.mafTrain(maf.arch, maf.transform.kind, maf.hyper, maf.params as Float32Array, theta, x,
        { ...options, embeddingSizes: embedding.sizes, embeddingParams: embedding.params }, undefined, undefined);
      const label = `${transform.kind}, embedding [${sizes.join(', ')}]`;
      expect(epochs, label).toEqual([1, 2, 3, 4, 5, 6]);
      expect(g.bestEpoch, label).toBe(cpu.bestEpoch);
      expect(Array.from(g.xMean), label).toEqual(Array.from(cpu.xMean));
      expect(Array.from(g.xStd), label).toEqual(Array.from(cpu.xStd));
      for (let e = 0; e < cpu.epochs; e++) {
        expect(Math.abs(g.validationLoss[e]! - cpu.validationLoss[e]!), `${label}: validation loss, epoch ${e + 1}`).toBeLessThan(LOSS_TOL);
        expect(Math.abs(g.trainLoss[e]! - cpu.trainLoss[e]!), `${label}: training loss, epoch ${e + 1}`).toBeLessThan(LOSS_TOL);
      }
      expect(g.validationLoss[5]!, `${label} learns`).toBeLessThan(g.validationLoss[0]! - 0.2);
      expect(g.params.length).toBe(maf.paramCount);
      expect(g.embeddingParams!.length).toBe(embedding.paramCount);
      // the embedding's parameters moved, and moved as the CPU's did
      let moved = 0, apart = 0;
      for (let j = 0; j < embedding.paramCount; j++) {
        moved = Math.max(moved, Math.abs(g.embeddingParams![j]! - embedding.params[j]!));
        apart = Math.max(apart, Math.abs(g.embeddingParams![j]! - cpu.embeddingParams![j]!));
      }
      expect(moved, label).toBeGreaterThan(1e-3);
      expect(apart, label).toBeLessThan(1e-4);
      for (let j = 0; j < g.params.length; j++) if (!maf.mask[j]) expect(g.params[j], `masked parameter ${j}`).toBe(0);
    }
  });

  it('NPE.train({ backend: "webgpu" }) with an embedding on slcp_distractors (100-dim x) tracks the CPU per epoch; sampling embeds x_o on the device', async () => {
    const task = getTask('slcp_distractors');
    const n = 400;
    const theta = task.prior.sample(n, { seed: 3 });
    const { x } = await task.simulator.simulate(theta, { seed: 4 });
    expect(task.definition.xDim).toBe(100);
    const make = () => new NPE({ prior: task.prior, hidden: 20, layers: 3, embedding: { hidden: [40], outputDim: 10 } })
      .appendSimulations(theta, x, task.definition.xDim);
    const npeGpu = make(), npeCpu = make();
    const g = await npeGpu.train({ seed: 9, maxEpochs: 3, backend: 'webgpu' });
    const cpu = await npeCpu.train({ seed: 9, maxEpochs: 3 });
    expect(g.epochs).toBe(3);
    for (let e = 0; e < 3; e++) {
      expect(Math.abs(g.trainLoss[e]! - cpu.trainLoss[e]!), `training loss, epoch ${e + 1}`).toBeLessThan(LOSS_TOL);
      expect(Math.abs(g.validationLoss[e]! - cpu.validationLoss[e]!), `validation loss, epoch ${e + 1}`).toBeLessThan(LOSS_TOL);
    }
    expect(g.bestEpoch).toBe(cpu.bestEpoch);
    // draws of the device-trained posterior: x_o embedded (nn.mlp_forward) and the flow sampled
    // (flow.maf_sample) on the device, against the same posterior's draws on the CPU
    const posterior = npeGpu.buildPosterior();
    const xo = x.subarray(0, 100);
    const onDevice = await posterior.sampleAsync(300, { x: xo, seed: 5, backend: 'webgpu' });
    const onCpu = posterior.sample(300, { x: xo, seed: 5 });
    expect(onDevice.length).toBe(onCpu.length);
    let worst = 0;
    for (let i = 0; i < onCpu.length; i++) worst = Math.max(worst, Math.abs(onDevice[i]! - onCpu[i]!));
    expect(worst).toBeLessThan(1e-3);
  });

  it('stageBackends puts npe with an embedding on webgpu for training and sampling, with no note', async () => {
    expect(await stageBackends(getTask('slcp_distractors'), 'npe', 'webgpu', 'maf', true))
      .toMatchObject({ simulate: 'webgpu', train: 'webgpu', sample: 'webgpu', notes: [] });
    expect((await stageBackends(getTask('slcp_distractors'), 'npe', 'webgpu', 'nsf', true)).train).toBe('webgpu');
  });

  it('sbi-engine infer --method npe --embedding … --backend webgpu trains and samples on webgpu, with no note that it trains on the cpu', () => {
    const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
    const r = spawnSync(process.execPath, [cli, 'infer', '--task', 'slcp_distractors', '--method', 'npe', '--embedding', '16,4', '--budget', '200',
      '--max-epochs', '1', '--samples', '20', '--observation', '1', '--seed', '2', '--backend', 'webgpu', '--out', '-'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/infer --backend webgpu: simulate on webgpu, train on webgpu, sample on webgpu\n/);
    expect(r.stderr).not.toMatch(/runs on the cpu/);
    const t = parseCsv(r.stdout);
    expect(t.rows).toBe(20);
    expect(t.data.every(Number.isFinite)).toBe(true);
  }, 120_000);

  it('rejects a bad embedding by name', async () => {
    const { theta, x } = toy(60, 3, 22n);
    const maf = new MAF({ dim: 2, contextDim: 4, hidden: 8, hiddenLayers: 1, layers: 1 }, { seed: 1, precision: 'float32' });
    const good = EmbeddingNet.init([5, 8, 4], 1n);
    await expect(trainMafWebGpu(c, maf, theta, x, { seed: 1, embedding: EmbeddingNet.init([5, 8, 3], 1n) }))
      .rejects.toThrow(/last of `options.embedding.sizes` to be the flow's contextDim = 4 but received 3/);
    await expect(trainMafWebGpu(c, maf, theta, x, { seed: 1, embedding: { sizes: good.sizes, params: good.params.subarray(1) } }))
      .rejects.toThrow(/Float32Array of 84 values for `options.embedding.params` \(widths \[5, 8, 4\]\) but received 83 values/);
    const nan = good.params.slice();
    nan[3] = NaN;
    await expect(trainMafWebGpu(c, maf, theta, x, { seed: 1, embedding: { sizes: good.sizes, params: nan } }))
      .rejects.toThrow(/finite values in `options.embedding.params` but index 3 is NaN/);
    // x must have the embedding's input width (5), not the flow's context width
    await expect(trainMafWebGpu(c, maf, theta, x.subarray(0, 4 * 60), { seed: 1, embedding: good }))
      .rejects.toThrow(/`x` to hold 60 rows of 5 values but received 240/);
  });
});

describe('NPE with an embedding and backend "webgpu" where WebGPU cannot start', () => {
  it.skipIf(typeof ctx !== 'string')('is an error naming the backend, not a silent CPU run', async () => {
    const prior = createPrior({ kind: 'normal', loc: [0, 0], scale: [1, 1] });
    const { theta, x } = toy(60, 3, 23n);
    const npe = new NPE({ prior, hidden: 8, layers: 1, embedding: { hidden: [8], outputDim: 2 } }).appendSimulations(Float64Array.from(theta), Float64Array.from(x), 5);
    await expect(npe.train({ seed: 1, maxEpochs: 1, backend: 'webgpu' })).rejects.toThrow(/webgpu/i);
  });
});
