/**
 * two_moons (sbibm; Greenberg, Nonnenmacher, Macke 2019, arXiv:1905.07488): a bimodal,
 * crescent-shaped posterior. θ ∈ [−1, 1]², x ∈ ℝ².
 *   a ~ U(−π/2, π/2), r ~ N(0.1, 0.01²), p = (r cos a + 0.25, r sin a)
 *   x = p + (−|θ₁ + θ₂|/√2, (−θ₁ + θ₂)/√2)
 */
import type { TaskDefinition } from './task.js';

export const twoMoons: TaskDefinition = {
  name: 'two_moons',
  description: 'Two moons: crescent-shaped bimodal posterior (sbibm)',
  thetaDim: 2,
  xDim: 2,
  prior: { kind: 'boxUniform', low: [-1, -1], high: [1, 1] },
  simulator: 'two_moons',
  design: [],
  gold: false,
};
