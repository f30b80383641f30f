// NLE on the WebGPU device (issue 6): q(x | θ) trains on op flow.maf_train and the slice sampler's
// batched potential log q(x_o | θ) runs on op flow.maf_log_prob, while the chains' bookkeeping stays
// in TypeScript with the CPU's seeds. Checked against the same run on the CPU: same training to
// f32 rounding, and a posterior whose means agree within MC standard errors. Runs on llvmpipe where
// there is no GPU; skipped where WebGPU cannot start (backend_ops.test.ts fails CI in that case).
import { describe, expect, it } from 'vitest';
import { openWebGpu } from '../src/backend/webgpu.js';
import { SbiError } from '../src/errors.js';
import { NLE, SNLE } from '../src/inference/nle.js';
import { taskSimulator } from '../src/inference/sequential.js';
import { MCMCPosterior } from '../src/inference/mcmc_posterior.js';
import { stageBackends } from '../src/inference/methods.js';
import { getTask, referenceObservation, simulateFromPrior } from '../src/tasks/index.js';

const reason = await openWebGpu().then(() => '', (e: Error) => e.message);
const gpu = reason ? describe.skip : describe;

/** Per-dimension mean and its MC standard error sd / √ESS of [n, dim] draws. */
function meanAndError(samples: Float64Array, dim: number, ess: Float64Array): { mean: number[]; se: number[] } {
  const n = samples.length / dim;
  const mean: number[] = [];
  const se: number[] = [];
  for (let d = 0; d < dim; d++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += samples[i * dim + d]!;
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (samples[i * dim + d]! - m) ** 2;
    mean.push(m);
    se.push(Math.sqrt(v / (n - 1) / ess[d]!));
  }
  return { mean, se };
}

gpu(`NLE on WebGPU${reason ? ` (unavailable: ${reason})` : ''}`, () => {
  it('gaussian_linear (budget 500): trains and samples on webgpu like the cpu: losses within 1e-4, posterior means within 3 MC standard errors', async () => {
    const task = getTask('gaussian_linear');
    const { theta, x } = await simulateFromPrior(task, 500, { seed: 1 });
    const xo = referenceObservation('gaussian_linear', 1);
    const mcmc = { chains: 10, warmup: 10, thin: 1 };
    const runs = [];
    for (const backend of ['cpu', 'webgpu'] as const) {
      const nle = new NLE({ prior: task.prior, hidden: 16, layers: 2 }).appendSimulations(theta, x);
      const summary = await nle.train({ seed: 2, maxEpochs: 4, learningRate: 5e-3, backend });
      const drawn = await nle.buildPosterior().sample(100, { ...mcmc, x: xo, seed: 3, backend });
      runs.push({ summary, drawn });
    }
    const [cpu, gpuRun] = runs as [typeof runs[0], typeof runs[0]];
    expect(gpuRun.summary.epochs).toBe(cpu.summary.epochs);
    for (let e = 0; e < cpu.summary.epochs; e++) {
      expect(Math.abs(gpuRun.summary.validationLoss[e]! - cpu.summary.validationLoss[e]!)).toBeLessThan(1e-4);
    }
    const a = meanAndError(cpu.drawn.samples, 10, cpu.drawn.ess);
    const b = meanAndError(gpuRun.drawn.samples, 10, gpuRun.drawn.ess);
    expect(gpuRun.drawn.samples.every(Number.isFinite)).toBe(true);
    for (let d = 0; d < 10; d++) {
      const bound = 3 * Math.hypot(a.se[d]!, b.se[d]!);
      expect(Math.abs(a.mean[d]! - b.mean[d]!), `dimension ${d}: means ${a.mean[d]} / ${b.mean[d]}`).toBeLessThan(bound);
    }
    // The chains see the same seeds and potentials within f32 tolerance: the sampler's path is the same.
    expect(gpuRun.drawn.densityEvaluations).toBe(cpu.drawn.densityEvaluations);
  }, 120_000);

  it("NLE with an MDN trains (flow.mdn_train) and samples (flow.mdn_log_prob) on webgpu like the cpu; a TypeScript potential named on webgpu is UNSUPPORTED_OP, 'auto' is the cpu", async () => {
    const task = getTask('two_moons');
    const { theta, x } = await simulateFromPrior(task, 300, { seed: 4 });
    const xo = referenceObservation('two_moons', 1);
    const mcmc = { chains: 4, warmup: 5, thin: 1 };
    const runs = [];
    for (const backend of ['cpu', 'webgpu'] as const) {
      const nle = new NLE({ prior: task.prior, densityEstimator: 'mdn', hidden: 16, components: 3 }).appendSimulations(theta, x);
      const summary = await nle.train({ seed: 5, maxEpochs: 3, learningRate: 3e-3, backend });
      const drawn = await nle.buildPosterior().sample(40, { ...mcmc, x: xo, seed: 1, backend });
      runs.push({ summary, drawn });
    }
    const [cpu, gpuRun] = runs as [typeof runs[0], typeof runs[0]];
    for (let e = 0; e < 3; e++) expect(Math.abs(gpuRun.summary.validationLoss[e]! - cpu.summary.validationLoss[e]!)).toBeLessThan(1e-4);
    // the same chains: potentials within f32 tolerance give the same slice decisions
    expect(gpuRun.drawn.densityEvaluations).toBe(cpu.drawn.densityEvaluations);
    for (let i = 0; i < cpu.drawn.samples.length; i++) expect(Math.abs(gpuRun.drawn.samples[i]! - cpu.drawn.samples[i]!)).toBeLessThan(1e-3);
    // A posterior whose potential is plain TypeScript has no device code: named explicitly, a backend is refused.
    const post = new MCMCPosterior(task.prior, 2, (t, rows) => Float64Array.from({ length: rows }, (_, i) => -((t[2 * i]! - 0.1) ** 2) - t[2 * i + 1]! ** 2));
    const err = await post.sample(4, { x: xo, seed: 1, chains: 2, warmup: 1, backend: 'webgpu' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SbiError);
    expect((err as SbiError).code).toBe('UNSUPPORTED_OP');
    expect((err as SbiError).message).toMatch(/MCMC potential is not supported on the webgpu backend: this posterior's potential has cpu code only/);
    const viaAuto = await post.sample(4, { x: xo, seed: 1, chains: 2, warmup: 1, backend: 'auto' });
    const onCpu = await post.sample(4, { x: xo, seed: 1, chains: 2, warmup: 1 });
    expect(Array.from(viaAuto.samples)).toEqual(Array.from(onCpu.samples));
    await expect(post.sample(4, { x: xo, seed: 1, backend: 'gpu' as never })).rejects.toThrow(/Expected one of cpu, webgpu, cuda, auto for `backend` but received "gpu"/);
  }, 120_000);

  it('stageBackends: nle and snle (maf, nsf, mdn) train and sample on webgpu', async () => {
    const task = getTask('gaussian_linear');
    for (const method of ['nle', 'snle'] as const) {
      for (const kind of ['maf', 'nsf', 'mdn'] as const) {
        expect(await stageBackends(task, method, 'webgpu', kind), `${method}, ${kind}`).toMatchObject({ simulate: 'webgpu', train: 'webgpu', sample: 'webgpu', notes: [] });
      }
    }
    expect((await stageBackends(task, 'nle', 'cpu', 'maf'))).toMatchObject({ train: 'cpu', sample: 'cpu', notes: [] });
  });

  it("SNLE with backend webgpu: every round's training and MCMC proposals run on the device and match the cpu run's", async () => {
    const task = getTask('two_moons');
    const x = referenceObservation('two_moons', 1);
    const runs = [];
    for (const backend of ['cpu', 'webgpu'] as const) {
      const snle = new SNLE({ prior: task.prior, simulator: taskSimulator(task), hidden: 12, layers: 2 });
      const rounds: number[] = [];
      const post = await snle.run({
        x, rounds: 2, simulationsPerRound: 150, seed: 7, train: { maxEpochs: 3, learningRate: 3e-3, backend },
        mcmc: { chains: 4, warmup: 3, thin: 1, backend }, onRound: (info) => { rounds.push(info.posterior.summary.epochs); },
      });
      runs.push({ rounds, snle, drawn: await post.sample(20, { x, seed: 1, chains: 4, warmup: 3, thin: 1, backend }) });
    }
    const [cpu, g] = runs as [typeof runs[0], typeof runs[0]];
    expect(g.rounds).toEqual(cpu.rounds);
    // Round 2 simulates at the round-1 MCMC proposals: the same simulations when the chains agree.
    expect(g.snle.nle.simulations).toBe(cpu.snle.nle.simulations);
    expect(g.drawn.densityEvaluations).toBe(cpu.drawn.densityEvaluations);
    for (let i = 0; i < cpu.drawn.samples.length; i++) expect(Math.abs(g.drawn.samples[i]! - cpu.drawn.samples[i]!)).toBeLessThan(1e-3);
  }, 120_000);
});
