// `backend` in the simulator API and `--backend` in the CLI (issue 6): webgpu runs the ported
// simulators with the CPU's seed meaning (within the op's tolerance); a backend named explicitly
// that cannot run the op fails with UNSUPPORTED_OP naming it and the reason; 'auto' falls back.
// The CLI cases use dist/ (built by `npm test`).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPS, selectBackend } from '../src/backend/backend.js';
import { parseCsv } from '../src/csv.js';
import { FunctionSimulator, NativeSimulator } from '../src/simulators/index.js';
import { getTask } from '../src/tasks/index.js';
import { PhiloxStream } from '../src/random/philox.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli.js');
// openWebGpu() below sets EGL_PLATFORM in this process: the CLI must manage without it.
const { EGL_PLATFORM: _set, ...userEnv } = process.env;
function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: userEnv });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

let reason = '';
const webgpu = await selectBackend('webgpu').catch((e: Error) => {
  reason = e.message;
  return undefined;
});

function expectWithin(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number) {
  expect(got.length).toBe(want.length);
  let bad = 0;
  for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i]! - want[i]!) <= atol + rtol * Math.abs(want[i]!))) bad++;
  expect(bad).toBe(0);
}

describe.skipIf(!webgpu)(`simulate on the webgpu backend${webgpu ? '' : ` — skipped: ${reason}`}`, () => {
  it('NativeSimulator.simulate({ backend: "webgpu" }) keeps the seed meaning of the CPU', async () => {
    const task = getTask('gaussian_linear_uniform');
    const theta = task.prior.sample(300, { seed: 4 });
    const opts = { seed: 99n, streamOffset: 17 };
    const gpu = await task.simulator.simulate(theta, { ...opts, backend: 'webgpu' });
    const cpu = await task.simulator.simulate(theta, opts);
    expect(gpu.n).toBe(300);
    expect(gpu.failedCount).toBe(0);
    const tol = OPS['simulate.gaussian_linear'].tolerance;
    expectWithin(gpu.x, cpu.x, tol.atol, tol.rtol);
    // and not merely close to anything: another seed is far away
    const other = await task.simulator.simulate(theta, { seed: 100n, streamOffset: 17, backend: 'webgpu' });
    expect(Math.abs(other.x[0]! - cpu.x[0]!)).toBeGreaterThan(1e-4);
  });

  it('row streams wrap past 2^64 as on the cpu (stream offset + i mod 2^64)', async () => {
    const sim = new NativeSimulator('slcp');
    const theta = getTask('slcp').prior.sample(10, { seed: 8 });
    const opts = { seed: 1n, streamOffset: 2n ** 64n - 5n };
    const gpu = await sim.simulate(theta, { ...opts, backend: 'webgpu' });
    const cpu = await sim.simulate(theta, opts);
    const tol = OPS['simulate.slcp'].tolerance;
    expectWithin(gpu.x, cpu.x, tol.atol, tol.rtol);
  });

  it('reports progress and honours an aborted signal', async () => {
    const sim = new NativeSimulator('two_moons');
    const theta = new Float64Array(2 * 1000);
    const seen: number[] = [];
    await sim.simulate(theta, { seed: 1, backend: 'webgpu', onProgress: (done, total) => seen.push(done, total) });
    expect(seen.slice(-2)).toEqual([1000, 1000]);
    const ac = new AbortController();
    ac.abort();
    await expect(sim.simulate(theta, { seed: 1, backend: 'webgpu', signal: ac.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('a row that overflows f32 is NaN and flagged, as on the cpu', async () => {
    const sim = new NativeSimulator('gaussian_mixture');
    const theta = Float64Array.of(0, 0, 1e39, 0, 1, 1);
    for (const backend of ['webgpu', 'cpu'] as const) {
      const r = await sim.simulate(theta, { seed: 3, backend });
      expect(Array.from(r.failed), backend).toEqual([0, 1, 0]);
      expect(r.failedCount).toBe(1);
      expect(Number.isNaN(r.x[2]!) && Number.isNaN(r.x[3]!)).toBe(true);
      expect(Number.isFinite(r.x[4]!)).toBe(true);
    }
  });

  it('gold values on an explicit webgpu are UNSUPPORTED_OP with the reason; auto computes them on the cpu', async () => {
    const sim = new NativeSimulator('weinberg');
    const theta = getTask('weinberg').prior.sample(3, { seed: 1 });
    const design = [91.1876];
    await expect(sim.simulate(theta, { seed: 1, design, gold: true, backend: 'webgpu' })).rejects.toMatchObject({
      code: 'UNSUPPORTED_OP',
      message: expect.stringMatching(/simulate\.weinberg is not supported on the webgpu backend with gold values: only the cpu/),
    });
    const auto = await sim.simulate(theta, { seed: 1, design, gold: true, backend: 'auto' });
    const cpu = await sim.simulate(theta, { seed: 1, design, gold: true });
    expect(Array.from(auto.x)).toEqual(Array.from(cpu.x));
    expect(Array.from(auto.gold!.jointScore)).toEqual(Array.from(cpu.gold!.jointScore));
  });

  it('design variables reach the webgpu kernel: weinberg off the Z pole agrees with the cpu', async () => {
    const sim = new NativeSimulator('weinberg');
    const theta = getTask('weinberg').prior.sample(500, { seed: 2 });
    const [gpu, cpu] = await Promise.all(['webgpu', 'cpu'].map((backend) => sim.simulate(theta, { seed: 5, design: [70], backend: backend as 'webgpu' | 'cpu' })));
    const atMz = await sim.simulate(theta, { seed: 5, design: [91.1876], backend: 'webgpu' });
    const tol = OPS['simulate.weinberg'].tolerance.atol;
    for (let i = 0; i < 500; i++) expect(Math.abs(gpu!.x[i]! - cpu!.x[i]!)).toBeLessThanOrEqual(tol);
    expect(Array.from(atMz.x)).not.toEqual(Array.from(gpu!.x));
  });

  it('function simulators run on the cpu only: webgpu is an error, auto is the cpu', async () => {
    const sim = new FunctionSimulator({ fn: (theta) => Float32Array.from(theta), thetaDim: 1, xDim: 1 });
    await expect(sim.simulate(Float64Array.of(1), { seed: 1, backend: 'webgpu' })).rejects.toMatchObject({ code: 'UNSUPPORTED_OP' });
    expect(Array.from((await sim.simulate(Float64Array.of(1), { seed: 1, backend: 'auto' })).x)).toEqual([1]);
  });

  it('sbi-engine simulate --backend webgpu: same θ, x within tolerance of --backend cpu, no environment needed', () => {
    const args = ['simulate', '--task', 'two_moons', '--from-prior', '--n', '200', '--seed', '5', '--out', '-'];
    const g = run([...args, '--backend', 'webgpu']);
    const c = run([...args, '--backend', 'cpu']);
    expect(g.code, g.stderr).toBe(0);
    expect(c.code).toBe(0);
    const [tg, tc] = [parseCsv(g.stdout), parseCsv(c.stdout)];
    expect(tg.header).toEqual(tc.header);
    const tol = OPS['simulate.two_moons'].tolerance;
    for (let i = 0; i < tc.rows; i++) {
      expect(tg.data[4 * i]).toBe(tc.data[4 * i]); // θ from the prior: CPU on both
      expect(tg.data[4 * i + 1]).toBe(tc.data[4 * i + 1]);
    }
    // x is printed with 9 significant digits
    expectWithin(tg.data.filter((_, k) => k % 4 >= 2), tc.data.filter((_, k) => k % 4 >= 2), tol.atol + 1e-8, tol.rtol + 1e-8);
  });

  it('sbi-engine infer --backend webgpu simulates, trains and samples NPE (maf) and NLE (maf: MCMC potential on the device) on webgpu', () => {
    const args = ['infer', '--task', 'gaussian_linear', '--budget', '400', '--max-epochs', '2', '--samples', '50', '--observation', '1', '--seed', '3', '--out', '-'];
    const npe = run([...args, '--method', 'npe', '--backend', 'webgpu']);
    expect(npe.code, npe.stderr).toBe(0);
    expect(npe.stderr).toMatch(/infer --backend webgpu: simulate on webgpu, train on webgpu, sample on webgpu\n/);
    const t = parseCsv(npe.stdout);
    expect(t.rows).toBe(50);
    expect(t.data.every(Number.isFinite)).toBe(true);
    // MCMC: 5 chains, 1 warm-up sweep, 2 draws each (llvmpipe runs ~45 potential calls per sweep of 10-D θ)
    const mcmcArgs = ['infer', '--task', 'gaussian_linear', '--budget', '400', '--max-epochs', '2', '--samples', '10', '--chains', '5', '--warmup', '1', '--thin', '1', '--observation', '1', '--seed', '3', '--out', '-'];
    const nle = run([...mcmcArgs, '--method', 'nle', '--backend', 'webgpu']);
    expect(nle.code, nle.stderr).toBe(0);
    expect(nle.stderr).toMatch(/infer --backend webgpu: simulate on webgpu, train on webgpu, sample on webgpu\n/);
    expect(parseCsv(nle.stdout).rows).toBe(10);
    const coverage = run(['coverage', '--task', 'gaussian_linear', '--method', 'npe', '--budget', '200', '--max-epochs', '2', '--observations', '4', '--samples', '20', '--backend', 'webgpu', '--out', '-']);
    expect(coverage.code, coverage.stderr).toBe(0);
    expect(coverage.stderr).toMatch(/coverage --backend webgpu: simulate on webgpu, train on webgpu, sample on webgpu/);
    expect(parseCsv(coverage.stdout).header).toEqual(['level', 'coverage', 'standard_error', 'conservative']);
  }, 240_000); // three CLI runs training on llvmpipe

  it('sbi-engine c2st --backend webgpu trains the classifier on webgpu: identical samples give ≈ 0.5, as on the cpu', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c2st-webgpu-'));
    const r = new PhiloxStream(9n, 0n);
    const rows = (k: number) => ['a,b', ...Array.from({ length: k }, () => `${r.normal()},${r.normal()}`)].join('\n') + '\n';
    fs.writeFileSync(path.join(dir, 'a.csv'), rows(100));
    fs.writeFileSync(path.join(dir, 'b.csv'), rows(100));
    const res = run(['c2st', path.join(dir, 'a.csv'), path.join(dir, 'b.csv'), '--backend', 'webgpu', '--max-epochs', '20']);
    const cpu = run(['c2st', path.join(dir, 'a.csv'), path.join(dir, 'b.csv'), '--max-epochs', '20']);
    expect(res.code, res.stderr).toBe(0);
    const acc = Number(res.stdout.trim());
    // the same folds, initial weights and batches: the cpu's accuracy unless a logit sits at ~0
    expect(Math.abs(acc - Number(cpu.stdout.trim()))).toBeLessThanOrEqual(0.011);
    // 200 test predictions in all: 0.5 ± 4 standard errors (0.035), plus the classifier's own bias
    expect(Math.abs(acc - 0.5)).toBeLessThan(0.15);
    fs.rmSync(dir, { recursive: true });
  });

  it('sbi-engine: unported ops and commands fail naming the op; cuda says why it is missing', () => {
    const gold = run(['simulate', '--task', 'weinberg', '--from-prior', '--n', '2', '--gold', '--backend', 'webgpu', '--out', '-']);
    expect(gold.code).toBe(1);
    expect(gold.stderr).toMatch(/UNSUPPORTED_OP.*simulate\.weinberg is not supported on the webgpu backend with gold values/);
    const cuda = run(['simulate', '--task', 'two_moons', '--theta', '0,0', '--n', '2', '--backend', 'cuda', '--out', '-']);
    expect(cuda.code).toBe(1);
    expect(cuda.stderr).toMatch(/BACKEND_UNAVAILABLE.*cuda/i);
  });
});
