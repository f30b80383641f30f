// Trains NPE (MAF, sbi's defaults) on two_moons with 10 000 simulations and prints the training
// time, the epochs and the C2ST of 10 000 posterior samples at observation 1 against the
// reference posterior (sbibm's metric). Run: npx tsx bench/npe_two_moons.ts [simulations] [seed]
import { NPE } from '../src/inference/npe.js';
import { c2st } from '../src/diagnostics/c2st.js';
import { runtimeInfo } from '../src/runtime.js';
import { getTask, referenceObservation, referencePosteriorSamples, simulateFromPrior } from '../src/tasks/index.js';

const budget = Number(process.argv[2] ?? 10_000);
const seed = Number(process.argv[3] ?? 1);
const task = getTask('two_moons');
const sims = await simulateFromPrior(task, budget, { seed });
for (const densityEstimator of ['maf', 'nsf'] as const) {
  const npe = new NPE({ prior: task.prior, densityEstimator });
  npe.appendSimulations(sims.theta, sims.x);
  const t0 = performance.now();
  const summary = await npe.train({ seed });
  const trainSeconds = (performance.now() - t0) / 1000;
  const ref = referencePosteriorSamples('two_moons', 1);
  const samples = npe.buildPosterior().sample(ref.n, { x: referenceObservation('two_moons', 1), seed });
  const accuracy = await c2st(ref.samples, samples, ref.dim);
  console.log(JSON.stringify({
    task: 'two_moons', densityEstimator, simulations: budget, seed, threads: runtimeInfo().defaultThreads,
    trainSeconds: Number(trainSeconds.toFixed(2)), epochs: summary.epochs, bestEpoch: summary.bestEpoch,
    bestValidationLoss: Number(summary.bestValidationLoss.toFixed(4)), c2stObservation1: Number(accuracy.toFixed(4)),
  }));
}
