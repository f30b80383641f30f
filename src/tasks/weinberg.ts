/**
 * weinberg: e⁺e⁻ → μ⁺μ⁻ at tree level (γ + Z); θ = sin²θ_W, x = cos θ* of the μ⁻ w.r.t. the e⁻
 * beam, one design variable √s (GeV). p(x | θ) = 3/8 (1 + x² + b x) is analytic
 * (src/physics/weinberg.ts); the simulator samples it by inverting the cubic CDF and returns gold
 * (no latent: the joint quantities are those of p(x | θ)). The inference / experimental-design toy
 * of Cranmer & Heinrich (github.com/cranmer/active_sciencing).
 *
 * Prior sin²θ_W ~ U(0.1, 0.4): contains the measured 0.2312, stays clear of 0 and 1 where
 * 1/(sin²θ_W cos²θ_W) diverges, and spans v = −1/2 + 2 sin²θ_W through 0 (at 0.25). At √s = M_Z
 * the asymmetry depends on θ almost only through v², so the posterior there is nearly symmetric
 * about 0.25; off-pole designs (√s ≈ M_Z ± a few Γ_Z) break the degeneracy through the γ–Z
 * interference term.
 */
import { Z_MASS, weinbergLogPdf } from '../physics/weinberg.js';
import type { TaskDefinition } from './task.js';

function logLikelihood(theta: Float64Array, x: ArrayLike<number>, design?: Float64Array): Float64Array {
  if (x.length !== theta.length) {
    throw new RangeError(`Expected one x per θ row (${theta.length}) but received ${x.length}`);
  }
  if (design !== undefined && design.length !== 1) {
    throw new RangeError(`Expected 1 value for \`design\` (√s in GeV) but received ${design.length}`);
  }
  const sqrtS = design === undefined ? Z_MASS : design[0];
  const out = new Float64Array(theta.length);
  for (let i = 0; i < theta.length; i++) out[i] = weinbergLogPdf(x[i], theta[i], sqrtS);
  return out;
}

export const weinberg: TaskDefinition = {
  name: 'weinberg',
  description: 'e+e- -> mu+mu- forward-backward asymmetry: sin^2 theta_W from cos theta*, design sqrt(s), gold',
  thetaDim: 1,
  xDim: 1,
  prior: { kind: 'boxUniform', low: [0.1], high: [0.4] },
  simulator: 'weinberg',
  design: [{ name: 'sqrtS', default: Z_MASS, description: 'centre-of-mass energy √s in GeV (default M_Z)' }],
  gold: true,
  logLikelihood,
};
