/** gaussian_linear / gaussian_linear_uniform (sbibm): x ~ N(θ, 0.1·I₁₀). Oracle and baseline. */
import { Rng } from './rng.js';

export function gaussianLinearOracle(theta: Float64Array, n: number, seed: number): Float32Array {
  const d = 10;
  const sd = Math.sqrt(0.1);
  const rng = new Rng(seed);
  const x = new Float32Array(d * n);
  for (let k = 0; k < d * n; k++) x[k] = theta[k] + sd * rng.normal();
  return x;
}
