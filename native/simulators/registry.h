// The table of built-in native simulators. Each simulator family registers its entries with
// SBI_REGISTER_SIMULATOR in its own translation unit under native/simulators/.
#pragma once
#include <cstdint>
#include <vector>

#include "../../kernels/simulators/sim_row.h"
#include "../runtime.h"

namespace sbi_native {

struct SimBatch {
  const double* theta;      // [n, theta_dim]
  const double* theta_ref;  // [n, theta_dim] or null
  const double* design;     // [design_dim] (shared by all rows) or null
  int64_t n;
  uint64_t seed;
  uint64_t stream_offset;  // row i uses Philox stream (stream_offset + i)
  float* x;                // [n, x_dim]
  double* joint_log_likelihood;  // [n] or null
  double* joint_score;           // [n, theta_dim] or null
  double* joint_log_ratio;       // [n] or null
  uint8_t* failed;               // [n]: 1 where the simulation failed (x row is NaN)
  int theta_dim, x_dim;
};

using SimRangeFn = void (*)(const SimBatch&, int64_t begin, int64_t end);

struct SimulatorSpec {
  const char* name;
  int theta_dim;
  int x_dim;
  int design_dim;  // 0: none
  bool gold;       // provides joint log-likelihood / score / log-ratio
  double cost;     // rough relative cost per row (1 = a few hundred flops); sets the grain
  SimRangeFn range[3];  // indexed by Isa: scalar, avx2, avx512
};

std::vector<SimulatorSpec>& SimulatorTable();
struct SimulatorRegistrar {
  explicit SimulatorRegistrar(const SimulatorSpec& spec) { SimulatorTable().push_back(spec); }
};

// Settles row i after its simulation: a failed kernel or a non-finite x makes the x row NaN
// and flags it.
inline void SettleRow(const SimBatch& a, int64_t i, bool ok) {
  a.failed[i] = sbi::settle_sim_row(a.x + i * a.x_dim, a.x_dim, ok) ? 0 : 1;
}

// Runs KERNEL(const sbi::SimRow&, sbi::PhiloxStream&) -> bool over rows [b, e), in tiles of
// two passes: the kernel over the tile's rows, then the finiteness checks. The first loop has
// no early exits, so a straight-line kernel (fixed number of draws, vecmath.h functions)
// vectorises across rows. THETA_DIM and X_DIM are the registered dimensions (equal to
// a.theta_dim and a.x_dim).
template <bool (*KERNEL)(const sbi::SimRow&, sbi::PhiloxStream&), int THETA_DIM, int X_DIM>
inline void RunRows(const SimBatch& a, int64_t b, int64_t e) {
  constexpr int64_t kTile = 256;
  int32_t ok[kTile];
  // Row strides as compile-time constants when they are powers of two (GCC then vectorises
  // the interleaved loads and stores with shuffles); otherwise read at run time, which GCC
  // handles as element-wise strided accesses (it cannot vectorise interleaved groups of other
  // sizes, such as slcp's 5 or gaussian_linear's 10).
  const int64_t theta_stride = (THETA_DIM & (THETA_DIM - 1)) == 0 ? THETA_DIM : a.theta_dim;
  const int64_t x_stride = (X_DIM & (X_DIM - 1)) == 0 ? X_DIM : a.x_dim;
  for (int64_t t0 = b; t0 < e; t0 += kTile) {
    const int64_t t1 = e - t0 < kTile ? e : t0 + kTile;
    for (int64_t i = t0; i < t1; ++i) {
      sbi::PhiloxStream rng(a.seed, a.stream_offset + static_cast<uint64_t>(i));
      sbi::SimRow row;
      row.theta = a.theta + i * theta_stride;
      row.theta_ref = a.theta_ref ? a.theta_ref + i * theta_stride : nullptr;
      row.design = a.design;
      row.x = a.x + i * x_stride;
      row.joint_log_likelihood = a.joint_log_likelihood ? a.joint_log_likelihood + i : nullptr;
      row.joint_score = a.joint_score ? a.joint_score + i * theta_stride : nullptr;
      row.joint_log_ratio = a.joint_log_ratio ? a.joint_log_ratio + i : nullptr;
      ok[i - t0] = KERNEL(row, rng) ? 1 : 0;
    }
    // Usually every row succeeded with finite values: one flat, vectorisable pass says so.
    int all_good = 1;
    for (int64_t i = t0; i < t1; ++i) all_good &= ok[i - t0];
    const float* xt = a.x + t0 * X_DIM;
    const int64_t len = (t1 - t0) * X_DIM;
    for (int64_t k = 0; k < len; ++k) all_good &= (xt[k] - xt[k] == 0.0f) ? 1 : 0;  // NaN or inf: 0
    if (all_good) {
      for (int64_t i = t0; i < t1; ++i) a.failed[i] = 0;
      continue;
    }
    for (int64_t i = t0; i < t1; ++i) SettleRow(a, i, ok[i - t0] != 0);
  }
}

}  // namespace sbi_native

// Registers kernel function KERNEL under NAME with the given dimensions, compiled for every ISA.
#define SBI_REGISTER_SIMULATOR(ID, NAME, THETA_DIM, X_DIM, DESIGN_DIM, GOLD, COST, KERNEL)               \
  namespace {                                                                                            \
  inline void ID##_rows(const ::sbi_native::SimBatch& a, int64_t b, int64_t e) {                         \
    ::sbi_native::RunRows<KERNEL, THETA_DIM, X_DIM>(a, b, e);                                            \
  }                                                                                                      \
  }                                                                                                      \
  SBI_REGISTER_SIMULATOR_ROWS(ID, NAME, THETA_DIM, X_DIM, DESIGN_DIM, GOLD, COST, ID##_rows)

// Registers a whole-range body ROWS(const SimBatch&, int64_t begin, int64_t end) under NAME, for
// simulators that process several rows together (e.g. ODE solves in lockstep lanes). ROWS must
// give each row the result RunRows would give it with the simulator's kernel, and SettleRow it.
#define SBI_REGISTER_SIMULATOR_ROWS(ID, NAME, THETA_DIM, X_DIM, DESIGN_DIM, GOLD, COST, ROWS)            \
  namespace {                                                                                            \
  SBI_MULTIVERSION(ID##_range, ::sbi_native::SimBatch, ROWS)                                             \
  ::sbi_native::SimulatorRegistrar ID##_registrar(                                                       \
      {NAME, THETA_DIM, X_DIM, DESIGN_DIM, GOLD, COST, SBI_MULTIVERSION_TABLE(ID##_range)});             \
  }
