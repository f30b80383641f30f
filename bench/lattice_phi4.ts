// φ⁴ at the tutorial's point (arXiv:2101.08176: L = 8, m² = −4, λ = 8, χ₂ ≈ 0.75): the native
// HMC baseline on 1 and 2 threads (same chains, so the same χ₂), with χ₂ ± error, τ_int of M²/V
// and acceptance; then the tutorial's flow (16 checkerboard affine coupling layers, CNN hidden
// channels [8, 8]) trained by reverse KL (Adam, batch 64, a learning-rate schedule of phases, each
// continuing from the last) and flow-based independence Metropolis with the flow's own proposal
// q and with the Z2-symmetrised proposal q_s(φ) = ½(q(φ) + q(−φ)): acceptance, ESS, χ₂ ± error
// and τ_int against HMC's; training steps/s and proposals/s on 1 and 2 threads (same bits).
//   npm run bench:lattice [-- trajectories-per-chain [schedule [chain-length]]]
// schedule: comma-separated phases steps@learningRate (default 2500@3e-3,1500@1e-3), phase k
// drawing its configurations from seed k + 1.
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

const schedule = (process.argv[3] ?? '2500@3e-3,1500@1e-3').split(',').map((phase) => {
  const [s, lr] = phase.split('@');
  const p = { steps: Number(s), learningRate: Number(lr) };
  if (!(Number.isInteger(p.steps) && p.steps > 0 && p.learningRate > 0)) throw new RangeError(`Expected phases steps@learningRate but received "${phase}"`);
  return p;
});
const flowSteps = schedule.reduce((n, p) => n + p.steps, 0);
const chainLength = Number(process.argv[4] ?? 100000);
const flowTarget = { L: 8, m2: -4, lambda: 8 };

// Training speed on 1 and 2 threads over the same few steps (identical parameters).
const speedSteps = 10;
const trainSpeed: Array<{ threads: number; stepsPerSecond: number; params: Float64Array }> = [];
for (const threads of [1, 2]) {
  const r = await trainPhi4Flow({ ...flowTarget, steps: speedSteps, seed: 7, threads });
  trainSpeed.push({ threads, stepsPerSecond: speedSteps / r.seconds, params: r.model.params });
}
const sameTraining = Buffer.from(trainSpeed[0]!.params.buffer).equals(Buffer.from(trainSpeed[1]!.params.buffer));

// The long run on 2 threads, phase after phase.
let model: Phi4Flow | undefined;
let trainingSeconds = 0;
const phases: Array<{ steps: number; learningRate: number; seconds: number; firstLoss: number; lastLoss: number; lastEss: number }> = [];
for (const [k, phase] of schedule.entries()) {
  let lastReport = performance.now();
  const r = await trainPhi4Flow({
    ...flowTarget, ...phase, seed: k + 1, threads: 2, ...(model ? { init: model } : {}),
    onProgress: (p) => {
      if (performance.now() - lastReport > 30000) {
        lastReport = performance.now();
        console.error(`phase ${k + 1}: step ${p.step}/${p.steps} loss ${p.loss.toFixed(3)} ess ${p.ess.toFixed(3)}`);
      }
    },
  });
  model = r.model;
  trainingSeconds += r.seconds;
  const mean = (a: Float64Array, from: number, to: number) => a.subarray(from, to).reduce((s, v) => s + v, 0) / (to - from);
  const tail = Math.min(100, phase.steps);
  phases.push({
    ...phase, seconds: r.seconds, firstLoss: mean(r.loss, 0, tail), lastLoss: mean(r.loss, phase.steps - tail, phase.steps),
    lastEss: mean(r.ess, phase.steps - tail, phase.steps),
  });
}
const trained = model!;
trained.save(new URL('./results/lattice_phi4_flow.bin', import.meta.url).pathname);

// Sampling speed on 1 and 2 threads over a short chain (identical chains), plain and symmetrised.
const speedChain = 5000;
const sampleSpeed = [] as Array<{ symmetric: boolean; threads: number; proposalsPerSecond: number; chi2: number }>;
for (const symmetric of [false, true])
  for (const threads of [1, 2]) {
    const t0 = performance.now();
    const r = await flowMetropolis(trained, { n: speedChain, seed: 3, threads, symmetric });
    sampleSpeed.push({ symmetric, threads, proposalsPerSecond: speedChain / ((performance.now() - t0) / 1000), chi2: r.susceptibility.value });
  }
const sameChains = sampleSpeed[0]!.chi2 === sampleSpeed[1]!.chi2 && sampleSpeed[2]!.chi2 === sampleSpeed[3]!.chi2;

// The long chains on 2 threads.
const chainRows = [] as Array<{ symmetric: boolean; seconds: number; r: Awaited<ReturnType<typeof flowMetropolis>> }>;
for (const symmetric of [false, true]) {
  const t0 = performance.now();
  const r = await flowMetropolis(trained, { n: chainLength, seed: 11, threads: 2, symmetric });
  chainRows.push({ symmetric, seconds: (performance.now() - t0) / 1000, r });
}
const hmcChi = one.chi2;
const pull = (c: { value: number; error: number }) => (c.value - hmcChi.value) / Math.hypot(c.error, hmcChi.error);
const flow = {
  architecture: trained.architecture, batch: 64, schedule: phases, trainingSteps: flowSteps, trainingSeconds,
  trainStepsPerSecond: trainSpeed.map((t) => ({ threads: t.threads, stepsPerSecond: t.stepsPerSecond })),
  trainSpeedup2Threads: trainSpeed[1]!.stepsPerSecond / trainSpeed[0]!.stepsPerSecond,
  sameTrainingOn1And2Threads: sameTraining,
  sampleSpeed, sameChainsOn1And2Threads: sameChains,
  chains: chainRows.map(({ symmetric, seconds, r }) => ({
    symmetric, n: chainLength, seconds, acceptance: r.acceptance, ess: r.ess, chi2: r.susceptibility,
    pullVsHmc: pull(r.susceptibility), longestRejectionRun: r.longestRejectionRun,
  })),
};
const result = {
  machine: machineDescription(), date: new Date().toISOString().slice(0, 10),
  target: { L: 8, m2: -4, lambda: 8 }, hmc: { ...settings, burnIn, stepJitter: 0.2 }, rows,
  speedup2Threads: one.seconds / two.seconds, flow,
};
writeResults('lattice_phi4.json', result);
const f = (x: number, d = 3) => x.toFixed(d);
const speed = (symmetric: boolean) => sampleSpeed.filter((s) => s.symmetric === symmetric)
  .map((s) => `${s.proposalsPerSecond.toFixed(0)} on ${s.threads} thread${s.threads > 1 ? 's' : ''}`).join(', ');
const table = [
  `Measured ${result.date} on ${result.machine}. HMC: ${chains} chains × ${steps} trajectories (${burnIn} burn-in each), ` +
    `${settings.leapfrogSteps} leapfrog steps of ${settings.stepSize} (jitter 0.2). Reference χ₂ = 0.75 ± 0.01 (arXiv:2101.08176).`,
  '',
  '| sampler | threads | acceptance | ESS of p/q | χ₂ | (χ₂ − HMC)/σ | τ_int(M²/V) | longest rejection run | rate | time (s) |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| HMC | ${r.threads} | ${f(r.acceptance)} | – | ${f(r.chi2.value)} ± ${f(r.chi2.error)} | – | ` +
    `${f(r.chi2.tau, 2)} ± ${f(r.chi2.tauError, 2)} | – | ${r.trajectoriesPerSecond.toFixed(0)} trajectories/s | ${f(r.seconds, 2)} |`),
  ...chainRows.map(({ symmetric, seconds, r }) => `| flow-based independence Metropolis, ${symmetric ? 'symmetrised q_s' : 'q'} | 2 | ` +
    `${f(r.acceptance)} | ${f(r.ess, 4)} | ${f(r.susceptibility.value)} ± ${f(r.susceptibility.error)} | ${f(pull(r.susceptibility), 2)} | ` +
    `${f(r.susceptibility.tau, 1)} ± ${f(r.susceptibility.tauError, 1)} | ${r.longestRejectionRun} | ${(chainLength / seconds).toFixed(0)} proposals/s | ${f(seconds, 1)} |`),
  '',
  `Flow: ${trained.architecture.layers} affine coupling layers, hidden channels [${trained.architecture.hidden}, ${trained.architecture.hidden}], ` +
    `batch 64, trained ${flowSteps} steps on 2 threads in ${f(trainingSeconds, 0)} s, Adam phases ` +
    phases.map((p) => `${p.steps} @ ${p.learningRate} (loss ${f(p.firstLoss, 2)} → ${f(p.lastLoss, 2)}, batch ESS ${f(p.lastEss, 3)} over the last ${Math.min(100, p.steps)} steps)`).join(', ') +
    `. Chains of ${chainLength} proposals. HMC 2 threads / 1 thread: ${f(one.seconds / two.seconds, 2)}×. ` +
    `Training: ${trainSpeed.map((t) => `${f(t.stepsPerSecond, 2)} steps/s on ${t.threads} thread${t.threads > 1 ? 's' : ''}`).join(', ')} ` +
    `(${f(flow.trainSpeedup2Threads, 2)}×, identical parameters: ${sameTraining}). Proposals/s over ${speedChain}: q ${speed(false)}; ` +
    `q_s ${speed(true)} (identical chains on 1 and 2 threads: ${sameChains}).`,
].join('\n');
replaceReadmeBlock('lattice-phi4', `## φ⁴ lattice (issue 5) — \`npm run bench:lattice\`\n\n${table}`);
console.log(table);
