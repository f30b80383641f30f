// Simulators whose latent path is an ODE solution observed with noise. A model type M provides
//   M::kThetaDim               number of parameters
//   M::kDim, M::kTimes         state dimension, number of output times
//   M::kSummaryDim, M::kXDim   noise-free summary and observation sizes
//   M::kRtol, M::kAtol, M::kMaxSteps   default solver settings
//   M::Rhs M::rhs(θ)           the right-hand side for parameters θ (see kernels/ode/dopri5.h)
//   M::initial_state(y0), M::output_times(t)
//   M::summary(solution [kTimes][kDim], s [kSummaryDim])   noise-free summary
//   M::observe(s, rng, x [kXDim])                          observation noise (Philox draws)
// ode_summary<M> gives the noise-free summary for one θ; simulate_ode<M> is the simulator kernel
// of sim_row.h. The CPU batch path (native/simulators/ode.cc) runs the same steps through
// Dopri5Lanes and ode_observe, and matches simulate_ode bit for bit.
#pragma once
#include "../ode/dopri5.h"
#include "../random/philox.h"
#include "sim_row.h"

namespace sbi {

template <class M>
SBI_HD Dopri5Options ode_default_options() {
  return Dopri5Options{M::kRtol, M::kAtol, M::kMaxSteps};
}

// Solves for parameters θ; solution is [kTimes][kDim].
template <class M>
SBI_HD OdeStatus ode_solve(const double* theta, const Dopri5Options& opt, double* solution, Dopri5Stats* stats) {
  double y0[M::kDim], times[M::kTimes];
  M::initial_state(y0);
  M::output_times(times);
  return dopri5_solve<M::kDim>(M::rhs(theta), 0.0, y0, times, M::kTimes, solution, opt, stats);
}

// The noise-free summary for θ (written only on success).
template <class M>
SBI_HD OdeStatus ode_summary(const double* theta, const Dopri5Options& opt, double* s, Dopri5Stats* stats) {
  double solution[M::kTimes * M::kDim];
  const OdeStatus status = ode_solve<M>(theta, opt, solution, stats);
  if (status == OdeStatus::kSuccess) M::summary(solution, s);
  return status;
}

// From a finished solve to the observation x; false if the solve failed.
template <class M>
SBI_HD bool ode_observe(OdeStatus status, const double* solution, PhiloxStream& rng, float* x) {
  if (status != OdeStatus::kSuccess) return false;
  double s[M::kSummaryDim];
  M::summary(solution, s);
  M::observe(s, rng, x);
  return true;
}

template <class M>
SBI_HD bool simulate_ode(const SimRow& row, PhiloxStream& rng) {
  double solution[M::kTimes * M::kDim];
  const OdeStatus status = ode_solve<M>(row.theta, ode_default_options<M>(), solution, nullptr);
  return ode_observe<M>(status, solution, rng, row.x);
}

}  // namespace sbi
