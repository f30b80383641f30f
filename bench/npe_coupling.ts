// Autoregressive vs coupling flows in NPE: for each task and density estimator, 10 000 simulations
// (by default), training with sbi's defaults (early stopping), then 10 000 posterior samples at
// observation 1 scored by C2ST against the reference posterior. Prints seconds per training
// epoch, the sampling time and C2ST, with each time also as a ratio to 'nsf' measured in the same
// run (the machine is shared, so the ratios are what to compare).
//   npx tsx bench/npe_coupling.ts [simulations] [seed] [tasks (comma-separated)] [estimators] [c2st rows]
// e.g. npx tsx bench/npe_coupling.ts 10000 1 two_moons,gaussian_linear maf,nsf,nsf-coupling 10000
// (c2st rows < 10 000 scores the first rows of the samples and of the reference only: faster.)
import { c2st } from '../src/diagnostics/c2st.js';
import type { DensityEstimatorKind } from '../src/inference/flow_estimator.js';
import { NPE } from '../src/inference/npe.js';
import { getTask, referenceObservation, referencePosteriorSamples, simulateFromPrior } from '../src/tasks/index.js';
import { machineDescription } from './common.js';

const budget = Number(process.argv[2] ?? 10_000);
const seed = Number(process.argv[3] ?? 1);
const tasks = (process.argv[4] ?? 'two_moons,gaussian_linear').split(',');
const estimators = (process.argv[5] ?? 'maf,nsf,nsf-coupling').split(',') as DensityEstimatorKind[];
const c2stRows = Number(process.argv[6] ?? 10_000);

interface Row {
  task: string;
  densityEstimator: DensityEstimatorKind;
  epochs: number;
  secondsPerEpoch: number;
  sampleSeconds: number;
  c2st: number;
}

const rows: Row[] = [];
for (const name of tasks) {
  const task = getTask(name);
  const sims = await simulateFromPrior(task, budget, { seed });
  const ref = referencePosteriorSamples(name, 1);
  const x = referenceObservation(name, 1);
  for (const densityEstimator of estimators) {
    const npe = new NPE({ prior: task.prior, densityEstimator });
    npe.appendSimulations(sims.theta, sims.x);
    const t0 = performance.now();
    const summary = await npe.train({ seed });
    const trainSeconds = (performance.now() - t0) / 1000;
    const posterior = npe.buildPosterior();
    const t1 = performance.now();
    const samples = posterior.sample(ref.n, { x, seed });
    const sampleSeconds = (performance.now() - t1) / 1000;
    const scored = Math.min(c2stRows, ref.n) * ref.dim;
    const accuracy = await c2st(ref.samples.subarray(0, scored), samples.subarray(0, scored), ref.dim);
    const row = { task: name, densityEstimator, epochs: summary.epochs, secondsPerEpoch: trainSeconds / summary.epochs, sampleSeconds, c2st: accuracy };
    rows.push(row);
    console.error(JSON.stringify(row));
  }
}

const base = (r: Row) => rows.find((b) => b.task === r.task && b.densityEstimator === 'nsf');
const ratio = (a: number, b: number | undefined) => (b === undefined ? '' : ` (${(a / b).toFixed(2)}×)`);
console.log(`NPE, ${budget} simulations, seed ${seed}, C2ST on ${Math.min(c2stRows, 10_000)} samples; ${machineDescription()}; ratios to nsf in the same run`);
console.log('| task | estimator | epochs | s / epoch | sampling 10⁴ (s) | C2ST obs. 1 |');
console.log('|---|---|---:|---:|---:|---:|');
for (const r of rows) {
  const b = base(r);
  console.log(`| ${r.task} | ${r.densityEstimator} | ${r.epochs} | ${r.secondsPerEpoch.toFixed(3)}${ratio(r.secondsPerEpoch, b?.secondsPerEpoch)} | ` +
    `${r.sampleSeconds.toFixed(3)}${ratio(r.sampleSeconds, b?.sampleSeconds)} | ${r.c2st.toFixed(3)} |`);
}
