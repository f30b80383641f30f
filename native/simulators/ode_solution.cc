// odeSolution: the noise-free summaries of the ODE simulators (before observation noise), for
// tests and diagnostics. Rows are solved one at a time with the simulators' single-solve path
// (ode_summary), so this is also the reference the batched lanes of ode.cc must match.
#include <cmath>
#include <string>

#include "../../kernels/simulators/lotka_volterra.h"
#include "../../kernels/simulators/sir.h"
#include "../napi_util.h"

namespace sbi_native {
namespace {

struct OdeTask {
  const char* name;
  int theta_dim;
  int summary_dim;
  double rtol, atol;  // defaults: the simulator's
  int max_steps;
  sbi::OdeStatus (*summary)(const double* theta, const sbi::Dopri5Options& opt, double* s, sbi::Dopri5Stats* stats);
};

template <class M>
constexpr OdeTask MakeTask(const char* name) {
  return {name, M::kThetaDim, M::kSummaryDim, M::kRtol, M::kAtol, M::kMaxSteps, &sbi::ode_summary<M>};
}

const OdeTask kOdeTasks[] = {
    MakeTask<sbi::SirModel>("sir"),                       // s = I(t_0..t_9), persons
    MakeTask<sbi::LotkaVolterraModel>("lotka_volterra"),  // s = (u(t_0..t_9), v(t_0..t_9))
};

// odeSolution(task, theta [n, thetaDim], n, rtol?, atol?, out [n, summaryDim]) -> failed rows.
// rtol / atol default to the simulator's; failed rows of `out` are NaN.
Napi::Value OdeSolution(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = GetString(info[0], "task");
  const OdeTask* task = nullptr;
  std::string known;
  for (const OdeTask& t : kOdeTasks) {
    if (name == t.name) task = &t;
    known += (known.empty() ? "" : ", ") + std::string(t.name);
  }
  if (!task) ThrowSbiError(env, "UNKNOWN_TASK", "Unknown ODE task " + Describe(info[0]) + "; known: " + known);
  const int64_t n = GetInteger(info[2], "n", 1, int64_t(1) << 40);
  auto theta = GetFloat64Array(info[1], "theta", n * task->theta_dim);
  for (size_t i = 0; i < theta.length; ++i)
    if (!std::isfinite(theta.data[i]))
      ThrowRangeError(env, "Expected finite values in `theta` but row " + std::to_string(i / task->theta_dim) +
                               ", column " + std::to_string(i % task->theta_dim) + " is " +
                               std::to_string(theta.data[i]));
  const double rtol = IsAbsent(info[3]) ? task->rtol : GetNumber(info[3], "rtol");
  const double atol = IsAbsent(info[4]) ? task->atol : GetNumber(info[4], "atol");
  if (!(rtol > 0.0)) ThrowRangeError(env, "Expected a positive number for `rtol` but received " + Describe(info[3]));
  if (!(atol > 0.0)) ThrowRangeError(env, "Expected a positive number for `atol` but received " + Describe(info[4]));
  auto out = GetFloat64Array(info[5], "out", n * task->summary_dim);

  const sbi::Dopri5Options opt{rtol, atol, task->max_steps};
  int64_t failed = 0;
  for (int64_t i = 0; i < n; ++i) {
    double* s = out.data + i * task->summary_dim;
    if (task->summary(theta.data + i * task->theta_dim, opt, s, nullptr) != sbi::OdeStatus::kSuccess) {
      for (int j = 0; j < task->summary_dim; ++j) s[j] = NAN;
      ++failed;
    }
  }
  return Napi::Number::New(env, static_cast<double>(failed));
}

}  // namespace
SBI_NATIVE_FUNCTION("odeSolution", OdeSolution);
}  // namespace sbi_native
