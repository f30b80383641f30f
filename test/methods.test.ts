// The method runner (src/inference/methods.ts) and sbi's chaining shape
// `new NPE({ prior }).appendSimulations(θ, x).train()` for NPE, NLE and NRE.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { METHODS, SEQUENTIAL_METHODS, runMethod, trainMethod } from '../src/inference/methods.js';
import { NLE } from '../src/inference/nle.js';
import { NPE } from '../src/inference/npe.js';
import { NRE } from '../src/inference/nre.js';
import { roundSizes } from '../src/inference/sequential.js';
import type { ProgressEvent } from '../src/progress.js';
import { getTask, referenceObservation, simulateFromPrior } from '../src/tasks/index.js';

const task = getTask('two_moons');
const xo = referenceObservation('two_moons', 1);

describe('appendSimulations chains (sbi: new NPE({ prior }).appendSimulations(θ, x).train())', () => {
  it('NPE, NLE and NRE return `this`, count every call in lastAppend and train through the chain', async () => {
    const sims = await simulateFromPrior(task, 200, { seed: 1 });
    const bad = sims.x.slice();
    bad[0] = NaN;
    const npe = new NPE({ prior: task.prior, hidden: 8, layers: 1 });
    const nle = new NLE({ prior: task.prior, hidden: 8, layers: 1 });
    const nre = new NRE({ prior: task.prior, hidden: 8, blocks: 1 });
    for (const estimator of [npe, nle, nre]) {
      expect(estimator.appendSimulations(sims.theta, bad)).toBe(estimator);
      expect(estimator.lastAppend).toEqual({ added: 199, excluded: 1 });
      expect(estimator.appendSimulations(sims.theta, sims.x).lastAppend).toEqual({ added: 200, excluded: 0 });
      expect([estimator.simulations, estimator.excludedSimulations]).toEqual([399, 1]);
    }
    expect((await new NPE({ prior: task.prior, hidden: 8, layers: 1 }).appendSimulations(sims.theta, sims.x).train({ seed: 1, maxEpochs: 2 })).epochs).toBe(2);
    expect((await new NLE({ prior: task.prior, hidden: 8, layers: 1 }).appendSimulations(sims.theta, sims.x).train({ seed: 1, maxEpochs: 2 })).epochs).toBe(2);
    expect((await new NRE({ prior: task.prior, hidden: 8, blocks: 1 }).appendSimulations(sims.theta, sims.x).train({ seed: 1, maxEpochs: 2 })).epochs).toBe(2);
  });
});

describe('trainMethod / runMethod', () => {
  it('splits a sequential budget over the rounds, the last taking the remainder', () => {
    expect(roundSizes(3, 2)).toEqual([3, 3]);
    expect(roundSizes([1, 2], 2)).toEqual([1, 2]);
    expect(() => roundSizes([1, 2], 3)).toThrow(/3 counts \(one per round\)/);
    expect(() => roundSizes([1, 0], 2)).toThrow(/simulationsPerRound\[1\]/);
  });

  it('sequential methods need x; amortised ones do not', async () => {
    for (const method of SEQUENTIAL_METHODS) {
      await expect(trainMethod(task, { method, budget: 100, rounds: 2, seed: 1, maxEpochs: 1 })).rejects.toThrow(RangeError);
      await expect(trainMethod(task, { method, budget: 100, rounds: 2, seed: 1, maxEpochs: 1 })).rejects.toThrow(/`x`/);
    }
    await expect(trainMethod(task, { method: 'snpe', budget: 3, rounds: 4, seed: 1, x: xo })).rejects.toThrow(/`budget` \(3\).*4 `rounds`/);
    const nle = await trainMethod(task, { method: 'nle', budget: 200, seed: 1, maxEpochs: 2 });
    expect(nle).toMatchObject({ amortised: true, rounds: 1, epochs: 2, simulations: 200 });
  });

  it('snle: rounds of ⌊budget / rounds⌋ (the last takes the rest), per-round progress, MCMC ESS / R̂ and the last round saved', async () => {
    const events: ProgressEvent[] = [];
    const r = await runMethod(task, {
      method: 'snle', budget: 301, rounds: 3, x: xo, samples: 20, seed: 2, maxEpochs: 2, onProgress: (e) => events.push({ ...e }),
    });
    expect(r).toMatchObject({ rounds: 3, epochs: 6, simulations: 301, excludedSimulations: 0 });
    expect(r.samples.length).toBe(40);
    expect(r.ess!.length).toBe(2);
    expect(r.rhat!.length).toBe(2);
    const simulated = events.filter((e) => e.phase === 'simulate' && e.done === e.total);
    expect(simulated.map((e) => [e.round, e.rounds, e.total])).toEqual([[1, 3, 100], [2, 3, 100], [3, 3, 101]]);
    expect(new Set(events.filter((e) => e.phase === 'train').map((e) => e.round))).toEqual(new Set([1, 2, 3]));
    // Sweeps of the proposals (rounds 2, 3) and of the final draws.
    expect(new Set(events.filter((e) => e.phase === 'sample').map((e) => e.round))).toEqual(new Set([2, 3]));
    expect(events.filter((e) => e.phase === 'sample' && e.round === 3).length).toBeGreaterThan(2);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-methods-'));
    r.save(path.join(dir, 'snle.bin'));
    expect(NLE.load(path.join(dir, 'snle.bin')).buildPosterior().summary.simulations).toBe(301);
    fs.rmSync(dir, { recursive: true });
  });

  it('every method trains and samples; sequential ones are not amortised', async () => {
    for (const method of METHODS) {
      const t = await trainMethod(task, { method, budget: 200, rounds: 2, x: xo, seed: 3, maxEpochs: 1 });
      expect(t.amortised, method).toBe(!SEQUENTIAL_METHODS.includes(method));
      expect(t.simulations, method).toBe(200);
      const lp = await t.posterior.logProb(Float64Array.of(0, 0), { x: xo });
      expect(Number.isFinite(lp[0]!), method).toBe(true);
    }
  });
});
