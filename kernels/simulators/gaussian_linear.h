// gaussian_linear and gaussian_linear_uniform (sbibm task.py; Lueckmann et al. 2021,
// arXiv:2101.04653): x ~ N(θ, 0.1·I), θ, x ∈ ℝ¹⁰. The tasks differ only in the prior. sbibm
// builds the simulator from precision_matrix = inverse(0.1·I), so 0.1 is the variance: the
// noise standard deviation is √0.1.
#pragma once
#include "../random/samplers.h"
#include "sim_row.h"

namespace sbi {

constexpr int kGaussianLinearDim = 10;

SBI_HD bool simulate_gaussian_linear(const SimRow& row, PhiloxStream& rng) {
  const double sd = 0.31622776601683794;  // √0.1
  SBI_UNROLL
  for (int i = 0; i < kGaussianLinearDim; i += 2) {
    double z0, z1;
    sample_std_normal_pair(rng, &z0, &z1);
    row.x[i] = static_cast<float>(row.theta[i] + sd * z0);
    row.x[i + 1] = static_cast<float>(row.theta[i + 1] + sd * z1);
  }
  return true;
}

}  // namespace sbi
