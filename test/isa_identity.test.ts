// The float network kernels dispatched per instruction set (native/nn_dispatch.cc: MAF log-prob
// and sampling, the NRE classifier, the C2ST classifier) give the same bits on every path the
// CPU has: the vector width changes, the order of every sum does not.
import { describe, expect, it } from 'vitest';
import { native } from '../src/native.js';
import { NPE } from '../src/inference/npe.js';
import { NRE } from '../src/inference/nre.js';
import { c2st } from '../src/diagnostics/c2st.js';
import { getTask, simulateFromPrior } from '../src/tasks/index.js';

const ISAS = ['scalar', 'avx2', 'avx512'] as const;
const available = ISAS.slice(0, ISAS.indexOf(native.runtimeInfo().detectedIsa as (typeof ISAS)[number]) + 1);

async function onEveryPath<T>(run: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  try {
    for (const isa of available) {
      native.setIsa(isa);
      out.push(await run());
    }
  } finally {
    native.setIsa('auto');
  }
  return out;
}

describe('instruction-set paths give identical bits', () => {
  it('NPE sampling and log q, NRE training and log-ratios, C2ST', async () => {
    const task = getTask('two_moons');
    const sims = await simulateFromPrior(task, 400, { seed: 4 });
    const x = sims.x.subarray(0, 2);
    const results = await onEveryPath(async () => {
      const npe = new NPE({ prior: task.prior, densityEstimator: 'nsf', hidden: 20 });
      npe.appendSimulations(sims.theta, sims.x);
      await npe.train({ seed: 1, maxEpochs: 2, threads: 1 });
      const post = npe.buildPosterior();
      const samples = post.sample(300, { x, seed: 2 });
      const logq = post.logProb(samples, { x });
      const nre = new NRE({ prior: task.prior, variant: 'b', hidden: 20 });
      nre.appendSimulations(sims.theta, sims.x);
      const summary = await nre.train({ seed: 1, maxEpochs: 2, threads: 1 });
      const logr = await nre.buildPosterior().logProb(samples, { x });
      const accuracy = await c2st(sims.theta.subarray(0, 400), samples.subarray(0, 400), 2, { seed: 1, threads: 1 });
      return { samples, logq, losses: [...summary.trainLoss, ...summary.validationLoss], logr, accuracy };
    });
    for (const r of results.slice(1)) {
      expect(r.samples).toEqual(results[0]!.samples);
      expect(r.logq).toEqual(results[0]!.logq);
      expect(r.losses).toEqual(results[0]!.losses);
      expect(r.logr).toEqual(results[0]!.logr);
      expect(r.accuracy).toBe(results[0]!.accuracy);
    }
  });
});
