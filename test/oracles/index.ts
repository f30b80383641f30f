/**
 * Independent TypeScript implementations of the simulators, by task name: the statistical
 * tests' oracle and the simulator benchmark's baseline. θ is [n, thetaDim] row-major; the
 * result is x [n, xDim]. Each uses its own seeded RNG (rng.ts), not Philox.
 */
import { bernoulliGlmOracle, bernoulliGlmRawOracle } from './bernoulli_glm.js';
import { gaussianLinearOracle } from './gaussian_linear.js';
import { gaussianMixtureOracle } from './gaussian_mixture.js';
import { slcpOracle } from './slcp.js';
import { slcpDistractorsOracle } from './slcp_distractors.js';
import { twoMoonsOracle } from './two_moons.js';

export type Oracle = (theta: Float64Array, n: number, seed: number, design?: Float64Array) => Float32Array;

export const ORACLES: Record<string, Oracle> = {
  two_moons: twoMoonsOracle,
  gaussian_linear: gaussianLinearOracle,
  gaussian_linear_uniform: gaussianLinearOracle,
  gaussian_mixture: gaussianMixtureOracle,
  slcp: slcpOracle,
  slcp_distractors: slcpDistractorsOracle,
  bernoulli_glm: bernoulliGlmOracle,
  bernoulli_glm_raw: bernoulliGlmRawOracle,
};
