// NRE end to end on an sbibm task: train, sample by MCMC, C2ST against the reference posterior.
//   npx tsx bench/nre_run.ts [task] [variant] [simulations] [samples...]
// e.g. npx tsx bench/nre_run.ts two_moons b 10000 1000 10000
import { NRE, type NREVariant } from '../src/inference/nre.js';
import { c2st } from '../src/diagnostics/c2st.js';
import { getTask, simulateFromPrior, referenceObservation, referencePosteriorSamples } from '../src/tasks/index.js';

const [taskName = 'two_moons', variant = 'b', budget = '10000', ...sampleCounts] = process.argv.slice(2);
const task = getTask(taskName);
const sims = await simulateFromPrior(task, Number(budget), { seed: 1 });
const nre = new NRE({ prior: task.prior, variant: variant as NREVariant });
nre.appendSimulations(sims.theta, sims.x);
let t = performance.now();
const s = await nre.train({ seed: 2 });
const trainSeconds = (performance.now() - t) / 1000;
console.log(`${taskName} NRE-${variant} ${budget} simulations: ${s.epochs} epochs (best ${s.bestEpoch}), train ${trainSeconds.toFixed(1)} s`);
const xo = referenceObservation(taskName, 1);
const ref = referencePosteriorSamples(taskName, 1);
const posterior = nre.buildPosterior();
for (const n of (sampleCounts.length ? sampleCounts : ['1000', '10000']).map(Number)) {
  t = performance.now();
  const draws = await posterior.sample(n, { x: xo, seed: 3 });
  const mcmcSeconds = (performance.now() - t) / 1000;
  const m = Math.min(n, ref.n);
  const acc = await c2st(draws.samples.subarray(0, m * ref.dim), ref.samples.subarray(0, m * ref.dim), ref.dim, { seed: 1 });
  console.log(`  ${n} samples: MCMC ${mcmcSeconds.toFixed(1)} s, C2ST ${acc.toFixed(3)}, min ESS ${Math.min(...draws.ess).toFixed(0)}, max R̂ ${Math.max(...draws.rhat).toFixed(3)}`);
}
