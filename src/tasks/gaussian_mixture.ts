/**
 * gaussian_mixture (sbibm; Lueckmann et al. 2021, arXiv:2101.04653; after Sisson, Fan &
 * Tanaka 2007, PNAS 104:1760, and Beaumont et al. 2009, Biometrika 96:983): a mixture of two
 * Gaussians with a shared mean and very different spreads. θ ∈ [−10, 10]², x ∈ ℝ².
 *   x | θ ~ ½ N(θ, I) + ½ N(θ, 0.01·I)
 *   log p(x | θ) = log(½ N(x; θ, I) + ½ N(x; θ, 0.01·I))
 */
import type { TaskDefinition } from './task.js';
import { LOG_2PI, likelihoodRows, logAddExp } from './likelihood.js';

const NARROW_VARIANCE = 0.01;

function logLikelihood(theta: Float64Array, x: ArrayLike<number>): Float64Array {
  const n = likelihoodRows(theta, x, 2, 2);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d0 = x[2 * i] - theta[2 * i];
    const d1 = x[2 * i + 1] - theta[2 * i + 1];
    const ss = d0 * d0 + d1 * d1;
    const wide = Math.log(0.5) - LOG_2PI - 0.5 * ss;
    const narrow = Math.log(0.5) - LOG_2PI - Math.log(NARROW_VARIANCE) - (0.5 * ss) / NARROW_VARIANCE;
    out[i] = logAddExp(wide, narrow);
  }
  return out;
}

export const gaussianMixture: TaskDefinition = {
  name: 'gaussian_mixture',
  description: 'Gaussian mixture: shared mean, variances 1 and 0.01 (sbibm)',
  thetaDim: 2,
  xDim: 2,
  prior: { kind: 'boxUniform', low: [-10, -10], high: [10, 10] },
  simulator: 'gaussian_mixture',
  design: [],
  gold: false,
  logLikelihood,
};
