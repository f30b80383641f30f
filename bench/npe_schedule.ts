// NPE training schedules on two_moons (MAF): for each (learning rate, batch size) and seed, train
// once on the same simulations, then draw 10⁴ posterior samples at each observation and score
// them with C2ST against sbibm's reference posterior. NPE is amortised, so one training serves
// every observation. Prints one JSON line per (schedule, seed) and a summary table; the epochs
// and C2ST do not depend on the machine or thread count (the training is deterministic), the
// CPU seconds do.
// Run: npx tsx bench/npe_schedule.ts [simulations=10000] [seeds=1,2] [observations=1,2,3]
//        [schedules=5e-4x200,1e-3x200] [threads=2] [results file, e.g. npe_schedule.json]
import { NPE } from '../src/inference/npe.js';
import { c2st } from '../src/diagnostics/c2st.js';
import { setThreads } from '../src/runtime.js';
import { getTask, referenceObservation, referencePosteriorSamples, simulateFromPrior } from '../src/tasks/index.js';
import { machineDescription, writeResults } from './common.js';

const budget = Number(process.argv[2] ?? 10_000);
const seeds = (process.argv[3] ?? '1,2').split(',').map(Number);
const observations = (process.argv[4] ?? '1,2,3').split(',').map(Number);
const schedules = (process.argv[5] ?? '5e-4x200,1e-3x200').split(',').map((s) => {
  const [lr, batch] = s.split('x');
  return { learningRate: Number(lr), batchSize: Number(batch) };
});
const threads = Number(process.argv[6] ?? 2);
const resultsFile = process.argv[7];
setThreads(threads);

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const task = getTask('two_moons');
const rows: { lr: number; batch: number; seed: number; epochs: number; cpu: number; c2st: number[] }[] = [];
for (const seed of seeds) {
  const sims = await simulateFromPrior(task, budget, { seed, threads });
  for (const { learningRate, batchSize } of schedules) {
    const c0 = cpu();
    const npe = new NPE({ prior: task.prior, densityEstimator: 'maf' }).appendSimulations(sims.theta, sims.x);
    const summary = await npe.train({ seed, threads, learningRate, batchSize });
    const trainCpu = cpu() - c0;
    const post = npe.buildPosterior();
    const scores: number[] = [];
    for (const k of observations) {
      const samples = post.sample(10_000, { x: referenceObservation('two_moons', k), seed });
      const ref = referencePosteriorSamples('two_moons', k);
      scores.push(Number((await c2st(ref.samples, samples, ref.dim)).toFixed(4)));
    }
    const row = { lr: learningRate, batch: batchSize, seed, epochs: summary.epochs, cpu: Number(trainCpu.toFixed(2)), c2st: scores };
    rows.push(row);
    console.log(JSON.stringify({ ...row, bestEpoch: summary.bestEpoch, bestValidationLoss: summary.bestValidationLoss }));
  }
}
console.log(`\n${machineDescription()}, ${threads} threads, ${budget} simulations, observations ${observations.join(', ')}\n`);
console.log(`| lr | batch | seed | epochs | training CPU s | ${observations.map((k) => `C2ST obs ${k}`).join(' | ')} | mean |`);
console.log(`|---:|---:|---:|---:|---:|${observations.map(() => '---:|').join('')}---:|`);
for (const r of rows) {
  const mean = r.c2st.reduce((a, b) => a + b, 0) / r.c2st.length;
  console.log(`| ${r.lr} | ${r.batch} | ${r.seed} | ${r.epochs} | ${r.cpu} | ${r.c2st.join(' | ')} | ${mean.toFixed(4)} |`);
}
if (resultsFile)
  writeResults(resultsFile, { machine: machineDescription(), date: new Date().toISOString(), budget, threads, observations, rows });
