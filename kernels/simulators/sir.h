// sir — SIR epidemic model as defined by sbibm (Lueckmann et al., "Benchmarking
// Simulation-Based Inference", AISTATS 2021, arXiv:2101.04653; model after Kermack & McKendrick
// 1927). θ = (β, γ): contact rate and mean recovery rate (1/day); population N = 10⁶.
//   dS/dt = −β S I / N,   dI/dt = β S I / N − γ I,   dR/dt = γ I,
//   (S, I, R)(0) = (N − 1, 1, 0),  t ∈ [0, 160] days.
// sbibm saves the solution daily and keeps I on every 17th day: t_k = 17 k, k = 0..9, then
//   x_k ~ Binomial(1000, clamp(I(t_k) / N, 0, 1))        (x ∈ {0..1000}^10).
// As in sbibm, I is rounded to float32 before the division by N. R never feeds back into S or I
// and is not observed, so only (S, I) is integrated, and only up to the last observed day 153
// (sbibm solves to day 160). sbibm solves with Tsit5 at reltol = abstol = 1e-8; here the relative
// tolerance is the same and the absolute one negligible (pure relative control: I spans 1e-13 to
// 1e6 persons), which keeps I within 1e-7 of the exact solution (docs/ode.md). A failed solve
// (sbibm: a short solution, then a NaN row) makes the kernel return false.
#pragma once
#include "../random/samplers.h"
#include "ode_simulator.h"

namespace sbi {

struct SirRhs {
  double beta_over_n, gamma;
  // u = (S, I)
  SBI_HD void operator()(double /*t*/, const double* u, double* du) const {
    const double infection = beta_over_n * u[0] * u[1];
    du[0] = -infection;
    du[1] = infection - gamma * u[1];
  }
};

struct SirModel {
  static constexpr double kPopulation = 1e6;
  static constexpr double kTotalCount = 1000.0;
  static constexpr double kDayStride = 17.0;  // every 17th daily save
  static constexpr int kThetaDim = 2, kDim = 2, kTimes = 10, kSummaryDim = 10, kXDim = 10;
  static constexpr double kRtol = 1e-8, kAtol = 1e-20;
  static constexpr int kMaxSteps = 100000;  // DifferentialEquations.jl's default maxiters
  using Rhs = SirRhs;

  SBI_HD static Rhs rhs(const double* theta) { return Rhs{theta[0] / kPopulation, theta[1]}; }
  SBI_HD static void initial_state(double* u0) {
    u0[0] = kPopulation - 1.0;
    u0[1] = 1.0;
  }
  SBI_HD static void output_times(double* t) {
    for (int k = 0; k < kTimes; ++k) t[k] = kDayStride * k;
  }
  // s_k = I(t_k) (persons)
  SBI_HD static void summary(const double* u, double* s) {
    for (int k = 0; k < kTimes; ++k) s[k] = u[k * kDim + 1];
  }
  SBI_HD static void observe(const double* s, PhiloxStream& rng, float* x) {
    for (int k = 0; k < kTimes; ++k) {
      const double p = static_cast<double>(static_cast<float>(s[k])) / kPopulation;
      x[k] = static_cast<float>(sample_binomial(rng, kTotalCount, p < 0.0 ? 0.0 : (p > 1.0 ? 1.0 : p)));
    }
  }
};

SBI_HD bool simulate_sir(const SimRow& row, PhiloxStream& rng) { return simulate_ode<SirModel>(row, rng); }

}  // namespace sbi
