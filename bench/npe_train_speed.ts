// NPE training speed on two_moons (MAF, sbi's defaults): simulate, train, draw posterior samples
// at observation 1, end to end, with the seconds and CPU seconds of each stage and the seconds per
// epoch. Optional C2ST of the samples against the reference posterior (not part of the time).
// Run: npx tsx bench/npe_train_speed.ts [simulations=10000] [seed=1] [threads=2] [maxEpochs=∞] [c2st=0|1]
//        [learningRate=5e-4 (sbi's)] [batchSize=200 (sbi's)]
// Compare builds by running the same command from two checkouts in one session (bench/README.md).
import { NPE } from '../src/inference/npe.js';
import { c2st } from '../src/diagnostics/c2st.js';
import { runtimeInfo, setThreads } from '../src/runtime.js';
import { getTask, referenceObservation, referencePosteriorSamples, simulateFromPrior } from '../src/tasks/index.js';

const budget = Number(process.argv[2] ?? 10_000);
const seed = Number(process.argv[3] ?? 1);
const threads = Number(process.argv[4] ?? 2);
const maxEpochs = process.argv[5] && process.argv[5] !== 'inf' ? Number(process.argv[5]) : undefined;
const withC2st = process.argv[6] === '1';
const learningRate = process.argv[7] ? Number(process.argv[7]) : undefined;
const batchSize = process.argv[8] ? Number(process.argv[8]) : undefined;
setThreads(threads);

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const task = getTask('two_moons');
const t0 = performance.now(), c0 = cpu();
const sims = await simulateFromPrior(task, budget, { seed, threads });
const t1 = performance.now(), c1 = cpu();
const npe = new NPE({ prior: task.prior, densityEstimator: 'maf' }).appendSimulations(sims.theta, sims.x);
const summary = await npe.train({
  seed, threads, ...(maxEpochs ? { maxEpochs } : {}), ...(learningRate ? { learningRate } : {}), ...(batchSize ? { batchSize } : {}),
});
const t2 = performance.now(), c2 = cpu();
const samples = npe.buildPosterior().sample(10_000, { x: referenceObservation('two_moons', 1), seed });
const t3 = performance.now(), c3 = cpu();
const out: Record<string, unknown> = {
  simulations: budget, seed, threads, learningRate: learningRate ?? 5e-4, batchSize: batchSize ?? 200, isa: runtimeInfo().activeIsa, epochs: summary.epochs, bestEpoch: summary.bestEpoch,
  bestValidationLoss: Number(summary.bestValidationLoss.toFixed(5)),
  simulateSeconds: Number(((t1 - t0) / 1000).toFixed(3)),
  trainSeconds: Number(((t2 - t1) / 1000).toFixed(3)), trainCpuSeconds: Number((c2 - c1).toFixed(3)),
  secondsPerEpoch: Number(((t2 - t1) / 1000 / summary.epochs).toFixed(4)),
  cpuSecondsPerEpoch: Number(((c2 - c1) / summary.epochs).toFixed(4)),
  sampleSeconds: Number(((t3 - t2) / 1000).toFixed(3)),
  endToEndSeconds: Number(((t3 - t0) / 1000).toFixed(3)), endToEndCpuSeconds: Number((c3 - c0).toFixed(3)),
};
if (withC2st) {
  const ref = referencePosteriorSamples('two_moons', 1);
  out.c2stObservation1 = Number((await c2st(ref.samples, samples, ref.dim)).toFixed(4));
}
console.log(JSON.stringify(out));
