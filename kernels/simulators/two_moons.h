// two_moons (sbibm; Greenberg et al. 2019): theta in [-1, 1]^2, x in R^2.
//   a ~ U(-pi/2, pi/2), r ~ N(0.1, 0.01^2), p = (r cos a + 0.25, r sin a)
//   x = p + (-|theta_1 + theta_2| / sqrt 2, (-theta_1 + theta_2) / sqrt 2)
#pragma once
#include "../random/samplers.h"
#include "sim_row.h"

namespace sbi {

SBI_HD bool simulate_two_moons(const SimRow& row, PhiloxStream& rng) {
  const double a = sample_uniform(rng, -0.5 * kPi, 0.5 * kPi);
  const double r = sample_normal(rng, 0.1, 0.01);
  const double inv_sqrt2 = 0.70710678118654752440;
  const double t0 = row.theta[0], t1 = row.theta[1];
  row.x[0] = static_cast<float>(r * cos(a) + 0.25 - fabs(t0 + t1) * inv_sqrt2);
  row.x[1] = static_cast<float>(r * sin(a) + (t1 - t0) * inv_sqrt2);
  return true;
}

}  // namespace sbi
