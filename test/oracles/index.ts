/**
 * Independent TypeScript implementations of the simulators, by task name: the statistical
 * tests' oracle and the simulator benchmark's baseline. θ is [n, thetaDim] row-major; the
 * result is x [n, xDim]. Each draws from the seeded xoshiro128** of rng.ts, not Philox.
 * The physics oracles simulate every row at the first row's θ (their cost does not depend on
 * θ, and a per-θ nail table only favours the baseline).
 */
import { bernoulliGlmOracle, bernoulliGlmRawOracle } from './bernoulli_glm.js';
import { gaussianLinearOracle } from './gaussian_linear.js';
import { gaussianMixtureOracle } from './gaussian_mixture.js';
import { slcpOracle } from './slcp.js';
import { slcpDistractorsOracle } from './slcp_distractors.js';
import { twoMoonsOracle } from './two_moons.js';
import { simulateSir } from './sir.js';
import { simulateLotkaVolterra } from './lotka_volterra.js';
import { galtonSimulate } from './galton_board.js';
import { weinbergSimulate } from './weinberg.js';

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
  sir: (theta, n, seed) => Float32Array.from(simulateSir(theta, n, seed)),
  lotka_volterra: (theta, n, seed) => Float32Array.from(simulateLotkaVolterra(theta, n, seed)),
  galton_board: (theta, n, seed) => Float32Array.from(galtonSimulate(theta[0]!, n, seed).x),
  weinberg: (theta, n, seed, design) => Float32Array.from(weinbergSimulate(theta[0]!, design![0]!, n, seed)),
};
