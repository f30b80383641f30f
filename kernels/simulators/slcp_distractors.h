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
  slcp_draw(row.theta, rng, v);

  const int k = sample_categorical(rng, d::kProbs, d::kComponents);
  double y[d::kNoiseDim];
  for (int i = 0; i < d::kNoiseDim; i += 2) sample_std_normal_pair(rng, &y[i], &y[i + 1]);
  const double df = d::kDf[k];
  const double inv_scale = 1.0 / sqrt(2.0 * sample_std_gamma(rng, 0.5 * df) / df);  // 1/√(χ²_ν/ν)
  for (int i = 0; i < d::kNoiseDim; ++i) y[i] *= inv_scale;

  // n = L y by columns (each column's update vectorises), then + loc.
  double* n = v + kSlcpDim;
  for (int i = 0; i < d::kNoiseDim; ++i) n[i] = 0.0;
  const double* col = d::kScaleTril[k];
  for (int j = 0; j < d::kNoiseDim; ++j) {
    const double yj = y[j];
    for (int i = j; i < d::kNoiseDim; ++i) n[i] += col[i - j] * yj;
    col += d::kNoiseDim - j;
  }
  for (int i = 0; i < d::kNoiseDim; ++i) n[i] += d::kLoc[k][i];

  for (int c = 0; c < kSlcpDim + d::kNoiseDim; ++c) row.x[c] = static_cast<float>(v[d::kPermutation[c]]);
  return true;
}

}  // namespace sbi
