// Registration of the ODE benchmark simulators of sbibm (kernels/simulators/sir.h,
// lotka_volterra.h). Rows are solved kLanes at a time in lockstep (Dopri5Lanes): one explicit
// Runge–Kutta solve is a chain of dependent operations that leaves the core mostly idle, and
// independent lanes fill it (about 6× the throughput of one solve at a time, see docs/ode.md).
// A lane that finishes is refilled with the next row, so lanes rarely idle. Each row gets
// exactly the result of its kernel simulate_<task> run alone (same operations per lane, same
// Philox stream), whatever the lane, thread or ISA path.
#include "../../kernels/simulators/lotka_volterra.h"
#include "../../kernels/simulators/sir.h"
#include "registry.h"

namespace sbi_native {
namespace {

constexpr int kLanes = 8;

template <class M>
inline void SettleOdeRow(const SimBatch& a, int64_t i, sbi::OdeStatus status, const double* solution) {
  bool ok = false;
  if (status == sbi::OdeStatus::kSuccess) {
    sbi::PhiloxStream rng(a.seed, a.stream_offset + static_cast<uint64_t>(i));
    ok = sbi::ode_observe<M>(status, solution, rng, a.x + i * a.x_dim);
  }
  SettleRow(a, i, ok);
}

template <class M>
inline void RunOdeRows(const SimBatch& a, int64_t b, int64_t e) {
  sbi::Dopri5Lanes<M::kDim, kLanes, typename M::Rhs> lanes(sbi::ode_default_options<M>());
  double y0[M::kDim], times[M::kTimes];
  M::initial_state(y0);
  M::output_times(times);
  double solution[kLanes][M::kTimes * M::kDim];
  int64_t row[kLanes];  // row solved on each lane, -1 when parked
  int64_t next = b;
  int busy = 0;

  // Puts the next row on lane l (settling at once rows whose solve ends in `start`), or parks it.
  auto fill = [&](int l) {
    while (next < e) {
      const int64_t i = next++;
      lanes.start(l, M::rhs(a.theta + i * a.theta_dim), 0.0, y0, times, M::kTimes, solution[l]);
      if (lanes.running[l]) {
        row[l] = i;
        ++busy;
        return;
      }
      SettleOdeRow<M>(a, i, lanes.status[l], solution[l]);
    }
    row[l] = -1;
    lanes.park(l);
  };
  for (int l = 0; l < kLanes; ++l) fill(l);
  while (busy > 0) {
    lanes.step();
    for (int l = 0; l < kLanes; ++l) {
      if (lanes.running[l] || row[l] < 0) continue;
      SettleOdeRow<M>(a, row[l], lanes.status[l], solution[l]);
      --busy;
      fill(l);
    }
  }
}

inline void sir_rows(const SimBatch& a, int64_t b, int64_t e) { RunOdeRows<sbi::SirModel>(a, b, e); }
inline void lotka_volterra_rows(const SimBatch& a, int64_t b, int64_t e) {
  RunOdeRows<sbi::LotkaVolterraModel>(a, b, e);
}

}  // namespace
}  // namespace sbi_native

// cost: about 230 (sir) and 370 (lotka_volterra) Dormand–Prince steps of ~100 flops per row (grains
// of 40 and 27 rows; larger grains measured no faster).
SBI_REGISTER_SIMULATOR_ROWS(sir, "sir", sbi::SirModel::kThetaDim, sbi::SirModel::kXDim, 0, false, 100.0,
                            ::sbi_native::sir_rows)
SBI_REGISTER_SIMULATOR_ROWS(lotka_volterra, "lotka_volterra", sbi::LotkaVolterraModel::kThetaDim,
                            sbi::LotkaVolterraModel::kXDim, 0, false, 150.0, ::sbi_native::lotka_volterra_rows)
