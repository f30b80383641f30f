/**
 * Independent TypeScript implementation of e⁺e⁻ → μ⁺μ⁻ at tree level (γ + Z): the oracle for the
 * `weinberg` simulator and its benchmark baseline. Written from the physics, not from the kernel:
 * χ is formed as a complex quotient, the density is normalised in closed form as
 * (A0 (1 + x²) + A1 x) / (8 A0 / 3), and sampling is by rejection from a uniform proposal under
 * the density's maximum (it is convex in x, so the maximum is at x = ±1), with xoshiro128**.
 */
import { Rng } from './rng.js';

const MZ = 91.1876;
const GZ = 2.4952;

/** A0 and A1 of dσ/dx ∝ A0 (1 + x²) + A1 x. */
export function weinbergAngularCoefficients(sin2w: number, sqrtS: number): { A0: number; A1: number } {
  const s = sqrtS * sqrtS;
  // χ = s / (s − M² + i M Γ) / (4 sin² cos²) as (re, im).
  const dr = s - MZ * MZ;
  const di = MZ * GZ;
  const scale = s / (4 * sin2w * (1 - sin2w)) / (dr * dr + di * di);
  const chiRe = scale * dr;
  const chiIm = -scale * di;
  const chiAbs2 = chiRe * chiRe + chiIm * chiIm;
  const v = 2 * sin2w - 0.5;
  const a = -0.5;
  return {
    A0: 1 + 2 * v * v * chiRe + (v * v + a * a) ** 2 * chiAbs2,
    A1: 4 * a * a * chiRe + 8 * v * v * a * a * chiAbs2,
  };
}

/** Normalised p(x | sin²θ_W) on [−1, 1]. */
export function weinbergDensity(x: number, sin2w: number, sqrtS: number): number {
  if (x < -1 || x > 1) return 0;
  const { A0, A1 } = weinbergAngularCoefficients(sin2w, sqrtS);
  return (A0 * (1 + x * x) + A1 * x) / ((8 * A0) / 3);
}

/** n values of cos θ* by rejection sampling, from xoshiro128** seeded by `seed`. */
export function weinbergSimulate(sin2w: number, sqrtS: number, n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const { A0, A1 } = weinbergAngularCoefficients(sin2w, sqrtS);
  const bound = 2 * A0 + Math.abs(A1);  // max over [−1, 1] of A0 (1 + x²) + A1 x
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (;;) {
      const x = 2 * rng.uniform() - 1;
      if (rng.uniform() * bound <= A0 * (1 + x * x) + A1 * x) {
        out[i] = x;
        break;
      }
    }
  }
  return out;
}
