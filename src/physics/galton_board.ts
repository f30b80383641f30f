/**
 * Exact marginal likelihood p(x | θ) of the generalized Galton board and its score, by dynamic
 * programming over (row, position). Same model as `kernels/simulators/galton_board.h`
 * (Brehmer, Louppe, Pavez, Cranmer, PNAS 2020, arXiv:1805.12244):
 *
 *   t(l, n; θ) = (1 − s_l)/2 + s_l σ(10 θ g_n),  s_l = sin(π l/19),  g_n = 2n/30 − 1
 *
 * is the probability of going left at row l, nail n; on even rows left keeps the position and
 * right adds 1, on odd rows left subtracts 1 and right keeps it; 20 rows from nail 15, so
 * x ∈ {5, …, 25}. The forward recursion
 *
 *   P_{l+1}(m) = Σ_n P_l(n) [t(l,n) 1{m = left(l,n)} + (1 − t(l,n)) 1{m = right(l,n)}]
 *
 * is differentiated alongside (product rule) to give ∂P_20(x)/∂θ, so
 * ∂/∂θ log p(x | θ) = P'_20(x) / P_20(x) exactly — the marginal score that the conditional
 * expectation E[∂/∂θ log p(x, z | θ) | x] of the simulator's joint score must equal.
 */

export const GALTON_ROWS = 20;
export const GALTON_NAILS = 31;
export const GALTON_START = 15;

export interface GaltonNail {
  /** probability of going left */
  pLeft: number;
  /** probability of going right, 1 − pLeft computed without cancellation */
  pRight: number;
  /** ∂ pLeft / ∂θ */
  dpLeft: number;
}

/** Left/right probabilities at row `row` (0..19), nail `nail` (0..30). */
export function galtonNail(row: number, nail: number, theta: number): GaltonNail {
  // sin(π l/19) = sin(π (19 − l)/19): the symmetric form makes the last row exactly fair, as in the kernel
  const s = Math.sin((Math.PI * Math.min(row, GALTON_ROWS - 1 - row)) / (GALTON_ROWS - 1));
  const g = (2 * nail - (GALTON_NAILS - 1)) / (GALTON_NAILS - 1);
  const z = 10 * theta * g;
  const sigPos = 1 / (1 + Math.exp(-z));
  const sigNeg = 1 / (1 + Math.exp(z));
  const base = 0.5 * (1 - s);
  return { pLeft: base + s * sigPos, pRight: base + s * sigNeg, dpLeft: s * sigPos * sigNeg * 10 * g };
}

/** Position after the decision at row `row`. */
export function galtonMove(row: number, position: number, left: boolean): number {
  if (row % 2 === 0) return left ? position : position + 1;
  return left ? position - 1 : position;
}

export interface GaltonMarginal {
  /** p(x = k | θ) for k = 0..30 */
  pmf: Float64Array;
  /** ∂/∂θ p(x = k | θ) */
  dpmf: Float64Array;
}

/** The whole distribution of the final position and its θ-derivative (20 × 31 steps). */
export function galtonMarginal(theta: number): GaltonMarginal {
  let prob = new Float64Array(GALTON_NAILS);
  let dprob = new Float64Array(GALTON_NAILS);
  prob[GALTON_START] = 1;
  for (let l = 0; l < GALTON_ROWS; l++) {
    const next = new Float64Array(GALTON_NAILS);
    const dnext = new Float64Array(GALTON_NAILS);
    for (let n = 0; n < GALTON_NAILS; n++) {
      if (prob[n] === 0) continue;  // unreachable at this row
      const { pLeft, pRight, dpLeft } = galtonNail(l, n, theta);
      const left = galtonMove(l, n, true);
      const right = galtonMove(l, n, false);
      next[left] += prob[n] * pLeft;
      dnext[left] += dprob[n] * pLeft + prob[n] * dpLeft;
      next[right] += prob[n] * pRight;
      dnext[right] += dprob[n] * pRight - prob[n] * dpLeft;
    }
    prob = next;
    dprob = dnext;
  }
  return { pmf: prob, dpmf: dprob };
}

function isPosition(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x < GALTON_NAILS;
}

/** log p(x | θ); −Infinity where x is not a reachable position. */
export function galtonLogLikelihood(theta: number, x: number, marginal = galtonMarginal(theta)): number {
  return isPosition(x) ? Math.log(marginal.pmf[x]) : -Infinity;
}

/** ∂/∂θ log p(x | θ); NaN where x is not a reachable position. */
export function galtonScore(theta: number, x: number, marginal = galtonMarginal(theta)): number {
  if (!isPosition(x) || marginal.pmf[x] === 0) return NaN;
  return marginal.dpmf[x] / marginal.pmf[x];
}
