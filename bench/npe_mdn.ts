// NPE with a mixture density network (densityEstimator 'mdn': K = 10 full-covariance Gaussians,
// sbi's MDN) beside MAF, the baseline measured in the same run, on two_moons and gaussian_linear:
// training time, epochs, and the C2ST of posterior samples at observation 1 against the reference
// posterior (sbibm's metric, as many samples as the reference holds). Same simulations and seeds
// for both estimators.
// Run: npx tsx bench/npe_mdn.ts [simulations=10000] [seed=1] [threads]
import { c2st } from '../src/diagnostics/c2st.js';
import { NPE } from '../src/inference/npe.js';
import { runtimeInfo } from '../src/runtime.js';
import { getTask, referenceObservation, referencePosteriorSamples, simulateFromPrior } from '../src/tasks/index.js';

const budget = Number(process.argv[2] ?? 10_000);
const seed = Number(process.argv[3] ?? 1);
const threads = process.argv[4] !== undefined ? Number(process.argv[4]) : runtimeInfo().defaultThreads;
const rows: Record<string, string | number>[] = [];
for (const taskName of ['two_moons', 'gaussian_linear'] as const) {
  const task = getTask(taskName);
  const sims = await simulateFromPrior(task, budget, { seed });
  const ref = referencePosteriorSamples(taskName, 1);
  for (const densityEstimator of ['maf', 'mdn'] as const) {
    const npe = new NPE({ prior: task.prior, densityEstimator });
    npe.appendSimulations(sims.theta, sims.x);
    const t0 = performance.now();
    const summary = await npe.train({ seed, threads });
    const trainSeconds = (performance.now() - t0) / 1000;
    const samples = npe.buildPosterior().sample(ref.n, { x: referenceObservation(taskName, 1), seed });
    const accuracy = await c2st(ref.samples, samples, ref.dim, { threads });
    const row = {
      task: taskName, densityEstimator, simulations: budget, seed, threads,
      trainSeconds: Number(trainSeconds.toFixed(2)), epochs: summary.epochs,
      secondsPerEpoch: Number((trainSeconds / summary.epochs).toFixed(3)),
      bestValidationLoss: Number(summary.bestValidationLoss.toFixed(4)), c2stObservation1: Number(accuracy.toFixed(4)),
    };
    console.log(JSON.stringify(row));
    rows.push(row);
  }
}
console.log('\n| task | estimator | train s | epochs | s/epoch | s/epoch ÷ MAF | best val. loss | C2ST (obs. 1) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const maf = rows.find((q) => q.task === r.task && q.densityEstimator === 'maf')!;
  const ratio = (r.secondsPerEpoch as number) / (maf.secondsPerEpoch as number);
  console.log(`| ${r.task} | ${r.densityEstimator} | ${r.trainSeconds} | ${r.epochs} | ${r.secondsPerEpoch} | ${ratio.toFixed(2)} | ${r.bestValidationLoss} | ${r.c2stObservation1} |`);
}
