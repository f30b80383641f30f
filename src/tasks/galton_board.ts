/**
 * galton_board: the generalized Galton board of Brehmer, Louppe, Pavez, Cranmer, "Mining gold
 * from implicit models", PNAS 117 (2020) 5242, arXiv:1805.12244. θ ∈ ℝ (one value), x ∈ {5..25}
 * the final nail position after 20 rows; 2^20 latent paths, so p(x | θ) is an honest integral over
 * z, yet exact by dynamic programming (src/physics/galton_board.ts). The simulator returns gold
 * (joint log-likelihood, joint score, joint log-ratio of the path).
 *
 * Prior θ ~ U(−1, 1): at |θ| = 1 the logistic argument 10 θ g_n spans ±10 across the board, so
 * the nails near the edges of the middle rows are nearly deterministic, while θ = 0 makes every
 * nail fair within its row's s_l; p(x | θ) changes strongly but smoothly over this range.
 */
import { galtonLogLikelihood, galtonMarginal } from '../physics/galton_board.js';
import type { TaskDefinition } from './task.js';

function logLikelihood(theta: Float64Array, x: ArrayLike<number>): Float64Array {
  if (x.length !== theta.length) {
    throw new RangeError(`Expected one x per θ row (${theta.length}) but received ${x.length}`);
  }
  const out = new Float64Array(theta.length);
  let cachedTheta = NaN;
  let marginal = galtonMarginal(0);
  for (let i = 0; i < theta.length; i++) {
    if (theta[i] !== cachedTheta) {  // rows often share θ (one θ, many x)
      cachedTheta = theta[i];
      marginal = galtonMarginal(cachedTheta);
    }
    out[i] = galtonLogLikelihood(cachedTheta, x[i], marginal);
  }
  return out;
}

export const galtonBoard: TaskDefinition = {
  name: 'galton_board',
  description: 'Generalized Galton board (Brehmer et al. 2020): 20 rows, θ-dependent nails, gold',
  thetaDim: 1,
  xDim: 1,
  prior: { kind: 'boxUniform', low: [-1], high: [1] },
  simulator: 'galton_board',
  design: [],
  gold: true,
  logLikelihood,
};
