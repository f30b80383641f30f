// SNPE (TSNPE) and SNRE rounds on the cpu and on webgpu, one after the other in one process
// (docs/backends.md "Sequential rounds on the device"): the 2-D toy θ ~ U(−3, 3)²,
// x = θ + N(0, 0.2²) at x_o = (1, −1), 2 rounds × 300 simulations, 16 hidden units, lr 5e-3.
// Prints per estimator the process CPU time (user + sys) of each run, the largest per-epoch
// |Δ loss| between them (training / validation, both rounds), SNPE's threshold difference and the
// round-2 θ values the two runs share.
// Run: npx tsx bench/sequential_webgpu.ts [epochs] [maf,nsf,mdn,snre]
import { SNRE } from '../src/inference/nre.js';
import type { DensityEstimatorKind } from '../src/inference/npe.js';
import type { SimulatorFunction } from '../src/inference/sequential.js';
import { SNPE } from '../src/inference/snpe.js';
import { createPrior } from '../src/priors.js';
import { PhiloxStream } from '../src/random/philox.js';

const epochs = Number(process.argv[2] ?? 10);
const runs = (process.argv[3] ?? 'maf,nsf,mdn,snre').split(',');
const prior = () => createPrior({ kind: 'boxUniform', low: [-3, -3], high: [3, 3] });
const simulator: SimulatorFunction = (theta, rows, seed) => {
  const x = new Float64Array(rows * 2);
  for (let i = 0; i < rows; i++) {
    const rng = new PhiloxStream(seed, i);
    for (let d = 0; d < 2; d++) x[2 * i + d] = theta[2 * i + d]! + 0.2 * rng.normal();
  }
  return x;
};
const xo = [1, -1];

interface Round { theta: Float64Array; trainLoss: Float64Array; validationLoss: Float64Array; threshold?: number }

async function timed(f: () => Promise<Round[]>): Promise<{ rounds: Round[]; cpuSeconds: number }> {
  const c0 = process.cpuUsage();
  const rounds = await f();
  const c = process.cpuUsage(c0);
  return { rounds, cpuSeconds: (c.user + c.system) / 1e6 };
}

function snpe(kind: DensityEstimatorKind, backend: 'cpu' | 'webgpu') {
  return timed(async () => {
    const rounds: Round[] = [];
    await new SNPE({ prior: prior(), simulator, hidden: 16, layers: 2, densityEstimator: kind }).run({
      x: xo, rounds: 2, simulationsPerRound: 300, seed: 2, supportSamples: 2000, backend,
      train: { learningRate: 5e-3, maxEpochs: epochs, ...(backend === 'cpu' ? {} : { backend }) },
      onRound: (i) => {
        const s = i.posterior.summary;
        rounds.push({ theta: i.theta, trainLoss: s.trainLoss, validationLoss: s.validationLoss, threshold: i.truncation?.logProbThreshold });
      },
    });
    return rounds;
  });
}

function snre(backend: 'cpu' | 'webgpu') {
  return timed(async () => {
    const seen: Float64Array[] = [];
    const device = backend === 'cpu' ? {} : { backend };
    const r = await new SNRE({ prior: prior(), variant: 'b', hidden: 16, blocks: 1, simulator: (t, n, s) => { seen.push(t.slice()); return simulator(t, n, s); } }).run({
      x: xo, rounds: 2, simulationsPerRound: 300, seed: 2, train: { learningRate: 5e-3, maxEpochs: epochs, ...device },
      mcmc: { chains: 10, warmup: 10, thin: 1, ...device },
    });
    return r.rounds.map((s, k) => ({ theta: seen[k]!, trainLoss: s.training.trainLoss, validationLoss: s.training.validationLoss }));
  });
}

const maxDiff = (a: Float64Array, b: Float64Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const shared = (a: Float64Array, b: Float64Array) => a.reduce((k, v, i) => k + (v === b[i] ? 1 : 0), 0);

console.log('| run | cpu: CPU s | webgpu: CPU s | max |Δ train loss| | max |Δ validation loss| | threshold Δ | round-2 θ values shared |');
console.log('|---|---|---|---|---|---|---|');
for (const name of runs) {
  const go = (backend: 'cpu' | 'webgpu') => (name === 'snre' ? snre(backend) : snpe(name as DensityEstimatorKind, backend));
  const cpu = await go('cpu');
  const dev = await go('webgpu');
  let dTrain = 0, dVal = 0;
  for (let r = 0; r < 2; r++) {
    dTrain = Math.max(dTrain, maxDiff(cpu.rounds[r]!.trainLoss, dev.rounds[r]!.trainLoss));
    dVal = Math.max(dVal, maxDiff(cpu.rounds[r]!.validationLoss, dev.rounds[r]!.validationLoss));
  }
  const t = cpu.rounds[1]!.threshold;
  const dThreshold = t === undefined ? '–' : Math.abs(t - dev.rounds[1]!.threshold!).toExponential(1);
  const [a, b] = [cpu.rounds[1]!.theta, dev.rounds[1]!.theta];
  console.log(`| ${name === 'snre' ? 'SNRE (NRE-B)' : `SNPE ${name}`}, ${epochs} epochs | ${cpu.cpuSeconds.toFixed(2)} | ${dev.cpuSeconds.toFixed(2)} | ${dTrain.toExponential(1)} | ${dVal.toExponential(1)} | ${dThreshold} | ${shared(a, b)} / ${a.length} |`);
}
process.exit(0);
