/**
 * bernoulli_glm and bernoulli_glm_raw (sbibm, Lueckmann et al. 2021, arXiv:2101.04653;
 * the GLM of Lueckmann et al. 2017, arXiv:1711.01861): a neuron's spikes in T = 100 bins as
 * Bernoulli draws with logits ψ = X β, X [100, 10] sbibm's design matrix (a column of ones, then
 * a white-noise stimulus delayed by 0..8 bins; src/tasks/data/bernoulli_glm_design.ts).
 *   β ~ N(0, B⁻¹),  y_t | β ~ Bernoulli(σ(ψ_t)),  σ(a) = 1 / (1 + e⁻ᵃ)
 *   bernoulli_glm:     x = Xᵀ y ∈ ℝ¹⁰ (spike count and spike-triggered sums: sufficient)
 *   bernoulli_glm_raw: x = y ∈ {0, 1}¹⁰⁰
 *
 * Prior precision (smoothness of the filter through second differences):
 *   D = I₉ − (ones on the first subdiagonal),  F = D² + diag(√(i/9)), i = 0..8,
 *   B = blockdiag(0.5, FᵀF).
 * sbibm evaluates B in float32; here it is the same formula in double.
 *
 * bernoulli_glm_raw's likelihood: log p(y | β) = Σ_t [y_t ψ_t − log(1 + e^ψ_t)] for y ∈ {0, 1}¹⁰⁰.
 */
import type { TaskDefinition } from './task.js';
import { likelihoodRows, softplus } from './likelihood.js';
import { BERNOULLI_GLM_DESIGN, BERNOULLI_GLM_FEATURES, BERNOULLI_GLM_STEPS } from './data/bernoulli_glm_design.js';

/** The prior precision B [10, 10] row-major. */
export function bernoulliGlmPriorPrecision(): number[] {
  const m = BERNOULLI_GLM_FEATURES - 1;
  // D² has 1 on the diagonal, −2 on the first and 1 on the second subdiagonal.
  const f = (i: number, j: number) =>
    (i === j ? 1 + Math.sqrt(i / m) : 0) + (i - j === 1 ? -2 : 0) + (i - j === 2 ? 1 : 0);
  const d = BERNOULLI_GLM_FEATURES;
  const b = new Array<number>(d * d).fill(0);
  b[0] = 0.5;
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < m; c++) {
      let acc = 0;
      for (let k = 0; k < m; k++) acc += f(k, r) * f(k, c);
      b[(r + 1) * d + (c + 1)] = acc;
    }
  }
  return b;
}

/** ψ = X β for one row of β (at `offset`), into `psi` [100]. */
export function bernoulliGlmLogits(beta: ArrayLike<number>, offset: number, psi: Float64Array): void {
  const d = BERNOULLI_GLM_FEATURES;
  for (let t = 0; t < BERNOULLI_GLM_STEPS; t++) {
    let acc = 0;
    for (let j = 0; j < d; j++) acc += BERNOULLI_GLM_DESIGN[t * d + j] * beta[offset + j];
    psi[t] = acc;
  }
}

function rawLogLikelihood(theta: Float64Array, x: ArrayLike<number>): Float64Array {
  const n = likelihoodRows(theta, x, BERNOULLI_GLM_FEATURES, BERNOULLI_GLM_STEPS);
  const out = new Float64Array(n);
  const psi = new Float64Array(BERNOULLI_GLM_STEPS);
  for (let i = 0; i < n; i++) {
    bernoulliGlmLogits(theta, i * BERNOULLI_GLM_FEATURES, psi);
    let acc = 0;
    for (let t = 0; t < BERNOULLI_GLM_STEPS; t++) {
      const y = x[i * BERNOULLI_GLM_STEPS + t];
      if (y !== 0 && y !== 1) {
        acc = -Infinity;
        break;
      }
      acc += y * psi[t] - softplus(psi[t]);
    }
    out[i] = acc;
  }
  return out;
}

const prior = {
  kind: 'multivariateNormal' as const,
  loc: new Array<number>(BERNOULLI_GLM_FEATURES).fill(0),
  precision: bernoulliGlmPriorPrecision(),
};

export const bernoulliGlm: TaskDefinition = {
  name: 'bernoulli_glm',
  description: 'Bernoulli GLM, 10 sufficient statistics of 100 spike bins (sbibm)',
  thetaDim: BERNOULLI_GLM_FEATURES,
  xDim: BERNOULLI_GLM_FEATURES,
  prior,
  simulator: 'bernoulli_glm',
  design: [],
  gold: false,
};

export const bernoulliGlmRaw: TaskDefinition = {
  name: 'bernoulli_glm_raw',
  description: 'Bernoulli GLM, the raw 100 spike bins (sbibm)',
  thetaDim: BERNOULLI_GLM_FEATURES,
  xDim: BERNOULLI_GLM_STEPS,
  prior,
  simulator: 'bernoulli_glm_raw',
  design: [],
  gold: false,
  logLikelihood: rawLogLikelihood,
};
