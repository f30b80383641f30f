// gaussian_mixture (sbibm task.py; Sisson, Fan & Tanaka 2007, PNAS 104:1760; Beaumont et al.
// 2009, Biometrika 96:983): θ ∈ [−10, 10]², x ∈ ℝ²,
//   x ~ ½ N(θ, I) + ½ N(θ, 0.01·I)
// (sbibm: mixture index ~ Categorical(0.5, 0.5), scales (1.0, 0.1), location factors 1).
#pragma once
#include "../random/samplers.h"
#include "sim_row.h"

namespace sbi {

SBI_HD bool simulate_gaussian_mixture(const SimRow& row, PhiloxStream& rng) {
  const int narrow = sample_bernoulli(rng, 0.5);  // mixture index 1: scale 0.1
  const double sd = bit_select(narrow != 0, 0.1, 1.0);
  double z0, z1;
  sample_std_normal_pair(rng, &z0, &z1);
  row.x[0] = static_cast<float>(row.theta[0] + sd * z0);
  row.x[1] = static_cast<float>(row.theta[1] + sd * z1);
  return true;
}

}  // namespace sbi
