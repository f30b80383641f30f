// The device-resident MLP of the WebGPU backend (src/backend/nn_webgpu.ts, kernels/nn/dense.wgsl):
// what the agreement harness (backend_ops.test.ts) does not cover — training that learns, batches
// of different sizes through one network, and bad input. Runs on llvmpipe where there is no GPU;
// skipped where WebGPU cannot start (backend_ops.test.ts fails CI in that case).
import { describe, expect, it } from 'vitest';
import { openWebGpu, type WebGpuContext } from '../src/backend/webgpu.js';
import { WebGpuMlp } from '../src/backend/nn_webgpu.js';
import { mafLogProbWebGpu, mafSampleWebGpu } from '../src/backend/flow_webgpu.js';
import { MAF } from '../src/flows/maf.js';
import { NPE } from '../src/inference/npe.js';
import { c2st } from '../src/diagnostics/c2st.js';
import { crossValidateWebGpu } from '../src/diagnostics/c2st_webgpu.js';
import { native as nativeAddon } from '../src/native.js';
import { createPrior } from '../src/priors.js';
import { cpuMlpForward, cpuMlpTrain } from '../src/backend/mlp_cpu.js';
import { mlpParamCount } from '../src/inference/embedding.js';
import { PhiloxStream } from '../src/random/philox.js';
import { cpuBackend, selectBackend } from '../src/backend/backend.js';

const ctx: WebGpuContext | string = await openWebGpu().catch((e: Error) => e.message);
const gpu = typeof ctx === 'string' ? describe.skip : describe;

function initParams(sizes: number[], seed: bigint): Float32Array {
  const r = new PhiloxStream(seed, 0n);
  return Float32Array.from({ length: mlpParamCount(sizes) }, () => 0.5 * r.normal());
}

gpu(`WebGpuMlp${typeof ctx === 'string' ? ` (unavailable: ${ctx})` : ''}`, () => {
  const c = ctx as WebGpuContext;

  it('learns XOR-like labels: the BCE loss falls and matches the CPU float kernels step for step', async () => {
    const spec = { sizes: [2, 16, 16, 1], activation: 'tanh' as const };
    const params = initParams(spec.sizes, 3n);
    const r = new PhiloxStream(4n, 0n);
    const batches = Array.from({ length: 150 }, () => {
      const x = Float32Array.from({ length: 2 * 64 }, () => 2 * r.uniform() - 1);
      const target = Float32Array.from({ length: 64 }, (_, i) => (x[2 * i]! * x[2 * i + 1]! > 0 ? 1 : 0));
      return { x, target };
    });
    const mlp = WebGpuMlp.create(c, spec, params);
    try {
      const losses = await mlp.train(batches, { loss: 'bce', adam: { lr: 1e-2 } });
      const cpu = cpuMlpTrain(spec, params, batches, { loss: 'bce', adam: { lr: 1e-2 } });
      const mean = (a: Float64Array, from: number, to: number) => a.slice(from, to).reduce((s, v) => s + v, 0) / (to - from);
      expect(mean(losses, 0, 10)).toBeGreaterThan(0.6);
      expect(mean(losses, 140, 150)).toBeLessThan(0.35);
      // 150 Adam steps amplify f32 differences a little; still far below the loss's own change
      for (let i = 0; i < losses.length; i++) expect(Math.abs(losses[i]! - cpu.losses[i]!)).toBeLessThan(1e-3);
      const p = await mlp.getParams();
      expect(Math.max(...p.map((v, i) => Math.abs(v - cpu.params[i]!)))).toBeLessThan(1e-3);
    } finally {
      mlp.destroy();
    }
  });

  it('evaluates batches of different sizes through one network (buffers regrow), as the CPU does', async () => {
    const spec = { sizes: [3, 40, 2], activation: 'silu' as const };
    const params = initParams(spec.sizes, 5n);
    const mlp = WebGpuMlp.create(c, spec, params);
    try {
      for (const n of [1, 17, 300, 5]) {
        const x = Float32Array.from({ length: 3 * n }, (_, i) => Math.sin(i + n));
        const got = await mlp.forward(x, n);
        const want = cpuMlpForward(spec, params, x, n);
        expect(got.length).toBe(want.length);
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5 + 1e-5 * Math.abs(want[i]!));
      }
    } finally {
      mlp.destroy();
    }
  });

  it('MAF and NSF on WebGPU: log q at the samples equals the sampler\'s log q (the inverse inverts); bad context is rejected', async () => {
    const x = Float32Array.of(0.7);
    for (const transform of [{ kind: 'affine' }, { kind: 'rqSpline' }] as const) {
      const flow = new MAF({ dim: 2, contextDim: 1, hidden: 16, hiddenLayers: 2, layers: 4, transform }, { seed: 2, precision: 'float32' });
      const r = new PhiloxStream(8n, 0n);
      for (let j = 0; j < flow.params.length; j++) if (flow.mask[j]) flow.params[j] = 0.3 * r.normal();
      const s = await mafSampleWebGpu(c, flow, x, 500, 11);
      const lq = await mafLogProbWebGpu(c, flow, s.theta, x);
      // the forward of the inverse is the identity up to f32 rounding
      for (let i = 0; i < 500; i++) expect(Math.abs(lq[i]! - s.logProb[i]!), transform.kind).toBeLessThan(2e-3 + 1e-5 * Math.abs(lq[i]!));
    }
    const maf = new MAF({ dim: 2, contextDim: 1 }, { precision: 'float32' });
    await expect(mafLogProbWebGpu(c, maf, new Float32Array(4), Float32Array.of(1, 2, 3))).rejects.toThrow(/1 or 2 values in `x`/);
    await expect(mafLogProbWebGpu(c, maf, new Float32Array(3), x)).rejects.toThrow(/whole rows of 2/);
    await expect(mafSampleWebGpu(c, maf, null, 4, 1)).rejects.toThrow(/Float32Array or DeviceArray for `x`/);
  });

  it('NPEPosterior.sampleAsync on webgpu draws what sample draws on the cpu (same seeds), for MAF and NSF', async () => {
    for (const densityEstimator of ['maf', 'nsf'] as const) {
      const prior = createPrior({ kind: 'normal', loc: [0, 0], scale: [2, 1] });
      const r = new PhiloxStream(12n, 0n);
      const theta = Float64Array.from({ length: 2 * 400 }, (_, i) => (i % 2 ? 1 : 2) * r.normal());
      const x = Float64Array.from(theta, (t) => t + 0.5 * r.normal());
      const npe = new NPE({ prior, densityEstimator, hidden: 16, layers: 2 });
      npe.appendSimulations(theta, x);
      await npe.train({ seed: 1, maxEpochs: 3, threads: 1 });
      const posterior = npe.buildPosterior();
      const xo = Float64Array.of(0.5, -0.3);
      const cpu = posterior.sample(300, { x: xo, seed: 4 });
      const gpu = await posterior.sampleAsync(300, { x: xo, seed: 4, backend: 'webgpu' });
      expect(gpu.length).toBe(cpu.length);
      // z within the op's tolerance, scaled by θ's training std (≤ ~2.2 here)
      for (let i = 0; i < cpu.length; i++) expect(Math.abs(gpu[i]! - cpu[i]!), `${densityEstimator} ${i}`).toBeLessThan(5e-3 + 3e-4 * Math.abs(cpu[i]!));
      expect(Array.from(await posterior.sampleAsync(300, { x: xo, seed: 4 }))).toEqual(Array.from(cpu)); // default: the cpu, bit for bit
    }
  });

  it('C2ST on webgpu: the same folds, initial weights and batches as the cpu classifier, so the same accuracies and epochs', async () => {
    // 2-D N(0, I) against N((1, 0), I), 150 rows each, 15 epochs per fold (sklearn's loop, capped)
    const r = new PhiloxStream(3n, 0n);
    const X = Float64Array.from({ length: 300 }, () => r.normal());
    const Y = Float64Array.from({ length: 300 }, (_, k) => r.normal() + (k % 2 === 0 ? 1 : 0));
    const cpu = await c2st(X, Y, 2, { seed: 5, maxEpochs: 15 });
    const gpu = await c2st(X, Y, 2, { seed: 5, maxEpochs: 15, backend: 'webgpu' });
    // f32 training in another summation order: equal unless a test point's logit sits at ~1e-6 of 0
    expect(Math.abs(gpu - cpu)).toBeLessThanOrEqual(1 / 60 + 1e-12);
    expect(cpu).toBeGreaterThan(0.6);
    const labels = new Uint8Array(300).fill(1, 150);
    const data = Float64Array.from([...X, ...Y]);
    const folds = await crossValidateWebGpu(c, data, labels, 2, { seed: 5, folds: 5, hiddenWidth: 20, maxEpochs: 15 });
    const native = await nativeAddon.classifierCrossValidateAsync(data, labels, 300, 2, { seed: 5, folds: 5, maxEpochs: 15 }, undefined, undefined);
    folds.forEach((f, k) => {
      expect(f.epochs).toBe(native.epochs[k]);
      expect(Math.abs(f.lastLoss - native.lastLoss[k]!)).toBeLessThan(1e-4);
    });
    await expect(c2st(X, Y, 2, { backend: 'cuda' })).rejects.toThrow(/cuda/i);
  });

  it('DeviceArrays: uploaded once, they feed the MLP and MAF ops as the host arrays do; wrong backend and use after release are errors', async () => {
    const gpu = await selectBackend('webgpu');
    const spec = { sizes: [3, 16, 2], activation: 'tanh' as const };
    const params = initParams(spec.sizes, 7n);
    const x = Float32Array.from({ length: 3 * 50 }, (_, i) => Math.sin(i));
    const dx = await gpu.upload(x);
    expect(dx.backend).toBe('webgpu');
    expect(Array.from(await dx.read())).toEqual(Array.from(x));
    expect(Array.from(await gpu.mlpForward(spec, params, dx, 50))).toEqual(Array.from(await gpu.mlpForward(spec, params, x, 50)));
    const dout = await gpu.upload(new Float32Array(100).fill(1));
    expect(Array.from(await gpu.mlpGradients(spec, params, dx, dout, 50))).toEqual(Array.from(await gpu.mlpGradients(spec, params, x, new Float32Array(100).fill(1), 50)));
    const maf = new MAF({ dim: 2, contextDim: 1, hidden: 8, layers: 2 }, { seed: 3, precision: 'float32' });
    const theta = Float32Array.from({ length: 40 }, (_, i) => Math.cos(i));
    const [dTheta, dCtx] = [await gpu.upload(theta), await gpu.upload(Float32Array.of(0.3))];
    expect(Array.from(await gpu.mafLogProb(maf, dTheta, dCtx))).toEqual(Array.from(await gpu.mafLogProb(maf, theta, Float32Array.of(0.3))));
    // the cpu backend's arrays, and the wrong backend
    const hx = await cpuBackend.upload(x);
    expect(Array.from(await cpuBackend.mlpForward(spec, params, hx, 50))).toEqual(Array.from(await cpuBackend.mlpForward(spec, params, x, 50)));
    await expect(gpu.mlpForward(spec, params, hx, 50)).rejects.toThrow(/DeviceArray of the cpu backend; this op runs on webgpu/);
    await expect(cpuBackend.mlpForward(spec, params, dx, 50)).rejects.toThrow(/DeviceArray of the webgpu backend/);
    await expect(gpu.upload(Float32Array.of(1, NaN))).rejects.toThrow(/`values` must be finite; element 1/);
    dx.release();
    await expect(gpu.mlpForward(spec, params, dx, 50)).rejects.toThrow(/released/);
    for (const a of [dout, dTheta, dCtx, hx]) a.release();
  });

  it('rejects bad input by name, and use after destroy', async () => {
    const spec = { sizes: [2, 4, 1], activation: 'relu' as const };
    const params = initParams(spec.sizes, 6n);
    expect(() => WebGpuMlp.create(c, { sizes: [2], activation: 'relu' }, params)).toThrow(/`sizes`/);
    expect(() => WebGpuMlp.create(c, { sizes: [2, 4, 1], activation: 'gelu' as never }, params)).toThrow(/`activation`/);
    expect(() => WebGpuMlp.create(c, spec, new Float32Array(3))).toThrow(/17 elements in `params`/);
    const mlp = WebGpuMlp.create(c, spec, params);
    await expect(mlp.forward(new Float32Array(5), 2)).rejects.toThrow(/4 elements in `x`/);
    await expect(mlp.forward(Float32Array.of(1, NaN), 1)).rejects.toThrow(/`x` must be finite; element 1/);
    await expect(mlp.forward(new Float32Array(2), 0)).rejects.toThrow(/`n`/);
    const batch = { x: new Float32Array(4), target: Float32Array.of(0, 1) };
    await expect(mlp.train([batch], { loss: 'hinge' as never, adam: { lr: 1e-3 } })).rejects.toThrow(/`loss`/);
    await expect(mlp.train([batch], { loss: 'bce', adam: { lr: -1 } })).rejects.toThrow(/`adam.lr`/);
    await expect(mlp.train([{ x: new Float32Array(3), target: new Float32Array(1) }], { loss: 'bce', adam: { lr: 1e-3 } })).rejects.toThrow(/batches\[0\]\.x/);
    mlp.destroy();
    await expect(mlp.getParams()).rejects.toThrow(/destroyed/);
  });
});
