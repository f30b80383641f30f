// Reverse-KL training of the flows on tori and spheres on the WebGPU device
// (src/backend/manifold_train_webgpu.ts, kernels/manifold/manifold_flow_train.wgsl): each
// configuration's gradient against the CPU's double one, short trainings through
// `ManifoldFlow.train({ backend: 'webgpu' })` whose losses track the CPU's, determinism and
// resumption, option errors, abort, and `flow-train --backend webgpu`. The op-level agreement
// (op manifold.flow_train: parameters and losses after a few steps) is in test/backend_ops.test.ts.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBackend } from '../src/backend/backend.js';
import { ManifoldTrainSession, checkManifoldTrainOptions, manifoldFlowTrainWebGpu } from '../src/backend/manifold_train_webgpu.js';
import { openWebGpu, type WebGpuContext } from '../src/backend/webgpu.js';
import { SbiError } from '../src/errors.js';
import { ManifoldFlow, type ManifoldFlowOptions, type ManifoldTarget } from '../src/manifold/flow.js';
import { TARGETS } from '../src/manifold/cli.js';
import { PhiloxStream } from '../src/random/philox.js';

const ctx: WebGpuContext | string = await openWebGpu().catch((e: Error) => e.message);
const gpu = typeof ctx === 'string' ? describe.skip : describe;
const device = () => ctx as WebGpuContext;

/** Every circle transform and conditioner on the native targets' manifolds. */
const CASES: Array<[string, ManifoldFlowOptions, ManifoldTarget]> = [
  ['T² spline coupling', { space: 'torus', dim: 2 }, 'torus-multimodal'],
  ['T² spline autoregressive', { space: 'torus', dim: 2, layers: 2, conditioner: 'autoregressive' }, 'torus-correlated'],
  ['T² Möbius ×3', { space: 'torus', dim: 2, circleTransform: 'moebius', components: 3 }, 'torus-unimodal'],
  ['T² NCP ×4', { space: 'torus', dim: 2, circleTransform: 'ncp' }, 'torus-unimodal'],
  ['S² spline', { space: 'sphere', dim: 2, bins: 16 }, 'sphere-vmf4'],
  ['S² NCP ×4', { space: 'sphere', dim: 2, circleTransform: 'ncp' }, 'sphere-vmf4'],
  ['S² Möbius ×4', { space: 'sphere', dim: 2, circleTransform: 'moebius' }, 'sphere-vmf4'],
  ['S³ spline', { space: 'sphere', dim: 3, layers: 2 }, 'sphere3-vmf4'],
];

/** A flow of `spec` moved from its near-identity start (so every gradient term is exercised). */
function moved(spec: ManifoldFlowOptions): ManifoldFlow {
  const flow = new ManifoldFlow(spec, 3);
  const r = new PhiloxStream(7n, 25n);
  for (let i = 0; i < flow.params.length; i++) flow.params[i]! += 0.1 * r.normal();
  return flow;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('op manifold.flow_train: options (checked the same for every backend)', () => {
  const torus = new ManifoldFlow({ space: 'torus', dim: 2 }, 1);
  it('throws RangeError for a target on another manifold, naming both', () => {
    expect(() => checkManifoldTrainOptions(torus, { target: 'sphere-vmf4', steps: 1 })).toThrow(/flow's manifold \(T2\) but `target` sphere-vmf4 lives on S2/);
    expect(() => checkManifoldTrainOptions(torus, { target: 'banana' as ManifoldTarget, steps: 1 })).toThrow(/`target` but received "banana"/);
  });

  it('throws RangeError for bad steps, batch size, learning rate or clip', () => {
    const o = { target: 'torus-unimodal' as const, steps: 1 };
    expect(() => checkManifoldTrainOptions(torus, { ...o, steps: 0 })).toThrow(/positive integer for `steps` but received 0/);
    expect(() => checkManifoldTrainOptions(torus, { ...o, batchSize: 1.5 })).toThrow(/`batchSize` but received 1.5/);
    expect(() => checkManifoldTrainOptions(torus, { ...o, learningRate: 0 })).toThrow(/`learningRate` but received 0/);
    expect(() => checkManifoldTrainOptions(torus, { ...o, clipMaxNorm: -1 })).toThrow(/`clipMaxNorm` but received -1/);
  });

  it('the cpu side steps exactly the native trainer (same losses and parameters)', async () => {
    const flow = moved({ space: 'torus', dim: 2 });
    const t = await cpuBackend.manifoldFlowTrain(flow, { target: 'torus-multimodal', steps: 5, batchSize: 40, seed: 2, clipMaxNorm: 0.5 });
    const native = new ManifoldFlow(flow.spec, 0, flow.params);
    const r = await native.train({ target: 'torus-multimodal', steps: 5, batchSize: 40, seed: 2, clipMaxNorm: 0.5, reportEvery: 1, evalSize: 2 });
    expect(Array.from(t.losses)).toEqual(Array.from(r.historyLoss));
    expect(Array.from(t.params)).toEqual(Array.from(native.params));
  });
});

gpu('manifold flow training on the WebGPU device', () => {
  it.each(CASES)('%s: the device gradient is the CPU double gradient within 1e-4 of each layer\'s largest component', async (_label, spec, target) => {
    const flow = moved(spec);
    const cpu = flow.lossAndGradient({ target, batchSize: 67, seed: 5, step: 0 });
    const session = new ManifoldTrainSession(device(), flow, checkManifoldTrainOptions(flow, { target, steps: 1, batchSize: 67, seed: 5 }));
    try {
      const dev = await session.lossAndGradient();
      expect(Math.abs(dev.loss - cpu.loss)).toBeLessThan(1e-5);
      for (const f of flow.layout().layers) {
        const range = [f.paramOffset, f.paramOffset + f.paramCount] as const;
        const want = cpu.grad.subarray(...range), got = dev.grad.subarray(...range);
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expect(scale).toBeGreaterThan(0);
        expect(maxAbsDiff(got, want) / scale).toBeLessThan(1e-4);
      }
    } finally {
      session.release();
    }
  });

  it('steps are deterministic, and a session resumed after 3 steps continues as one of 6', async () => {
    const flow = moved({ space: 'sphere', dim: 2, circleTransform: 'ncp' });
    const o = { target: 'sphere-vmf4' as const, steps: 6, batchSize: 50, seed: 9, clipMaxNorm: 1 };
    const once = await manifoldFlowTrainWebGpu(device(), flow, o);
    const again = await manifoldFlowTrainWebGpu(device(), flow, o);
    expect(Array.from(again.losses)).toEqual(Array.from(once.losses));
    expect(Array.from(again.params)).toEqual(Array.from(once.params));
    const session = new ManifoldTrainSession(device(), flow, checkManifoldTrainOptions(flow, o));
    try {
      const losses = [...(await session.run(3)), ...(await session.run(3))];
      expect(losses).toEqual(Array.from(once.losses));
      expect(Array.from(await session.params())).toEqual(Array.from(once.params));
    } finally {
      session.release();
    }
  });

  // Short trainings from the CLI targets' default flows. f32 against double: the trajectories part
  // the way the CPU's own part from f32-rounded initial parameters (a difference that grows ~10×
  // every few steps on S² at lr 1e-3 — 4e-2 apart by step 34 — docs/backends.md), so S² runs 16
  // steps. Measured (llvmpipe): reported losses (means of 10 resp. 4 steps) within 4.1e-6 (T²) and
  // 2.1e-6 (S²), parameters within 6.2e-5 and 1.1e-5, the final KL within 2.8e-5 and 8.9e-5.
  it.each([['torus-multimodal', 40, 2e-3, 2e-4], ['sphere-vmf4', 16, 1e-3, 2e-4]] as const)(
    'train({ backend: "webgpu" }) on %s (%i steps, lr %s): losses track the CPU\'s within %s, the loss falls, progress and evaluation as on the CPU',
    async (name, steps, learningRate, tol) => {
      const entry = TARGETS[name]!;
      const reportEvery = steps / 4;
      const o = { target: entry.nativeTarget, steps, batchSize: 64, seed: 3, reportEvery, evalSize: 512, learningRate };
      const cpu = new ManifoldFlow(entry.spec, 1), dev = new ManifoldFlow(entry.spec, 1);
      const rc = await cpu.train(o);
      const progress: number[] = [];
      const rd = await dev.train({ ...o, backend: 'webgpu', onProgress: (p) => progress.push(p.step) });
      expect(progress).toEqual([1, 2, 3, 4].map((k) => k * reportEvery));
      expect(Array.from(rd.historyStep)).toEqual(Array.from(rc.historyStep));
      expect(maxAbsDiff(rd.historyLoss, rc.historyLoss)).toBeLessThan(tol);
      expect(rd.historyLoss[3]!).toBeLessThan(rd.historyLoss[0]! - 0.02);
      expect(dev.params).not.toEqual(new ManifoldFlow(entry.spec, 1).params);
      expect(rd.evaluation!.samples).toBe(512);
      expect(Math.abs(rd.evaluation!.kl - rc.evaluation!.kl)).toBeLessThan(5 * tol);
      expect(Math.abs(rd.evaluation!.logZ - rc.evaluation!.logZ)).toBeLessThan(5 * tol);
    },
  );

  it('a TypeScript target or the NLL on webgpu is a RangeError; auto trains them on the cpu', async () => {
    const flow = new ManifoldFlow({ space: 'torus', dim: 2, layers: 1, hidden: 4 }, 1);
    const fn = (x: Float64Array, n: number) => ({ logDensity: new Float64Array(n), gradient: new Float64Array(x.length) });
    await expect(flow.train({ target: fn, steps: 1, backend: 'webgpu' })).rejects.toThrow(/reverse KL to a native `target`.*cpu backend/);
    await expect(flow.train({ loss: 'nll', data: new Float64Array([1, 2]), steps: 1, backend: 'webgpu' })).rejects.toThrow(RangeError);
    const r = await flow.train({ target: fn, steps: 2, batchSize: 8, evalSize: 4, backend: 'auto' });
    expect(r.steps).toBe(2);
  });

  it('throws RangeError for a bad reportEvery or evalSize on the device, naming the option', async () => {
    const flow = new ManifoldFlow({ space: 'torus', dim: 2, layers: 1, hidden: 4 }, 1);
    await expect(flow.train({ target: 'torus-unimodal', steps: 2, backend: 'webgpu', reportEvery: 0 })).rejects.toThrow(/`reportEvery` but received 0/);
    await expect(flow.train({ target: 'torus-unimodal', steps: 2, backend: 'webgpu', evalSize: 1 })).rejects.toThrow(/\[2, \d+\] for `evalSize` but received 1/);
  });

  it('an aborted signal rejects with ABORTED, before training or between reports', async () => {
    const flow = new ManifoldFlow({ space: 'torus', dim: 2, layers: 1, hidden: 4 }, 1);
    const before = flow.params.slice();
    const c = new AbortController();
    c.abort();
    await expect(flow.train({ target: 'torus-unimodal', steps: 4, backend: 'webgpu', signal: c.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    const later = new AbortController();
    const err = await flow.train({
      target: 'torus-unimodal', steps: 4, batchSize: 8, reportEvery: 1, backend: 'webgpu', signal: later.signal,
      onProgress: (p) => { if (p.step === 2) later.abort(); },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SbiError);
    expect((err as SbiError).code).toBe('ABORTED');
    expect(flow.params).toEqual(before);
  });

  it('sbi-engine flow-train --backend webgpu trains and saves a flow that flow-sample reads; lattice targets refuse cuda', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const cli = path.join(root, 'dist', 'cli.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-mf-train-gpu-'));
    const model = path.join(dir, 'sphere.bin');
    const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 300_000 });
    const t = run(['flow-train', '--target', 'sphere-vmf4', '--steps', '12', '--batch', '32', '--out', model, '--quiet', '--eval-size', '64', '--backend', 'webgpu']);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/target sphere-vmf4 {2}steps 12 {2}batch 32 {2}backend webgpu/);
    expect(t.stdout).toMatch(/ESS [0-9.]+ % {2}\(64 draws\)/);
    const s = run(['flow-sample', '--model', model, '--n', '5', '--out', '-']);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout.trim().split('\n')).toHaveLength(6);
    const lattice = run(['flow-train', '--target', 'phi4', '--lattice', '4', '--m2', '-4', '--lambda', '8', '--steps', '1', '--out', model, '--backend', 'cuda']);
    expect(lattice.status).toBe(2);
    expect(lattice.stderr).toMatch(/--backend: the lattice targets .* train on cpu, webgpu or auto/);
  });
});
