/**
 * slcp, "simple likelihood, complex posterior" (sbibm, Lueckmann et al. 2021,
 * arXiv:2101.04653; Papamakarios, Sterratt & Murray 2019, arXiv:1805.07226).
 * θ ∈ [−3, 3]⁵, x ∈ ℝ⁸: four iid draws x¹..x⁴ from a bivariate normal N(m, S),
 *   m = (θ₁, θ₂),  s₁ = θ₃²,  s₂ = θ₄²,  ρ = tanh θ₅,
 *   S = [[s₁² + ε, ρ s₁ s₂], [ρ s₁ s₂, s₂² + ε]],  ε = 10⁻⁶ (sbibm's jitter),
 *   x = (x¹₁, x¹₂, x²₁, ..., x⁴₂).
 *   log p(x | θ) = Σₖ [−log 2π − ½ log det S − ½ (xᵏ − m)ᵀ S⁻¹ (xᵏ − m)]
 */
import type { TaskDefinition } from './task.js';
import { LOG_2PI, likelihoodRows } from './likelihood.js';

export const SLCP_DRAWS = 4;
export const SLCP_EPS = 1e-6;

/** The covariance S of one draw for parameters θ (5 values from `theta` at `offset`). */
export function slcpCovariance(theta: ArrayLike<number>, offset = 0): { s00: number; s01: number; s11: number } {
  const s1 = theta[offset + 2] * theta[offset + 2];
  const s2 = theta[offset + 3] * theta[offset + 3];
  const rho = Math.tanh(theta[offset + 4]);
  return { s00: s1 * s1 + SLCP_EPS, s01: rho * s1 * s2, s11: s2 * s2 + SLCP_EPS };
}

function logLikelihood(theta: Float64Array, x: ArrayLike<number>): Float64Array {
  const n = likelihoodRows(theta, x, 5, 2 * SLCP_DRAWS);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const { s00, s01, s11 } = slcpCovariance(theta, 5 * i);
    const det = s00 * s11 - s01 * s01;
    const m0 = theta[5 * i];
    const m1 = theta[5 * i + 1];
    let quad = 0;
    for (let k = 0; k < SLCP_DRAWS; k++) {
      const d0 = x[8 * i + 2 * k] - m0;
      const d1 = x[8 * i + 2 * k + 1] - m1;
      quad += (s11 * d0 * d0 - 2 * s01 * d0 * d1 + s00 * d1 * d1) / det;
    }
    out[i] = -SLCP_DRAWS * (LOG_2PI + 0.5 * Math.log(det)) - 0.5 * quad;
  }
  return out;
}

export const slcp: TaskDefinition = {
  name: 'slcp',
  description: 'SLCP: simple likelihood (4 bivariate normals), complex posterior (sbibm)',
  thetaDim: 5,
  xDim: 2 * SLCP_DRAWS,
  prior: { kind: 'boxUniform', low: [-3, -3, -3, -3, -3], high: [3, 3, 3, 3, 3] },
  simulator: 'slcp',
  design: [],
  gold: false,
  logLikelihood,
};
