// lotka_volterra — predator–prey model as defined by sbibm (Lueckmann et al., "Benchmarking
// Simulation-Based Inference", AISTATS 2021, arXiv:2101.04653; after the Stan case study of
// Carpenter 2018). θ = (α, β, γ, δ); prey u, predator v:
//   du/dt = α u − β u v,   dv/dt = −γ v + δ u v,   (u, v)(0) = (30, 1),  t ∈ [0, 20].
// sbibm saves the solution every 0.1 and keeps every 21st save: t_k = 2.1 k, k = 0..9, and
//   s = (u(t_0..t_9), v(t_0..t_9)),  x_j ~ LogNormal(log(clamp(s_j, 1e-10, 1e4)), 0.1)
// (x ∈ ℝ₊^20), with s rounded to float32 before the clamp as in sbibm. The solve ends at the last
// observed time 18.9 (sbibm: 20). sbibm solves with Tsit5 at reltol = abstol = 1e-8. Here the
// absolute tolerance is negligible (pure relative control): trajectories dip to 1e-40 and below,
// and with an absolute tolerance of 1e-8 the time of their recovery, so every later value, is
// wrong by O(1) (an atol of 1e-20 still left ~5 rows in 10⁵ off by up to 10×: docs/backends.md). The relative tolerance 5e-9 keeps s within 1e-6 of the exact solution for
// fast oscillations too (θ with many periods in [0, 18.9]); see docs/ode.md. A failed solve
// returns false (sbibm: NaN row).
#pragma once
#include "../random/samplers.h"
#include "ode_simulator.h"

namespace sbi {

struct LotkaVolterraRhs {
  double alpha, beta, gamma, delta;
  // w = (u, v): prey, predator
  SBI_HD void operator()(double /*t*/, const double* w, double* dw) const {
    const double uv = w[0] * w[1];
    dw[0] = alpha * w[0] - beta * uv;
    dw[1] = delta * uv - gamma * w[1];
  }
};

struct LotkaVolterraModel {
  static constexpr double kNoiseScale = 0.1;
  static constexpr double kClampLow = 1e-10, kClampHigh = 1e4;
  static constexpr int kThetaDim = 4, kDim = 2, kTimes = 10, kSummaryDim = 20, kXDim = 20;
  static constexpr double kRtol = 5e-9, kAtol = 1e-300;
  static constexpr int kMaxSteps = 100000;
  using Rhs = LotkaVolterraRhs;

  SBI_HD static Rhs rhs(const double* theta) { return Rhs{theta[0], theta[1], theta[2], theta[3]}; }
  SBI_HD static void initial_state(double* w0) {
    w0[0] = 30.0;
    w0[1] = 1.0;
  }
  // sbibm's save grid is 0:0.1:20 (Julia ranges round i/10 correctly); t_k is save 21 k.
  SBI_HD static void output_times(double* t) {
    for (int k = 0; k < kTimes; ++k) t[k] = (21.0 * k) / 10.0;
  }
  // s = (u(t_0..t_9), v(t_0..t_9))
  SBI_HD static void summary(const double* w, double* s) {
    for (int k = 0; k < kTimes; ++k) {
      s[k] = w[k * kDim];
      s[kTimes + k] = w[k * kDim + 1];
    }
  }
  SBI_HD static void observe(const double* s, PhiloxStream& rng, float* x) {
    for (int j = 0; j < kSummaryDim; ++j) {
      const double v = static_cast<double>(static_cast<float>(s[j]));
      const double c = v < kClampLow ? kClampLow : (v > kClampHigh ? kClampHigh : v);
      x[j] = static_cast<float>(sample_lognormal(rng, log(c), kNoiseScale));
    }
  }
};

SBI_HD bool simulate_lotka_volterra(const SimRow& row, PhiloxStream& rng) {
  return simulate_ode<LotkaVolterraModel>(row, rng);
}

}  // namespace sbi
