/** two_moons (sbibm task.py) in plain TypeScript: the oracle and benchmark baseline. */
import { Rng } from './rng.js';

export function twoMoonsOracle(theta: Float64Array, n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const a = Math.PI * (rng.uniform() - 0.5);
    const r = 0.1 + 0.01 * rng.normal();
    const t0 = theta[2 * i];
    const t1 = theta[2 * i + 1];
    x[2 * i] = r * Math.cos(a) + 0.25 - Math.abs(t0 + t1) / Math.SQRT2;
    x[2 * i + 1] = r * Math.sin(a) + (t1 - t0) / Math.SQRT2;
  }
  return x;
}
