/** Shared pieces of the tasks' exact likelihoods. */
import { checkMatrix } from '../validate.js';

export const LOG_2PI = Math.log(2 * Math.PI);

/**
 * Rows of a likelihood call: θ [n, thetaDim] and x [n, xDim] must hold the same number of
 * rows n (> 0). Returns n.
 */
export function likelihoodRows(theta: Float64Array, x: ArrayLike<number>, thetaDim: number, xDim: number): number {
  const n = checkMatrix(theta, thetaDim, 'theta');
  if (x.length !== n * xDim) {
    throw new RangeError(`Expected \`x\` to hold ${n} rows of ${xDim} values (${n * xDim}) to match \`theta\` but received ${x.length}`);
  }
  return n;
}

/** log(e^a + e^b) without overflow. */
export function logAddExp(a: number, b: number): number {
  const m = Math.max(a, b);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/** log(1 + e^a) without overflow. */
export function softplus(a: number): number {
  return Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a)));
}
