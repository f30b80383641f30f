// NRE with and without an embedding network of x, in one run on the same simulations: training
// time, epochs, the best validation loss and C2ST at the reference observations 1..5 (one
// amortised estimator each) against the reference posteriors.
//   npx tsx bench/nre_embedding.ts [task] [variant] [simulations] [samples] [embedding widths...]
// e.g. npx tsx bench/nre_embedding.ts slcp_distractors b 10000 1000 100,100,20 50,10
// Each widths argument is the embedding's widths after x: hidden layers, then the output width.
import { c2st } from '../src/diagnostics/c2st.js';
import type { EmbeddingOptions } from '../src/inference/embedding.js';
import { NRE, type NREVariant } from '../src/inference/nre.js';
import { getTask, referenceObservation, referencePosteriorSamples, simulateFromPrior } from '../src/tasks/index.js';

const [taskName = 'slcp_distractors', variant = 'b', budget = '10000', samples = '1000', ...widthArgs] = process.argv.slice(2);
const embeddings: (EmbeddingOptions | undefined)[] = [undefined, ...(widthArgs.length ? widthArgs : ['100,100,20']).map((w) => {
  const n = w.split(',').map(Number);
  return { hidden: n.slice(0, -1), outputDim: n[n.length - 1]! };
})];
const task = getTask(taskName);
const sims = await simulateFromPrior(task, Number(budget), { seed: 1 });
const observations = [1, 2, 3, 4, 5].map((k) => ({ xo: referenceObservation(taskName, k), ref: referencePosteriorSamples(taskName, k) }));
const m = Math.min(Number(samples), observations[0]!.ref.n);
console.log(`${taskName}, NRE-${variant}, ${budget} simulations (x: ${task.definition.xDim} values), C2ST of ${m} samples at observations 1..5`);
console.log('| embedding | epochs (best) | best val. loss | train s | s / epoch | vs none | MCMC s (obs. 1) | C2ST obs. 1 | obs. 2..5 | mean 1..5 |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
let baseline = 0;
for (const embedding of embeddings) {
  const nre = new NRE({ prior: task.prior, variant: variant as NREVariant, ...(embedding ? { embedding } : {}) });
  nre.appendSimulations(sims.theta, sims.x, task.definition.xDim);
  let t = performance.now();
  const s = await nre.train({ seed: 2 });
  const trainSeconds = (performance.now() - t) / 1000;
  const perEpoch = trainSeconds / s.epochs;
  if (!embedding) baseline = perEpoch;
  const posterior = nre.buildPosterior();
  const scores: number[] = [];
  let mcmcSeconds = 0;
  for (const { xo, ref } of observations) {
    t = performance.now();
    const draws = await posterior.sample(m, { x: xo, seed: 3 });
    if (scores.length === 0) mcmcSeconds = (performance.now() - t) / 1000;
    scores.push(await c2st(draws.samples.subarray(0, m * ref.dim), ref.samples.subarray(0, m * ref.dim), ref.dim, { seed: 1 }));
  }
  const name = embedding ? `[${task.definition.xDim}, ${[...embedding.hidden!, embedding.outputDim].join(', ')}]` : 'none';
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  console.log(`| ${name} | ${s.epochs} (${s.bestEpoch}) | ${s.bestValidationLoss.toFixed(3)} | ${trainSeconds.toFixed(1)} | ${perEpoch.toFixed(3)} | ` +
    `${(perEpoch / baseline).toFixed(2)} | ${mcmcSeconds.toFixed(1)} | ${scores[0]!.toFixed(3)} | ${scores.slice(1).map((a) => a.toFixed(3)).join(', ')} | ${mean.toFixed(3)} |`);
}
