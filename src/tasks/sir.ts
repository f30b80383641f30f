/**
 * sir (sbibm; Lueckmann et al. 2021, arXiv:2101.04653): SIR epidemic in a population of
 * N = 10⁶, θ = (β, γ) contact and recovery rates (1/day).
 *   dS/dt = −β S I / N,  dI/dt = β S I / N − γ I,  dR/dt = γ I,  (S, I, R)(0) = (N − 1, 1, 0)
 *   x_k ~ Binomial(1000, clamp(I(t_k) / N, 0, 1)),  t_k = 17 k days, k = 0..9
 * Prior: log β ~ N(log 0.4, 0.5²), log γ ~ N(log 1/8, 0.2²). Kernel: kernels/simulators/sir.h.
 */
import type { TaskDefinition } from './task.js';

export const sir: TaskDefinition = {
  name: 'sir',
  description: 'SIR epidemic model: binomial counts of infected on 10 days (sbibm)',
  thetaDim: 2,
  xDim: 10,
  prior: { kind: 'logNormal', loc: [Math.log(0.4), Math.log(0.125)], scale: [0.5, 0.2] },
  simulator: 'sir',
  design: [],
  gold: false,
};
