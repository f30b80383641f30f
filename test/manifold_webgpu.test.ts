// Flows on tori and spheres on the WebGPU backend (src/backend/manifold_webgpu.ts,
// kernels/manifold/manifold_flow.wgsl): the API's `backend` option, trained flows of the CLI's
// targets against the CPU, chunking, streams, input errors, and `flow-sample --backend webgpu`.
// The op-level agreement over every configuration is in test/backend_ops.test.ts.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPS, cudaUnavailableReason } from '../src/backend/backend.js';
import { manifoldFlowLogProbWebGpu, manifoldFlowSampleWebGpu } from '../src/backend/manifold_webgpu.js';
import { openWebGpu, type WebGpuContext } from '../src/backend/webgpu.js';
import { SbiError } from '../src/errors.js';
import { ManifoldFlow } from '../src/manifold/flow.js';
import { TARGETS } from '../src/manifold/cli.js';

const ctx: WebGpuContext | string = await openWebGpu().catch((e: Error) => e.message);
const gpu = typeof ctx === 'string' ? describe.skip : describe;

const LOG_PROB_TOL = OPS['manifold.flow_log_prob'].tolerance.atol;
const SAMPLE_TOL = OPS['manifold.flow_sample'].tolerance.atol;

/** Largest |a − b|, on the circle when `period` is given. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>, period?: number): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    let d = Math.abs(a[i]! - b[i]!);
    if (period !== undefined) d = Math.min(d % period, period - (d % period));
    m = Math.max(m, d);
  }
  return m;
}

/** A flow of a CLI target trained briefly by reverse KL on the CPU (the default backend). */
async function trained(target: string, steps: number): Promise<ManifoldFlow> {
  const entry = TARGETS[target]!;
  const flow = new ManifoldFlow(entry.spec, 1);
  await flow.train({ target: entry.nativeTarget, steps, batchSize: 128, seed: 1, evalSize: 64 });
  return flow;
}

describe('ManifoldFlow.layout(): the native FlowShape the device kernels follow', () => {
  it('layers tile the parameters; conditioner widths match the features and the element parameters', () => {
    for (const spec of [
      { space: 'torus', dim: 3 }, { space: 'torus', dim: 3, layers: 2, conditioner: 'autoregressive' },
      { space: 'sphere', dim: 2, circleTransform: 'moebius', components: 3 }, { space: 'sphere', dim: 4, layers: 2 },
    ] as const) {
      const flow = new ManifoldFlow(spec, 1);
      const L = flow.layout();
      expect(L.coords).toBe(flow.coords);
      let offset = 0;
      for (const f of L.layers) {
        expect(f.paramOffset).toBe(offset);
        offset += f.paramCount;
        expect([...f.active, ...f.cond].sort()).toEqual([...new Set([...f.active, ...f.cond])].sort());
        if (f.sizes.length === 0) {
          expect(f.cond).toEqual([]);
          expect(f.paramCount).toBe(f.active.length * f.perElement);
        } else {
          expect(f.sizes[0]).toBe(f.cond.reduce((s, c) => s + (L.isAngle[c] ? 2 : 1), 0));
          expect(f.sizes.at(-1)).toBe(f.active.length * f.perElement);
        }
      }
      expect(offset).toBe(flow.paramCount);
    }
  });

  it('spheres: one interval layer per height (each on the heights above), then circle layers of φ on all heights', () => {
    const L = new ManifoldFlow({ space: 'sphere', dim: 4, layers: 2 }, 1).layout();
    expect(L.isAngle).toEqual([false, false, false, true]);
    expect(L.layers.map((f) => [f.interval, f.active, f.cond])).toEqual([
      [true, [0], []], [true, [1], [0]], [true, [2], [0, 1]], [false, [3], [0, 1, 2]], [false, [3], [0, 1, 2]],
    ]);
    expect(L.baseLogDensity).toBeCloseTo(-Math.log((8 * Math.PI ** 2) / 3), 12); // |S⁴| = 8π²/3
  });

  it('autoregressive tori: block b takes the angles in order, reversed in odd blocks', () => {
    const L = new ManifoldFlow({ space: 'torus', dim: 3, layers: 2, conditioner: 'autoregressive' }, 1).layout();
    expect(L.layers.map((f) => [f.active, f.cond])).toEqual([
      [[0], []], [[1], [0]], [[2], [0, 1]], [[2], []], [[1], [2]], [[0], [2, 1]],
    ]);
  });
});

gpu(`manifold flows on WebGPU${typeof ctx === 'string' ? ` (unavailable: ${ctx})` : ''}`, () => {
  const c = ctx as WebGpuContext;

  for (const [target, period] of [['torus-multimodal', 2 * Math.PI], ['sphere-vmf4', undefined]] as const) {
    it(`${target}: sampleAsync / logProbAsync with backend webgpu agree with the cpu (same seed, same points)`, async () => {
      const flow = await trained(target, 150);
      const n = 300;
      const cpu = flow.sample(n, 9, { stream: 4 });
      const dev = await flow.sampleAsync(n, 9, { stream: 4, backend: 'webgpu' });
      expect(maxDiff(dev.x, cpu.x, period)).toBeLessThan(SAMPLE_TOL);
      expect(maxDiff(dev.logProb, cpu.logProb)).toBeLessThan(SAMPLE_TOL);
      // the draws are not trivially equal: another stream gives other points
      const other = flow.sample(n, 9, { stream: 5 });
      expect(maxDiff(other.x, cpu.x, period)).toBeGreaterThan(0.1);
      const lq = await flow.logProbAsync(cpu.x, { backend: 'webgpu' });
      expect(maxDiff(lq, cpu.logProb)).toBeLessThan(LOG_PROB_TOL);
      // a draw's log q is the density at the point drawn, to log q's tolerance
      expect(maxDiff(dev.logProb, flow.logProb(dev.x))).toBeLessThan(LOG_PROB_TOL);
      if (period !== undefined) for (const v of dev.x) expect(v >= 0 && v < 2 * Math.PI).toBe(true);
      else for (let i = 0; i < n; i++) expect(Math.hypot(dev.x[3 * i]!, dev.x[3 * i + 1]!, dev.x[3 * i + 2]!)).toBeCloseTo(1, 5);
    });
  }

  it('the default backend is the cpu, and auto takes the cpu on an emulated adapter: the native results exactly', async () => {
    const flow = new ManifoldFlow({ space: 'torus', dim: 2 }, 2);
    const cpu = flow.sample(40, 3);
    expect(await flow.sampleAsync(40, 3)).toEqual(cpu);
    expect(await flow.logProbAsync(cpu.x)).toEqual(flow.logProb(cpu.x));
    if (c.fallback) expect(await flow.sampleAsync(40, 3, { backend: 'auto' })).toEqual(cpu);
  });

  it('chunking never changes a row: 3 chunks of 50 give the rows of one launch of 137', async () => {
    const flow = new ManifoldFlow({ space: 'sphere', dim: 3, layers: 2 }, 5);
    const whole = await manifoldFlowSampleWebGpu(c, flow, 137, 8, 2);
    const chunked = await manifoldFlowSampleWebGpu(c, flow, 137, 8, 2, { chunkRows: 50 });
    expect(chunked.x).toEqual(whole.x);
    expect(chunked.logProb).toEqual(whole.logProb);
    const lq = await manifoldFlowLogProbWebGpu(c, flow, whole.x);
    expect(await manifoldFlowLogProbWebGpu(c, flow, whole.x, { chunkRows: 50 })).toEqual(lq);
    // and row i of the cpu's draw is row i here
    expect(maxDiff(whole.x, flow.sample(137, 8, { stream: 2 }).x)).toBeLessThan(SAMPLE_TOL);
  });

  it('log q integrates to 1 over T² on the device (midpoint rule, 32 × 32)', async () => {
    const flow = new ManifoldFlow({ space: 'torus', dim: 2, circleTransform: 'ncp' }, 6);
    for (let i = 0; i < flow.params.length; i++) flow.params[i]! += 0.05 * Math.sin(7 * i);
    const m = 32, h = (2 * Math.PI) / m;
    const x = new Float64Array(2 * m * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) x.set([(i + 0.5) * h, (j + 0.5) * h], 2 * (i * m + j));
    const lq = await flow.logProbAsync(x, { backend: 'webgpu' });
    const total = lq.reduce((s, v) => s + Math.exp(v) * h * h, 0);
    expect(total).toBeCloseTo(1, 3);
  });

  it('rejects bad input by name: non-finite or ragged x, points off the sphere, a bad n, seed or chunkRows', async () => {
    const torus = new ManifoldFlow({ space: 'torus', dim: 2 }, 1);
    const sphere = new ManifoldFlow({ space: 'sphere', dim: 2 }, 1);
    await expect(torus.logProbAsync(Float64Array.of(1, NaN), { backend: 'webgpu' })).rejects.toThrow(/finite values in `x` but `x\[1\]` is NaN/);
    await expect(torus.logProbAsync(Float64Array.of(1, 2, 3), { backend: 'webgpu' })).rejects.toThrow(/`x` to hold rows of 2 values but it has 3/);
    await expect(torus.logProbAsync([1, 2] as unknown as Float64Array, { backend: 'webgpu' })).rejects.toThrow(TypeError);
    expect(await torus.logProbAsync(new Float64Array(0), { backend: 'webgpu' })).toEqual(torus.logProb(new Float64Array(0)));
    await expect(sphere.logProbAsync(Float64Array.of(0, 0, 3), { backend: 'webgpu' })).rejects.toThrow(/unit vectors in `x` but row 0 has norm 3/);
    await expect(torus.sampleAsync(0, 1, { backend: 'webgpu' })).rejects.toThrow(/`n`/);
    await expect(torus.sampleAsync(10, -1, { backend: 'webgpu' })).rejects.toThrow(/seed/);
    await expect(manifoldFlowSampleWebGpu(c, torus, 10, 1, 0, { chunkRows: 0 })).rejects.toThrow(/`chunkRows`/);
  });

  it('cuda runs the manifold-flow launchers where a device exists; without one it is BACKEND_UNAVAILABLE with the reason', async () => {
    const flow = new ManifoldFlow({ space: 'torus', dim: 2 }, 1);
    const reason = cudaUnavailableReason();
    const result = await flow.sampleAsync(10, 1, { backend: 'cuda' }).catch((e: unknown) => e);
    if (reason !== null) {
      expect(result).toBeInstanceOf(SbiError);
      expect((result as SbiError).code).toBe('BACKEND_UNAVAILABLE');
      expect((result as SbiError).message).toBe(reason);
      return;
    }
    // the agreement with the CPU is test/backend_cuda.test.ts's and the harness's
    expect(result).not.toBeInstanceOf(Error);
    expect((result as { x: Float64Array }).x.length).toBe(20);
  });

  it('sbi-engine flow-sample --backend webgpu writes the cpu\'s CSV within the op tolerance', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const cli = path.join(root, 'dist', 'cli.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-mf-gpu-'));
    const model = path.join(dir, 'torus.bin');
    const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
    const t = run(['flow-train', '--target', 'torus-correlated', '--steps', '40', '--batch', '64', '--out', model, '--quiet', '--eval-size', '100']);
    expect(t.status, t.stderr).toBe(0);
    const rows = (backend: string) => {
      const r = run(['flow-sample', '--model', model, '--n', '70', '--seed', '4', '--out', '-', '--backend', backend]);
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toBe('angle_1,angle_2,log_q');
      return lines.slice(1).map((l) => l.split(',').map(Number));
    };
    const cpu = rows('cpu'), dev = rows('webgpu');
    expect(dev).toHaveLength(70);
    expect(maxDiff(dev.flatMap((r) => r.slice(0, 2)), cpu.flatMap((r) => r.slice(0, 2)), 2 * Math.PI)).toBeLessThan(SAMPLE_TOL);
    expect(maxDiff(dev.map((r) => r[2]!), cpu.map((r) => r[2]!))).toBeLessThan(SAMPLE_TOL);
    const bad = run(['flow-sample', '--model', model, '--n', '5', '--out', '-', '--backend', 'metal']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--backend: expected one of cpu, webgpu, cuda, auto but received "metal"/);
  });
});
