// slcp_distractors (sbibm slcp task.py with distractors=True; Greenberg, Nonnenmacher & Macke
// 2019, arXiv:1905.07488): θ ∈ [−3, 3]⁵, x ∈ ℝ¹⁰⁰. The 8 SLCP values (slcp.h) are joined by
// 92 distractors drawn from a fixed mixture of 20 multivariate Student-t distributions,
//   k ~ Categorical(probs),  n = loc_k + L_k z / √(g / ν_k),  z ~ N(0, I₉₂),  g ~ χ²(ν_k),
// and the 100 columns are permuted: x_c = concat(slcp, n)[perm_c]. The mixture (ν_k = 2,
// dense 92×92 scale factors L_k) and perm are sbibm's files, embedded by
// scripts/gen-task-data.mjs in data/slcp_distractors_noise.h.
#pragma once
#include "data/slcp_distractors_noise.h"
#include "slcp.h"

namespace sbi {

SBI_HD bool simulate_slcp_distractors(const SimRow& row, PhiloxStream& rng) {
  namespace d = slcp_distractors_data;
  constexpr int kSlcpDim = 2 * kSlcpDraws;
  double v[kSlcpDim + d::kNoiseDim];
  slcp_draw(row.theta, rng, v);  // 12 words: the stream stays at a block boundary

  double z[d::kNoiseDim];
  sample_std_normal_fill(rng, z, d::kNoiseDim);
  const int k = sample_categorical(rng, d::kProbs, d::kComponents);
  const double df = d::kDf[k];
  const double inv_scale = 1.0 / sqrt(2.0 * sample_std_gamma(rng, 0.5 * df) / df);  // 1/√(χ²_ν/ν)

  // n = loc + L (z · inv_scale) column by column; each column updates whole aligned 8-row
  // blocks of acc (kScaleTril's padding): the update vectorises and its loads and stores
  // stay on 64-byte boundaries.
  alignas(64) double acc[d::kPaddedDim] = {};
  const double* L = d::kScaleTril[k];
  for (int j = 0; j < d::kNoiseDim; ++j) {
    const double y = z[j] * inv_scale;
    const int start = d::kColumnStart[j];
    const double* col = L + d::kColumnOffset[j] - start;
    for (int i = start; i < d::kPaddedDim; ++i) acc[i] += col[i] * y;
  }
  double* n = v + kSlcpDim;
  for (int i = 0; i < d::kNoiseDim; ++i) n[i] = d::kLoc[k][i] + acc[i];

  for (int c = 0; c < kSlcpDim + d::kNoiseDim; ++c) row.x[c] = static_cast<float>(v[d::kPermutation[c]]);
  return true;
}

}  // namespace sbi
