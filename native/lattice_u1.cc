// N-API boundary of the U(1) gauge kernels (kernels/lattice/u1.h), on configurations of 2·V
// link angles (θ_μ(x₀, x₁) at μ·V + x₀·L + x₁, V = L·L):
//   u1Action(L, beta, theta [n·2V], action [n], grad? [n·2V], charge? [n])
//     S(θ) = −β Σ cos P of each configuration, with grad ∂S/∂θ, with charge the topological
//     charge Q; all Float64Array or all Float32Array (float kernels).
//   u1Hmc(L, beta, theta [chains·2V] Float64Array, options, charge [chains·steps],
//         action [chains·steps], accepted [chains·steps]) and u1HmcAsync(..., onProgress, cancelFlag):
//     the HMC baseline (native/lattice_hmc.h), recording Q and S after each trajectory.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../kernels/lattice/u1.h"
#include "batch.h"
#include "flow_spec.h"
#include "lattice_hmc.h"
#include "napi_util.h"

namespace sbi_native {
namespace {

template <class T>
void ActionT(Napi::Env env, int L, double beta, const Napi::CallbackInfo& info) {
  const int64_t V = int64_t{L} * L, D = 2 * V;
  const View<T> theta = GetFloatArray<T>(info[2], "theta", -1);
  if (theta.length % D != 0)
    ThrowRangeError(env, "Expected `theta` to hold whole configurations of 2·L·L = " + std::to_string(D) +
                             " link angles but it has " + std::to_string(theta.length) + " values");
  const int64_t n = static_cast<int64_t>(theta.length) / D;
  T* action = GetFloatArray<T>(info[3], "action", n).data;
  T* grad = IsAbsent(info[4]) ? nullptr : GetFloatArray<T>(info[4], "grad", n * D).data;
  T* charge = IsAbsent(info[5]) ? nullptr : GetFloatArray<T>(info[5], "charge", n).data;
  CheckFiniteArray(env, theta, "theta");
  const sbi::U1Params<T> p{L, static_cast<T>(beta)};
  const T* x = theta.data;
  BatchJob job;
  job.n = n;
  job.grain = std::max<int64_t>(1, 65536 / D);
  job.range = [=](int64_t b, int64_t e) {
    std::vector<T> plaq(static_cast<size_t>(V));
    for (int64_t i = b; i < e; ++i) {
      action[i] = sbi::u1_action_grad(p, x + i * D, grad ? grad + i * D : nullptr, plaq.data());
      if (charge) charge[i] = sbi::u1_topological_charge(L, x + i * D, plaq.data());
    }
  };
  RunBatch(job, nullptr, nullptr);
}

Napi::Value U1Action(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int L = static_cast<int>(GetInteger(info[0], "L", 1, kLatticeMaxL));
  const double beta = GetU1Beta(info[1]);
  if (IsSinglePrecision(env, info[2], "theta")) ActionT<float>(env, L, beta, info);
  else ActionT<double>(env, L, beta, info);
  return env.Undefined();
}

PreparedBatch PrepareHmc(const Napi::CallbackInfo& info) {
  const int L = static_cast<int>(GetInteger(info[0], "L", 1, kLatticeMaxL));
  const double beta = GetU1Beta(info[1]);
  const sbi::U1Params<double> p{L, beta};
  return PrepareHmcChains(info, 2 * int64_t{L} * L, "theta", L * L,
                          [p](double* plaq) { return sbi::U1Model{p, plaq}; });
}

void InitLatticeU1(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "u1Action", U1Action);
  ExportBatchPair<PrepareHmc, 7>(env, exports, "u1Hmc");
}

}  // namespace
SBI_NATIVE_MODULE(InitLatticeU1);
}  // namespace sbi_native
