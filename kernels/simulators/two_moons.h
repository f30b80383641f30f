// two_moons (sbibm task.py; Greenberg, Nonnenmacher & Macke 2019, arXiv:1905.07488):
// θ ∈ [−1, 1]², x ∈ ℝ².
//   a ~ U(−π/2, π/2),  r ~ N(0.1, 0.01²),  p = (r cos a + 0.25, r sin a)
//   x = p + (−|θ₁ + θ₂|/√2, (−θ₁ + θ₂)/√2)     (sbibm's _map_fun: θ rotated by −π/4)
// Draws: a = π (u − ½) from a 32-bit uniform u; r from the first variate of a Box–Muller
// pair: one Philox block per row. Straight-line and branch-free, so RunRows vectorises it.
#pragma once
#include "../random/samplers.h"
#include "sim_row.h"

namespace sbi {

SBI_HD bool simulate_two_moons(const SimRow& row, PhiloxStream& rng) {
  const double u = u32_to_open01(rng.next_u32());
  double z, unused;
  sample_std_normal_pair(rng, &z, &unused);
  const double r = 0.1 + 0.01 * z;
  double sin_a, cos_a;
  vsincos_2pi(0.5 * (u - 0.5), &sin_a, &cos_a);  // a / 2π = (u − ½) / 2, exact
  const double inv_sqrt2 = 0.70710678118654752440;
  const double t0 = row.theta[0], t1 = row.theta[1];
  row.x[0] = static_cast<float>(r * cos_a + 0.25 - fabs(t0 + t1) * inv_sqrt2);
  row.x[1] = static_cast<float>(r * sin_a + (t1 - t0) * inv_sqrt2);
  return true;
}

}  // namespace sbi
