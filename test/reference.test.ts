// The sbibm reference data shipped in data/sbibm/ is complete and consistent with the task
// registry: for every benchmark task and observation 1..5, x has xDim values, θ* has thetaDim
// and lies in the prior support, and there are 10,000 reference posterior samples of thetaDim.
import { describe, expect, it } from 'vitest';
import {
  getTask,
  hasReferenceData,
  listTasks,
  REFERENCE_OBSERVATIONS,
  referenceObservation,
  referenceParameters,
  referencePosteriorSamples,
} from '../src/tasks/index.js';
import { SbiError } from '../src/errors.js';

const SBIBM = [
  'gaussian_linear', 'gaussian_linear_uniform', 'slcp', 'slcp_distractors', 'two_moons',
  'gaussian_mixture', 'bernoulli_glm', 'bernoulli_glm_raw', 'sir', 'lotka_volterra',
];

describe('sbibm reference data', () => {
  it('exists for exactly the ten sbibm tasks', () => {
    const withData = listTasks().filter((t) => hasReferenceData(t.name)).map((t) => t.name).sort();
    expect(withData).toEqual([...SBIBM].sort());
  });

  describe.each(SBIBM)('%s', (name) => {
    const task = getTask(name);
    const def = task.definition;
    it.each([...REFERENCE_OBSERVATIONS])('observation %i has the right shapes and a θ* in the prior support', (k) => {
      const x = referenceObservation(name, k);
      expect(x.length).toBe(def.xDim);
      expect(x.every(Number.isFinite)).toBe(true);
      const theta = referenceParameters(name, k);
      expect(theta.length).toBe(def.thetaDim);
      expect(task.prior.inSupport(theta)[0]).toBe(1);
      expect(Number.isFinite(task.prior.logProb(theta)[0]!)).toBe(true);
    });

    it('has 10,000 reference posterior samples per observation, inside the prior support', () => {
      for (const k of [1, 5]) {
        const post = referencePosteriorSamples(name, k);
        expect(post.n).toBe(10_000);
        expect(post.dim).toBe(def.thetaDim);
        const inside = task.prior.inSupport(post.samples);
        expect(inside.reduce((a, b) => a + b, 0)).toBe(post.n);
      }
    });
  });

  it('distractor and raw tasks share the posterior of their base task but not its observation', () => {
    expect(referencePosteriorSamples('slcp_distractors', 2).samples).toEqual(referencePosteriorSamples('slcp', 2).samples);
    expect(referenceObservation('slcp_distractors', 2).length).toBe(100);
    expect(referenceObservation('bernoulli_glm_raw', 2).length).toBe(100);
    expect(referenceObservation('bernoulli_glm', 2).length).toBe(10);
  });

  it('rejects unknown tasks and observation numbers with clear errors', () => {
    expect(() => referenceObservation('galton_board', 1)).toThrow(SbiError);
    expect(() => referenceObservation('two_moons', 0)).toThrow(RangeError);
    expect(() => referenceObservation('two_moons', 6)).toThrow(/\[1, 5\]/);
  });
});
