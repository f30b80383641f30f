// N-API boundary of the φ⁴ kernels (kernels/lattice/phi4.h), on configurations of V = L·L sites:
//   phi4Action(L, coupling [m², λ] Float64Array, phi [n·V], action [n], grad? [n·V])
//     S(φ) of each configuration and, with grad, ∂S/∂φ; phi / action / grad all Float64Array or
//     all Float32Array (float kernels).
//   phi4Hmc(L, coupling, phi [chains·V] Float64Array (start, overwritten by the last state),
//           { seed, steps, leapfrogSteps, stepSize, stepJitter? (0), stepOffset?, threads? },
//           magnetization [chains·steps], action [chains·steps] Float64Array, accepted [chains·steps] Uint8Array)
//     `steps` HMC trajectories per chain, step size stepSize·(1 + stepJitter·(2u − 1)) per
//     trajectory; record (c, t) at c·steps + t. Trajectory t draws from
//     Philox stream c·2³² + stepOffset + t, so continuing a run with stepOffset = steps done
//     reproduces one long run.
//   phi4HmcAsync(..same.., onProgress(chainsDone, chains), cancelFlag Int32Array) -> Promise<void>;
//     a set cancel flag stops every chain within one trajectory (SbiError ABORTED).
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/lattice/phi4.h"
#include "batch.h"
#include "flow_spec.h"
#include "napi_util.h"

namespace sbi_native {
namespace {

constexpr int64_t kMaxL = 4096;
constexpr int64_t kMaxSteps = int64_t{1} << 32;

struct Coupling {
  double m2, lambda;
};

Coupling GetCoupling(const Napi::Value& v) {
  const View<double> c = GetFloat64Array(v, "coupling", 2);
  for (int i = 0; i < 2; ++i)
    if (!std::isfinite(c.data[i]))
      ThrowRangeError(v.Env(), std::string("Expected finite [m2, lambda] in `coupling` but ") + (i == 0 ? "m2" : "lambda") +
                                   " is " + std::to_string(c.data[i]));
  return {c.data[0], c.data[1]};
}

template <class T>
void CheckFinite(Napi::Env env, const View<T>& a, const char* name) {
  for (size_t i = 0; i < a.length; ++i)
    if (!std::isfinite(static_cast<double>(a.data[i])))
      ThrowRangeError(env, std::string("Expected finite values in `") + name + "` but `" + name + "[" + std::to_string(i) +
                               "]` is " + std::to_string(static_cast<double>(a.data[i])));
}

template <class T>
void ActionT(Napi::Env env, int L, const Coupling& c, const Napi::CallbackInfo& info) {
  const int64_t V = int64_t{L} * L;
  const View<T> phi = GetFloatArray<T>(info[2], "phi", -1);
  if (phi.length % V != 0)
    ThrowRangeError(env, "Expected `phi` to hold whole configurations of L·L = " + std::to_string(V) + " sites but it has " +
                             std::to_string(phi.length) + " values");
  const int64_t n = static_cast<int64_t>(phi.length) / V;
  T* action = GetFloatArray<T>(info[3], "action", n).data;
  T* grad = IsAbsent(info[4]) ? nullptr : GetFloatArray<T>(info[4], "grad", n * V).data;
  CheckFinite(env, phi, "phi");
  const sbi::Phi4Params<T> p{L, static_cast<T>(c.m2), static_cast<T>(c.lambda)};
  const T* x = phi.data;
  BatchJob job;
  job.n = n;
  job.grain = std::max<int64_t>(1, 65536 / V);
  job.range = [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      action[i] = grad ? sbi::phi4_action_grad(p, x + i * V, grad + i * V) : sbi::phi4_action(p, x + i * V);
  };
  RunBatch(job, nullptr, nullptr);
}

Napi::Value Phi4Action(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int L = static_cast<int>(GetInteger(info[0], "L", 1, kMaxL));
  const Coupling c = GetCoupling(info[1]);
  if (IsSinglePrecision(env, info[2], "phi")) ActionT<float>(env, L, c, info);
  else ActionT<double>(env, L, c, info);
  return env.Undefined();
}

struct HmcRun {
  sbi::Phi4Params<double> p{};
  sbi::HmcConfig cfg{};
  uint64_t seed = 0, step_offset = 0;
  int64_t steps = 0;
  double* phi = nullptr;
  double* magnetization = nullptr;
  double* action = nullptr;
  uint8_t* accepted = nullptr;
  const int32_t* cancel = nullptr;
};

PreparedBatch PrepareHmc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto run = std::make_shared<HmcRun>();
  const int L = static_cast<int>(GetInteger(info[0], "L", 1, kMaxL));
  const int64_t V = int64_t{L} * L;
  const Coupling c = GetCoupling(info[1]);
  if (c.lambda < 0 || (c.lambda == 0 && c.m2 <= 0))
    ThrowRangeError(env, "Expected lambda > 0, or lambda = 0 with m2 > 0 (a normalisable e^-S), but received m2 = " +
                             std::to_string(c.m2) + ", lambda = " + std::to_string(c.lambda));
  run->p = {L, c.m2, c.lambda};
  const View<double> phi = GetFloat64Array(info[2], "phi", -1);
  if (phi.length == 0 || phi.length % V != 0)
    ThrowRangeError(env, "Expected `phi` to hold one or more configurations of L·L = " + std::to_string(V) +
                             " sites but it has " + std::to_string(phi.length) + " values");
  CheckFinite(env, phi, "phi");
  const int64_t chains = static_cast<int64_t>(phi.length) / V;
  if (!info[3].IsObject()) ThrowTypeError(env, "Expected an options object for `options` but received " + Describe(info[3]));
  const Napi::Object o = info[3].As<Napi::Object>();
  run->seed = GetSeed(o.Get("seed"), "seed");
  run->steps = GetInteger(o.Get("steps"), "steps", 1, kMaxSteps);
  run->cfg.leapfrog_steps = static_cast<int>(GetInteger(o.Get("leapfrogSteps"), "leapfrogSteps", 1, 1 << 20));
  run->cfg.step_size = GetNumber(o.Get("stepSize"), "stepSize");
  if (!(run->cfg.step_size > 0))
    ThrowRangeError(env, "Expected a positive `stepSize` but received " + Describe(o.Get("stepSize")));
  run->cfg.step_jitter = GetNumberOption(o, "stepJitter", 0.0, 0.0, 1.0, true);
  const Napi::Value offset = o.Get("stepOffset");
  run->step_offset = IsAbsent(offset) ? 0 : static_cast<uint64_t>(GetInteger(offset, "stepOffset", 0, kMaxSteps));
  if (run->step_offset + static_cast<uint64_t>(run->steps) > static_cast<uint64_t>(kMaxSteps))
    ThrowRangeError(env, "Expected stepOffset + steps <= 2^32 but received " + std::to_string(run->step_offset) + " + " +
                             std::to_string(run->steps));
  const int threads = GetThreads(o.Get("threads"));
  const int64_t records = chains * run->steps;
  run->magnetization = GetFloat64Array(info[4], "magnetization", records).data;
  run->action = GetFloat64Array(info[5], "action", records).data;
  run->accepted = GetUint8Array(info[6], "accepted", records).data;
  if (!IsAbsent(info[8])) run->cancel = GetInt32Array(info[8], "cancelFlag", 1).data;
  run->phi = phi.data;

  PreparedBatch prepared;
  prepared.job.n = chains;
  prepared.job.grain = 1;
  prepared.job.threads = threads;
  prepared.job.range = [run, V](int64_t b, int64_t e) {
    std::vector<double> scratch(sbi::phi4_hmc_scratch(run->p.L));
    for (int64_t ch = b; ch < e; ++ch) {
      double* phi = run->phi + ch * V;
      for (int64_t t = 0; t < run->steps; ++t) {
        if (run->cancel != nullptr && __atomic_load_n(run->cancel, __ATOMIC_RELAXED) != 0) return;
        const uint64_t stream = (static_cast<uint64_t>(ch) << 32) + run->step_offset + static_cast<uint64_t>(t);
        const sbi::HmcRecord r = sbi::phi4_hmc_step(run->p, run->cfg, run->seed, stream, phi, scratch.data());
        const int64_t k = ch * run->steps + t;
        run->magnetization[k] = r.magnetization;
        run->action[k] = r.action;
        run->accepted[k] = r.accepted ? 1 : 0;
      }
    }
  };
  prepared.pinned = {info[2], info[4], info[5], info[6]};
  prepared.result = [](Napi::Env env) -> Napi::Value { return env.Undefined(); };
  return prepared;
}

void InitLatticePhi4(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "phi4Action", Phi4Action);
  ExportBatchPair<PrepareHmc, 7>(env, exports, "phi4Hmc");
}

}  // namespace
SBI_NATIVE_MODULE(InitLatticePhi4);
}  // namespace sbi_native
