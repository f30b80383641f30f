// Reverse-KL training of ManifoldFlow to TypeScript-function targets (src/manifold/flow.ts
// ManifoldTargetFunction): TypeScript copies of the native targets (kernels/manifold/targets.h)
// train to the native target's parameters, the loss gradient against finite differences, and
// clear errors for bad target output.
import { describe, expect, it } from 'vitest';
import { ManifoldFlow, type ManifoldFlowOptions, type ManifoldTargetFunction } from '../src/manifold/flow.js';

const small = (space: 'torus' | 'sphere'): ManifoldFlowOptions => ({ space, dim: 2, layers: 2, bins: 4, hidden: 5, hiddenLayers: 1 });

/** sphere-vmf4 in TypeScript: log Σ_k exp(10 μ_kᵀx), in the native kernel's order of operations. */
const vmf4: ManifoldTargetFunction = {
  name: 'vmf4-ts',
  logDensityAndGrad(x, n) {
    const lat = [0.7, -1, 0.6, -0.7], lon = [1.5, 1, 0.5, 4];
    const mu = lat.map((a, k) => [Math.cos(a) * Math.cos(lon[k]!), Math.cos(a) * Math.sin(lon[k]!), Math.sin(a)]);
    const logDensity = new Float64Array(n), grad = new Float64Array(3 * n);
    for (let r = 0; r < n; r++) {
      const v = x.subarray(3 * r, 3 * r + 3);
      const e = mu.map((m) => 10 * (m[0]! * v[0]! + m[1]! * v[1]! + m[2]! * v[2]!));
      const mx = Math.max(...e);
      let s = 0;
      for (let k = 0; k < 4; k++) {
        e[k] = Math.exp(e[k]! - mx);
        s += e[k]!;
      }
      for (let k = 0; k < 4; k++) e[k]! /= s;
      logDensity[r] = mx + Math.log(s);
      for (let j = 0; j < 3; j++) {
        let g = 0;
        for (let k = 0; k < 4; k++) g += 10 * e[k]! * mu[k]![j]!;
        grad[3 * r + j] = g;
      }
    }
    return { logDensity, grad };
  },
};

/** torus-correlated in TypeScript: cos(θ₁ + θ₂ − 1.94). */
const correlated: ManifoldTargetFunction = {
  name: 'correlated-ts',
  logDensityAndGrad(x, n) {
    const logDensity = new Float64Array(n), grad = new Float64Array(2 * n);
    for (let r = 0; r < n; r++) {
      const u = x[2 * r]! + x[2 * r + 1]! - 1.94;
      logDensity[r] = Math.cos(u);
      grad[2 * r] = grad[2 * r + 1] = -Math.sin(u);
    }
    return { logDensity, grad };
  },
};

function maxRelDiff(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1e-3, Math.abs(b[i]!)));
  return worst;
}

describe('ManifoldFlow: TypeScript-function targets', () => {
  it('a TypeScript copy of sphere-vmf4 / torus-correlated trains to the native target\'s parameters, loss history and evaluation', async () => {
    for (const [space, native, ts] of [['sphere', 'sphere-vmf4', vmf4], ['torus', 'torus-correlated', correlated]] as const) {
      const opts = { steps: 8, batchSize: 32, learningRate: 5e-3, seed: 4, reportEvery: 2, evalSize: 256, clipMaxNorm: 5 };
      const a = new ManifoldFlow(small(space), 2), b = new ManifoldFlow(small(space), 2);
      const ra = await a.train({ ...opts, target: native });
      const rb = await b.train({ ...opts, target: ts });
      // Same draws, chunk order, clip and Adam: equal up to the last bits of Math.exp / Math.cos vs the C library.
      expect(maxRelDiff(b.params, a.params)).toBeLessThan(1e-12);
      expect(Array.from(rb.historyStep)).toEqual(Array.from(ra.historyStep));
      expect(maxRelDiff(rb.historyLoss, ra.historyLoss)).toBeLessThan(1e-12);
      expect(rb.evaluation!.kl).toBeCloseTo(ra.evaluation!.kl, 10);
      expect(rb.evaluation!.logZ).toBeCloseTo(ra.evaluation!.logZ, 10);
      expect(rb.evaluation!.ess).toBeCloseTo(ra.evaluation!.ess, 8);
      // One step's loss and gradient agree with the native target's too.
      const la = a.lossAndGradient({ target: native, batchSize: 16, seed: 1, step: 3 });
      const lb = a.lossAndGradient({ target: ts, batchSize: 16, seed: 1, step: 3 });
      expect(lb.loss).toBeCloseTo(la.loss, 12);
      expect(maxRelDiff(lb.grad, la.grad)).toBeLessThan(1e-12);
    }
  });

  it('the TypeScript-target loss gradient matches central differences (S², every parameter)', () => {
    const flow = new ManifoldFlow(small('sphere'), 4);
    flow.params = flow.params.map((v, i) => v * 30 + 0.1 * Math.cos(i));
    const options = { target: vmf4, batchSize: 5, seed: 7, step: 1 };
    const { grad } = flow.lossAndGradient(options);
    const h = 1e-6;
    let worst = 0;
    for (let j = 0; j < flow.paramCount; j++) {
      const p = flow.params.slice();
      p[j] += h;
      const up = flow.lossAndGradient(options, p).loss;
      p[j] -= 2 * h;
      const down = flow.lossAndGradient(options, p).loss;
      const fd = (up - down) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - grad[j]!) / Math.max(1e-2, Math.abs(fd)));
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('calls the target once per step with the whole batch; reports progress; aborts', async () => {
    const calls: number[] = [];
    const counting: ManifoldTargetFunction = { name: 'counting', logDensityAndGrad: (x, n) => { calls.push(n); return correlated.logDensityAndGrad(x, n); } };
    await new ManifoldFlow(small('torus'), 1).train({ target: counting, steps: 3, batchSize: 24, evalSize: 50 });
    expect(calls).toEqual([24, 24, 24, 50]);
    const steps: number[] = [];
    await new ManifoldFlow(small('torus'), 1).train({ target: correlated, steps: 4, batchSize: 8, evalSize: 8, reportEvery: 2, onProgress: (p) => steps.push(p.step) });
    expect(steps).toEqual([2, 4]);
    const ac = new AbortController();
    ac.abort();
    await expect(new ManifoldFlow(small('torus'), 1).train({ target: correlated, steps: 4, signal: ac.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('bad target output (wrong length, NaN, not an object) is an error naming the target', async () => {
    const flow = new ManifoldFlow(small('sphere'), 1);
    const short: ManifoldTargetFunction = { name: 'short', logDensityAndGrad: (x, n) => ({ logDensity: new Float64Array(n - 1), grad: new Float64Array(3 * n) }) };
    const shortGrad: ManifoldTargetFunction = { name: 'shortGrad', logDensityAndGrad: (x, n) => ({ logDensity: new Float64Array(n), grad: new Float64Array(2 * n) }) };
    const nan: ManifoldTargetFunction = {
      name: 'nan', logDensityAndGrad: (x, n) => {
        const r = vmf4.logDensityAndGrad(x, n);
        r.logDensity[2] = NaN;
        return r;
      },
    };
    const nanGrad: ManifoldTargetFunction = {
      name: 'nanGrad', logDensityAndGrad: (x, n) => {
        const r = vmf4.logDensityAndGrad(x, n);
        r.grad[4] = Infinity;
        return r;
      },
    };
    const nothing = { name: 'nothing', logDensityAndGrad: () => undefined } as unknown as ManifoldTargetFunction;
    await expect(flow.train({ target: short, steps: 2, batchSize: 8 })).rejects.toThrow(/target "short".*logDensity.*8 values/);
    await expect(flow.train({ target: shortGrad, steps: 2, batchSize: 8 })).rejects.toThrow(/target "shortGrad".*grad.*24 values/);
    await expect(flow.train({ target: nan, steps: 2, batchSize: 8 })).rejects.toMatchObject({ code: 'NON_FINITE', message: expect.stringMatching(/target "nan".*logDensity\[2\] is NaN/) });
    await expect(flow.train({ target: nanGrad, steps: 2, batchSize: 8 })).rejects.toThrow(/target "nanGrad".*grad\[4\] is Infinity.*row 1/);
    await expect(flow.train({ target: nothing, steps: 2, batchSize: 8 })).rejects.toThrow(/target "nothing".*\{ logDensity, grad \}/);
    expect(() => flow.lossAndGradient({ target: { name: 'x' } as unknown as ManifoldTargetFunction })).toThrow(/logDensityAndGrad/);
    await expect(flow.train({ target: vmf4, loss: 'nll', steps: 1 })).rejects.toThrow(/reverseKl/);
  });
});
