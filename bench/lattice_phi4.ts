// φ⁴ at the tutorial's point (arXiv:2101.08176: L = 8, m² = −4, λ = 8, χ₂ ≈ 0.75): the native
// HMC baseline on 1 and 2 threads (same chains, so the same χ₂), with χ₂ ± error, τ_int of M²/V
// and acceptance; then the tutorial's flow (16 checkerboard affine coupling layers, CNN hidden
// channels [8, 8]) trained by reverse KL (Adam 1e-3, batch 64) and flow-based independence
// Metropolis: training steps/s and proposals/s on 1 and 2 threads (same bits), acceptance, ESS,
// χ₂ ± error and τ_int against HMC's.
//   npm run bench:lattice [-- trajectories-per-chain [flow-training-steps [chain-length]]]
import { Phi4Action, Phi4Flow, dropBurnIn, flowMetropolis, hmc, trainPhi4Flow, twoPointSusceptibility } from '../src/lattice/index.js';
import { machineDescription, replaceReadmeBlock, writeResults } from './common.js';

const steps = Number(process.argv[2] ?? 20000);
const chains = 8;
const burnIn = 500;
const target = new Phi4Action({ L: 8, m2: -4, lambda: 8 });
const settings = { seed: 1, steps, chains, leapfrogSteps: 10, stepSize: 0.1 };

const rows = [1, 2].map((threads) => {
  const t0 = performance.now();
  const r = hmc(target, { ...settings, threads });
  const seconds = (performance.now() - t0) / 1000;
  const chi = twoPointSusceptibility(dropBurnIn(r.magnetization, chains, burnIn), target.sites, chains);
  return { threads, seconds, trajectoriesPerSecond: (chains * steps) / seconds, acceptance: r.acceptance, chi2: chi };
});
const [one, two] = rows as [typeof rows[0], typeof rows[0]];

// The flow: training speed on 1 and 2 threads over the same few steps (identical parameters),
// then the long run on 2 threads, then the chain on 1 and 2 threads (identical chains).
const flowSteps = Number(process.argv[3] ?? 3000);
const chainLength = Number(process.argv[4] ?? 200000);
const flowTarget = { L: 8, m2: -4, lambda: 8 };
const speedSteps = 10;
const trainSpeed: Array<{ threads: number; stepsPerSecond: number; params: Float64Array }> = [];
for (const threads of [1, 2]) {
  const r = await trainPhi4Flow({ ...flowTarget, steps: speedSteps, seed: 7, threads });
  trainSpeed.push({ threads, stepsPerSecond: speedSteps / r.seconds, params: r.model.params });
}
const sameTraining = Buffer.from(trainSpeed[0]!.params.buffer).equals(Buffer.from(trainSpeed[1]!.params.buffer));
let lastReport = performance.now();
const trained = await trainPhi4Flow({
  ...flowTarget, steps: flowSteps, seed: 1, threads: 2,
  onProgress: (p) => {
    if (performance.now() - lastReport > 30000) {
      lastReport = performance.now();
      console.error(`step ${p.step}/${p.steps} loss ${p.loss.toFixed(3)} ess ${p.ess.toFixed(3)}`);
    }
  },
});
const model: Phi4Flow = trained.model;
model.save(new URL('./results/lattice_phi4_flow.bin', import.meta.url).pathname);
const chainRows = [] as Array<{ threads: number; seconds: number; proposalsPerSecond: number; r: Awaited<ReturnType<typeof flowMetropolis>> }>;
for (const threads of [1, 2]) {
  const t0 = performance.now();
  const r = await flowMetropolis(model, { n: chainLength, seed: 11, threads });
  const seconds = (performance.now() - t0) / 1000;
  chainRows.push({ threads, seconds, proposalsPerSecond: chainLength / seconds, r });
}
const mc = chainRows[0]!.r;
const flow = {
  architecture: model.architecture, trainingSteps: flowSteps, batch: 64, learningRate: 1e-3,
  trainingSeconds: trained.seconds, finalLoss: model.training!.finalLoss, finalBatchEss: model.training!.finalEss,
  trainStepsPerSecond: trainSpeed.map((t) => ({ threads: t.threads, stepsPerSecond: t.stepsPerSecond })),
  trainSpeedup2Threads: trainSpeed[1]!.stepsPerSecond / trainSpeed[0]!.stepsPerSecond,
  sameTrainingOn1And2Threads: sameTraining,
  chain: {
    n: chainLength, acceptance: mc.acceptance, ess: mc.ess, chi2: mc.susceptibility, longestRejectionRun: mc.longestRejectionRun,
    sameChainOn1And2Threads: chainRows[0]!.r.susceptibility.value === chainRows[1]!.r.susceptibility.value,
    rows: chainRows.map(({ threads, seconds, proposalsPerSecond }) => ({ threads, seconds, proposalsPerSecond })),
    speedup2Threads: chainRows[0]!.seconds / chainRows[1]!.seconds,
  },
};
const result = {
  machine: machineDescription(), date: new Date().toISOString().slice(0, 10),
  target: { L: 8, m2: -4, lambda: 8 }, hmc: { ...settings, burnIn, stepJitter: 0.2 }, rows,
  speedup2Threads: one.seconds / two.seconds, flow,
};
writeResults('lattice_phi4.json', result);
const f = (x: number, d = 3) => x.toFixed(d);
const table = [
  `Measured ${result.date} on ${result.machine}. HMC: ${chains} chains × ${steps} trajectories (${burnIn} burn-in each), ` +
    `${settings.leapfrogSteps} leapfrog steps of ${settings.stepSize} (jitter 0.2). Reference χ₂ = 0.75 ± 0.01 (arXiv:2101.08176).`,
  '',
  '| sampler | threads | acceptance | χ₂ | τ_int(M²/V) | trajectories/s | time (s) | speed-up vs 1 thread |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| HMC | ${r.threads} | ${f(r.acceptance)} | ${f(r.chi2.value)} ± ${f(r.chi2.error)} | ${f(r.chi2.tau, 2)} ± ${f(r.chi2.tauError, 2)} | ` +
    `${r.trajectoriesPerSecond.toFixed(0)} | ${f(r.seconds, 2)} | ${f(one.seconds / r.seconds, 2)} |`),
  ...chainRows.map((c) => `| flow-based independence Metropolis | ${c.threads} | ${f(mc.acceptance)} | ${f(mc.susceptibility.value)} ± ` +
    `${f(mc.susceptibility.error)} | ${f(mc.susceptibility.tau, 2)} ± ${f(mc.susceptibility.tauError, 2)} | ${c.proposalsPerSecond.toFixed(0)} proposals/s | ` +
    `${f(c.seconds, 2)} | ${f(chainRows[0]!.seconds / c.seconds, 2)} |`),
  '',
  `Flow: ${model.architecture.layers} affine coupling layers, hidden channels [${model.architecture.hidden}, ${model.architecture.hidden}], ` +
    `trained ${flowSteps} steps of batch 64 (Adam 1e-3) on 2 threads in ${f(trained.seconds, 0)} s; loss (mean of the last 100 steps) ` +
    `${f(flow.finalLoss)}, batch ESS ${f(flow.finalBatchEss)}; chain of ${chainLength} proposals: ESS of the importance weights ${f(mc.ess)}, ` +
    `longest rejection run ${mc.longestRejectionRun}. Training: ${trainSpeed.map((t) => `${f(t.stepsPerSecond, 2)} steps/s on ${t.threads} thread${t.threads > 1 ? 's' : ''}`).join(', ')} ` +
    `(${f(flow.trainSpeedup2Threads, 2)}×, identical parameters: ${sameTraining}).`,
].join('\n');
replaceReadmeBlock('lattice-phi4', `## φ⁴ lattice (issue 5) — \`npm run bench:lattice\`\n\n${table}`);
console.log(table);
