/**
 * Reference ODE solutions for the tests, independent of the native integrator: the classical
 * 4th-order Runge–Kutta method (Kutta 1901) with a fixed step, each output interval split into
 * equal steps so that the output times are hit exactly.
 *
 * `referenceSolution` checks itself by Richardson's principle: with n and 2n steps per interval
 * the global errors are C h⁴ and C h⁴/16, so |y_2n − y_n| / 15 estimates the error of y_2n. It
 * doubles n until that estimate, relative to |y_2n|, is below `tol` for every value.
 */

/** Right-hand side of an autonomous system: writes f(y) to dy. */
export type OdeRhs = (y: Float64Array, dy: Float64Array) => void;

/** RK4 from y0 at times[0] with `steps` equal steps per output interval; [times.length, dim]. */
export function rk4(rhs: OdeRhs, y0: readonly number[], times: readonly number[], steps: number): Float64Array {
  const d = y0.length;
  const out = new Float64Array(times.length * d);
  const y = Float64Array.from(y0);
  const k1 = new Float64Array(d), k2 = new Float64Array(d), k3 = new Float64Array(d), k4 = new Float64Array(d);
  const tmp = new Float64Array(d);
  out.set(y, 0);
  for (let j = 1; j < times.length; j++) {
    const h = (times[j]! - times[j - 1]!) / steps;
    for (let s = 0; s < steps; s++) {
      rhs(y, k1);
      for (let i = 0; i < d; i++) tmp[i] = y[i]! + 0.5 * h * k1[i]!;
      rhs(tmp, k2);
      for (let i = 0; i < d; i++) tmp[i] = y[i]! + 0.5 * h * k2[i]!;
      rhs(tmp, k3);
      for (let i = 0; i < d; i++) tmp[i] = y[i]! + h * k3[i]!;
      rhs(tmp, k4);
      for (let i = 0; i < d; i++) y[i] = y[i]! + (h / 6) * (k1[i]! + 2 * k2[i]! + 2 * k3[i]! + k4[i]!);
    }
    out.set(y, j * d);
  }
  return out;
}

export interface ReferenceSolution {
  /** [times.length, dim] */
  y: Float64Array;
  /** Largest Richardson estimate of the relative error of y. */
  relError: number;
  /** Steps per output interval used for y. */
  steps: number;
}

export function referenceSolution(
  rhs: OdeRhs,
  y0: readonly number[],
  times: readonly number[],
  { tol = 1e-9, initialSteps = 512, maxSteps = 1 << 17 } = {},
): ReferenceSolution {
  let coarse = rk4(rhs, y0, times, initialSteps);
  for (let steps = 2 * initialSteps; steps <= maxSteps; steps *= 2) {
    const fine = rk4(rhs, y0, times, steps);
    let relError = 0;
    for (let i = 0; i < fine.length; i++) {
      const diff = Math.abs(fine[i]! - coarse[i]!); // exactly 0 for the initial values
      if (diff > 0) relError = Math.max(relError, diff / 15 / Math.abs(fine[i]!));
    }
    if (relError <= tol) return { y: fine, relError, steps };
    coarse = fine;
  }
  throw new Error(`RK4 reference did not reach relative error ${tol} with ${maxSteps} steps per interval`);
}
