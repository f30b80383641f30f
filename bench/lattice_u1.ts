// 2-D U(1) gauge theory at the point of Kanwar et al. (arXiv:2003.06413: L = 8, β = 2): the native
// HMC baseline on 1 and 2 threads (same chains, so the same figures), with ⟨Q²⟩ ± error against
// the exact torus value (src/lattice/u1.ts u1Exact), τ_int of Q and Q², the plaquette and acceptance;
// then the tutorial's gauge-equivariant flow (16 layers, NCP mixtures of 2 components, CNN hidden
// channels [8, 8]) trained by reverse KL (Adam 1e-3, batch 64) and flow-based independence
// Metropolis: training steps/s and proposals/s on 1 and 2 threads (same bits), acceptance, ESS,
// ⟨Q²⟩ ± error and τ_int(Q) beside HMC's from the same run.
//   npm run bench:lattice-u1 [-- trajectories-per-chain [flow-training-steps [chain-length]]]
import {
  U1Action, U1Flow, dropBurnIn, flowMetropolis, integratedAutocorrelation, trainU1Flow, u1Exact, u1Hmc, type U1FlowMetropolisResult,
} from '../src/lattice/index.js';
import { machineDescription, replaceReadmeBlock, writeResults } from './common.js';

const steps = Number(process.argv[2] ?? 20000);
const chains = 8;
const burnIn = 500;
const L = 8, beta = 2;
const target = new U1Action({ L, beta });
const exact = u1Exact(L, beta);
const settings = { seed: 1, steps, chains, leapfrogSteps: 10, stepSize: 0.1 };

const rows = [1, 2].map((threads) => {
  const t0 = performance.now();
  const r = u1Hmc(target, { ...settings, threads });
  const seconds = (performance.now() - t0) / 1000;
  const q = dropBurnIn(r.charge, chains, burnIn);
  const q2 = integratedAutocorrelation(q.map((v) => v * v), { chains });
  const tauQ = integratedAutocorrelation(q, { chains });
  const plaq = integratedAutocorrelation(dropBurnIn(r.action, chains, burnIn).map((s) => -s / (beta * L * L)), { chains });
  return { threads, seconds, trajectoriesPerSecond: (chains * steps) / seconds, acceptance: r.acceptance, q2, tauQ, plaq };
});
const [one, two] = rows as [typeof rows[0], typeof rows[0]];

// The flow: training speed on 1 and 2 threads over the same few steps (identical parameters),
// then the long run on 2 threads, then the chain on 1 and 2 threads (identical chains).
const flowSteps = Number(process.argv[3] ?? 2500);
const chainLength = Number(process.argv[4] ?? 40000);
const speedSteps = 5;
const trainSpeed: Array<{ threads: number; stepsPerSecond: number; params: Float64Array }> = [];
for (const threads of [1, 2]) {
  const r = await trainU1Flow({ L, beta, steps: speedSteps, seed: 7, threads });
  trainSpeed.push({ threads, stepsPerSecond: speedSteps / r.seconds, params: r.model.params });
}
const sameTraining = Buffer.from(trainSpeed[0]!.params.buffer).equals(Buffer.from(trainSpeed[1]!.params.buffer));
let lastReport = performance.now();
const trained = await trainU1Flow({
  L, beta, steps: flowSteps, seed: 1, threads: 2,
  onProgress: (p) => {
    if (performance.now() - lastReport > 30000) {
      lastReport = performance.now();
      console.error(`step ${p.step}/${p.steps} loss ${p.loss.toFixed(3)} ess ${p.ess.toFixed(3)}`);
    }
  },
});
const model: U1Flow = trained.model;
model.save(new URL('./results/lattice_u1_flow.bin', import.meta.url).pathname);
const chainRows = [] as Array<{ threads: number; seconds: number; proposalsPerSecond: number; r: U1FlowMetropolisResult }>;
for (const threads of [1, 2]) {
  const t0 = performance.now();
  const r = await flowMetropolis(model, { n: chainLength, seed: 11, threads });
  const seconds = (performance.now() - t0) / 1000;
  chainRows.push({ threads, seconds, proposalsPerSecond: chainLength / seconds, r });
}
const mc = chainRows[0]!.r;
const mean = (a: Float64Array, from: number) => a.subarray(from).reduce((x, v) => x + v, 0) / (a.length - from);
const flow = {
  architecture: model.architecture, trainingSteps: flowSteps, batch: 64, learningRate: 1e-3,
  trainingSeconds: trained.seconds, finalLoss: model.training!.finalLoss, finalBatchEss: model.training!.finalEss,
  lossFirst100: mean(trained.loss.subarray(0, 100), 0), essFirst100: mean(trained.ess.subarray(0, 100), 0),
  trainStepsPerSecond: trainSpeed.map((t) => ({ threads: t.threads, stepsPerSecond: t.stepsPerSecond })),
  trainSpeedup2Threads: trainSpeed[1]!.stepsPerSecond / trainSpeed[0]!.stepsPerSecond,
  sameTrainingOn1And2Threads: sameTraining,
  chain: {
    n: chainLength, acceptance: mc.acceptance, ess: mc.ess, meanQ2: mc.meanQ2, tauQ: mc.tauQ, longestRejectionRun: mc.longestRejectionRun,
    sameChainOn1And2Threads: chainRows[0]!.r.meanQ2.value === chainRows[1]!.r.meanQ2.value && chainRows[0]!.r.acceptance === chainRows[1]!.r.acceptance,
    rows: chainRows.map(({ threads, seconds, proposalsPerSecond }) => ({ threads, seconds, proposalsPerSecond })),
    speedup2Threads: chainRows[0]!.seconds / chainRows[1]!.seconds,
  },
};
const result = {
  machine: machineDescription(), date: new Date().toISOString().slice(0, 10),
  target: { L, beta }, exact, hmc: { ...settings, burnIn, stepJitter: 0.2 }, rows,
  speedup2Threads: one.seconds / two.seconds, flow,
};
writeResults('lattice_u1.json', result);
const f = (x: number, d = 3) => x.toFixed(d);
const z = (mc.meanQ2.value - exact.meanQ2) / mc.meanQ2.error;
const table = [
  `Measured ${result.date} on ${result.machine}. HMC: ${chains} chains × ${steps} trajectories (${burnIn} burn-in each), ` +
    `${settings.leapfrogSteps} leapfrog steps of ${settings.stepSize} (jitter 0.2), cold start. Exact on the 8×8 torus: ` +
    `⟨Q²⟩ = ${f(exact.meanQ2, 4)} (χ_Q = ⟨Q²⟩/V = ${f(exact.topologicalSusceptibility, 5)}), ⟨cos P⟩ = ${f(exact.meanPlaquette, 5)}.`,
  '',
  '| sampler | threads | acceptance | ⟨Q²⟩ | τ_int(Q) | τ_int(Q²) | ⟨cos P⟩ | trajectories/s | time (s) | speed-up vs 1 thread |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| HMC | ${r.threads} | ${f(r.acceptance)} | ${f(r.q2.mean)} ± ${f(r.q2.meanError)} | ${f(r.tauQ.tau, 2)} ± ${f(r.tauQ.tauError, 2)} | ` +
    `${f(r.q2.tau, 2)} ± ${f(r.q2.tauError, 2)} | ${f(r.plaq.mean, 4)} ± ${f(r.plaq.meanError, 4)} | ${r.trajectoriesPerSecond.toFixed(0)} | ${f(r.seconds, 2)} | ${f(one.seconds / r.seconds, 2)} |`),
  ...chainRows.map((c) => `| gauge-equivariant flow + independence Metropolis | ${c.threads} | ${f(mc.acceptance)} | ${f(mc.meanQ2.value)} ± ${f(mc.meanQ2.error)} | ` +
    `${f(mc.tauQ.tau, 2)} ± ${f(mc.tauQ.tauError, 2)} | ${f(mc.meanQ2.tau, 2)} ± ${f(mc.meanQ2.tauError, 2)} | | ${c.proposalsPerSecond.toFixed(0)} proposals/s | ` +
    `${f(c.seconds, 2)} | ${f(chainRows[0]!.seconds / c.seconds, 2)} |`),
  '',
  `Flow: ${model.architecture.layers} gauge-equivariant coupling layers (NCP mixtures of ${model.architecture.components} components with a rotation), ` +
    `hidden channels [${model.architecture.hidden}, ${model.architecture.hidden}], trained ${flowSteps} steps of batch 64 (Adam 1e-3) on 2 threads in ` +
    `${f(trained.seconds, 0)} s; loss mean(log q + S) ${f(flow.lossFirst100)} over the first 100 steps, ${f(flow.finalLoss)} over the last 100; ` +
    `batch ESS ${f(flow.essFirst100)} → ${f(flow.finalBatchEss)}. Chain of ${chainLength} proposals: ESS of the importance weights ${f(mc.ess)}, ` +
    `longest rejection run ${mc.longestRejectionRun}; ⟨Q²⟩ is ${f(Math.abs(z), 1)} standard errors from the exact value. Training: ` +
    `${trainSpeed.map((t) => `${f(t.stepsPerSecond, 2)} steps/s on ${t.threads} thread${t.threads > 1 ? 's' : ''}`).join(', ')} ` +
    `(${f(flow.trainSpeedup2Threads, 2)}×, identical parameters: ${sameTraining}); identical chains on 1 and 2 threads: ${flow.chain.sameChainOn1And2Threads}.`,
].join('\n');
replaceReadmeBlock('lattice-u1', `## U(1) lattice gauge theory (issue 5) — \`npm run bench:lattice-u1\`\n\n${table}`);
console.log(table);
