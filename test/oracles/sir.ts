/**
 * Independent TypeScript implementation of sbibm's `sir` task (the oracle of the native `sir`
 * simulator and its benchmark baseline), written from sbibm's task definition: the full
 * (S, I, R) system in sbibm's form β S I / N, solved by RK4 (test/oracles/ode.ts), I kept on
 * days 0, 17, …, 153, and x_k = Binomial(1000, I/N) drawn as a sum of 1000 Bernoulli trials
 * with the oracles' xoshiro128** uniforms (rng.ts).
 */
import { referenceSolution, rk4, type OdeRhs, type ReferenceSolution } from './ode.js';
import { Rng } from './rng.js';

export const SIR_POPULATION = 1e6;
export const SIR_TOTAL_COUNT = 1000;
/** sbibm saves daily over [0, 160] and keeps every 17th save. */
export const SIR_TIMES: readonly number[] = Array.from({ length: 10 }, (_, k) => 17 * k);
const Y0 = [SIR_POPULATION - 1, 1, 0];

export function sirRhs(beta: number, gamma: number): OdeRhs {
  return (y, dy) => {
    const infection = (beta * y[0]! * y[1]!) / SIR_POPULATION;
    dy[0] = -infection;
    dy[1] = infection - gamma * y[1]!;
    dy[2] = gamma * y[1]!;
  };
}

function infected(solution: Float64Array): Float64Array {
  return Float64Array.from(SIR_TIMES, (_, k) => solution[3 * k + 1]!);
}

/** I(t_k), k = 0..9, with a Richardson-checked error estimate. */
export function sirReference(theta: ArrayLike<number>, tol?: number): ReferenceSolution {
  const r = referenceSolution(sirRhs(theta[0]!, theta[1]!), Y0, SIR_TIMES, tol === undefined ? {} : { tol });
  return { ...r, y: infected(r.y) };
}

/** Binomial(n, p) as the number of successes in n Bernoulli(p) trials. */
export function binomialBySum(rng: Rng, n: number, p: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (rng.uniform() < p) k++;
  return k;
}

/**
 * n simulations, θ [n, 2] row-major → x [n, 10]. The solve uses RK4 with 200 steps per 17 days
 * (relative error ~1e-6, far below the binomial noise); rows with the θ of the previous row
 * reuse its solution.
 */
export function simulateSir(theta: Float64Array, n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const x = new Float64Array(n * 10);
  let p = new Float64Array(10);
  for (let i = 0; i < n; i++) {
    const beta = theta[2 * i]!, gamma = theta[2 * i + 1]!;
    if (i === 0 || beta !== theta[2 * i - 2] || gamma !== theta[2 * i - 1]) {
      const I = infected(rk4(sirRhs(beta, gamma), Y0, SIR_TIMES, 200));
      p = I.map((v) => Math.min(1, Math.max(0, v / SIR_POPULATION)));
    }
    for (let k = 0; k < 10; k++) x[10 * i + k] = binomialBySum(rng, SIR_TOTAL_COUNT, p[k]!);
  }
  return x;
}

/** log k! for k = 0..SIR_TOTAL_COUNT, by summation. */
const LOG_FACTORIAL = (() => {
  const t = new Float64Array(SIR_TOTAL_COUNT + 1);
  for (let k = 1; k <= SIR_TOTAL_COUNT; k++) t[k] = t[k - 1]! + Math.log(k);
  return t;
})();

/**
 * log p(x | I) = Σ_k log Binomial(x_k; 1000, p_k), p_k = clamp(fround(I_k) / N, 0, 1) (sbibm rounds
 * the solution to float32 before dividing), for one x of 10 counts at offset `off`.
 */
export function sirLogLikelihood(x: ArrayLike<number>, off: number, I: ArrayLike<number>): number {
  const n = SIR_TOTAL_COUNT;
  let l = 0;
  for (let k = 0; k < 10; k++) {
    const v = x[off + k]!;
    const p = Math.min(1, Math.max(0, Math.fround(I[k]!) / SIR_POPULATION));
    l += LOG_FACTORIAL[n]! - LOG_FACTORIAL[v]! - LOG_FACTORIAL[n - v]!;
    if (v > 0) l += v * Math.log(p);
    if (v < n) l += (n - v) * Math.log1p(-p);
  }
  return l;
}
