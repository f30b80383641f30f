// The `backend` option of the lattice API (issue 6): Phi4Action / U1Action.evaluateAsync,
// Phi4Flow.sample, the flows' logProb and flowMetropolis, and `flow-mcmc --backend`. cpu is the native path
// unchanged; webgpu agrees with it within the op's tolerance (the ops themselves are in the
// agreement harness, test/backend_ops.test.ts); cuda and what has no kernel are refused by name.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPS, cudaUnavailableReason, selectBackend, type Tolerance } from '../src/backend/backend.js';
import { Phi4Flow, flowMetropolis } from '../src/lattice/flow.js';
import { Phi4Action } from '../src/lattice/phi4.js';
import { U1Action } from '../src/lattice/u1.js';
import { U1Flow } from '../src/lattice/u1_flow.js';
import { PhiloxStream } from '../src/random/philox.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli.js');
// openWebGpu() below sets EGL_PLATFORM in this process: the CLI must manage without it.
const { EGL_PLATFORM: _set, ...userEnv } = process.env;
function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000, env: userEnv });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

let reason = '';
const webgpu = await selectBackend('webgpu').catch((e: Error) => {
  reason = e.message;
  return undefined;
});

/** Elementwise within the op's tolerance, rowRtol over rows of `rowWidth` (as the harness). */
function expectWithin(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance, rowWidth = 1) {
  expect(got.length).toBe(want.length);
  let bad = 0;
  for (let row = 0; row * rowWidth < want.length; row++) {
    let scale = 0;
    for (let i = row * rowWidth; i < (row + 1) * rowWidth; i++) scale = Math.max(scale, Math.abs(want[i]!));
    for (let i = row * rowWidth; i < (row + 1) * rowWidth; i++) {
      if (!(Math.abs(got[i]! - want[i]!) <= tol.atol + (tol.rowRtol ?? 0) * scale + tol.rtol * Math.abs(want[i]!))) bad++;
    }
  }
  expect(bad).toBe(0);
}

const f32Normals = (n: number, scale: number, stream: bigint) => {
  const r = new PhiloxStream(9, stream);
  return Float64Array.from(Float32Array.from({ length: n }, () => scale * r.normal()));
};

describe('the cpu backend of the lattice API is the native path', () => {
  it('Phi4Action.evaluateAsync() equals actionAndGrad() bit for bit, and by default', async () => {
    const a = new Phi4Action({ L: 6, m2: -4, lambda: 8 });
    const phi = f32Normals(5 * 36, 1.2, 1n);
    const want = a.actionAndGrad(phi);
    for (const got of [await a.evaluateAsync(phi), await a.evaluateAsync(phi, { backend: 'cpu' })]) {
      expect(got.action).toEqual(want.action);
      expect(got.grad).toEqual(want.grad);
    }
  });

  it('U1Action.evaluateAsync() equals actionAndGrad() and topologicalCharge() bit for bit', async () => {
    const a = new U1Action({ L: 4, beta: 1.5 });
    const theta = f32Normals(3 * 32, 2, 2n);
    const got = await a.evaluateAsync(theta, { backend: 'cpu' });
    const want = a.actionAndGrad(theta);
    expect(got.action).toEqual(want.action);
    expect(got.grad).toEqual(want.grad);
    expect(got.charge).toEqual(a.topologicalCharge(theta));
  });

  it('the action gradient through evaluateAsync matches central differences of S in double', async () => {
    const phi4 = new Phi4Action({ L: 5, m2: -1.5, lambda: 0.7 });
    const u1 = new U1Action({ L: 4, beta: 1.3 });
    for (const [evaluate, x] of [
      [(v: Float64Array) => phi4.evaluateAsync(v), f32Normals(25, 1, 3n)],
      [(v: Float64Array) => u1.evaluateAsync(v).then((r) => ({ action: r.action, grad: r.grad })), f32Normals(32, 2, 4n)],
    ] as const) {
      const { grad } = await evaluate(x);
      const h = 1e-6;
      for (let i = 0; i < x.length; i += 3) {
        const plus = Float64Array.from(x), minus = Float64Array.from(x);
        plus[i]! += h;
        minus[i]! -= h;
        const fd = ((await evaluate(plus)).action[0]! - (await evaluate(minus)).action[0]!) / (2 * h);
        expect(Math.abs(fd - grad[i]!), `site ${i}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(grad[i]!)));
      }
    }
  });

  it('auto without a hardware adapter runs on the cpu; cuda without a device says why; bad names are RangeErrors', async () => {
    const a = new Phi4Action({ L: 4, m2: 1, lambda: 0 });
    const phi = f32Normals(16, 1, 5n);
    if (webgpu === undefined || webgpu.device.includes('no GPU')) expect(await a.evaluateAsync(phi, { backend: 'auto' })).toEqual(a.actionAndGrad(phi));
    // with a device, cuda runs them (agreement: test/backend_cuda.test.ts and the harness)
    const noCuda = cudaUnavailableReason();
    if (noCuda !== null) {
      await expect(a.evaluateAsync(phi, { backend: 'cuda' })).rejects.toThrow(noCuda);
      await expect(new U1Action({ L: 4, beta: 1 }).evaluateAsync(f32Normals(32, 1, 6n), { backend: 'cuda' })).rejects.toThrow(noCuda);
    }
    await expect(a.evaluateAsync(phi, { backend: 'metal' as 'cpu' })).rejects.toThrow(/`backend`/);
  });
});

describe.skipIf(!webgpu)(`the lattice API on the webgpu backend${webgpu ? '' : ` — skipped: ${reason}`}`, () => {
  it('Phi4Action and U1Action.evaluateAsync({ backend: "webgpu" }) agree with the cpu within the ops\' tolerances', async () => {
    const phi4 = new Phi4Action({ L: 9, m2: -4, lambda: 8 });
    const phi = f32Normals(6 * 81, 1.3, 7n);
    const [g, c] = [await phi4.evaluateAsync(phi, { backend: 'webgpu' }), phi4.actionAndGrad(phi)];
    expectWithin(g.action, c.action, OPS['lattice.phi4_action'].tolerance);
    expectWithin(g.grad, c.grad, OPS['lattice.phi4_action'].tolerance, 81);
    const u1 = new U1Action({ L: 8, beta: 2.5 });
    const theta = f32Normals(5 * 128, 2, 8n);
    const [gu, cu] = [await u1.evaluateAsync(theta, { backend: 'webgpu' }), await u1.evaluateAsync(theta)];
    expectWithin(gu.action, cu.action, OPS['lattice.u1_action'].tolerance);
    expectWithin(gu.grad, cu.grad, OPS['lattice.u1_action'].tolerance, 128);
    expect(Array.from(gu.charge)).toEqual(Array.from(cu.charge));
  });

  it('names the argument of bad input on webgpu', async () => {
    const phi4 = new Phi4Action({ L: 4, m2: 1, lambda: 1 });
    await expect(phi4.evaluateAsync(new Float64Array(15), { backend: 'webgpu' })).rejects.toThrow(/`phi`.*16 sites.*15/);
    await expect(phi4.evaluateAsync(new Float32Array(16) as unknown as Float64Array, { backend: 'webgpu' })).rejects.toThrow(TypeError);
    const bad = new Float64Array(16);
    bad[3] = NaN;
    await expect(phi4.evaluateAsync(bad, { backend: 'webgpu' })).rejects.toThrow(/finite.*`phi`.*element 3/);
    await expect(new U1Action({ L: 4, beta: 1 }).evaluateAsync(new Float64Array(31), { backend: 'webgpu' })).rejects.toThrow(/`theta`.*32 link angles/);
  });

  it('Phi4Flow.sample({ backend: "webgpu" }) draws the cpu\'s configurations (same Philox base normals) within the op\'s tolerance', async () => {
    const flow = Phi4Flow.init({ L: 6, m2: -4, lambda: 8 }, { layers: 4 }, 11);
    const tol = OPS['lattice.phi4_flow_sample'].tolerance;
    const opts = { n: 40, seed: 5, offset: 1000 };
    const progress: number[] = [];
    const [g, c] = [await flow.sample({ ...opts, keepPhi: true, backend: 'webgpu', onProgress: (d) => progress.push(d) }), await flow.sample({ ...opts, keepPhi: true })];
    expect(progress.at(-1)).toBe(40);
    expectWithin(g.phi!, c.phi!, tol, 36);
    expectWithin(g.logq, c.logq, tol);
    expectWithin(g.action, c.action, tol);
    expectWithin(g.magnetization, c.magnetization, tol);
    // without keepPhi, no configurations come back
    expect((await flow.sample({ ...opts, backend: 'webgpu' })).phi).toBeUndefined();
    // the symmetrised proposal (inverse pass of −φ, log q_s, the same sign flips)
    const [gs, cs] = [await flow.sample({ ...opts, keepPhi: true, symmetric: true, backend: 'webgpu' }), await flow.sample({ ...opts, keepPhi: true, symmetric: true })];
    expectWithin(gs.phi!, cs.phi!, tol, 36);
    expectWithin(gs.logq, cs.logq, tol);
    expectWithin(gs.action, cs.action, tol);
    await expect(flow.sample({ ...opts, symmetric: 'yes' as unknown as boolean, backend: 'webgpu' })).rejects.toThrow(/symmetric/);
    const aborted = new AbortController();
    aborted.abort();
    await expect(flow.sample({ ...opts, backend: 'webgpu', signal: aborted.signal })).rejects.toThrow(/abort/i);
  });

  it('U1Flow.sample({ backend: "webgpu" }) draws the cpu\'s links (same Philox words) within the op\'s tolerance, on the circle', async () => {
    const flow = U1Flow.init({ L: 4, beta: 1.5 }, { layers: 4 }, 12);
    const tol = OPS['lattice.u1_flow_sample'].tolerance;
    const opts = { n: 30, seed: 6, offset: 77, keepTheta: true };
    const [g, c] = [await flow.sample({ ...opts, backend: 'webgpu' }), await flow.sample(opts)];
    expectWithin(g.theta!.map(Math.cos), c.theta!.map(Math.cos), tol, 32);
    expectWithin(g.theta!.map(Math.sin), c.theta!.map(Math.sin), tol, 32);
    for (const t of g.theta!) expect(t >= 0 && t < 2 * Math.PI).toBe(true);
    expectWithin(g.logq, c.logq, tol);
    expectWithin(g.action, c.action, tol);
    expect(Array.from(g.charge)).toEqual(Array.from(c.charge));
    expect((await flow.sample({ n: 3, seed: 6, backend: 'webgpu' })).theta).toBeUndefined();
    const sym = await flowMetropolis(flow, { n: 10, seed: 1, symmetric: true, backend: 'webgpu' }).catch((e: unknown) => e);
    expect((sym as Error).message).toMatch(/symmetric.*φ⁴/);
    const noCuda = cudaUnavailableReason();
    if (noCuda !== null) await expect(flow.sample({ n: 3, seed: 6, backend: 'cuda' })).rejects.toThrow(noCuda);
  });

  it('Phi4Flow.logProb and U1Flow.logProb({ backend: "webgpu" }) invert the cpu\'s draws within the ops\' tolerances; cpu is inverse() bit for bit', async () => {
    const flow = Phi4Flow.init({ L: 6, m2: -4, lambda: 8 }, { layers: 4 }, 11);
    const phi = Float64Array.from(Float32Array.from((await flow.sample({ n: 20, seed: 5, keepPhi: true })).phi!));
    const tol = OPS['lattice.phi4_flow_log_prob'].tolerance;
    const [g, c] = [await flow.logProb(phi, { backend: 'webgpu' }), flow.inverse(phi)];
    expectWithin(g.z, c.z, tol, 36);
    expectWithin(g.logq, c.logq, tol);
    expect(await flow.logProb(phi)).toEqual(c);
    await expect(flow.logProb(new Float64Array(35), { backend: 'webgpu' })).rejects.toThrow(/`phi`.*36 sites.*35/);
    await expect(flow.logProb(phi, { backend: 'cuda' })).rejects.toThrow(/cuda/i);
    const u1 = U1Flow.init({ L: 4, beta: 1.5 }, { layers: 4 }, 12);
    const theta = Float64Array.from(Float32Array.from((await u1.sample({ n: 20, seed: 6, keepTheta: true })).theta!));
    const tolU = OPS['lattice.u1_flow_log_prob'].tolerance;
    const [gu, cu] = [await u1.logProb(theta, { backend: 'webgpu' }), u1.inverse(theta)];
    expectWithin(gu.z.map(Math.cos), cu.z.map(Math.cos), tolU, 32);
    expectWithin(gu.z.map(Math.sin), cu.z.map(Math.sin), tolU, 32);
    expectWithin(gu.logq, cu.logq, tolU);
    await expect(u1.logProb(new Float64Array(31), { backend: 'webgpu' })).rejects.toThrow(/`theta`.*32/);
  });

  it('flowMetropolis({ backend: "webgpu" }) runs the φ⁴ and U(1) chains from device draws', async () => {
    const flow = Phi4Flow.init({ L: 4, m2: -4, lambda: 8 }, { layers: 2, hidden: 4 }, 3);
    const [g, c] = [await flowMetropolis(flow, { n: 300, seed: 2, backend: 'webgpu' }), await flowMetropolis(flow, { n: 300, seed: 2 })];
    // the same proposals and accept uniforms: a decision differs only where log w ties within f32 rounding
    expect(Math.abs(g.acceptance - c.acceptance)).toBeLessThanOrEqual(2 / 299);
    expect(g.magnetization.length).toBe(c.magnetization.length);
    const u1 = U1Flow.init({ L: 4, beta: 1 }, { layers: 2 }, 4);
    const [gu, cu] = [await flowMetropolis(u1, { n: 300, seed: 2, backend: 'webgpu' }), await flowMetropolis(u1, { n: 300, seed: 2 })];
    expect(Math.abs(gu.acceptance - cu.acceptance)).toBeLessThanOrEqual(2 / 299);
    expect(gu.charge.length).toBe(cu.charge.length);
  });

  it('flow-mcmc --backend webgpu (and cuda where a device exists) runs the chain on device draws (EGL_PLATFORM unset); bad values are usage errors', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-lattice-backend-'));
    const file = path.join(dir, 'phi4.bin');
    Phi4Flow.init({ L: 4, m2: -4, lambda: 8 }, { layers: 2, hidden: 4 }, 3).save(file);
    const args = ['flow-mcmc', '--model', file, '--n', '400', '--seed', '3', '--json'];
    const gpu = run([...args, '--backend', 'webgpu']);
    expect(gpu.code, gpu.stderr).toBe(0);
    const cpu = run(args);
    expect(cpu.code, cpu.stderr).toBe(0);
    const [g, c] = [JSON.parse(gpu.stdout), JSON.parse(cpu.stdout)];
    expect(Math.abs(g.acceptance - c.acceptance)).toBeLessThanOrEqual(2 / 399);
    expect(run([...args, '--backend', 'metal']).code).toBe(2);
    // cuda: the chain from the device's draws (double, the CPU sampler's function: the same chain up
    // to float ties), or without a device an error that says why
    const cuda = run([...args, '--backend', 'cuda']);
    if (cudaUnavailableReason() === null) {
      expect(cuda.code, cuda.stderr).toBe(0);
      expect(Math.abs(JSON.parse(cuda.stdout).acceptance - c.acceptance)).toBeLessThanOrEqual(2 / 399);
    } else {
      expect(cuda.code).toBe(1);
      expect(cuda.stderr).toMatch(/BACKEND_UNAVAILABLE.*cuda/i);
    }
    const [gs, cs] = [run([...args, '--backend', 'webgpu', '--symmetric']), run([...args, '--symmetric'])];
    expect(gs.code, gs.stderr).toBe(0);
    expect(JSON.parse(gs.stdout).symmetric).toBe(true);
    expect(Math.abs(JSON.parse(gs.stdout).acceptance - JSON.parse(cs.stdout).acceptance)).toBeLessThanOrEqual(2 / 399);
  });

  it('flow-train --target phi4 / u1 --backend webgpu trains on the device (op tolerance of the cpu run); cuda and bad values are usage errors', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-lattice-train-'));
    for (const [target, extra, tol, load] of [
      ['phi4', ['--lattice', '4', '--m2', '-4', '--lambda', '8'], OPS['lattice.phi4_flow_train'].tolerance, (f: string) => Phi4Flow.load(f).params],
      ['u1', ['--lattice', '4', '--beta', '1'], OPS['lattice.u1_flow_train'].tolerance, (f: string) => U1Flow.load(f).params],
    ] as const) {
      const args = ['flow-train', '--target', target, ...extra, '--steps', '2', '--batch', '4', '--seed', '5', '--quiet'];
      const [gpuFile, cpuFile] = [path.join(dir, `${target}_gpu.bin`), path.join(dir, `${target}_cpu.bin`)];
      const gpu = run([...args, '--backend', 'webgpu', '--out', gpuFile]);
      expect(gpu.code, gpu.stderr).toBe(0);
      const cpu = run([...args, '--out', cpuFile]);
      expect(cpu.code, cpu.stderr).toBe(0);
      const [g, c] = [load(gpuFile), load(cpuFile)];
      g.forEach((v, i) => expect(Math.abs(v - c[i]!)).toBeLessThanOrEqual(tol.atol + tol.rtol * Math.abs(c[i]!)));
      expect(run([...args, '--backend', 'metal', '--out', gpuFile]).code).toBe(2);
    }
    const cuda = run(['flow-train', '--target', 'u1', '--lattice', '4', '--beta', '1', '--steps', '1', '--backend', 'cuda', '--out', path.join(dir, 'c.bin')]);
    expect(cuda.code).toBe(2);
    expect(cuda.stderr).toMatch(/--backend: the lattice targets .* cpu, webgpu or auto/);
  });
});
