// NRE with an embedding network of x on the WebGPU device (op nre.embedding_train and nre.log_ratio
// with an embedding: kernels/nn/resnet.wgsl's ratio_scatter_features and the x-row gather of
// kernels/flows/maf_embedding.wgsl around dense.wgsl's MLP): whole trainings against
// native/ratio_trainer.cc with an embedding (same split, z-scoring, initialisation, contrasts and
// batches, so the per-epoch losses agree to f32 rounding) on slcp_distractors' 100-dim x, and the
// posterior's MCMC potential on the device. The CPU's embedding gradient has its finite-difference
// check in test/nre_embedding.test.ts; the device's steps are compared with the CPU's in the
// agreement harness (test/backend_ops.test.ts). Runs on llvmpipe where there is no GPU.
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/backend.js';
import { trainRatioWebGpu } from '../src/backend/ratio_train_webgpu.js';
import { openWebGpu, type WebGpuContext } from '../src/backend/webgpu.js';
import { EmbeddingNet } from '../src/inference/embedding.js';
import { NRE } from '../src/inference/nre.js';
import { getTask, simulateFromPrior } from '../src/tasks/index.js';

const ctx: WebGpuContext | string = await openWebGpu().catch((e: Error) => e.message);
const gpu = typeof ctx === 'string' ? describe.skip : describe;

// Measured on llvmpipe (docs/backends.md): per-epoch losses within 2.2e-7 of the CPU's.
const LOSS_TOL = 1e-4;

gpu(`NRE embedding networks on WebGPU${typeof ctx === 'string' ? ` (unavailable: ${ctx})` : ''}`, () => {
  const c = ctx as WebGpuContext;

  // 240 slcp_distractors simulations (5-D θ, 100-D x), an embedding [100, 32, 8], the classifier
  // at 20 hidden units to keep llvmpipe's time down, 2 epochs: 216 training rows in batches of 100,
  // 100 and 16, 24 validation rows.
  for (const variant of ['b', 'a'] as const) {
    it(`NRE-${variant.toUpperCase()}: NRE.train({ backend: 'webgpu' }) with an embedding takes the CPU trainer's steps: per-epoch losses within 1e-4`, async () => {
      const task = getTask('slcp_distractors');
      const sims = await simulateFromPrior(task, 240, { seed: 5 });
      const fits = [];
      const nres: NRE[] = [];
      for (const backend of ['cpu', 'webgpu'] as const) {
        const nre = new NRE({ prior: task.prior, variant, numAtoms: 4, hidden: 20, embedding: { hidden: [32], outputDim: 8 } });
        nre.appendSimulations(sims.theta, sims.x);
        fits.push(await nre.train({ seed: 6, maxEpochs: 2, batchSize: 100, backend }));
        nres.push(nre);
      }
      const [cpu, gpuFit] = fits as [Awaited<ReturnType<NRE['train']>>, Awaited<ReturnType<NRE['train']>>];
      expect(gpuFit.epochs).toBe(2);
      expect(gpuFit.bestEpoch).toBe(cpu.bestEpoch);
      for (let e = 0; e < cpu.epochs; e++) {
        expect(Math.abs(gpuFit.trainLoss[e]! - cpu.trainLoss[e]!), `epoch ${e + 1} training loss`).toBeLessThan(LOSS_TOL);
        expect(Math.abs(gpuFit.validationLoss[e]! - cpu.validationLoss[e]!), `epoch ${e + 1} validation loss`).toBeLessThan(LOSS_TOL);
      }
      // the embedding trained, and as on the CPU
      const [eCpu, eGpu] = nres.map((n) => n.estimator.embedding!);
      const init = EmbeddingNet.init([100, 32, 8], 0n); // another seed: a different network, not the trained one
      let apart = 0, moved = 0;
      for (let j = 0; j < eCpu!.paramCount; j++) {
        apart = Math.max(apart, Math.abs(eGpu!.params[j]! - eCpu!.params[j]!));
        moved = Math.max(moved, Math.abs(eGpu!.params[j]! - init.params[j]!));
      }
      // NRE-B's loss ignores a shift of a row's logits; at the trainer's initialisation (blocks'
      // second layers U(±1e-3)) the logit is nearly linear in the features, so many of the
      // embedding's gradients lie below Adam's ε (1e-8) and Adam turns their rounding into steps:
      // measured 5.4e-5 apart after 2 epochs (NRE-A: 8e-7). Its losses are compared, not these.
      if (variant === 'a') expect(apart).toBeLessThan(1e-5);
      expect(moved).toBeGreaterThan(1e-3);
    }, 120_000);
  }

  it("the posterior's potential with an embedding runs on the device (nre.log_ratio): the CPU's log r at x_o and per row", async () => {
    const task = getTask('slcp_distractors');
    const sims = await simulateFromPrior(task, 200, { seed: 7 });
    const nre = new NRE({ prior: task.prior, variant: 'b', hidden: 20, embedding: { hidden: [32], outputDim: 8 } });
    nre.appendSimulations(sims.theta, sims.x);
    await nre.train({ seed: 8, maxEpochs: 1 });
    const webgpu = await selectBackend('webgpu');
    const theta = sims.theta.subarray(0, 5 * 100);
    const xo = Float64Array.from(sims.x.subarray(0, 100));
    const est = nre.estimator;
    for (const x of [xo, Float64Array.from(sims.x.subarray(0, 100 * 100))]) {
      const onCpu = est.logRatio(theta, 100, x);
      const onGpu = await est.logRatioOn(webgpu, theta, 100, x);
      for (let i = 0; i < 100; i++) expect(Math.abs(onGpu[i]! - onCpu[i]!), `row ${i}`).toBeLessThan(1e-5 + 1e-5 * Math.abs(onCpu[i]!));
    }
    const lpCpu = await nre.buildPosterior().logProb(theta.subarray(0, 50), { x: xo });
    const lpGpu = await nre.buildPosterior({ backend: 'webgpu' }).logProb(theta.subarray(0, 50), { x: xo });
    for (let i = 0; i < 10; i++) expect(Math.abs(lpGpu[i]! - lpCpu[i]!)).toBeLessThan(1e-4);
  }, 60_000);

  it('rejects a missing or mis-sized embedding by name', async () => {
    const shape = { thetaDim: 2, xDim: 6, hidden: 8, blocks: 1 };
    const theta = Float64Array.from({ length: 2 * 40 }, (_, i) => Math.sin(i)), x = Float64Array.from({ length: 6 * 40 }, (_, i) => Math.cos(i));
    const loss = { variant: 'a' as const, classes: 2, gamma: 1, lambda: 100 };
    await expect(trainRatioWebGpu(c, { ...shape, embeddingSizes: [6, 4] }, loss, theta, x, { seed: 1 }))
      .rejects.toThrow(/Float32Array for `options.embeddingParams`/);
    await expect(trainRatioWebGpu(c, { ...shape, embeddingSizes: [6, 4] }, loss, theta, x, { seed: 1, embeddingParams: new Float32Array(27) }))
      .rejects.toThrow(/`options.embeddingParams` to hold 1 rows of 28 values but received 27/);
    await expect(trainRatioWebGpu(c, { ...shape, embeddingSizes: [5, 4] }, loss, theta, x, { seed: 1, embeddingParams: new Float32Array(24) }))
      .rejects.toThrow(/`embeddingSizes\[0\]` to be xDim = 6 but received 5/);
    await expect(trainRatioWebGpu(c, shape, loss, theta, x, { seed: 1, embeddingParams: new Float32Array(28) }))
      .rejects.toThrow(/no `embeddingParams` without `embeddingSizes`/);
  });
});
