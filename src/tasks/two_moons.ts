/**
 * two_moons (sbibm, Lueckmann et al. 2021, arXiv:2101.04653; introduced by Greenberg,
 * Nonnenmacher & Macke 2019, arXiv:1905.07488): a crescent-shaped, bimodal posterior.
 * θ ∈ [−1, 1]², x ∈ ℝ².
 *   a ~ U(−π/2, π/2),  r ~ N(0.1, 0.01²),  p = (r cos a + 0.25, r sin a)
 *   x = p + c(θ),  c(θ) = (−|θ₁ + θ₂|/√2, (−θ₁ + θ₂)/√2)
 *
 * Likelihood. x − c(θ) − (0.25, 0) = (u, v) = (r cos a, r sin a). On r > 0 the map
 * (a, r) ↦ (u, v) is a bijection of (−π/2, π/2) × (0, ∞) onto the half-plane u > 0 with
 * Jacobian determinant r; on r < 0 (probability Φ(−10)) it maps onto u < 0 with |r|. With
 * ρ = √(u² + v²) and φ the N(0.1, 0.01²) density, the density of (u, v) is therefore
 *   q(u, v) = φ(ρ) / (π ρ)  for u > 0,   φ(−ρ) / (π ρ)  for u < 0,
 * and p(x | θ) = q(x − c(θ) − (0.25, 0)) (a translation). sbibm's `_likelihood` keeps only
 * log φ(ρ) (and −∞ for u < 0); the −log π − log ρ above make it a density in x.
 */
import type { TaskDefinition } from './task.js';
import { likelihoodRows } from './likelihood.js';

const R_MEAN = 0.1;
const R_SD = 0.01;
const LOG_NORM = Math.log(Math.PI) + Math.log(R_SD) + 0.5 * Math.log(2 * Math.PI);

function logLikelihood(theta: Float64Array, x: ArrayLike<number>): Float64Array {
  const n = likelihoodRows(theta, x, 2, 2);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = theta[2 * i];
    const t1 = theta[2 * i + 1];
    const u = x[2 * i] + Math.abs(t0 + t1) * Math.SQRT1_2 - 0.25;
    const v = x[2 * i + 1] - (t1 - t0) * Math.SQRT1_2;
    const rho = Math.hypot(u, v);
    const z = ((u >= 0 ? rho : -rho) - R_MEAN) / R_SD;
    out[i] = -0.5 * z * z - LOG_NORM - Math.log(rho);
  }
  return out;
}

export const twoMoons: TaskDefinition = {
  name: 'two_moons',
  description: 'Two moons: crescent-shaped bimodal posterior (sbibm)',
  thetaDim: 2,
  xDim: 2,
  prior: { kind: 'boxUniform', low: [-1, -1], high: [1, 1] },
  simulator: 'two_moons',
  design: [],
  gold: false,
  logLikelihood,
};
