// slcp (sbibm task.py; Papamakarios, Sterratt & Murray 2019, "Sequential neural likelihood",
// arXiv:1805.07226): θ ∈ [−3, 3]⁵, x ∈ ℝ⁸ = four iid draws from a bivariate normal,
//   m = (θ₁, θ₂),  s₁ = θ₃²,  s₂ = θ₄²,  ρ = tanh θ₅,
//   S = [[s₁² + ε, ρ s₁ s₂], [ρ s₁ s₂, s₂² + ε]],  ε = 10⁻⁶ (sbibm adds it "to ensure PSD"),
//   x = (x¹₁, x¹₂, x²₁, x²₂, x³₁, x³₂, x⁴₁, x⁴₂),  xᵏ ~ N(m, S).
// Each xᵏ is m + L (z₀, z₁) with L the Cholesky factor of S and (z₀, z₁) a Box–Muller pair.
#pragma once
#include "../random/samplers.h"
#include "sim_row.h"

namespace sbi {

constexpr int kSlcpDraws = 4;
constexpr double kSlcpEps = 1e-6;

// tanh y = sign(y) (1 − e^−2|y|) / (1 + e^−2|y|) through vexp (branch-free); the absolute error
// is below 2^-52, which is all ρ needs (it only enters through ρ s₁ s₂).
SBI_HD double slcp_tanh(double y) {
  const double e = vexp(-2.0 * fabs(y));
  const double t = (1.0 - e) / (1.0 + e);
  return bits_double(double_bits(t) | (double_bits(y) & 0x8000000000000000ull));
}

// The 8 SLCP values for parameters theta[0..5) into out[0..8).
SBI_HD void slcp_draw(const double* theta, PhiloxStream& rng, double* out) {
  const double m0 = theta[0], m1 = theta[1];
  const double s1 = theta[2] * theta[2];
  const double s2 = theta[3] * theta[3];
  const double rho = slcp_tanh(theta[4]);
  const double l00 = sqrt(s1 * s1 + kSlcpEps);
  const double l10 = (rho * s1 * s2) / l00;
  const double l11 = sqrt((s2 * s2 + kSlcpEps) - l10 * l10);
  SBI_UNROLL
  for (int k = 0; k < kSlcpDraws; ++k) {
    double z0, z1;
    sample_std_normal_pair(rng, &z0, &z1);
    out[2 * k] = m0 + l00 * z0;
    out[2 * k + 1] = m1 + (l10 * z0 + l11 * z1);
  }
}

SBI_HD bool simulate_slcp(const SimRow& row, PhiloxStream& rng) {
  double v[2 * kSlcpDraws];
  slcp_draw(row.theta, rng, v);
  SBI_UNROLL
  for (int j = 0; j < 2 * kSlcpDraws; ++j) row.x[j] = static_cast<float>(v[j]);
  return true;
}

}  // namespace sbi
