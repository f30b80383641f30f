/**
 * Independent TypeScript implementation of sbibm's `lotka_volterra` task (the oracle of the
 * native simulator and its benchmark baseline), written from sbibm's task definition: prey u and
 * predator v from (30, 1), solved by RK4 (test/oracles/ode.ts), kept at t = 0, 2.1, …, 18.9
 * (every 21st save of sbibm's 0.1 grid), x = (u(t_k), v(t_k)) each times LogNormal(0, 0.1)
 * noise around clamp(·, 1e-10, 1e4), with Box–Muller normals from rng.ts.
 */
import { referenceSolution, rk4, type OdeRhs, type ReferenceSolution } from './ode.js';
import { Rng } from './rng.js';

export const LV_TIMES: readonly number[] = Array.from({ length: 10 }, (_, k) => (21 * k) / 10);
export const LV_NOISE = 0.1;
const Y0 = [30, 1];

export function lotkaVolterraRhs(alpha: number, beta: number, gamma: number, delta: number): OdeRhs {
  return (y, dy) => {
    dy[0] = alpha * y[0]! - beta * y[0]! * y[1]!;
    dy[1] = -gamma * y[1]! + delta * y[0]! * y[1]!;
  };
}

/** (u(t_0..t_9), v(t_0..t_9)) from a solution [10, 2]. */
function summary(solution: Float64Array): Float64Array {
  const s = new Float64Array(20);
  for (let k = 0; k < 10; k++) {
    s[k] = solution[2 * k]!;
    s[10 + k] = solution[2 * k + 1]!;
  }
  return s;
}

/** The 20 noise-free summaries with a Richardson-checked error estimate. */
export function lotkaVolterraReference(theta: ArrayLike<number>, tol?: number): ReferenceSolution {
  const r = referenceSolution(
    lotkaVolterraRhs(theta[0]!, theta[1]!, theta[2]!, theta[3]!), Y0, LV_TIMES, tol === undefined ? {} : { tol },
  );
  return { ...r, y: summary(r.y) };
}

export const lvClamp = (v: number): number => Math.min(1e4, Math.max(1e-10, v));

/**
 * n simulations, θ [n, 4] row-major → x [n, 20]. RK4 with 100 steps per 2.1 time units
 * (relative error ~1e-6 for typical θ, far below the 10% noise); rows with the θ of the
 * previous row reuse its solution.
 */
export function simulateLotkaVolterra(theta: Float64Array, n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const x = new Float64Array(n * 20);
  let s = new Float64Array(20);
  for (let i = 0; i < n; i++) {
    const th = theta.subarray(4 * i, 4 * i + 4);
    if (i === 0 || th.some((v, j) => v !== theta[4 * (i - 1) + j])) {
      s = summary(rk4(lotkaVolterraRhs(th[0]!, th[1]!, th[2]!, th[3]!), Y0, LV_TIMES, 100)).map(lvClamp);
    }
    for (let j = 0; j < 20; j++) x[20 * i + j] = s[j]! * Math.exp(LV_NOISE * rng.normal());
  }
  return x;
}

/**
 * log p(x | s) for one x of 20 values at offset `off`: independent LogNormal(log c_j, 0.1) with
 * c_j = clamp(fround(s_j), 1e-10, 1e4) (sbibm rounds the solution to float32 before the clamp).
 */
export function lotkaVolterraLogLikelihood(x: ArrayLike<number>, off: number, s: ArrayLike<number>): number {
  let l = 0;
  for (let j = 0; j < 20; j++) {
    const v = x[off + j]!;
    const z = (Math.log(v) - Math.log(lvClamp(Math.fround(s[j]!)))) / LV_NOISE;
    l += -Math.log(v) - Math.log(LV_NOISE) - 0.5 * Math.log(2 * Math.PI) - 0.5 * z * z;
  }
  return l;
}
