/** gaussian_mixture (sbibm): x ~ ½ N(θ, I) + ½ N(θ, 0.01·I). Oracle and baseline. */
import { Rng } from './rng.js';

export function gaussianMixtureOracle(theta: Float64Array, n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const sd = rng.uniform() < 0.5 ? 1 : 0.1;
    x[2 * i] = theta[2 * i] + sd * rng.normal();
    x[2 * i + 1] = theta[2 * i + 1] + sd * rng.normal();
  }
  return x;
}
