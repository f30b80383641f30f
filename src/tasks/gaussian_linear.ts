/**
 * gaussian_linear (sbibm; Lueckmann et al. 2021, arXiv:2101.04653): the mean of a
 * 10-dimensional Gaussian under a Gaussian prior (conjugate: the posterior is Gaussian).
 *   θ ~ N(0, 0.1·I₁₀),  x | θ ~ N(θ, 0.1·I₁₀)
 * sbibm names both 0.1s "scale" but passes precision_matrix = inverse(0.1·I): 0.1 is the
 * variance of the prior and of the noise.
 *   log p(x | θ) = −(d/2) log(2π·0.1) − ‖x − θ‖² / (2·0.1)
 */
import type { TaskDefinition } from './task.js';
import { LOG_2PI, likelihoodRows } from './likelihood.js';

export const GAUSSIAN_LINEAR_DIM = 10;
/** Variance of the simulator noise (and of gaussian_linear's prior). */
export const GAUSSIAN_LINEAR_VARIANCE = 0.1;

/** log N(x; θ, 0.1·I₁₀) row by row (shared by gaussian_linear_uniform). */
export function gaussianLinearLogLikelihood(theta: Float64Array, x: ArrayLike<number>): Float64Array {
  const d = GAUSSIAN_LINEAR_DIM;
  const n = likelihoodRows(theta, x, d, d);
  const out = new Float64Array(n);
  const norm = -0.5 * d * (LOG_2PI + Math.log(GAUSSIAN_LINEAR_VARIANCE));
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let j = 0; j < d; j++) {
      const r = x[i * d + j] - theta[i * d + j];
      ss += r * r;
    }
    out[i] = norm - ss / (2 * GAUSSIAN_LINEAR_VARIANCE);
  }
  return out;
}

const identityTimes = (s: number) =>
  Array.from({ length: GAUSSIAN_LINEAR_DIM * GAUSSIAN_LINEAR_DIM }, (_, k) =>
    k % (GAUSSIAN_LINEAR_DIM + 1) === 0 ? s : 0,
  );

export const gaussianLinear: TaskDefinition = {
  name: 'gaussian_linear',
  description: 'Gaussian linear: mean of a 10-d Gaussian, Gaussian prior (sbibm)',
  thetaDim: GAUSSIAN_LINEAR_DIM,
  xDim: GAUSSIAN_LINEAR_DIM,
  prior: {
    kind: 'multivariateNormal',
    loc: new Array<number>(GAUSSIAN_LINEAR_DIM).fill(0),
    covariance: identityTimes(GAUSSIAN_LINEAR_VARIANCE),
  },
  simulator: 'gaussian_linear',
  design: [],
  gold: false,
  logLikelihood: gaussianLinearLogLikelihood,
};
