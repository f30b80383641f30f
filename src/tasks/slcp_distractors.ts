/**
 * slcp_distractors (sbibm, Lueckmann et al. 2021, arXiv:2101.04653; distractors after
 * Greenberg, Nonnenmacher & Macke 2019, arXiv:1905.07488): SLCP's 8 values hidden among 92
 * uninformative ones. θ ∈ [−3, 3]⁵ (SLCP's prior), x ∈ ℝ¹⁰⁰:
 *   n ~ Σₖ probsₖ · t₂(locₖ, Lₖ Lₖᵀ)   (20 multivariate Student-t components, 92 dims)
 *   x = concat(slcp(θ), n)[perm]        (a fixed permutation of the 100 columns)
 * The mixture and the permutation are sbibm's files (data/sbibm/slcp_distractors/files/),
 * compiled into the kernel. The likelihood is SLCP's times the fixed noise density; it is not
 * provided here.
 */
import type { TaskDefinition } from './task.js';
import { slcp } from './slcp.js';

export const slcpDistractors: TaskDefinition = {
  name: 'slcp_distractors',
  description: 'SLCP with 92 distractor dimensions from a Student-t mixture (sbibm)',
  thetaDim: 5,
  xDim: 100,
  prior: slcp.prior,
  simulator: 'slcp_distractors',
  design: [],
  gold: false,
};
