// One simulation's inputs and outputs, as seen by a simulator kernel. A kernel is
//   SBI_HD bool simulate_<task>(const SimRow& row, PhiloxStream& rng)
// and returns false when the simulation failed (the caller then writes a NaN row and flags it).
#pragma once
#include "../random/philox.h"

namespace sbi {

struct SimRow {
  const double* theta;      // [theta_dim]
  const double* theta_ref;  // [theta_dim] or null: reference point of the joint log-ratio
  const double* design;     // [design_dim] or null: design variables (e.g. sqrt(s))
  float* x;                 // [x_dim] output
  // Gold (written only when non-null, by simulators that have a tractable joint likelihood):
  double* joint_log_likelihood;  // log p(x, z | theta)
  double* joint_score;           // [theta_dim] d/dtheta log p(x, z | theta)
  double* joint_log_ratio;       // log p(x, z | theta) - log p(x, z | theta_ref)
};

// Settles x[0..x_dim) after its simulation: a failed kernel (ok = false) or a NaN / infinite
// value makes the whole row NaN. Returns whether the row is good. Shared by the CPU batches
// (native/simulators/registry.h) and the CUDA launcher (simulators.cu).
SBI_HD bool settle_sim_row(float* x, int x_dim, bool ok) {
  for (int j = 0; j < x_dim; ++j)
    if (!(x[j] == x[j]) || x[j] - x[j] != 0.0f) ok = false;  // NaN or inf
  if (!ok)
    for (int j = 0; j < x_dim; ++j) x[j] = bits_float(0x7fc00000u);  // the quiet NaN
  return ok;
}

}  // namespace sbi
