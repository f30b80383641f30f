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
#include "lattice_hmc.h"
#include "napi_util.h"

namespace sbi_native {
namespace {

using Coupling = Phi4ActionCoupling;

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
  CheckFiniteArray(env, phi, "phi");
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
  const int L = static_cast<int>(GetInteger(info[0], "L", 1, kLatticeMaxL));
  const Coupling c = GetPhi4ActionCoupling(info[1]);
  if (IsSinglePrecision(env, info[2], "phi")) ActionT<float>(env, L, c, info);
  else ActionT<double>(env, L, c, info);
  return env.Undefined();
}

PreparedBatch PrepareHmc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int L = static_cast<int>(GetInteger(info[0], "L", 1, kLatticeMaxL));
  const Coupling c = GetPhi4ActionCoupling(info[1]);
  if (c.lambda < 0 || (c.lambda == 0 && c.m2 <= 0))
    ThrowRangeError(env, "Expected lambda > 0, or lambda = 0 with m2 > 0 (a normalisable e^-S), but received m2 = " +
                             std::to_string(c.m2) + ", lambda = " + std::to_string(c.lambda));
  const sbi::Phi4Model model{{L, c.m2, c.lambda}};
  return PrepareHmcChains(info, int64_t{L} * L, "phi", 0, [model](double*) { return model; });
}

void InitLatticePhi4(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "phi4Action", Phi4Action);
  ExportBatchPair<PrepareHmc, 7>(env, exports, "phi4Hmc");
}

}  // namespace
SBI_NATIVE_MODULE(InitLatticePhi4);
}  // namespace sbi_native
