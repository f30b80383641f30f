// bernoulli_glm and bernoulli_glm_raw (sbibm task.py; Lueckmann et al. 2017, "Flexible
// statistical inference for mechanistic models of neural dynamics", arXiv:1711.01861):
// θ = β ∈ ℝ¹⁰ (offset and a 9-tap stimulus filter), T = 100 time bins,
//   ψ = X β,  y_t ~ Bernoulli(σ(ψ_t)),  σ(a) = 1 / (1 + e^−a),
// with X [100, 10] sbibm's fixed design matrix (column of ones, then the white-noise stimulus
// delayed by 0..8 bins), embedded in data/bernoulli_glm_design.h.
//   bernoulli_glm:     x = Xᵀ y ∈ ℝ¹⁰, the sufficient statistics. sbibm computes them as the
//                      spike count and conv1d(y, stimulus, padding=8)[-9:], which is exactly
//                      Xᵀ y (row 0 of Xᵀ is the ones, rows 1..9 the lagged stimulus).
//   bernoulli_glm_raw: x = y ∈ {0, 1}¹⁰⁰.
#pragma once
#include "../random/samplers.h"
#include "data/bernoulli_glm_design.h"
#include "sim_row.h"

namespace sbi {

// Spike train y[0..100) ∈ {0.0, 1.0} for filter beta[0..10). One uniform per bin, in order.
// Returns false when a logit is NaN (β so large that X β overflows with both signs).
SBI_HD bool bernoulli_glm_spikes(const double* beta, PhiloxStream& rng, double* y) {
  namespace d = bernoulli_glm_data;
  double psi[d::kSteps];
  for (int t = 0; t < d::kSteps; ++t) psi[t] = 0.0;
  for (int j = 0; j < d::kFeatures; ++j)
    for (int t = 0; t < d::kSteps; ++t) psi[t] += d::kDesignT[j][t] * beta[j];
  double u[d::kSteps];
  sample_uniform_fill(rng, u, d::kSteps);
  for (int t = 0; t < d::kSteps; ++t) {
    const double p = 1.0 / (1.0 + vexp(-psi[t]));
    y[t] = bit_select(u[t] < p, 1.0, 0.0);
  }
  int nan_logits = 0;
  for (int t = 0; t < d::kSteps; ++t) nan_logits += psi[t] != psi[t] ? 1 : 0;
  return nan_logits == 0;
}

SBI_HD bool simulate_bernoulli_glm(const SimRow& row, PhiloxStream& rng) {
  namespace d = bernoulli_glm_data;
  double y[d::kSteps];
  if (!bernoulli_glm_spikes(row.theta, rng, y)) return false;
  double acc[d::kFeatures] = {};
  for (int t = 0; t < d::kSteps; ++t)
    for (int j = 0; j < d::kFeatures; ++j) acc[j] += d::kDesign[t][j] * y[t];
  for (int j = 0; j < d::kFeatures; ++j) row.x[j] = static_cast<float>(acc[j]);
  return true;
}

SBI_HD bool simulate_bernoulli_glm_raw(const SimRow& row, PhiloxStream& rng) {
  namespace d = bernoulli_glm_data;
  double y[d::kSteps];
  if (!bernoulli_glm_spikes(row.theta, rng, y)) return false;
  for (int t = 0; t < d::kSteps; ++t) row.x[t] = static_cast<float>(y[t]);
  return true;
}

}  // namespace sbi
