/**
 * gaussian_linear_uniform (sbibm; Lueckmann et al. 2021, arXiv:2101.04653): gaussian_linear's
 * simulator, x | θ ~ N(θ, 0.1·I₁₀), under a uniform prior θ ~ U([−1, 1]¹⁰).
 */
import type { TaskDefinition } from './task.js';
import { GAUSSIAN_LINEAR_DIM, gaussianLinearLogLikelihood } from './gaussian_linear.js';

export const gaussianLinearUniform: TaskDefinition = {
  name: 'gaussian_linear_uniform',
  description: 'Gaussian linear with a uniform prior on [-1, 1]^10 (sbibm)',
  thetaDim: GAUSSIAN_LINEAR_DIM,
  xDim: GAUSSIAN_LINEAR_DIM,
  prior: {
    kind: 'boxUniform',
    low: new Array<number>(GAUSSIAN_LINEAR_DIM).fill(-1),
    high: new Array<number>(GAUSSIAN_LINEAR_DIM).fill(1),
  },
  simulator: 'gaussian_linear',
  design: [],
  gold: false,
  logLikelihood: gaussianLinearLogLikelihood,
};
