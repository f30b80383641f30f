// NRE on the WebGPU device (src/backend/resnet_webgpu.ts, ratio_train_webgpu.ts,
// kernels/nn/resnet.wgsl): the device gradient against central differences of the CPU's double
// loss, training with the CPU trainer's randomness (losses tracking the CPU's epoch by epoch), the
// posterior's potential on the device, and the refusals. Runs on llvmpipe where there is no GPU;
// skipped where WebGPU cannot start (backend_ops.test.ts fails CI in that case).
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/backend/backend.js';
import {
  drawBatchPairs, initialRatioParams, ratioLogitsPerRow, ratioNetSize, type RatioBatch, type RatioLossSpec,
} from '../src/backend/ratio_ops.js';
import { nreLossGradientWebGpu } from '../src/backend/resnet_webgpu.js';
import { trainRatioWebGpu } from '../src/backend/ratio_train_webgpu.js';
import { openWebGpu, type WebGpuContext } from '../src/backend/webgpu.js';
import { stageBackends, trainMethod } from '../src/inference/methods.js';
import { NRE } from '../src/inference/nre.js';
import { native } from '../src/native.js';
import { PhiloxStream } from '../src/random/philox.js';
import { getTask, referenceObservation, simulateFromPrior } from '../src/tasks/index.js';

const ctx: WebGpuContext | string = await openWebGpu().catch((e: Error) => e.message);
const gpu = typeof ctx === 'string' ? describe.skip : describe;

const LOSSES: RatioLossSpec[] = [
  { variant: 'a', classes: 2, gamma: 1, lambda: 100 },
  { variant: 'b', classes: 4, gamma: 1, lambda: 100 },
  { variant: 'c', classes: 3, gamma: 2.5, lambda: 100 },
  { variant: 'bnre', classes: 2, gamma: 1, lambda: 7 },
];

/** A batch of nb rows of random z-scored θ [nb, D], x [nb, C] and the CPU trainer's contrast draws. */
function randomBatch(r: PhiloxStream, loss: RatioLossSpec, D: number, C: number, nb: number): RatioBatch {
  const A = ratioLogitsPerRow(loss);
  const pairs = new Int32Array(2 * nb * A);
  drawBatchPairs(r, loss, Int32Array.from({ length: nb }, (_, i) => i), pairs, 0);
  const f32 = (k: number) => Float32Array.from({ length: k }, () => r.normal());
  return { theta: f32(nb * D), x: f32(nb * C), pairTheta: Int32Array.from({ length: nb * A }, (_, p) => pairs[2 * p]!) };
}

/** The batch loss in double on the CPU (resnet_forward, then ratio_loss), parameters as given. */
function cpuLossDouble(loss: RatioLossSpec, D: number, C: number, H: number, blocks: number, params: Float64Array, b: RatioBatch): number {
  const A = ratioLogitsPerRow(loss), m = b.pairTheta.length, W = D + C;
  const input = new Float64Array(m * W);
  for (let p = 0; p < m; p++) {
    for (let d = 0; d < D; d++) input[p * W + d] = b.theta[b.pairTheta[p]! * D + d]!;
    for (let j = 0; j < C; j++) input[p * W + D + j] = b.x[Math.floor(p / A) * C + j]!;
  }
  const logits = new Float64Array(m);
  native.nreNetForward(Int32Array.of(W, H, blocks), m, params, input, logits);
  return native.nreLoss(loss.variant, m / A, loss.classes, loss.gamma, loss.lambda, logits);
}

gpu(`NRE on WebGPU${typeof ctx === 'string' ? ` (unavailable: ${ctx})` : ''}`, () => {
  const c = ctx as WebGpuContext;

  for (const loss of LOSSES) {
    it(`${loss.variant}: the device's loss gradient matches central differences of the CPU's double loss`, async () => {
      const shape = { thetaDim: 2, xDim: 3, hidden: 6, blocks: 2 };
      const r = new PhiloxStream(31, 1);
      // weights well away from the initialisation, so every ReLU and residual path carries gradient
      const params = Float32Array.from({ length: ratioNetSize(shape).paramCount }, () => 0.5 * r.normal());
      const batch = randomBatch(r, loss, 2, 3, 12);
      const { loss: value, grads } = await nreLossGradientWebGpu(c, shape, params, loss, batch);
      const p64 = Float64Array.from(params);
      expect(value).toBeCloseTo(cpuLossDouble(loss, 2, 3, 6, 2, p64, batch), 5);
      const h = 1e-6;
      for (let j = 0; j < p64.length; j++) {
        const up = p64.slice(), down = p64.slice();
        up[j]! += h;
        down[j]! -= h;
        const fd = (cpuLossDouble(loss, 2, 3, 6, 2, up, batch) - cpuLossDouble(loss, 2, 3, 6, 2, down, batch)) / (2 * h);
        const err = Math.abs(fd - grads[j]!);
        // f32 gradients: a few ulp of the summed terms
        expect(err, `parameter ${j}: device ${grads[j]}, central difference ${fd}`).toBeLessThan(2e-5 + 1e-4 * Math.abs(fd));
      }
    });
  }

  // 300 gaussian_linear simulations (10-D θ and x), the classifier at 25 hidden units (2 blocks) to
  // keep llvmpipe's time down, 2 epochs: 270 training rows in batches of 200 and 70, 30 validation
  // rows. Measured: |Δ loss| ≤ 7.6e-7 (NRE-B) and 2e-7 (NRE-A) at 50 hidden units.
  for (const variant of ['b', 'a'] as const) {
    it(`NRE-${variant.toUpperCase()}: NRE.train({ backend: 'webgpu' }) takes the CPU trainer's steps: per-epoch losses within 1e-4`, async () => {
      const task = getTask('gaussian_linear');
      const sims = await simulateFromPrior(task, 300, { seed: 5 });
      const fits = [];
      for (const backend of ['cpu', 'webgpu'] as const) {
        const nre = new NRE({ prior: task.prior, variant, hidden: 25 });
        nre.appendSimulations(sims.theta, sims.x);
        fits.push(await nre.train({ seed: 6, maxEpochs: 2, backend }));
      }
      const [cpu, gpuFit] = fits as [Awaited<ReturnType<NRE['train']>>, Awaited<ReturnType<NRE['train']>>];
      expect(gpuFit.epochs).toBe(cpu.epochs);
      expect(gpuFit.bestEpoch).toBe(cpu.bestEpoch);
      for (let e = 0; e < cpu.epochs; e++) {
        expect(Math.abs(gpuFit.trainLoss[e]! - cpu.trainLoss[e]!), `epoch ${e + 1} training loss`).toBeLessThan(1e-4);
        expect(Math.abs(gpuFit.validationLoss[e]! - cpu.validationLoss[e]!), `epoch ${e + 1} validation loss`).toBeLessThan(1e-4);
      }
    }, 60_000);
  }

  it("the posterior's potential runs on the device: the same slice-sampler draws as on the CPU", async () => {
    const task = getTask('gaussian_linear');
    const sims = await simulateFromPrior(task, 300, { seed: 7 });
    const nre = new NRE({ prior: task.prior, variant: 'b', hidden: 20 });
    nre.appendSimulations(sims.theta, sims.x);
    await nre.train({ seed: 8, maxEpochs: 2 });
    const xo = referenceObservation('gaussian_linear', 1);
    const options = { x: xo, seed: 9, chains: 4, warmup: 5, thin: 1, init: 'prior' as const };
    const onCpu = await nre.buildPosterior().sample(40, options);
    const onGpu = await nre.buildPosterior({ backend: 'webgpu' }).sample(40, options);
    // The potentials agree to f32 rounding, so the slice sampler's decisions coincide but for a
    // draw within rounding of a slice boundary: the draws agree to 1e-3 (bit for bit as measured)
    let worst = 0;
    for (let i = 0; i < onCpu.samples.length; i++) worst = Math.max(worst, Math.abs(onCpu.samples[i]! - onGpu.samples[i]!));
    expect(worst).toBeLessThan(1e-3);
    const theta = onCpu.samples.subarray(0, 10 * task.prior.dim);
    const lpCpu = await nre.buildPosterior().logProb(theta, { x: xo });
    const lpGpu = await nre.buildPosterior({ backend: 'webgpu' }).logProb(theta, { x: xo });
    for (let i = 0; i < 10; i++) expect(Math.abs(lpGpu[i]! - lpCpu[i]!)).toBeLessThan(1e-4);
  }, 60_000);

  it('stageBackends: the NRE methods train and sample (the MCMC potential) on webgpu, with or without an embedding', async () => {
    const task = getTask('gaussian_linear');
    for (const method of ['nre-a', 'nre-b', 'nre-c', 'bnre', 'snre'] as const) {
      expect(await stageBackends(task, method, 'webgpu'), method).toMatchObject({ simulate: 'webgpu', train: 'webgpu', sample: 'webgpu', notes: [] });
    }
    expect(await stageBackends(task, 'nre-b', 'webgpu', 'maf', true)).toMatchObject({ simulate: 'webgpu', train: 'webgpu', sample: 'webgpu', notes: [] });
    expect(await stageBackends(task, 'nre-b', 'cpu')).toMatchObject({ train: 'cpu', sample: 'cpu' });
  });

  it("trainMethod('nre-b', { backend: 'webgpu' }) simulates and trains on the device: the posterior's log density within 1e-3 of the cpu run's, not bit-identical", async () => {
    const task = getTask('gaussian_linear');
    const options = { method: 'nre-b' as const, budget: 200, seed: 4, maxEpochs: 1 };
    const [cpu, dev] = [await trainMethod(task, options), await trainMethod(task, { ...options, backend: 'webgpu' })];
    const xo = referenceObservation('gaussian_linear', 1);
    const theta = task.prior.sample(20, { seed: 5 });
    const [a, b] = [await cpu.posterior.logProb(theta, { x: xo }), await dev.posterior.logProb(theta, { x: xo })];
    let worst = 0;
    for (let i = 0; i < 20; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    expect(worst).toBeLessThan(1e-3);
    // the device's f32 simulations and training differ from the CPU's by rounding: identical values
    // would mean that neither ran on the device
    expect(worst).toBeGreaterThan(0);
  }, 60_000);

  it('validates the device trainer inputs by name', async () => {
    const shape = { thetaDim: 2, xDim: 1, hidden: 4, blocks: 1 };
    const loss = LOSSES[1]!;
    const theta = new Float64Array(2 * 50), x = new Float64Array(50);
    await expect(trainRatioWebGpu(c, shape, loss, theta, x.subarray(0, 49), { seed: 1 })).rejects.toThrow(/`x` to hold 50 rows of 1 values but received 49/);
    await expect(trainRatioWebGpu(c, shape, loss, theta, x, { seed: 1, batchSize: 0 })).rejects.toThrow(/`batchSize`/);
    await expect(trainRatioWebGpu(c, shape, loss, theta, x, { seed: 1, batchSize: 3 })).rejects.toThrow(/`batchSize` of at least 4 .* but received 3/);
    // NRE-B with 4 atoms draws 3 distinct contrasts per row: 50 rows at 5 % leave 2 validation rows
    await expect(trainRatioWebGpu(c, shape, loss, theta, x, { seed: 1, validationFraction: 0.05 })).rejects.toThrow(/at least 4 training and 4 validation rows/);
    const nan = theta.slice();
    nan[3] = NaN;
    await expect(trainRatioWebGpu(c, shape, loss, nan, x, { seed: 1 })).rejects.toThrow(/finite values in `theta` but index 3/);
    await expect(trainRatioWebGpu(c, { ...shape, hidden: 0 }, loss, theta, x, { seed: 1 })).rejects.toThrow(/`hidden`/);
  });
});


describe('ops nre.log_ratio and nre.train: input checks (every backend shares them)', () => {
  const shape = { thetaDim: 2, xDim: 1, hidden: 4, blocks: 1 };
  const loss = LOSSES[1]!; // NRE-B, 4 atoms
  const net = () => ({
    ...shape, params: initialRatioParams(shape, 1), thetaMean: new Float64Array(2), thetaStd: Float64Array.of(1, 1),
    xMean: new Float64Array(1), xStd: Float64Array.of(1),
  });

  it('nre.log_ratio names the bad argument', async () => {
    await expect(cpuBackend.nreLogRatio(net(), new Float64Array(3), new Float64Array(1))).rejects.toThrow(/`theta` to hold whole rows of 2 values but received 3/);
    await expect(cpuBackend.nreLogRatio(net(), new Float64Array(4), new Float64Array(3))).rejects.toThrow(/`x` to be a Float64Array of 1 values \(one observation\) or 2/);
    await expect(cpuBackend.nreLogRatio({ ...net(), params: new Float32Array(3) }, new Float64Array(4), new Float64Array(1))).rejects.toThrow(/Expected \d+ values in `params` but received 3/);
    await expect(cpuBackend.nreLogRatio({ ...net(), xStd: Float64Array.of(NaN) }, new Float64Array(4), new Float64Array(1))).rejects.toThrow(/finite values in `xStd` but index 0 is NaN/);
  });

  it('nre.train names the bad batch field', async () => {
    const r = new PhiloxStream(2, 0);
    const good = randomBatch(r, loss, 2, 1, 6);
    const p = initialRatioParams(shape, 1);
    await expect(cpuBackend.nreTrain(shape, p, loss, [{ ...good, pairTheta: good.pairTheta.slice(1) }])).rejects.toThrow(/`batches\[0\]\.pairTheta` to be an Int32Array of 24 batch rows \(4 per row\)/);
    const outOfRange = good.pairTheta.slice();
    outOfRange[5] = 6;
    await expect(cpuBackend.nreTrain(shape, p, loss, [good, { ...good, pairTheta: outOfRange }])).rejects.toThrow(/`batches\[1\]\.pairTheta` to hold rows in \[0, 6\) but index 5 is 6/);
    await expect(cpuBackend.nreTrain(shape, p, loss, [{ ...good, theta: good.theta.subarray(0, 6) }])).rejects.toThrow(/`batches\[0\]\.theta` to be a Float32Array of 4 to 65536 rows of 2 values/);
    await expect(cpuBackend.nreTrain(shape, p, { ...loss, classes: 1 }, [good])).rejects.toThrow(/`classes`/);
    await expect(cpuBackend.nreTrain(shape, p, loss, [good], { learningRate: -1 })).rejects.toThrow(/`learningRate`/);
  });
});
