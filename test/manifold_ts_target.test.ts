// Reverse-KL training of ManifoldFlow to a TypeScript target (issue 5, part 3: "the target can be
// a native kernel or a TypeScript function"): the step's gradient against central differences of
// the loss, training to the same parameters as the native target for a TypeScript copy of it, the
// evaluation, and bad target output.
import { describe, expect, it } from 'vitest';
import { ManifoldFlow, type ManifoldFlowOptions, type TargetFunction } from '../src/manifold/flow.js';
import { native } from '../src/native.js';

const small = (space: 'torus' | 'sphere'): ManifoldFlowOptions => ({ space, dim: 2, layers: 2, bins: 4, hidden: 5, hiddenLayers: 1 });

/** torus-unimodal of kernels/manifold/targets.h, in TypeScript. */
const torusUnimodal: TargetFunction = (points, n) => {
  const logDensity = new Float64Array(n), gradient = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const a = points[2 * i]! - 4.18, b = points[2 * i + 1]! - 5.96;
    logDensity[i] = Math.cos(a) + Math.cos(b);
    gradient[2 * i] = -Math.sin(a);
    gradient[2 * i + 1] = -Math.sin(b);
  }
  return { logDensity, gradient };
};

/** sphere-vmf4 of targets.h: log Σ_k exp(10 μ_kᵀx), in TypeScript. */
const mu = [[0.7, 1.5], [-1, 1], [0.6, 0.5], [-0.7, 4]].map(([a, b]) => [Math.cos(a!) * Math.cos(b!), Math.cos(a!) * Math.sin(b!), Math.sin(a!)]);
const sphereVmf4: TargetFunction = (points, n) => {
  const logDensity = new Float64Array(n), gradient = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) {
    const e = mu.map((m) => 10 * (m[0]! * points[3 * i]! + m[1]! * points[3 * i + 1]! + m[2]! * points[3 * i + 2]!));
    const mx = Math.max(...e);
    const w = e.map((v) => Math.exp(v - mx));
    const sum = w.reduce((s, v) => s + v, 0);
    logDensity[i] = mx + Math.log(sum);
    for (let j = 0; j < 3; j++) gradient[3 * i + j] = mu.reduce((s, m, k) => s + (10 * w[k]! * m[j]!) / sum, 0);
  }
  return { logDensity, gradient };
};

interface FlowKernels {
  manifoldFlowSample(spec: unknown, params: Float64Array, n: number, seed: number, stream: number, x: Float64Array, logq: Float64Array): void;
  manifoldFlowTabulatedLoss(spec: unknown, params: Float64Array, options: object, logp: Float64Array, gradLogp: Float64Array, grad: Float64Array): number;
}
const k = native as unknown as FlowKernels;

/** The step loss mean(log q − log p̃) at the step's draws for `params`, with the TS target. */
function stepLoss(flow: ManifoldFlow, target: TargetFunction, params: Float64Array, n: number, seed: number, step: number): number {
  const x = new Float64Array(n * flow.outputWidth), lq = new Float64Array(n);
  k.manifoldFlowSample(flow.spec, params, n, seed, step, x, lq);
  const { logDensity } = target(x, n);
  let s = 0;
  for (let i = 0; i < n; i++) s += lq[i]! - logDensity[i]!;
  return s / n;
}

describe('ManifoldFlow: TypeScript targets', () => {
  it('the tabulated step gradient matches central differences of the loss (T² and S²)', () => {
    for (const [space, target] of [['torus', torusUnimodal], ['sphere', sphereVmf4]] as const) {
      const flow = new ManifoldFlow(small(space), 3);
      flow.params = flow.params.map((v, i) => v * 30 + 0.1 * Math.sin(i));
      const n = 5, seed = 11, step = 2;
      const x = new Float64Array(n * flow.outputWidth), lq = new Float64Array(n);
      k.manifoldFlowSample(flow.spec, flow.params, n, seed, step, x, lq);
      const t = target(x, n);
      const grad = new Float64Array(flow.paramCount);
      const loss = k.manifoldFlowTabulatedLoss(flow.spec, flow.params, { seed, step, batchSize: n }, t.logDensity, t.gradient, grad);
      expect(loss).toBeCloseTo(stepLoss(flow, target, flow.params, n, seed, step), 12);
      let worst = 0;
      for (let j = 0; j < flow.paramCount; j++) {
        const p = flow.params.slice();
        const h = 1e-6;
        p[j] += h;
        const up = stepLoss(flow, target, p, n, seed, step);
        p[j] -= 2 * h;
        const down = stepLoss(flow, target, p, n, seed, step);
        const fd = (up - down) / (2 * h);
        worst = Math.max(worst, Math.abs(fd - grad[j]!) / Math.max(1e-2, Math.abs(fd)));
      }
      expect(worst, space).toBeLessThan(1e-5);
    }
  });

  it('trains to the parameters the native target trains to, for a TypeScript copy of it', async () => {
    for (const [space, name, fn] of [['torus', 'torus-unimodal', torusUnimodal], ['sphere', 'sphere-vmf4', sphereVmf4]] as const) {
      const opts = { steps: 25, batchSize: 64, seed: 5, learningRate: 3e-3, clipMaxNorm: 10, evalSize: 512, threads: 1 };
      const a = new ManifoldFlow(small(space), 1), b = new ManifoldFlow(small(space), 1);
      const ra = await a.train({ ...opts, target: name });
      const rb = await b.train({ ...opts, target: fn });
      // Math.cos / Math.exp against libm: the targets may differ in the last ulp, nothing more
      for (let j = 0; j < a.paramCount; j++) expect(Math.abs(b.params[j]! - a.params[j]!), `${space} ${j}`).toBeLessThan(1e-10 * (1 + Math.abs(a.params[j]!)));
      expect(rb.historyLoss.length).toBe(ra.historyLoss.length);
      expect(rb.evaluation!.kl).toBeCloseTo(ra.evaluation!.kl, 8);
      expect(rb.evaluation!.ess).toBeCloseTo(ra.evaluation!.ess, 6);
      expect(rb.historyLoss[rb.historyLoss.length - 1]!).toBeLessThan(rb.historyLoss[0]!);
    }
  });

  it('names the target function when its output is wrong', async () => {
    const flow = new ManifoldFlow(small('torus'), 2);
    const train = (target: TargetFunction) => flow.train({ steps: 2, batchSize: 8, target });
    await expect(train(() => ({ logDensity: new Float64Array(3), gradient: new Float64Array(16) }))).rejects.toThrow(/target function must return .*Float64Array\(8\)/);
    await expect(train(() => ({ logDensity: new Float64Array(8), gradient: new Float64Array(3) }))).rejects.toThrow(/gradient is/);
    await expect(train(() => ({ logDensity: new Float64Array(8).fill(NaN), gradient: new Float64Array(16) }))).rejects.toThrow(/non-finite log density \(NaN\) at point 0/);
    await expect(flow.train({ steps: 2, target: torusUnimodal, loss: 'nll' })).rejects.toThrow(/reverse KL/);
    const ac = new AbortController();
    ac.abort();
    await expect(flow.train({ steps: 2, target: torusUnimodal, signal: ac.signal })).rejects.toThrow(/aborted/);
  });
});
